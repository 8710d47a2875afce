#include "SeedSpread.h"

#include "runs/RunGroups.h"
#include "runs/RunReader.h"

#include <filesystem>
#include <set>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

namespace {

std::string points(double fraction, bool sign)
{
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(2);
    if (sign && fraction >= 0)
        os << '+';
    os << 100.0 * fraction;
    return os.str();
}

} // namespace

SeedSpreadNote seedSpreadNote(const std::string &runDir)
{
    SeedSpreadNote note;
    RunInfo self;
    try {
        self = readRunInfo(runDir);
    } catch (const std::exception &) {
        return note;
    }
    note.gain = self.kdGain;
    if (!std::isfinite(note.gain) || !self.config.is_object())
        return note;
    const std::string key = settingKey(self.config, true);
    std::vector<double> gains{note.gain};
    std::set<std::int64_t> seeds;
    const auto parent = fs::path(self.dir).parent_path().string();
    for (const auto &dir : findRunDirectories(parent, 1)) {
        if (dir == self.dir)
            continue;
        RunInfo other;
        try {
            other = readRunInfo(dir);
        } catch (const std::exception &) {
            continue;
        }
        // Only finished repetitions count: a run still training has no gain yet, a failed one
        // says nothing about the noise.
        if (other.state != RunState::Completed || !std::isfinite(other.kdGain) || other.seed == self.seed
            || !other.config.is_object() || settingKey(other.config, true) != key)
            continue;
        gains.push_back(other.kdGain);
        seeds.insert(other.seed);
    }
    note.otherSeeds = seeds.size();
    std::ostringstream os;
    os << "gain " << points(note.gain, true) << " pt; ";
    if (note.otherSeeds >= 2) {
        note.known = true;
        note.gains = summarize(gains);
        note.within = std::fabs(note.gain) <= note.gains.sd;
        os << "seed-to-seed sd of this setting (" << note.gains.n << " runs): " << points(note.gains.sd, false)
           << " pt \xE2\x80\x94 " << (note.within ? "within" : "beyond") << " the spread";
    } else {
        os << "spread unknown ("
           << (note.otherSeeds == 0 ? std::string("one seed") : std::string("two seeds; at least three are needed"))
           << "): run more seeds (--set seed=N) and kdw compare --group-seeds";
    }
    note.text = os.str();
    return note;
}

} // namespace kd
