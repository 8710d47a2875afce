#pragma once

#include "training/Trainer.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace kd {

/// The resumable checkpoints of a run directory, in `<run>/checkpoints/`: `NNNNNN-<label>.pt`
/// with its sidecar (training/Checkpoint.h), numbered in the order they were written. Two
/// kinds (the sidecar's "kind"):
///   "boundary": stage `stage` has not started; every earlier stage is done (its model is
///               `<role>.pt` in the run directory). Written when the run starts and at every
///               stage's end.
///   "training": stage `stage` is in progress at (epoch, step_in_epoch): its models,
///               optimisers, method state and running sums.
/// Both hold the RNG states (CPU, and CUDA where used), the run's summary so far, the
/// positions of metrics.csv and the event file, and the elapsed wall time.
class CheckpointFolder {
public:
    explicit CheckpointFolder(std::string runDir);

    std::string folder() const;
    /// Every checkpoint (its .pt path), oldest first.
    std::vector<std::string> list() const;
    /// The path for a new checkpoint called `label` (one more than the newest number).
    std::string nextPath(const std::string &label) const;
    /// Removes all but the newest `keep` checkpoints (and their sidecars).
    void prune(int keep) const;

private:
    std::string m_runDir;
};

/// The global RNGs a run draws from (dropout, CRD negatives, ARD's random start, ...).
torch::Tensor cpuRngState();
void setCpuRngState(const torch::Tensor &state);
/// One state per CUDA device when CUDA is available, else empty.
std::vector<torch::Tensor> cudaRngStates();
void setCudaRngStates(const std::vector<torch::Tensor> &states);

/// LearnerState as JSON and back (NaN as null; doubles round-trip exactly).
nlohmann::json learnerStateToJson(const LearnerState &state);
LearnerState learnerStateFromJson(const nlohmann::json &json);
/// RoleSummary as JSON and back, for the summary a checkpoint carries.
nlohmann::json roleSummaryToJson(const RoleSummary &role);
RoleSummary roleSummaryFromJson(const nlohmann::json &json);

/// A StagePosition's running sums into / out of an archive (float64 and int64 tensors).
void writeStagePosition(torch::serialize::OutputArchive &archive, const StagePosition &position);
/// Reads what writeStagePosition() wrote; `epoch`, `stepInEpoch`, `seen` and
/// `consecutiveSkips` come from the sidecar and are set by the caller.
void readStagePosition(torch::serialize::InputArchive &archive, std::size_t learners, StagePosition &position);

} // namespace kd
