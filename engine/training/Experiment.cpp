#include "Experiment.h"

#include "core/Error.h"
#include "project/Registries.h"
#include "training/ExperimentRun.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

namespace {

std::string stamp()
{
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::ostringstream os;
    os << std::put_time(&tm, "%Y%m%d-%H%M%S");
    return os.str();
}

} // namespace

std::string makeRunDirectoryPath(const std::string &outputDir, const std::string &name)
{
    const std::string base = (fs::path(outputDir.empty() ? "runs" : outputDir) / (name + "-" + stamp())).string();
    std::string candidate = base;
    std::error_code ec;
    for (int i = 2; fs::exists(candidate, ec); ++i)
        candidate = base + "-" + std::to_string(i);
    return candidate;
}

struct Experiment::Impl {
    Project project;
    const Registries &registries;
    std::vector<Stage> stages;
    std::vector<std::string> notes; // setNotes(): written to log.txt as "note: ..."

    Impl(const Project &p, const Registries &r)
        : project(r.resolve(p))
        , registries(r)
        , stages(planStages(project, r.methods))
    {
    }
};

Experiment::Experiment(const Project &project, const Registries &registries)
    : d(std::make_unique<Impl>(project, registries))
{
}

Experiment::~Experiment() = default;

void Experiment::setNotes(std::vector<std::string> notes)
{
    d->notes = std::move(notes);
}

const Project &Experiment::project() const
{
    return d->project;
}

const std::vector<Stage> &Experiment::stages() const
{
    return d->stages;
}

RunSummary Experiment::run(ExperimentObserver &observer, const std::atomic<bool> &stop,
                           const std::string &runDir)
{
    ExperimentRun run(d->project, d->registries, d->stages, d->notes, observer, stop);
    return run.execute(runDir);
}

RunSummary Experiment::resume(ExperimentObserver &observer, const std::atomic<bool> &stop, const std::string &runDir,
                              const std::string &checkpoint)
{
    ExperimentRun run(d->project, d->registries, d->stages, d->notes, observer, stop);
    return run.resume(runDir, checkpoint);
}

Project resumableProject(const std::string &runDir, const std::vector<std::string> &overrides)
{
    const std::string path = (fs::path(runDir) / "config.json").string();
    std::error_code ec;
    if (!fs::is_directory(runDir, ec))
        throw Error(runDir + " is not a run directory (no such folder)");
    if (!fs::is_regular_file(path, ec))
        throw Error(runDir + " is not a run directory: it has no config.json");
    auto json = parseJsonText(readTextFile(path), path);
    for (const auto &o : overrides) {
        const auto key = o.substr(0, o.find('='));
        const bool allowed = key == "threads" || key == "device" || key == "eval_batch_size"
            || key.rfind("numerics.", 0) == 0 || key.rfind("checkpoints.", 0) == 0;
        if (!allowed)
            throw Error("--set " + o + ": a resumed run can change only threads, device, eval_batch_size, "
                        "numerics.* and checkpoints.*; anything else makes it another experiment (start a new run)");
        applyOverride(json, o);
    }
    try {
        return Project::fromJson(json);
    } catch (const Error &e) {
        throw Error(path + ": " + e.what());
    }
}

} // namespace kd
