#pragma once

#include "models/FeatureNet.h"
#include "models/MultiBranchNet.h"

#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace torch::serialize {
class OutputArchive;
class InputArchive;
} // namespace torch::serialize

namespace kd {

/// Where training is, for methods whose weights change over time (schedules), and what
/// the batch is (for methods that need sample indices, e.g. CRD's memory bank, or the inputs,
/// e.g. adversarial examples).
struct StepContext {
    int epoch = 1;  ///< 1-based
    int epochs = 1;
    std::int64_t step = 0;       ///< global step, 0-based
    std::int64_t totalSteps = 1;
    torch::Tensor indices;       ///< rows of the batch in the training set (CPU, int64)
    torch::Tensor inputs;        ///< the batch's images on the training device
    FeatureNet *student = nullptr; ///< the model being trained (for methods that re-run it)
    FeatureNet *teacher = nullptr; ///< the frozen teacher, or null when its outputs are cached
    /// Writes a line to the run's log (log.txt and the observer), for methods that report
    /// their own phases (srm); null outside a training stage.
    const std::function<void(const std::string &)> *log = nullptr;
    /// Online methods: the outputs of every peer of the cohort on this batch, in peer order
    /// (this learner's own at `cohortIndex`, with its graph; the others' to be read as
    /// targets). Null outside a cohort stage.
    const std::vector<Features> *cohort = nullptr;
    std::size_t cohortIndex = 0;
    /// The batch's augmented views on the training device (view 0 is `inputs`) when the
    /// method asks for more than one (DistillationMethod::inputViews); null otherwise.
    const std::vector<torch::Tensor> *views = nullptr;

    /// Training progress in [0, 1): step / totalSteps.
    double progress() const { return totalSteps > 0 ? double(step) / double(totalSteps) : 0.0; }
};

/// Feature names and shapes (without the batch dimension) of a model, in forward order.
using FeatureShapes = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

/// What a method learns about the models before training, to size adapters and banks.
struct MethodSetup {
    FeatureShapes student;
    FeatureShapes teacher; ///< empty for methods without a teacher
    int numClasses = 0;
    std::int64_t trainSize = 0; ///< training images (sample indices are in [0, trainSize))
    /// Labels of those images (int64, CPU), or undefined when the student's data is unlabelled
    /// (proxy or auxiliary images).
    torch::Tensor trainLabels;
    torch::Device device = torch::kCPU;
    int epochs = 0; ///< the stage's training epochs (0: not known, e.g. in unit tests)
    /// Builds a new model as the session builds this stage's (the architecture, a
    /// multi-branch layout, the device and memory format), for methods that keep a copy of the
    /// network (PCL's temporal mean); its weights are a fresh initialisation. Null where no
    /// session builds the models (unit tests may set their own).
    std::function<std::shared_ptr<FeatureNet>()> newStudent;
    /// In a cohort: every peer's feature shapes, in peer order (this peer's, equal to
    /// `student`, at cohortIndex), for methods that size their modules by another peer's
    /// features (AFD's discriminators); empty outside a cohort.
    std::vector<FeatureShapes> cohort;
    std::size_t cohortIndex = 0;

    /// Shape of a named feature; throws kd::Error naming the model and the features it has.
    const std::vector<std::int64_t> &studentShape(const std::string &name) const;
    const std::vector<std::int64_t> &teacherShape(const std::string &name) const;
};

/// The loss of one batch: the total that is optimised and each named term as logged.
struct LossTerms {
    torch::Tensor total;
    std::vector<std::pair<std::string, torch::Tensor>> terms;
};

/// A knowledge-distillation method (or plain supervised training for "ce"). It states the
/// features it reads from student and teacher so the session can check both models before
/// training; methods with trainable parts (regressors, heads) expose them as a module whose
/// parameters are optimised with the student's.
class DistillationMethod {
public:
    virtual ~DistillationMethod() = default;

