#pragma once

#include "runs/Metrics.h"
#include "project/ProjectConfig.h"
#include "training/StagePlan.h"

#include <atomic>
#include <memory>
#include <string>

namespace kd {

struct Registries;

/// Runs a whole project: plans its stages (planStages(): teachers trained or loaded, teacher
/// assistants, the student with the chosen method, the optional scratch baseline), writes the
/// run directory and reports to an observer. No Qt; call run() on whichever thread should do
/// the work.
class Experiment {
public:
    Experiment(const Project &project, const Registries &registries);
    /// The experiment keeps a reference to the registries: a temporary would dangle.
    Experiment(const Project &project, Registries &&registries) = delete;
    ~Experiment();

    /// The resolved project (defaults filled in) that will be written as config.json.
    const Project &project() const;
    /// Lines the run's log.txt starts with, each as "note: ..." (e.g. the options that
    /// applyOverrides() dropped); the caller shows them to the user itself.
    void setNotes(std::vector<std::string> notes);
    /// The planned stages, in the order run() trains them.
    const std::vector<Stage> &stages() const;

    /// Runs every stage. `stop` is checked every batch; when set, the current stage ends
    /// after that batch and the run directory is left consistent with status "stopped".
    /// `runDir` empty: <output_dir>/<name>-<timestamp>. An existing non-empty `runDir` is
    /// refused. Throws kd::Error for user problems, other exceptions for internal faults;
    /// a failure after the run directory exists still writes summary.json (status "failed").
    RunSummary run(ExperimentObserver &observer, const std::atomic<bool> &stop,
                   const std::string &runDir = {});

    /// Continues the stopped, interrupted or failed run in `runDir` in place, from its newest
    /// checkpoint (or `checkpoint`, a file of its checkpoints/ folder): the project must be
    /// the one in the run's config.json, except threads, device, numerics and checkpoints
    /// (resumableProject()). Every metric after the checkpoint is written as an uninterrupted
    /// run writes it. Refused with kd::Error, changing nothing, for a completed or still
    /// running run, a damaged checkpoint (named, with the earlier one to use), or another
    /// project.
    RunSummary resume(ExperimentObserver &observer, const std::atomic<bool> &stop, const std::string &runDir,
                      const std::string &checkpoint = {});

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// The project stored in a run directory's config.json with `overrides` ("dotted.key=value")
/// applied, for resume(). Throws kd::Error when it is missing or damaged, or an override
/// touches a key that would make the resumed run another experiment.
Project resumableProject(const std::string &runDir, const std::vector<std::string> &overrides = {});

/// A unique run directory name under `outputDir` for a project called `name`.
std::string makeRunDirectoryPath(const std::string &outputDir, const std::string &name);

} // namespace kd
