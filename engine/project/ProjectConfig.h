#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// Which data to train and test on. Every field has a default; see docs/PROJECT_FORMAT.md.
struct DatasetOptions {
    std::string name = "fashion-mnist"; ///< dataset registry key
    std::string path;                    ///< directory with the files; empty: the dataset's default
    std::int64_t limit = 0;              ///< use only the first N training images (0: all)
    std::int64_t testLimit = 0;          ///< use only the first N test images (0: all)
    double valSplit = 0.0;               ///< fraction of the training set held out for validation
    bool normalize = true;               ///< subtract the dataset mean, divide by its std
    std::string labels = "fine";         ///< CIFAR-100: "fine" (100 classes) or "coarse" (20)
    int imageSize = 0;                   ///< image folders: resize to N×N (0: 32); others must match
    int channels = 0;                    ///< image folders: 1 or 3 (0: 3)
    double testSplit = 0.2;              ///< image folder without train/test sub-folders: test fraction
    int randomCropPadding = 0;           ///< augmentation: pad by N then random crop back (0: off)
    bool horizontalFlip = false;         ///< augmentation: random horizontal flip
    bool augments() const { return randomCropPadding > 0 || horizontalFlip; }
};

/// How one model is optimised.
struct TrainOptions {
    int epochs = 5;
    int batchSize = 128;
    std::string optimizer = "sgd"; ///< "sgd" or "adam"
    double lr = 0.05;
    double momentum = 0.9;         ///< SGD only
    double weightDecay = 5e-4;
    bool nesterov = false;         ///< SGD only
    double beta1 = 0.9;            ///< Adam only
    double beta2 = 0.999;          ///< Adam only
    std::string lrSchedule = "constant"; ///< "constant", "step" or "cosine"
    int lrStepEpochs = 30;         ///< step schedule: multiply by lrGamma every N epochs
    double lrGamma = 0.1;          ///< step schedule factor
    double lrMin = 0.0;            ///< cosine schedule floor
    int logEvery = 20;             ///< steps between logged step metrics
    /// Arithmetic of this model's forwards: "inherit" (the project's `precision`), "fp32",
    /// "bf16", "fp16" or "auto" (training/Precision.h).
    std::string precision = "inherit";
    /// Train on the first N images of the stage's training set only (0: all). A student and
    /// its scratch twin share it, so "KD with few labelled images" is one project setting.
    std::int64_t limit = 0;
};

/// A model role in the experiment: architecture, its options, training settings.
struct ModelSpec {
    std::string arch;
    nlohmann::json archOptions = nlohmann::json::object(); ///< resolved against the arch's ParamSpecs
    std::string checkpoint; ///< teachers only: load this checkpoint instead of training
    TrainOptions train;
    /// Entries of `teachers` only, method "rc": a generalist teacher (trained on the proxy
    /// dataset when one is given); its head on the student is an extra one.
    bool generalist = false;
};

/// The distillation method for the student and its hyperparameters.
struct MethodOptions {
    std::string name = "kd";
    nlohmann::json params = nlohmann::json::object(); ///< resolved against the method's ParamSpecs
};

/// The distillation views computed at every epoch end of a distilled student (and of its
/// scratch baseline): see docs/PROJECT_FORMAT.md, "analysis".
struct AnalysisOptions {
    bool enabled = true;
    int probePerClass = 4;   ///< probe images per class (at most 64 in all)
    bool featureMaps = true; ///< also draw the feature maps of the probe images as PNG
};

/// When a training stage writes a resumable checkpoint (docs/PROJECT_FORMAT.md,
/// "checkpoints"); always also when a stop is requested and when a stage ends.
struct CheckpointOptions {
    int everyEpochs = 1;       ///< after every N epochs (0: not by epochs)
    double everyMinutes = 10;  ///< and at the first step after M minutes since the last one (0: not by time)
    int keep = 2;              ///< how many of a run's latest checkpoints are kept
};

