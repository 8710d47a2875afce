#include "Experiment.h"

#include "ArchitectureRegistry.h"
#include "Checkpoint.h"
#include "Dataset.h"
#include "Device.h"
#include "Error.h"
#include "Optim.h"
#include "Registries.h"
#include "RunStore.h"
#include "TeacherSource.h"
#include "Trainer.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

namespace {

/// One planned stage of the experiment.
struct StagePlan {
    std::string role;   ///< teacher, student, student_scratch
    ModelSpec spec;
    std::string method; ///< registry key, or "checkpoint" for a loaded teacher
    nlohmann::json methodParams;
};

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
    std::vector<StagePlan> stages;

    Impl(const Project &p, const Registries &r)
        : project(r.resolve(p))
        , registries(r)
    {
        const auto &method = registries.methods.get(project.method.name);
        if (method.needsTeacher)
            stages.push_back({"teacher", project.teacher,
                              project.teacher.checkpoint.empty() ? "ce" : "checkpoint",
                              nlohmann::json::object()});
        stages.push_back({"student", project.student, project.method.name, project.method.params});
        if (project.baseline && project.method.name != "ce")
            stages.push_back({"student_scratch", project.student, "ce", nlohmann::json::object()});
    }

    bool channelsLast = false;

    std::shared_ptr<FeatureNet> buildModel(const ModelSpec &spec, const DataBundle &data,
                                           const torch::Device &device) const
    {
        // Same seed before every model: a KD student and its scratch baseline start from
        // identical weights, so the difference between them is the method's.
        torch::manual_seed(project.seed);
        auto model = registries.architectures.get(spec.arch).create(spec.archOptions, data.shape, data.numClasses);
        model->to(device);
        if (channelsLast)
            toChannelsLast(*model);
        return model;
    }
};

Experiment::Experiment(const Project &project, const Registries &registries)
    : d(std::make_unique<Impl>(project, registries))
{
}

Experiment::~Experiment() = default;

const Project &Experiment::project() const
{
    return d->project;
}

/// Checks that `model` provides the features `needed` and returns all its feature shapes.
static FeatureShapes checkFeatures(const std::string &role, const std::string &arch, FeatureNet &model,
                                   const std::vector<std::string> &needed, const std::string &method,
                                   const torch::Tensor &probe)
{
    torch::NoGradGuard noGrad;
    const bool wasTraining = model.is_training();
    model.eval();
    const auto f = model.forwardFeatures(probe);
    model.train(wasTraining);
    FeatureShapes shapes;
    for (const auto &kv : f.items())
        shapes.emplace_back(kv.first, kv.second.sizes().slice(1).vec());
    for (const auto &name : needed) {
        if (!f.has(name)) {
            std::string names;
            for (const auto &kv : f.items())
                names += (names.empty() ? "" : ", ") + kv.first;
            throw Error("method \"" + method + "\" needs the " + role + " feature \"" + name
                        + "\", but architecture \"" + arch + "\" provides only: " + names
                        + "; choose another " + role + " architecture or method");
        }
    }
    return shapes;
}

/// Caches the teacher's logits when that gives exactly what live forwards would: the method
/// reads only logits and the teacher's input is not augmented.
static void prepareTeacherCache(TeacherSource &source, const DistillationMethod &method, const DataBundle &data,
                                const TrainingContext &ctx, const Project &p)
{
    if (p.teacherCache == "off") {
        ctx.log("teacher cache: off (teacher_cache = \"off\"); the teacher runs live every batch");
        return;
    }
    if (method.teacherFeatures() != std::vector<std::string>{"logits"}) {
        ctx.log("teacher cache: not used; the method reads teacher features beyond the logits");
        return;
    }
    if (ctx.augmentation.enabled()) {
        ctx.log("teacher cache: not used; augmentation changes the teacher's input every epoch");
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!source.buildCache(data.train, ctx.device, ctx.evalBatchSize, p.teacherCacheMaxMB * 1024 * 1024)) {
        ctx.log("teacher cache: not used; it would exceed teacher_cache_max_mb = " + std::to_string(p.teacherCacheMaxMB));
        return;
    }
    std::ostringstream os;
    os << "teacher cache: " << data.train.size() << " x " << data.numClasses << " logits ("
       << std::fixed << std::setprecision(1) << double(source.cacheBytes()) / (1024.0 * 1024.0) << " MB) computed in "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
       << " s; reused every epoch";
    ctx.log(os.str());
}

