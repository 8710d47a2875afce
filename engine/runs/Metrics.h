#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kd {

/// One logged point of the append-only metric stream. Step records average the loss terms
/// over the last `log_every` steps; epoch records carry accuracies. Values that do not apply
/// are NaN (written as empty CSV cells).
struct MetricRecord {
    enum class Kind { Step, Epoch };

    std::string role; ///< "teacher", "student", "student_scratch", ...
    Kind kind = Kind::Step;
    int epoch = 0;          ///< 1-based epoch this point belongs to
    std::int64_t step = 0;  ///< global optimiser step within the role's training
    double wallSeconds = 0; ///< since the experiment started
    /// Loss terms by name: "loss" (the total that is optimised) first, then each term.
    std::vector<std::pair<std::string, double>> losses;
    double lr = NAN;
    double trainAcc = NAN;
    double valAcc = NAN;
    double testAcc = NAN;
    double imagesPerSecond = NAN;
    /// Epoch records: the method's extra metrics by name (e.g. "robust_acc"), if it has any.
    std::vector<std::pair<std::string, double>> extra;

    double loss(const std::string &name) const
    {
        for (const auto &kv : losses)
            if (kv.first == name)
                return kv.second;
        return NAN;
    }
    double extraValue(const std::string &name) const
    {
        for (const auto &kv : extra)
            if (kv.first == name)
                return kv.second;
        return NAN;
    }
};

/// Where training is now, for progress bars and ETA.
struct ProgressInfo {
    std::string role;
    int stageIndex = 0; ///< 0-based
    int stageCount = 1;
    int epoch = 0;      ///< 1-based
    int epochs = 0;
    std::int64_t stepInEpoch = 0;
    std::int64_t stepsPerEpoch = 0;
    double stageFraction = 0;   ///< 0..1 within the stage
    double overallFraction = 0; ///< 0..1 over the whole experiment (by estimated work)
    double etaSeconds = NAN;    ///< for the whole experiment
    double imagesPerSecond = NAN;
    std::string device; ///< the device in use, e.g. "cpu (2 threads)" or "cuda:0"
};

/// Final figures for one trained (or loaded) model.
struct RoleSummary {
    std::string role;
    std::string arch;
    std::string method; ///< "ce", "kd", ... or "checkpoint" when loaded
    std::int64_t params = 0;
    /// Parameters of everything trained for this role when more than the deliverable (a
    /// multi-branch network: trunk and every branch); 0 otherwise.
    std::int64_t totalParams = 0;
    double bestTestAcc = NAN;
    double finalTestAcc = NAN;
    double trainSeconds = 0;
    int epochsDone = 0;
    bool completed = false;
    std::string checkpoint; ///< file name inside the run directory
    /// The method's extra metrics (e.g. "robust_acc"): best over the epochs and final.
    struct Extra {
        std::string name;
        double best = NAN;
        double finalValue = NAN;
    };
    std::vector<Extra> extras;
    const Extra *extra(const std::string &name) const
    {
        for (const auto &e : extras)
            if (e.name == name)
                return &e;
        return nullptr;
    }
};

struct RunSummary {
    std::string runDir;
    std::string status; ///< "completed", "stopped" or "failed"
    std::string device;
    double wallSeconds = 0;
    std::vector<RoleSummary> roles;

    const RoleSummary *find(const std::string &role) const
    {
        for (const auto &r : roles)
            if (r.role == role)
                return &r;
        return nullptr;
    }
};

/// Receives the experiment's events on the training thread. Implementations must be cheap
/// and thread-safe with respect to their own consumers (copy the values and return).
class ExperimentObserver {
public:
    virtual ~ExperimentObserver() = default;
    enum class Level { Info, Warning };
    virtual void onLog(Level level, const std::string &text) {}
    virtual void onStageStarted(const std::string &role, int stageIndex, int stageCount) {}
    virtual void onMetric(const MetricRecord &record) {}
    virtual void onProgress(const ProgressInfo &progress) {}
    /// Once per run that created its run directory, at its end: status "completed", "stopped"
    /// or "failed" (Experiment::run() then rethrows the error after this call).
    virtual void onFinished(const RunSummary &summary) {}
};

} // namespace kd
