#include "Experiment.h"

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

} // namespace kd
