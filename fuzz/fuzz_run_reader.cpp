// What the runs browser and `kdw compare` read from a run directory: config.json,
// summary.json, metrics.csv (also followed while it grows: section 3 is appended to the first
// half of it), log.txt, analysis/epoch001.json and analysis/probe.json.
#include "FuzzSupport.h"

#include "runs/AnalysisReader.h"
#include "runs/RunReader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const auto parts = kd::fuzz::sections(data, size, 6);
    const auto dir = kd::fuzz::scratch();
    kd::fuzz::writeFile(dir / "config.json", parts[0]);
    kd::fuzz::writeFile(dir / "summary.json", parts[1]);
    kd::fuzz::writeFile(dir / "log.txt", parts[3]);
    kd::fuzz::writeFile(dir / "analysis" / "epoch001.json", parts[4]);
    kd::fuzz::writeFile(dir / "analysis" / "probe.json", parts[5]);
    // metrics.csv in two appends, as a live run writes it.
    const auto &metrics = parts[2];
    kd::fuzz::writeFile(dir / "metrics.csv", metrics.substr(0, metrics.size() / 2));
    kd::fuzz::expectOnlyKdErrors([&] {
        kd::MetricsFollower follower((dir / "metrics.csv").string());
        follower.poll();
        kd::fuzz::writeFile(dir / "metrics.csv", metrics);
        follower.poll();
        kd::readRunInfo(dir.string());
        kd::readMetrics(dir.string());
        for (int epoch : kd::analysedEpochs(dir.string()))
            kd::readEpochAnalysis(dir.string(), epoch);
        kd::readProbeAnalysis(dir.string());
    });
    return 0;
}
