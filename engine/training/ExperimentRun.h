#pragma once

#include "runs/Metrics.h"
#include "project/ProjectConfig.h"
#include "training/StagePlan.h"
#include "training/Trainer.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kd {

struct Registries;
class BatchStatisticsScope;
class CheckpointFolder;
class EpochAnalyzer;
class RunStore;

/// One call of Experiment::run(), phase by phase. execute() calls the phases in order; each
/// is one member function, so a reader (and the resume, cohort and multi-rank code to come)
/// finds "where are models built", "where is the run directory opened" by name:
///
///   prepareDevice → loadData → resolveOutputClasses → createMethods → setUpMethods
///   → loadCheckpointedModels → openRunDirectory → estimateStageWork → makeTrainingContext
///   → runStages (runLoadedStage / runTrainedStage per stage, runCohortStage per cohort)
///   → finish
///
/// resume() first picks and verifies the checkpoint (chooseResumePoint), then runs the same
/// phases with reopenRunDirectory in place of openRunDirectory; runStages restores the
/// finished stages and continues the one the checkpoint is in (training/RunCheckpoint.h).
///
/// Everything that can fail on bad input happens before openRunDirectory(), so a refused
/// project leaves nothing on disk. Internal to the engine: use Experiment.
class ExperimentRun {
public:
    /// `notes` go to log.txt as "note: ..." lines once the run directory exists.
    ExperimentRun(const Project &project, const Registries &registries, const std::vector<Stage> &stages,
                  const std::vector<std::string> &notes, ExperimentObserver &observer, const std::atomic<bool> &stop);
    ~ExperimentRun();

    RunSummary execute(const std::string &runDirArg);
    /// Continues the run in `runDir` from `checkpoint` (empty: its newest). See Experiment::resume().
    RunSummary resume(const std::string &runDir, const std::string &checkpoint);

private:
    // Phases, in execution order.
    void chooseResumePoint(const std::string &runDir, const std::string &checkpoint);
    void prepareModels();
    void prepareDevice();
    void loadData();
    void resolveOutputClasses();
    void createMethods();
    void setUpMethods();
    void loadCheckpointedModels();
    void openRunDirectory(const std::string &runDirArg);
    void reopenRunDirectory(const std::string &runDir);
    RunSummary train();
    void estimateStageWork();
    void makeTrainingContext();
    void runStages();
    void restoreFinishedStage(std::size_t i);
    void runLoadedStage(std::size_t i);
    bool runTrainedStage(std::size_t i);
    /// Stages first .. first + n − 1: one cohort of an online method, trained together.
    bool runCohortStage(std::size_t first, std::size_t n);
    void finish(const std::string &status);

    // Helpers of the phases.
    const DataBundle &viewOf(const DataView &view);
    /// Makes `role`'s plain architecture (one instance, on the CPU, from the current RNG state).
    MultiBranchNet::Factory architectureFactory(const std::string &role) const;
    /// `role`'s architecture options: its spec's, or for the scratch twin of a network whose
    /// branches differ in width, the deliverable branch's (twinArchOptions).
    nlohmann::json archOptionsOf(const std::string &role) const;
    /// Branch b's architecture options of `role`'s multi-branch network: the role's, with the
    /// width_fraction its layout gives the branch (BranchLayout::widthFractions).
    nlohmann::json branchArchOptions(const std::string &role, int branch) const;
    MultiBranchNet::BranchFactory branchFactory(const std::string &role) const;
    std::shared_ptr<FeatureNet> newModel(const std::string &role) const;
    Learner makeLearner(std::size_t i);
    /// The number of stages in the cohort that starts at stage `first`.
    std::size_t cohortSize(std::size_t first) const;
    void logStageStart(std::size_t i, const Learner &learner);
    ProgressInfo progressAt(std::size_t i, std::chrono::steady_clock::time_point stageStart, double stageFraction,
                            double imagesPerSecond);
    void recordStageResult(std::size_t i, const Learner &learner, bool finished);
    /// The learner's deliverable: its method's deliveredModel() or else its trained model.
    static std::shared_ptr<FeatureNet> deliveredOf(const Learner &learner);
    /// A multi-branch student's files: <role>_multibranch.pt, <role>_branchB.pt, <role>.pt.
    void saveBranches(const Stage &st, MultiBranchNet &net, const nlohmann::json &meta);
    /// The method asks for a teacher in train mode (OFD, LONDON): BatchNorm on batch statistics.
    std::unique_ptr<BatchStatisticsScope> useTeacherBatchStatistics(const Stage &st, FeatureNet &teacher);
    void info(const std::string &text) const;

    // Checkpoints (training/RunCheckpoint.h).
    nlohmann::json checkpointMeta(const std::string &kind, std::size_t stage);
    void writeBoundaryCheckpoint(std::size_t stage);
    void writeTrainingCheckpoint(std::size_t i, const std::vector<Learner *> &learners, const StagePosition &position);
    void commitCheckpoint(torch::serialize::OutputArchive &archive, const std::string &label, nlohmann::json meta);
    void restoreLearners(const std::vector<Learner *> &learners, StagePosition &position);
    /// The project minus what a resume may change, as a SHA-256: a checkpoint's "config_sha256".
    std::string configIdentity() const;

    const Project &p;
    const Registries &registries;
    const std::vector<Stage> &stages;
    const std::vector<std::string> &notes;
    ExperimentObserver &observer;
    const std::atomic<bool> &stop;
    const std::chrono::steady_clock::time_point start;

    int threads = 1;
    torch::Device device = torch::kCPU;
    bool channelsLast = false;

    std::shared_ptr<DataBundle> data, proxy;
    /// The data each stage trains and is evaluated on, built once per distinct view.
    std::map<std::string, std::shared_ptr<const DataBundle>> views;
    std::map<std::string, int> roleClasses;          ///< output classes per role
    std::map<std::string, const Stage *> stageOf;    ///< the stage of each role
    /// Roles whose method trains a multi-branch network of their architecture (ONE, ...).
    std::map<std::string, BranchLayout> branchLayouts;
    /// Scratch twins built as their multi-branch role's deliverable branch (the student ensemble).
    std::map<std::string, nlohmann::json> twinArchOptions;

    /// One per stage (null for loaded ones) until its stage takes it.
    std::vector<std::unique_ptr<DistillationMethod>> methods;
    std::vector<std::string> lossColumns{"loss"}, extraColumns;

    // Progress across stages, weighted by estimated work in MAC units (see setUpMethods()).
    std::vector<double> stageCostPerImage, stageOneOffCost, stageWork, stageSecondsPerUnit;

    /// Every trained or loaded model by role, for the stages that read it as a teacher.
    std::map<std::string, std::shared_ptr<FeatureNet>> models;
    /// Methods of finished stages, by role: a baseline is measured with its student's extra
    /// metrics (e.g. ARD's robust accuracy), so the two are comparable.
    std::map<std::string, std::unique_ptr<DistillationMethod>> finishedMethods;

    /// The distillation views (engine/analysis/), when some stage distils and they are on.
    bool analysed = false;
    std::unique_ptr<RunStore> store;
    std::unique_ptr<EpochAnalyzer> analyzer;
    RunSummary summary;
    TrainingContext ctx;

    std::unique_ptr<CheckpointFolder> checkpoints;
    /// The checkpoint a resumed run continues from.
    struct ResumePoint {
        bool active = false;
        std::string path;
        nlohmann::json meta;
        std::size_t stage = 0;
        bool training = false; ///< "training" (in stage `stage`) or "boundary" (before it)
    } resumePoint;
};

} // namespace kd