RunSummary Experiment::run(ExperimentObserver &observer, const std::atomic<bool> &stop,
                           const std::string &runDirArg)
{
    const auto &p = d->project;
    const auto start = std::chrono::steady_clock::now();
    const int threads = p.threads > 0 ? p.threads : defaultThreadCount();
    at::set_num_threads(threads);
    const auto device = resolveDevice(p.device);

    auto info = [&](const std::string &s) { observer.onLog(ExperimentObserver::Level::Info, s); };
    info("device: " + describeDevice(device, threads));
    d->channelsLast = p.memoryFormat == "channels_last" || (p.memoryFormat == "auto" && device.is_cpu());

    // Everything that can fail on bad input happens before the run directory exists.
    auto data = loadDataset(d->registries.datasets, p.dataset, p.seed);
    info("dataset " + p.dataset.name + ": " + data->summary());

    std::vector<std::string> lossColumns{"loss"};
    std::vector<std::unique_ptr<DistillationMethod>> methods;
    for (const auto &st : d->stages) {
        if (st.method == "checkpoint") {
            methods.push_back(nullptr);
            continue;
        }
        methods.push_back(d->registries.methods.get(st.method).create(st.methodParams));
        for (const auto &t : methods.back()->termNames())
            if (std::find(lossColumns.begin(), lossColumns.end(), t) == lossColumns.end())
                lossColumns.push_back(t);
    }
    const auto probe = data->train.images.narrow(0, 0, std::min<std::int64_t>(2, data->train.size())).to(device);
    for (std::size_t i = 0; i < d->stages.size(); ++i) {
        const auto &st = d->stages[i];
        if (!methods[i])
            continue;
        auto model = d->buildModel(st.spec, *data, device);
        // Shapes first, so setup() can resolve feature lists such as "all" or "last" and size
        // its adapters; then the features the method names must exist.
        MethodSetup setup;
        setup.student = checkFeatures(st.role, st.spec.arch, *model, {}, st.method, probe);
        std::shared_ptr<FeatureNet> teacher;
        if (methods[i]->needsTeacher()) {
            teacher = d->buildModel(p.teacher, *data, device);
            setup.teacher = checkFeatures("teacher", p.teacher.arch, *teacher, {}, st.method, probe);
        }
        setup.numClasses = data->numClasses;
        setup.trainSize = data->train.size();
        setup.device = device;
        methods[i]->setup(setup);
        checkFeatures(st.role, st.spec.arch, *model, methods[i]->studentFeatures(), st.method, probe);
        if (teacher)
            checkFeatures("teacher", p.teacher.arch, *teacher, methods[i]->teacherFeatures(), st.method, probe);
    }
    std::shared_ptr<FeatureNet> teacherModel;
    nlohmann::json teacherMeta;
    if (!d->stages.empty() && d->stages.front().method == "checkpoint") {
        teacherModel = d->buildModel(p.teacher, *data, device);
        teacherMeta = loadCheckpoint(*teacherModel, p.teacher.checkpoint);
        if (d->channelsLast)
            toChannelsLast(*teacherModel);
    }

    const std::string runDir = runDirArg.empty() ? makeRunDirectoryPath(p.outputDir, p.name) : runDirArg;
    RunStore store(runDir, p.toJson(), lossColumns);
    RunSummary summary;
    summary.runDir = runDir;
    summary.status = "running";
    summary.device = describeDevice(device, threads);
    for (const auto &st : d->stages) {
        RoleSummary r;
        r.role = st.role;
        r.arch = st.spec.arch;
        r.method = st.method;
        summary.roles.push_back(r);
    }
    store.appendLog("run directory: " + runDir);
    info("run directory: " + runDir);

    // Progress across stages, weighted by estimated seconds.
    std::vector<double> stageImages, stageRate(d->stages.size(), NAN);
    for (const auto &st : d->stages) {
        const auto steps = std::max<std::int64_t>(1, data->train.size() / st.spec.train.batchSize);
        stageImages.push_back(st.method == "checkpoint" ? 0.0
                                                         : double(steps * st.spec.train.batchSize * st.spec.train.epochs));
    }

    TrainingContext ctx;
    ctx.data = data.get();
    ctx.device = device;
    ctx.seed = p.seed;
    ctx.evalBatchSize = p.evalBatchSize;
    ctx.channelsLast = d->channelsLast;
    ctx.augmentation.cropPadding = p.dataset.randomCropPadding;
    ctx.augmentation.horizontalFlip = p.dataset.horizontalFlip;
    for (std::size_t c = 0; c < data->mean.size(); ++c)
        ctx.augmentation.padValue.push_back(-data->mean[c] / data->stddev[c]);
    ctx.observer = &observer;
    ctx.store = &store;
    ctx.stop = &stop;
    ctx.start = start;

    try {
        bool stopped = false;
        for (std::size_t i = 0; i < d->stages.size() && !stopped; ++i) {
            const auto &st = d->stages[i];
            auto &rs = summary.roles[i];
            observer.onStageStarted(st.role, int(i), int(d->stages.size()));
            if (st.method == "checkpoint") {
                rs.params = teacherModel->parameterCount();
                rs.finalTestAcc = evaluateAccuracy(*teacherModel, data->test, device, p.evalBatchSize, d->channelsLast);
                rs.bestTestAcc = rs.finalTestAcc;
                rs.completed = true;
                rs.checkpoint = p.teacher.checkpoint;
                std::ostringstream os;
                os << "teacher loaded from " << p.teacher.checkpoint << " (checksum ok): test acc "
                   << std::fixed << std::setprecision(4) << rs.finalTestAcc;
                ctx.log(os.str());
                continue;
            }
            Learner learner;
            learner.role = st.role;
            learner.arch = st.spec.arch;
            learner.train = st.spec.train;
            learner.model = d->buildModel(st.spec, *data, device);
            learner.method = std::move(methods[i]);
            auto params = learner.model->parameters();
            if (auto extra = learner.method->trainableModule()) {
                extra->to(device);
                for (auto &t : extra->parameters())
                    params.push_back(t);
            }
            learner.optimizer = makeOptimizer(st.spec.train, params);
            rs.params = learner.model->parameterCount();
            ctx.log(st.role + ": " + st.spec.arch + " (" + std::to_string(rs.params) + " parameters), method "
                    + st.method + ", " + std::to_string(st.spec.train.epochs) + " epochs");

            const auto stageStart = std::chrono::steady_clock::now();
            ctx.progress = [&, i, stageStart](double frac, double ips) {
                ProgressInfo pi;
                pi.role = st.role;
                pi.stageIndex = int(i);
                pi.stageCount = int(d->stages.size());
                pi.stageFraction = frac;
                pi.imagesPerSecond = ips;
                const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - stageStart).count();
                if (frac > 0 && elapsed > 0)
                    stageRate[i] = stageImages[i] * frac / elapsed;
                // Remaining seconds: this stage at its rate; later stages at the rate of an
                // earlier stage with the same architecture, else at this stage's rate.
                double remaining = stageImages[i] * (1 - frac) / stageRate[i];
                double doneWork = 0, totalWork = 0;
                for (std::size_t k = 0; k < d->stages.size(); ++k) {
                    double rate = stageRate[k];
                    if (!std::isfinite(rate))
                        for (std::size_t j = 0; j < k; ++j)
                            if (d->stages[j].spec.arch == d->stages[k].spec.arch && std::isfinite(stageRate[j]))
                                rate = stageRate[j];
                    if (!std::isfinite(rate))
                        rate = stageRate[i];
                    const double secs = stageImages[k] / rate;
                    totalWork += secs;
                    if (k < i)
                        doneWork += secs;
                    else if (k == i)
                        doneWork += secs * frac;
                    if (k > i)
                        remaining += secs;
                }
                pi.overallFraction = totalWork > 0 ? doneWork / totalWork : frac;
                pi.etaSeconds = remaining;
                return pi;
            };

            TeacherSource teacherSource;
            if (learner.method->needsTeacher()) {
                teacherModel->eval();
                teacherSource = TeacherSource(teacherModel.get());
                prepareTeacherCache(teacherSource, *learner.method, *data, ctx, p);
            }
            const bool finished = trainStage({&learner}, teacherSource, ctx);
            rs.trainSeconds = learner.state.trainSeconds;
            rs.epochsDone = learner.state.epochsDone;
            rs.bestTestAcc = learner.state.bestTestAcc;
            rs.finalTestAcc = learner.state.finalTestAcc;
            rs.completed = finished;
            rs.checkpoint = st.role + ".pt";
            saveCheckpoint(*learner.model, store.path(rs.checkpoint),
                           {{"role", st.role},
                            {"arch", st.spec.arch},
                            {"arch_options", st.spec.archOptions},
                            {"input", {data->shape.channels, data->shape.height, data->shape.width}},
                            {"classes", data->numClasses},
                            {"epochs_done", learner.state.epochsDone},
                            {"completed", finished}});
            if (st.role == "teacher")
                teacherModel = learner.model;
            summary.wallSeconds = ctx.wallSeconds();
            store.writeSummary(summary);
            stopped = !finished;
        }
        summary.status = stopped ? "stopped" : "completed";
    } catch (const std::exception &e) {
        summary.status = "failed";
        summary.wallSeconds = ctx.wallSeconds();
        store.appendLog(std::string("failed: ") + e.what());
        store.writeSummary(summary);
        throw;
    }
    summary.wallSeconds = ctx.wallSeconds();
    store.writeSummary(summary);
    store.appendLog("status: " + summary.status);
    observer.onFinished(summary);
    return summary;
}

} // namespace kd