/// What a NaN or Inf in a loss term or a gradient does.
struct NumericsOptions {
    std::string onNonFinite = "stop"; ///< "stop": the run fails naming model, step and term; "skip": the step is skipped
    int maxConsecutiveSkips = 10;     ///< "skip": more skipped steps in a row than this stop the run
};

/// A whole experiment as stored in a project file. Plain values; fromJson() checks
/// structure and ranges, Registries::validate() checks names against the registries.
struct Project {
    std::string name = "experiment";
    std::uint64_t seed = 42;
    std::string device = "auto"; ///< "auto", "cpu", "cuda" or "cuda:N"
    int threads = 0;             ///< CPU threads for the training thread; 0 = auto
    /// Arithmetic of the models' forwards: "fp32", "bf16", "fp16" (CUDA, with loss scaling) or
    /// "auto" (bf16 where the device computes it in hardware); weights and losses stay fp32.
    std::string precision = "fp32";
    std::string outputDir = "runs";
    DatasetOptions dataset;
    ModelSpec teacher;
    ModelSpec student;
    MethodOptions method;
    /// Method "takd": teacher assistants between teacher and student, largest first; stage
    /// k distils from stage k-1 (docs/PROJECT_FORMAT.md). Empty for every other method.
    std::vector<ModelSpec> assistants;
    /// Multi-teacher methods ("ensemble", "rc", "dmc"): the teachers, each trained or loaded
    /// from its checkpoint; `teacher` is then unused. Empty for single-teacher methods.
    std::vector<ModelSpec> teachers;
    /// Online (cohort) methods ("dml", ...): the peers trained together from scratch, each
    /// with its own architecture and optimiser; `teacher` and `student` are then unused.
    /// Empty for offline methods.
    std::vector<ModelSpec> peers;
    /// Method "rc": the unlabelled proxy set the student is distilled on (and the generalist
    /// teachers are trained on). Unset: the training set.
    bool hasProxy = false;
    DatasetOptions proxy;
    bool baseline = true; ///< also train the student from scratch (method "ce") for comparison
    /// Images per evaluation batch. 256 by default: as fast as 1,000 on the CPU (1,577 vs 1,512 img/s
    /// for cnn_large) at less than half the peak memory (657 vs 1,412 MB), docs/PERFORMANCE.md.
    int evalBatchSize = 256;
    /// "auto": for logit-only methods without augmentation, compute the teacher's outputs once
    /// and reuse them every epoch; "off": always run the teacher live.
    std::string teacherCache = "auto";
    std::int64_t teacherCacheMaxMB = 1024; ///< memory bound of the cache
    /// Layout of convolutional weights and image batches: "auto" (channels_last on CPU, where
    /// oneDNN convolutions are faster; see docs/PERFORMANCE.md), "channels_last" or "contiguous".
    std::string memoryFormat = "auto";
    AnalysisOptions analysis;
    CheckpointOptions checkpoints;
    NumericsOptions numerics;

    Project();

    /// Strict parse: unknown keys name their path, values are range-checked.
    static Project fromJson(const nlohmann::json &json);
    /// Parse a project file; syntax errors report line and column.
    static Project load(const std::string &path);
    /// The fully resolved project, every field present.
    nlohmann::json toJson() const;
    void save(const std::string &path) const;
};

/// Parses JSON text; on a syntax error throws kd::Error with "file:line:column: message".
nlohmann::json parseJsonText(const std::string &text, const std::string &sourceName);

/// Applies `dotted.path=value` to a JSON document (value parsed as JSON, else taken as a
/// string), creating objects on the way. Throws kd::Error for a malformed assignment.
void applyOverride(nlohmann::json &doc, const std::string &assignment);

/// Writes `text` to `path` atomically (temporary file + rename): never a half-written file.
void writeFileAtomically(const std::string &path, const std::string &text);
std::string readTextFile(const std::string &path);

} // namespace kd