    virtual bool needsTeacher() const = 0;
    /// Names of the loss terms compute() returns, in order (e.g. {"ce", "kd"}).
    virtual std::vector<std::string> termNames() const = 0;
    virtual std::vector<std::string> studentFeatures() const { return {"logits"}; }
    virtual std::vector<std::string> teacherFeatures() const { return needsTeacher() ? std::vector<std::string>{"logits"} : std::vector<std::string>{}; }
    /// Called once before training with both models' feature shapes: create adapters
    /// (1×1 conv + BN, pooling), heads or memory banks here, on `setup.device`. Throw
    /// kd::Error when the shapes cannot be matched, saying which features and what to change.
    virtual void setup(const MethodSetup &setup) {}
    /// Extra trainable modules (adapters, heads; none by default). Their parameters are
    /// optimised with the student's; they are put in train mode with it.
    virtual std::shared_ptr<torch::nn::Module> trainableModule() { return nullptr; }
    /// The weight decay of trainableModule()'s parameters when the authors give the method's
    /// module its own (FFL's fusion module: 1e-5 beside the network's 1e-4); they then form a
    /// second parameter group with the stage's optimiser, learning rate and schedule. Negative
    /// (default): the stage's weight decay, one group.
    virtual double trainableWeightDecay() const { return -1.0; }
    /// State a resumed run needs beyond trainableModule()'s parameters and buffers (which the
    /// checkpoint holds already) and the global RNG: a module or optimiser of the method's own,
    /// a phase counter. Called after setup(); loadState() gets what saveState() wrote. Memory
    /// banks, EMA copies and margins kept as buffers of trainableModule() need nothing here.
    virtual void saveState(torch::serialize::OutputArchive &archive) {}
    virtual void loadState(torch::serialize::InputArchive &archive) {}
    /// Lines the session logs after setup(): choices this run makes for the user that the
    /// parameters alone do not show (a clamped count, a phase scaled to the epochs).
    virtual std::vector<std::string> setupNotes() const { return {}; }
    /// How the frozen teacher's BatchNorm layers normalise while this method trains: false
    /// (default) with their running statistics (eval mode); true with each batch's own
    /// statistics, as a teacher left in train mode does in OFD's and LONDON's reference code.
    /// The teacher's running statistics are never changed either way.
    virtual bool teacherBatchStatistics() const { return false; }
    /// Methods that train one multi-branch network (ONE, ...): how the student architecture
    /// is split (the session builds a MultiBranchNet of it); null for every other method.
    virtual const BranchLayout *branchLayout() const { return nullptr; }
    /// Independently augmented views of each batch the method trains on (PCL: one per
    /// branch). With more than one, a multi-branch student runs branch b on view b mod V
    /// (MultiBranchNet::forwardViews), a cohort's peer k on view k mod V, and
    /// StepContext::views holds them all; 1 (default): every model sees the same batch.
    virtual int inputViews() const { return 1; }
    /// Called after every optimiser step the trainer takes for this method's model (not after
    /// skipped ones), with the step's context: EMA copies (temporal mean networks) update here.
    virtual void afterStep(FeatureNet &model, const StepContext &ctx) {}
    /// The network the stage delivers when it is not the one the optimiser trains (PCL: the
    /// temporal mean of the trained network, kept by the method and updated in afterStep()).
    /// The validation and test accuracies are then this network's, and it is what the role's
    /// checkpoint files hold and what later stages read; the trained network stays in the run's
    /// resume checkpoints. Null (default): the trained model is the deliverable.
    virtual std::shared_ptr<FeatureNet> deliveredModel() { return nullptr; }
    /// Cohort methods that update every peer a second time on each batch (AFD's adversarial
    /// step): the number of their termNames(), the last ones, that secondStep() reports
    /// (compute() returns the others); 0 (default): no second step. After every peer's
    /// optimiser step and afterStep(), the trainer runs every peer's forward again on the batch
    /// and calls secondStep() for each peer in order, with all the new outputs in ctx.cohort
    /// (this peer's with its graph). The method updates the model and its own modules with
    /// optimisers of its own (checkpointed in saveState()), leaves out an update whose loss is
    /// not finite, and returns its terms' values, which are logged as loss terms.
    virtual std::size_t secondStepTerms() const { return 0; }
    virtual std::vector<double> secondStep(FeatureNet &model, const StepContext &ctx) { return {}; }

    /// `teacher` is null for methods that need none. Teacher features carry no gradient.
    virtual LossTerms compute(const Features &student, const Features *teacher,
                              const torch::Tensor &labels, const StepContext &ctx) = 0;

    /// Extra evaluation metrics logged beside the test accuracy at every epoch (e.g.
    /// "robust_acc"); higher is better. They become metrics.csv columns and summary entries.
    virtual std::vector<std::string> extraMetrics() const { return {}; }
    /// The value of one of extraMetrics() for `model` on `set` (the test set).
    virtual double evaluateExtra(const std::string &name, FeatureNet &model, const struct TensorDataset &set,
                                 const torch::Device &device, int batchSize)
    {
        return std::numeric_limits<double>::quiet_NaN();
    }
};

} // namespace kd
