#pragma once

#include "data/Dataset.h"
#include "training/TeacherSource.h"
#include "methods/DistillationMethod.h"
#include "runs/Metrics.h"
#include "project/ProjectConfig.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kd {

class EpochAnalyzer;
class RunStore;

/// Everything that changes while one model trains: explicit so it can be checkpointed.
struct LearnerState {
    int epochsDone = 0;
    std::int64_t step = 0;
    double bestTestAcc = NAN;
    double finalTestAcc = NAN;
    double trainSeconds = 0;
    /// The method's extra metrics (DistillationMethod::extraMetrics()), best and last.
    std::vector<std::pair<std::string, double>> bestExtra, finalExtra;
};

/// One model being optimised in a stage, with its method and optimiser.
struct Learner {
    std::string role;
    std::string arch;
    std::shared_ptr<FeatureNet> model;
    std::unique_ptr<DistillationMethod> method;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    TrainOptions train;
    LearnerState state;
    /// Computes the extra metrics (DistillationMethod::extraMetrics()) at every epoch; null:
    /// `method`. A baseline borrows its student's method to be measured the same way.
    DistillationMethod *evaluator = nullptr;
};

/// The running sums of one learner in the epoch in progress: what a checkpoint in the middle
/// of an epoch keeps, so the resumed epoch logs the records an uninterrupted one logs.
struct LearnerProgress {
    std::vector<double> intervalSums, epochSums; ///< "loss" then each term
    std::int64_t intervalCount = 0, epochCount = 0;
    std::int64_t correct = 0;   ///< training predictions right so far this epoch
    double epochSeconds = 0;    ///< training seconds of this epoch so far
};

/// Where a stage's training stands between two steps.
struct StagePosition {
    int epoch = 0;                ///< 0-based epoch in progress (== epochs: the stage is done)
    std::int64_t stepInEpoch = 0; ///< its steps done (0: at the epoch's start)
    std::int64_t seen = 0;        ///< training images of this epoch so far
    int consecutiveSkips = 0;     ///< numerics.on_nonfinite = "skip": skipped steps in a row
    std::vector<LearnerProgress> learners;
};

/// Shared, read-mostly context of a running experiment.
struct TrainingContext {
    const DataBundle *data = nullptr;
    torch::Device device = torch::kCPU;
    std::uint64_t seed = 0;
    int evalBatchSize = 1000;
    Augmentation augmentation;
    bool channelsLast = false; ///< batches (and conv weights) in channels-last layout
    /// The project's precision ("fp32", "bf16", "fp16", "auto"); a model's train.precision
    /// other than "inherit" overrides it for its stage (training/Precision.h).
    std::string precision = "fp32";
    /// False when the training labels are not the learners' task (a proxy set's own labels):
    /// the training accuracy is then not reported.
    bool labelsAreTargets = true;
    /// The stage's learners are one cohort of an online method: every step runs all of them
    /// on the batch, gives each method every peer's outputs (StepContext::cohort), and updates
    /// all peers together from the sum of their losses (each loss reads the others' outputs
    /// without gradient, so each peer's gradient is that of its own loss).
    bool cohort = false;
    /// A cohort's ensemble entry of the summary (role "ensemble"): its test accuracy, best
    /// and final, and epochs are kept up to date after every epoch. Null: none.
    RoleSummary *ensembleSummary = nullptr;
    ExperimentObserver *observer = nullptr;
    RunStore *store = nullptr;
    /// Distillation views at every epoch end (null: none); `teacherRole` names the stage's
    /// teacher for them.
    EpochAnalyzer *analyzer = nullptr;
    std::string teacherRole;
    const std::atomic<bool> *stop = nullptr;
    std::chrono::steady_clock::time_point start;
    /// When to write checkpoints, and what a NaN or Inf does.
    CheckpointOptions checkpoints;
    NumericsOptions numerics;
    /// Writes a resumable checkpoint of the stage's learners at `position` (the experiment
    /// sets it; null: none). Called when checkpoints say so and when a stop is requested.
    std::function<void(const std::vector<Learner *> &, const StagePosition &)> checkpoint;
    /// A resumed stage continues here (its learners' state and optimisers already restored);
    /// null: from the learners' state.epochsDone.
    const StagePosition *resumeAt = nullptr;
    /// Called with (stage fraction, images/s) so the experiment can report overall progress.
    std::function<ProgressInfo(double stageFraction, double imagesPerSecond)> progress;

    double wallSeconds() const;
    bool stopRequested() const { return stop && stop->load(std::memory_order_relaxed); }
    void log(const std::string &text) const;
};

/// Trains the learners of one stage together on the same batches (one model for offline KD;
/// several for the online/mutual methods to come), with an optional frozen teacher whose
/// outputs come live or from its cache. Batches are prepared ahead on a loader thread.
/// Returns false when a stop request ended it early.
bool trainStage(std::vector<Learner *> learners, const TeacherSource &teacher, const TrainingContext &ctx);

/// Accuracy of `model` on `set` (eval mode, no grad, batched). NaN for an empty set.
/// `f` with every floating feature in fp32 (the features of a bf16 or fp16 forward, before a
/// distillation loss reads them).
Features toFloat32(const Features &f);

double evaluateAccuracy(FeatureNet &model, const TensorDataset &set, const torch::Device &device,
                        int batchSize, bool channelsLast = false);

/// Accuracy of the mean of the models' softmax outputs (an ensemble) on `set`.
double evaluateEnsembleAccuracy(const std::vector<FeatureNet *> &models, const TensorDataset &set,
                                const torch::Device &device, int batchSize, bool channelsLast = false);

/// Puts every 4-D parameter and buffer of `model` in channels-last layout.
void toChannelsLast(torch::nn::Module &model);

} // namespace kd
