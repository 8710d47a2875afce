#include "ExperimentRun.h"


#include "analysis/EpochAnalyzer.h"
#include "analysis/FeatureMaps.h"
#include "training/Precision.h"
#include "core/Device.h"
#include "core/Error.h"
#include "data/DataViews.h"
#include "data/Dataset.h"
#include "methods/StageAwareMethod.h"
#include "models/ArchitectureRegistry.h"
#include "models/Layers.h"
#include "models/MultiBranchNet.h"
#include "project/Registries.h"
#include "runs/RunStore.h"
#include "training/BatchStatisticsScope.h"
#include "core/Sha256.h"
#include "runs/RunProcess.h"
#include "training/Checkpoint.h"
#include "training/RunCheckpoint.h"
#include "training/Experiment.h"
#include "training/Optim.h"
#include "training/TeacherGroup.h"
#include "training/TeacherSource.h"

#include <ATen/Context.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <map>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

namespace {

/// Checks that `model` provides the features `needed` and returns all its feature shapes.
FeatureShapes checkFeatures(const std::string &role, const std::string &arch, FeatureNet &model,
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

/// True when the method reads nothing of its teachers but logits ("logits", or "<role>.logits"
/// of a teacher group): the condition for caching teacher outputs.
bool readsOnlyTeacherLogits(const DistillationMethod &method)
{
    const auto names = method.teacherFeatures();
    const std::string suffix = ".logits";
    return !names.empty() && std::all_of(names.begin(), names.end(), [&](const std::string &n) {
        return n == "logits"
            || (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0);
    });
}

/// Caches the teacher's logits when that gives exactly what live forwards would: the method
/// reads only logits (of the teacher, the ensemble, or each member of a teacher group) and the
/// teacher's input is not augmented.
void prepareTeacherCache(TeacherSource &source, const DistillationMethod &method, const DataBundle &data,
                         const TrainingContext &ctx, const Project &p)
{
    if (p.teacherCache == "off") {
        ctx.log("teacher cache: off (teacher_cache = \"off\"); the teacher runs live every batch");
        return;
    }
    const auto names = method.teacherFeatures();
    if (!readsOnlyTeacherLogits(method)) {
        ctx.log("teacher cache: not used; the method reads teacher features beyond the logits");
        return;
    }
    if (ctx.augmentation.enabled()) {
        ctx.log("teacher cache: not used; augmentation changes the teacher's input every epoch");
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (!source.buildCache(data.train, ctx.device, ctx.evalBatchSize, p.teacherCacheMaxMB * 1024 * 1024, names)) {
        ctx.log("teacher cache: not used; it would exceed teacher_cache_max_mb = " + std::to_string(p.teacherCacheMaxMB));
        return;
    }
    std::ostringstream os;
    os << "teacher cache: " << data.train.size() << " x ";
    if (names == std::vector<std::string>{"logits"}) {
        os << data.numClasses << " logits";
    } else {
        os << "logits of";
        for (const auto &n : names)
            os << " " << n.substr(0, n.size() - 7);
    }
    os << " (" << std::fixed << std::setprecision(1) << double(source.cacheBytes()) / (1024.0 * 1024.0)
       << " MB) computed in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
       << " s; reused every epoch";
    ctx.log(os.str());
}

std::string joined(const std::vector<std::string> &items)
{
    std::string s;
    for (const auto &i : items)
        s += (s.empty() ? "" : ", ") + i;
    return s;
}

/// The one teacher a stage reads, made of the models of its teacher roles.
std::shared_ptr<FeatureNet> makeTeacher(const Stage &st,
                                        const std::function<std::shared_ptr<FeatureNet>(const std::string &)> &modelOf)
{
    switch (st.teacherMode) {
    case TeacherMode::None:
        return nullptr;
    case TeacherMode::Single:
        return modelOf(st.teacherRoles.at(0));
    case TeacherMode::Average:
    case TeacherMode::Group: {
        std::vector<TeacherGroup::Member> members;
        for (const auto &r : st.teacherRoles)
            members.push_back({r, modelOf(r)});
        const double t = st.methodParams.value("temperature", 1.0);
        return std::make_shared<TeacherGroup>(
            st.teacherMode == TeacherMode::Average ? TeacherGroup::Mode::Average : TeacherGroup::Mode::Group,
            std::move(members), t);
    }
    }
    return nullptr;
}

std::string teacherText(const Stage &st)
{
    switch (st.teacherMode) {
    case TeacherMode::None:
        return {};
    case TeacherMode::Single:
        return "learns from " + st.teacherRoles.at(0);
    case TeacherMode::Average: {
        std::ostringstream os;
        os << "learns from the average of " << joined(st.teacherRoles) << " (softened probabilities at T = "
           << st.methodParams.value("temperature", 1.0) << ")";
        return os.str();
    }
    case TeacherMode::Group:
        if (st.method == "dmc")
            return "learns from " + joined(st.teacherRoles) + " (regressing onto their concatenated, mean-subtracted logits)";
        return "learns from " + joined(st.teacherRoles) + " (one head per teacher)";
    }
    return {};
}

/// Whether a stage's training labels are its task's (not a proxy's images or an unlabelled set).
bool usesTaskLabels(const DataView &view)
{
    return view.kind != DataView::Kind::ProxyImages && view.kind != DataView::Kind::Aux;
}

void addColumn(std::vector<std::string> &cols, const std::string &c)
{
    if (std::find(cols.begin(), cols.end(), c) == cols.end())
        cols.push_back(c);
}

} // namespace

ExperimentRun::ExperimentRun(const Project &project, const Registries &registries_, const std::vector<Stage> &stages_,
                             const std::vector<std::string> &notes_, ExperimentObserver &observer_,
                             const std::atomic<bool> &stop_)
    : p(project)
    , registries(registries_)
    , stages(stages_)
    , notes(notes_)
    , observer(observer_)
    , stop(stop_)
    , start(std::chrono::steady_clock::now())
{
}

ExperimentRun::~ExperimentRun() = default;

RunSummary ExperimentRun::execute(const std::string &runDirArg)
{
    prepareModels();
    openRunDirectory(runDirArg);
    return train();
}

RunSummary ExperimentRun::resume(const std::string &runDir, const std::string &checkpoint)
{
    chooseResumePoint(runDir, checkpoint);
    prepareModels();
    reopenRunDirectory(runDir);
    return train();
}

void ExperimentRun::prepareModels()
{
    prepareDevice();
    // Everything that can fail on bad input happens before the run directory exists.
    loadData();
    resolveOutputClasses();
    createMethods();
    setUpMethods();
    loadCheckpointedModels();
}

RunSummary ExperimentRun::train()
{
    estimateStageWork();
    makeTrainingContext();
    try {
        if (!resumePoint.active)
            writeBoundaryCheckpoint(0);
        runStages();
    } catch (const std::exception &e) {
        summary.status = "failed";
        summary.wallSeconds = ctx.wallSeconds();
        store->appendLog(std::string("failed: ") + e.what());
        store->writeSummary(summary);
        observer.onFinished(summary); // observers learn the failed run's directory too
        throw;
    }
    finish(summary.status);
    return summary;
}

void ExperimentRun::info(const std::string &text) const
{
    observer.onLog(ExperimentObserver::Level::Info, text);
}

void ExperimentRun::prepareDevice()
{
    threads = p.threads > 0 ? p.threads : defaultThreadCount();
    configureCpuRuntime(threads);
    device = resolveDevice(p.device);
    info("device: " + describeDevice(device, threads));
    channelsLast = p.memoryFormat == "channels_last" || (p.memoryFormat == "auto" && device.is_cpu());
    if (device.is_cuda())
        // cuDNN picks the fastest convolution algorithm per shape on first use; a stage's
        // shapes are fixed, so the search pays back within the first epoch.
        at::globalContext().setBenchmarkCuDNN(true);
    // Every precision the project asks for must run on this device: fail before any work.
    choosePrecision(p.precision, device);
    std::vector<const ModelSpec *> models = {&p.teacher, &p.student};
    for (const auto *group : {&p.peers, &p.teachers, &p.assistants})
        for (const auto &m : *group)
            models.push_back(&m);
    for (const auto *m : models)
        if (m->train.precision != "inherit")
            choosePrecision(m->train.precision, device);
}

void ExperimentRun::loadData()
{
    data = loadDataset(registries.datasets, p.dataset, p.seed);
    info("dataset " + p.dataset.name + ": " + data->summary());
    if (!p.hasProxy)
        return;
    proxy = loadDataset(registries.datasets, p.proxy, p.seed);
    if (proxy->shape.toString() != data->shape.toString())
        throw Error("proxy images are " + proxy->shape.toString() + " but the dataset's are "
                    + data->shape.toString() + "; the proxy must have the same shape (image folders: set "
                      "proxy.image_size and proxy.channels)");
    // The teachers see the proxy images normalised as their own training images were.
    renormalise(*proxy, data->mean, data->stddev);
    info("proxy " + p.proxy.name + ": " + proxy->summary() + " (normalised with the dataset's mean and std)");
}

const DataBundle &ExperimentRun::viewOf(const DataView &v)
{
    const auto key = v.key();
    auto it = views.find(key);
    if (it != views.end())
        return *it->second;
    std::shared_ptr<const DataBundle> b;
    switch (v.kind) {
    case DataView::Kind::Full:
        b = data;
        break;
    case DataView::Kind::OldClasses:
    case DataView::Kind::NewClasses: {
        const int c = data->numClasses;
        const int k = v.splitClasses > 0 ? v.splitClasses : c / 2;
        if (k < 1 || k >= c)
            throw Error("method.old_classes = " + std::to_string(v.splitClasses) + " does not split the "
                        + std::to_string(c) + " classes of dataset \"" + p.dataset.name
                        + "\" into old and new ones; use 1.." + std::to_string(c - 1) + " (0: half)");
        b = std::make_shared<DataBundle>(v.kind == DataView::Kind::OldClasses ? classSubset(*data, 0, k)
                                                                               : classSubset(*data, k, c));
        break;
    }
    case DataView::Kind::Proxy:
        b = proxy;
        break;
    case DataView::Kind::ProxyImages:
        b = std::make_shared<DataBundle>(withTrainingSet(*data, proxy->train));
        break;
    case DataView::Kind::Aux:
        b = std::make_shared<DataBundle>(withTrainingSet(*data, firstRows(data->train, v.limit)));
        break;
    }
    if (!b)
        throw std::logic_error("data view " + key + " has no data");
    if (v.trainLimit > 0 && v.trainLimit < b->train.size())
        b = std::make_shared<DataBundle>(withTrainingSet(*b, firstRows(b->train, v.trainLimit)));
    views.emplace(key, b);
    return *b;
}

void ExperimentRun::resolveOutputClasses()
{
    // A loaded checkpoint must match its role's classes (a generalist may bring its own
    // classes: it is distilled through an extra head).
    for (const auto &st : stages) {
        const auto &view = viewOf(st.data);
        int classes = view.numClasses;
        if (st.loaded()) {
            const auto meta = readCheckpointMeta(st.spec.checkpoint);
            if (meta.contains("input") && meta["input"].is_array() && meta["input"].size() == 3
                && std::all_of(meta["input"].begin(), meta["input"].end(),
                               [](const nlohmann::json &v) { return v.is_number_integer(); })) {
                const auto in = meta["input"];
                const InputShape saved{in[0].get<std::int64_t>(), in[1].get<std::int64_t>(), in[2].get<std::int64_t>()};
                if (saved.toString() != data->shape.toString())
                    throw Error(st.role + ": checkpoint " + st.spec.checkpoint + " was trained on " + saved.toString()
                                + " images, but dataset \"" + p.dataset.name + "\" gives " + data->shape.toString()
                                + "; use data of the shape it was trained on (dataset.image_size, dataset.channels) "
                                  "or train the teacher here");
            }
            const int saved = meta.contains("classes") && meta["classes"].is_number_integer() ? meta["classes"].get<int>() : classes;
            if (saved != classes && !st.spec.generalist)
                throw Error(st.role + ": checkpoint " + st.spec.checkpoint + " has " + std::to_string(saved)
                            + " output classes, but this role needs " + std::to_string(classes) + " ("
                            + st.data.describe() + "); train it here instead or give a matching checkpoint");
            classes = saved;
        }
        roleClasses[st.role] = classes;
        stageOf[st.role] = &st;
    }
}

MultiBranchNet::Factory ExperimentRun::architectureFactory(const std::string &role) const
{
    const auto &st = *stageOf.at(role);
    const auto &entry = registries.architectures.get(st.spec.arch);
    const int classes = roleClasses.at(role);
    return [&entry, options = archOptionsOf(role), classes, shape = data->shape] {
        return entry.create(options, shape, classes);
    };
}

nlohmann::json ExperimentRun::archOptionsOf(const std::string &role) const
{
    const auto twin = twinArchOptions.find(role);
    return twin != twinArchOptions.end() ? twin->second : stageOf.at(role)->spec.archOptions;
}

nlohmann::json ExperimentRun::branchArchOptions(const std::string &role, int branch) const
{
    auto options = archOptionsOf(role);
    const auto layout = branchLayouts.find(role);
    if (layout != branchLayouts.end() && !layout->second.widthFractions.empty())
        options["width_fraction"] =
            options.value("width_fraction", 1.0) * layout->second.widthFractions.at(std::size_t(branch));
    return options;
}

MultiBranchNet::BranchFactory ExperimentRun::branchFactory(const std::string &role) const
{
    const auto &st = *stageOf.at(role);
    const auto &entry = registries.architectures.get(st.spec.arch);
    const int classes = roleClasses.at(role);
    return [this, &entry, role, classes, shape = data->shape](int b) {
        return entry.create(branchArchOptions(role, b), shape, classes);
    };
}

std::shared_ptr<FeatureNet> ExperimentRun::newModel(const std::string &role) const
{
    const auto &st = *stageOf.at(role);
    // Same seed before every model: a KD student and its scratch baseline start from
    // identical weights, so the difference between them is the method's.
    torch::manual_seed(p.seed + st.seedOffset);
    const auto layout = branchLayouts.find(role);
    std::shared_ptr<FeatureNet> model;
    if (layout != branchLayouts.end())
        model = std::make_shared<MultiBranchNet>(branchFactory(role), layout->second, st.spec.arch);
    else
        model = architectureFactory(role)();
    model->to(device);
    if (channelsLast)
        toChannelsLast(*model);
    return model;
}

void ExperimentRun::createMethods()
{
    for (const auto &st : stages) {
        if (st.loaded()) {
            methods.push_back(nullptr);
            continue;
        }
        methods.push_back(registries.methods.get(st.method).create(st.methodParams));
        if (const auto *layout = methods.back()->branchLayout())
            branchLayouts[st.role] = *layout;
        if (auto *aware = dynamic_cast<StageAwareMethod *>(methods.back().get())) {
            const auto &view = viewOf(st.data);
            StageInfo si;
            si.teacherRoles = st.teacherRoles;
            si.generalistRoles = st.generalistRoles;
            si.labelsAreTargets = usesTaskLabels(st.data);
            si.mean = view.mean;
            si.stddev = view.stddev;
            si.numClasses = view.numClasses;
            aware->configureStage(si);
        }
        for (const auto &t : methods.back()->termNames())
            addColumn(lossColumns, t);
        for (const auto &e : methods.back()->extraMetrics())
            addColumn(extraColumns, e);
    }
    // Branches of different widths (the student ensemble): the architecture must offer the
    // width, and the role's scratch twin is the deliverable's architecture, its width.
    for (const auto &kv : branchLayouts) {
        if (kv.second.widthFractions.empty())
            continue;
        const auto &st = *stageOf.at(kv.first);
        const auto &params = registries.architectures.get(st.spec.arch).params;
        if (std::none_of(params.begin(), params.end(), [](const ParamSpec &ps) { return ps.key == "width_fraction"; }))
            throw Error("method \"" + st.method + "\" narrows its branches with the architecture's width_fraction "
                        "option, which \"" + st.spec.arch + "\" does not have; choose a CIFAR ResNet (resnet8 .. "
                        "resnet110, resnet8x4, resnet32x4)");
        if (stageOf.count(kv.first + "_scratch"))
            twinArchOptions[kv.first + "_scratch"] = branchArchOptions(kv.first, kv.second.deployed);
    }
    // The distillation views' columns, when some stage distils (docs/PROJECT_FORMAT.md, "analysis").
    analysed = p.analysis.enabled && std::any_of(stages.begin(), stages.end(), [](const Stage &st) {
        return st.teacherMode != TeacherMode::None;
    });
    if (analysed)
        for (const auto &c : EpochAnalyzer::columns())
            addColumn(extraColumns, c);
}

void ExperimentRun::setUpMethods()
{
    const auto probe = data->train.rows(0, std::min<std::int64_t>(2, data->train.size())).to(device);
    const double probeImages = double(std::max<std::int64_t>(1, probe.size(0)));
    // Estimated work per training image of each stage (multiply-accumulates: forward and
    // backward of the model ~ 3 forwards, plus a live teacher forward) and one-off work (the
    // teacher cache), for progress and ETA across stages of very different cost.
    stageCostPerImage.assign(stages.size(), 0.0);
    stageOneOffCost.assign(stages.size(), 0.0);
    // Optimiser, loader and bookkeeping per image in MAC units: measured here, a 0.1M-MAC MLP
    // trains at 150k img/s and the 30.7M-MAC cnn_large at 500 img/s on one thread.
    const double overheadPerImage = 5e4;
    std::map<std::size_t, FeatureShapes> shapesOfStage; // a cohort's peers, each probed once
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const auto &st = stages[i];
        if (!methods[i])
            continue;
        if (methods[i]->needsTeacher() != (st.teacherMode != TeacherMode::None))
            throw std::logic_error("stage " + st.role + ": method " + st.method + " and the plan disagree on a teacher");
        auto model = newModel(st.role);
        // Shapes first, so setup() can resolve feature lists such as "all" or "last" and size
        // its adapters; then the features the method names must exist.
        MethodSetup setup;
        double studentMacs = 0, teacherMacs = 0;
        {
            MacCounting count;
            setup.student = checkFeatures(st.role, st.spec.arch, *model, {}, st.method, probe);
            studentMacs = double(count.macs()) / probeImages;
        }
        const auto teacher = makeTeacher(st, [this](const std::string &role) { return newModel(role); });
        const std::string teacherRole = joined(st.teacherRoles);
        const std::string teacherArch = st.teacherRoles.empty() ? std::string() : stageOf.at(st.teacherRoles.front())->spec.arch;
        if (teacher) {
            MacCounting count;
            setup.teacher = checkFeatures(teacherRole, teacherArch, *teacher, {}, st.method, probe);
            teacherMacs = double(count.macs()) / probeImages;
        }
        const auto &view = viewOf(st.data);
        setup.numClasses = view.numClasses;
        setup.trainSize = view.train.size();
        if (usesTaskLabels(st.data))
            setup.trainLabels = view.train.labels.to(torch::kCPU, torch::kInt64);
        setup.device = device;
        setup.epochs = st.spec.train.epochs;
        setup.newStudent = [this, role = st.role] { return newModel(role); };
        if (st.cohort >= 0) {
            // Every peer's shapes, from models of their own (made with the global RNG put back
            // after, so a cohort's runs draw as before).
            const auto first = std::size_t(st.cohort);
            const auto rng = cpuRngState();
            shapesOfStage[i] = setup.student;
            for (std::size_t k = first; k < first + cohortSize(first); ++k) {
                if (!shapesOfStage.count(k)) {
                    const auto peer = newModel(stages[k].role);
                    shapesOfStage[k] = checkFeatures(stages[k].role, stages[k].spec.arch, *peer, {}, st.method, probe);
                }
                setup.cohort.push_back(shapesOfStage[k]);
            }
            setCpuRngState(rng);
            setup.cohortIndex = i - first;
        }
        methods[i]->setup(setup);
        checkFeatures(st.role, st.spec.arch, *model, methods[i]->studentFeatures(), st.method, probe);
        if (teacher)
            checkFeatures(teacherRole, teacherArch, *teacher, methods[i]->teacherFeatures(), st.method, probe);
        // The same test prepareTeacherCache() makes, less the memory bound.
        const bool cached = teacher && p.teacherCache != "off" && readsOnlyTeacherLogits(*methods[i])
            && p.dataset.randomCropPadding == 0 && !p.dataset.horizontalFlip;
        stageCostPerImage[i] = 3 * studentMacs + (cached ? 0.0 : teacherMacs) + overheadPerImage;
        stageOneOffCost[i] = cached ? teacherMacs * double(view.train.size()) : 0.0;
    }
}

void ExperimentRun::loadCheckpointedModels()
{
    for (const auto &st : stages) {
        if (!st.loaded())
            continue;
        auto model = newModel(st.role);
        loadCheckpoint(*model, st.spec.checkpoint);
        if (channelsLast)
            toChannelsLast(*model);
        models[st.role] = model;
    }
}

void ExperimentRun::openRunDirectory(const std::string &runDirArg)
{
    const std::string runDir = runDirArg.empty() ? makeRunDirectoryPath(p.outputDir, p.name) : runDirArg;
    store = std::make_unique<RunStore>(runDir, p.toJson(), lossColumns, extraColumns);
    checkpoints = std::make_unique<CheckpointFolder>(runDir);
    summary.runDir = runDir;
    summary.status = "running";
    summary.device = describeDevice(device, threads);
    for (const auto &st : stages) {
        RoleSummary r;
        r.role = st.role;
        r.arch = st.spec.arch;
        r.method = st.method;
        summary.roles.push_back(r);
    }
    // A cohort's ensemble of peers: an entry after the stages' (no model file of its own).
    for (std::size_t i = 0; i < stages.size(); ++i)
        if (stages[i].cohort == int(i)) {
            RoleSummary r;
            r.role = "ensemble";
            r.method = stages[i].method;
            for (std::size_t k = i; k < i + cohortSize(i); ++k)
                r.arch += (r.arch.empty() ? "" : "+") + stages[k].role;
            summary.roles.push_back(r);
        }
    store->appendLog("run directory: " + runDir);
    for (const auto &n : notes)
        store->appendLog("note: " + n);
    info("run directory: " + runDir);
    // Opening the output folder is when runs that died in it (SIGKILL, crash, power cut)
    // are found: their summary.json says "interrupted" from now on.
    const auto folder = fs::path(runDir).parent_path().string();
    for (const auto &dead : RunStore::markInterruptedRuns(folder.empty() ? "." : folder)) {
        const auto line = "found interrupted run " + dead + " (its process is gone); summary.json now says so, and `kdw resume "
            + dead + "` continues it";
        store->appendLog(line);
        info(line);
    }
}

void ExperimentRun::reopenRunDirectory(const std::string &runDir)
{
    const auto &m = resumePoint.meta;
    RunStore::FilePositions at;
    at.metricsBytes = m.value("metrics_bytes", std::uint64_t(0));
    at.eventsFile = m.value("events_file", std::string());
    at.eventsBytes = m.value("events_bytes", std::uint64_t(0));
    store = std::make_unique<RunStore>(runDir, at, p.toJson(), lossColumns, extraColumns);
    checkpoints = std::make_unique<CheckpointFolder>(runDir);
    summary.runDir = runDir;
    summary.status = "running";
    summary.device = describeDevice(device, threads);
    const auto roles = m.value("roles", nlohmann::json::array());
    for (std::size_t i = 0; i < stages.size(); ++i)
        summary.roles.push_back(roleSummaryFromJson(roles.at(i)));
    for (std::size_t i = stages.size(); i < roles.size(); ++i) // a cohort's ensemble
        summary.roles.push_back(roleSummaryFromJson(roles.at(i)));
    std::ostringstream os;
    os << "resumed from checkpoint " << fs::path(resumePoint.path).filename().string() << " (";
    if (resumePoint.training)
        os << stages[resumePoint.stage].role << ", epoch " << m.value("epoch", 0) + 1 << " after step "
           << m.value("step_in_epoch", std::int64_t(0)) << " of it";
    else if (resumePoint.stage < stages.size())
        os << "before " << stages[resumePoint.stage].role;
    else
        os << "every stage done";
    os << "); metrics.csv continues from there";
    store->appendLog(os.str());
    store->writeSummary(summary);
    info("run directory: " + runDir + " (resumed)");
}

void ExperimentRun::chooseResumePoint(const std::string &runDir, const std::string &checkpoint)
{
    RunStore::refuseLinks(runDir);
    // The run's own state first: a finished or live run is not resumed.
    {
        nlohmann::json sum;
        try {
            sum = nlohmann::json::parse(readTextFile((fs::path(runDir) / "summary.json").string()));
        } catch (const std::exception &) {
            sum = nlohmann::json::object(); // missing or torn: the run died early
        }
        const std::string status = sum.is_object() ? sum.value("status", std::string()) : std::string();
        if (status == "completed")
            throw Error("run " + runDir + " is complete; there is nothing to resume (start a new run instead)");
        if (status == "running" && sum.value("host", std::string()) == currentHostName()
            && processAlive(sum.value("pid", std::int64_t(-1)), sum.value("pid_start", std::int64_t(-1))))
            throw Error("run " + runDir + " is still running (process " + std::to_string(sum.value("pid", 0))
                        + "); stop it first, then resume it");
    }
    CheckpointFolder folder(runDir);
    std::string path = checkpoint;
    if (path.empty()) {
        const auto all = folder.list();
        if (all.empty())
            throw Error("run " + runDir + " has no checkpoints (" + folder.folder()
                        + " is missing or empty), so it cannot be resumed; start it again with `kdw run`");
        path = all.back();
        try {
            readCheckpointMeta(path);
        } catch (const Error &e) {
            std::string earlier;
            for (auto it = all.rbegin() + 1; it != all.rend() && earlier.empty(); ++it) {
                try {
                    readCheckpointMeta(*it);
                    earlier = *it;
                } catch (const Error &) {
                }
            }
            throw Error(std::string(e.what()) + ". Nothing was resumed. "
                        + (earlier.empty() ? "No earlier checkpoint of this run is intact; start it again with `kdw run`"
                                           : "To continue from the previous checkpoint instead: kdw resume " + runDir
                                                 + " --checkpoint " + earlier));
        }
    } else {
        std::error_code ec;
        const auto inside = fs::weakly_canonical(folder.folder(), ec);
        const auto given = fs::weakly_canonical(path, ec);
        if (given.parent_path() != inside)
            throw Error("--checkpoint " + path + " is not one of this run's checkpoints (in " + folder.folder() + ")");
    }
    auto meta = readCheckpointMeta(path);
    const std::string kind = meta.value("kind", std::string());
    if (meta.value("format", 0) != 1 || (kind != "boundary" && kind != "training") || !meta.contains("stage")
        || !meta["stage"].is_number_unsigned() || !meta.contains("roles") || !meta["roles"].is_array())
        throw Error("checkpoint " + path + " is not a resumable KD Workbench checkpoint (its sidecar lacks kind, stage "
                    "or roles)");
    const auto stage = meta["stage"].get<std::size_t>();
    if (meta.value("config_sha256", std::string()) != configIdentity())
        throw Error("checkpoint " + path + " was written by another configuration than " + runDir
                    + "/config.json (with the --set given); resume changes only threads, device, eval_batch_size, "
                      "numerics.* and checkpoints.*");
    std::size_t summaryRoles = stages.size(); // and one "ensemble" entry per cohort
    for (std::size_t k = 0; k < stages.size(); ++k)
        summaryRoles += stages[k].cohort == int(k) ? 1 : 0;
    if (stage > stages.size() || meta["roles"].size() != summaryRoles
        || (kind == "training" && (stage == stages.size() || stages[stage].loaded()
                                   || meta.value("role", std::string()) != stages[stage].role)))
        throw Error("checkpoint " + path + " does not match the stages of " + runDir + "/config.json");
    resumePoint.active = true;
    resumePoint.path = path;
    resumePoint.meta = std::move(meta);
    resumePoint.stage = stage;
    resumePoint.training = kind == "training";
}

std::string ExperimentRun::configIdentity() const
{
    auto j = p.toJson();
    for (const char *k : {"threads", "device", "eval_batch_size", "numerics", "checkpoints", "output_dir"})
        j.erase(k);
    return Sha256::ofText(j.dump());
}

nlohmann::json ExperimentRun::checkpointMeta(const std::string &kind, std::size_t stage)
{
    const auto at = store->positions();
    auto roles = nlohmann::json::array();
    for (const auto &r : summary.roles)
        roles.push_back(roleSummaryToJson(r));
    return {{"format", 1},
            {"kind", kind},
            {"stage", stage},
            {"config_sha256", configIdentity()},
            {"wall_seconds", ctx.wallSeconds()},
            {"written_at", isoUtcNow()},
            {"metrics_bytes", at.metricsBytes},
            {"events_file", at.eventsFile},
            {"events_bytes", at.eventsBytes},
            {"roles", roles}};
}

void ExperimentRun::commitCheckpoint(torch::serialize::OutputArchive &archive, const std::string &label,
                                     nlohmann::json meta)
{
    archive.write("rng_cpu", cpuRngState());
    const auto cuda = cudaRngStates();
    archive.write("rng_cuda_count", torch::tensor({std::int64_t(cuda.size())}, torch::kInt64));
    for (std::size_t k = 0; k < cuda.size(); ++k)
        archive.write("rng_cuda_" + std::to_string(k), cuda[k]);
    const auto path = checkpoints->nextPath(label);
    saveArchive(archive, path, std::move(meta));
    checkpoints->prune(p.checkpoints.keep);
}

void ExperimentRun::writeBoundaryCheckpoint(std::size_t stage)
{
    torch::serialize::OutputArchive archive;
    commitCheckpoint(archive, stage < stages.size() ? "before-" + stages[stage].role : "done",
                     checkpointMeta("boundary", stage));
}

void ExperimentRun::writeTrainingCheckpoint(std::size_t i, const std::vector<Learner *> &learners,
                                            const StagePosition &pos)
{
    torch::serialize::OutputArchive archive;
    auto states = nlohmann::json::array();
    for (std::size_t k = 0; k < learners.size(); ++k) {
        auto &l = *learners[k];
        const auto key = "learner" + std::to_string(k) + "_";
        torch::serialize::OutputArchive model, method, methodState, optimizer;
        l.model->save(model);
        archive.write(key + "model", model);
        if (auto extra = l.method->trainableModule()) {
            extra->save(method);
            archive.write(key + "method", method);
        }
        l.method->saveState(methodState);
        archive.write(key + "method_state", methodState);
        l.optimizer->save(optimizer);
        archive.write(key + "optimizer", optimizer);
        states.push_back({{"role", l.role}, {"state", learnerStateToJson(l.state)}});
    }
    writeStagePosition(archive, pos);
    auto meta = checkpointMeta("training", i);
    meta["role"] = stages[i].role;
    meta["epoch"] = pos.epoch;
    meta["step_in_epoch"] = pos.stepInEpoch;
    meta["seen"] = pos.seen;
    meta["consecutive_skips"] = pos.consecutiveSkips;
    meta["learners"] = states;
    std::ostringstream label;
    label << stages[i].role << "-epoch" << pos.epoch + (pos.stepInEpoch > 0 ? 1 : 0) << "-step"
          << learners.front()->state.step;
    commitCheckpoint(archive, label.str(), std::move(meta));
}

void ExperimentRun::restoreLearners(const std::vector<Learner *> &learners, StagePosition &position)
{
    const auto &meta = resumePoint.meta;
    const auto states = meta.value("learners", nlohmann::json::array());
    if (states.size() != learners.size())
        throw Error("checkpoint " + resumePoint.path + " holds " + std::to_string(states.size())
                    + " models for this stage, not " + std::to_string(learners.size()) + "; it belongs to another run");
    torch::serialize::InputArchive archive;
    loadArchive(archive, resumePoint.path);
    try {
        for (std::size_t k = 0; k < learners.size(); ++k) {
            auto &learner = *learners[k];
            const auto key = "learner" + std::to_string(k) + "_";
            torch::serialize::InputArchive model, method, methodState, optimizer;
            archive.read(key + "model", model);
            learner.model->load(model);
            if (channelsLast)
                toChannelsLast(*learner.model);
            if (auto extra = learner.method->trainableModule()) {
                archive.read(key + "method", method);
                extra->load(method);
            }
            archive.read(key + "method_state", methodState);
            learner.method->loadState(methodState);
            archive.read(key + "optimizer", optimizer);
            learner.optimizer->load(optimizer);
        }
        // A checkpoint at an epoch's end (step 0 of the next) has no running sums to restore.
        if (meta.value("step_in_epoch", std::int64_t(0)) > 0)
            readStagePosition(archive, learners.size(), position);
        torch::Tensor rng, cudaCount;
        archive.read("rng_cpu", rng);
        archive.read("rng_cuda_count", cudaCount);
        std::vector<torch::Tensor> cuda(std::size_t(cudaCount[0].item<std::int64_t>()));
        for (std::size_t k = 0; k < cuda.size(); ++k)
            archive.read("rng_cuda_" + std::to_string(k), cuda[k]);
        setCpuRngState(rng);
        setCudaRngStates(cuda);
    } catch (const Error &) {
        throw;
    } catch (const std::exception &e) {
        const auto *c10error = dynamic_cast<const c10::Error *>(&e);
        throw Error("checkpoint " + resumePoint.path + " does not fit this run's models ("
                    + std::string(c10error ? c10error->what_without_backtrace() : e.what()).substr(0, 300) + ")");
    }
    for (std::size_t k = 0; k < learners.size(); ++k)
        learners[k]->state = learnerStateFromJson(states.at(k).at("state"));
    position.epoch = meta.value("epoch", 0);
    position.stepInEpoch = meta.value("step_in_epoch", std::int64_t(0));
    position.seen = meta.value("seen", std::int64_t(0));
    position.consecutiveSkips = meta.value("consecutive_skips", 0);
}

void ExperimentRun::estimateStageWork()
{
    // Each stage's work is its training images times its cost per image plus its one-off cost
    // (MAC units); seconds per unit are measured on the running stage and kept for finished ones.
    stageSecondsPerUnit.assign(stages.size(), NAN);
    for (std::size_t k = 0; k < stages.size(); ++k) {
        const auto &st = stages[k];
        const auto n = viewOf(st.data).train.size();
        const auto steps = std::max<std::int64_t>(1, n / st.spec.train.batchSize);
        const double images = st.loaded() ? 0.0 : double(steps * st.spec.train.batchSize * st.spec.train.epochs);
        stageWork.push_back(images * stageCostPerImage[k] + stageOneOffCost[k]);
    }
    // A cohort trains in one loop: its peers' work is counted on its first stage.
    for (std::size_t k = 0; k < stages.size(); ++k)
        if (stages[k].cohort >= 0 && std::size_t(stages[k].cohort) != k) {
            stageWork[std::size_t(stages[k].cohort)] += stageWork[k];
            stageWork[k] = 0;
        }
}

void ExperimentRun::makeTrainingContext()
{
    ctx.data = data.get();
    ctx.device = device;
    ctx.seed = p.seed;
    ctx.evalBatchSize = p.evalBatchSize;
    ctx.channelsLast = channelsLast;
    ctx.precision = p.precision;
    ctx.augmentation.cropPadding = p.dataset.randomCropPadding;
    ctx.augmentation.horizontalFlip = p.dataset.horizontalFlip;
    for (std::size_t c = 0; c < data->mean.size(); ++c)
        ctx.augmentation.padValue.push_back(-data->mean[c] / data->stddev[c]);
    ctx.observer = &observer;
    ctx.store = store.get();
    if (analysed) {
        EpochAnalyzer::Setup as;
        as.runDir = summary.runDir;
        as.data = data.get();
        as.device = device;
        as.evalBatchSize = p.evalBatchSize;
        as.channelsLast = channelsLast;
        as.seed = p.seed;
        as.options = p.analysis;
        if (as.options.featureMaps && !featureMapsAvailable()) {
            as.options.featureMaps = false;
            ctx.log("analysis: no feature-map images are drawn: this build has no OpenCV (install libopencv-dev "
                    "and rebuild); the other distillation views are computed as usual");
        }
        as.log = [this](const std::string &line) { ctx.log(line); };
        analyzer = std::make_unique<EpochAnalyzer>(std::move(as));
        ctx.analyzer = analyzer.get();
    }
    ctx.stop = &stop;
    ctx.start = start;
    if (resumePoint.active)
        ctx.start -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(resumePoint.meta.value("wall_seconds", 0.0)));
    ctx.checkpoints = p.checkpoints;
    ctx.numerics = p.numerics;
}

void ExperimentRun::runStages()
{
    bool stopped = false;
    const std::size_t from = resumePoint.active ? resumePoint.stage : 0;
    for (std::size_t i = 0; i < from; ++i)
        restoreFinishedStage(i);
    if (resumePoint.active && !resumePoint.training) {
        torch::serialize::InputArchive archive;
        loadArchive(archive, resumePoint.path);
        torch::Tensor rng;
        archive.read("rng_cpu", rng);
        setCpuRngState(rng);
    }
    for (std::size_t i = from; i < stages.size() && !stopped;) {
        const auto &st = stages[i];
        ctx.data = &viewOf(st.data);
        ctx.seed = p.seed + (st.dataSeedOffset >= 0 ? std::uint64_t(st.dataSeedOffset) : st.seedOffset);
        ctx.labelsAreTargets = st.data.kind != DataView::Kind::ProxyImages;
        ctx.teacherRole.clear();
        for (const auto &r : st.teacherRoles)
            ctx.teacherRole += (ctx.teacherRole.empty() ? "" : "+") + r;
        observer.onStageStarted(st.role, int(i), int(stages.size()));
        if (st.loaded()) {
            runLoadedStage(i);
            ++i;
        } else if (st.cohort >= 0) {
            const std::size_t n = cohortSize(i);
            stopped = !runCohortStage(i, n);
            i += n;
        } else {
            stopped = !runTrainedStage(i);
            ++i;
        }
    }
    summary.status = stopped ? "stopped" : "completed";
}

void ExperimentRun::restoreFinishedStage(std::size_t i)
{
    const auto &st = stages[i];
    if (st.loaded())
        return; // loadCheckpointedModels() has it
    // A multi-branch student's whole network is <role>_multibranch.pt (<role>.pt is its
    // deployed branch alone).
    const auto file = store->path(st.role + (branchLayouts.count(st.role) ? "_multibranch.pt" : ".pt"));
    auto model = newModel(st.role);
    loadCheckpoint(*model, file);
    if (channelsLast)
        toChannelsLast(*model);
    models[st.role] = model;
    finishedMethods[st.role] = std::move(methods[i]);
    ctx.log(st.role + ": finished before the resume; loaded from " + st.role + ".pt (checksum ok)");
    // The scratch baseline's distillation views compare it with the student's teacher.
    if (analyzer && st.role == "student" && st.teacherMode != TeacherMode::None) {
        auto teacher = makeTeacher(st, [this](const std::string &role) { return models.at(role); });
        std::string role;
        for (const auto &r : st.teacherRoles)
            role += (role.empty() ? "" : "+") + r;
        analyzer->rememberStudentTeacher(*teacher, role);
    }
}

void ExperimentRun::runLoadedStage(std::size_t i)
{
    const auto &st = stages[i];
    auto &rs = summary.roles[i];
    const auto &view = viewOf(st.data);
    auto &model = *models.at(st.role);
    rs.params = model.parameterCount();
    const bool sameTask = roleClasses.at(st.role) == view.numClasses;
    rs.finalTestAcc = sameTask ? evaluateAccuracy(model, view.test, device, p.evalBatchSize, channelsLast) : NAN;
    rs.bestTestAcc = rs.finalTestAcc;
    rs.completed = true;
    rs.checkpoint = st.spec.checkpoint;
    std::ostringstream os;
    os << st.role << " loaded from " << st.spec.checkpoint << " (checksum ok): ";
    if (sameTask)
        os << "test acc " << std::fixed << std::setprecision(4) << rs.finalTestAcc;
    else
        os << roleClasses.at(st.role) << " classes of its own; not evaluated here";
    ctx.log(os.str());
    writeBoundaryCheckpoint(i + 1);
}

Learner ExperimentRun::makeLearner(std::size_t i)
{
    const auto &st = stages[i];
    Learner learner;
    learner.role = st.role;
    learner.arch = st.spec.arch;
    learner.train = st.spec.train;
    learner.model = newModel(st.role);
    learner.method = std::move(methods[i]);
    std::vector<torch::Tensor> extraParams;
    if (auto extra = learner.method->trainableModule()) {
        extra->to(device);
        extraParams = extra->parameters();
    }
    learner.optimizer = makeOptimizer(st.spec.train, learner.model->parameters(), std::move(extraParams),
                                      learner.method->trainableWeightDecay());
    // The scratch twin reports the student's extra metrics too (the controls' probes), unless
    // they read a multi-branch network's branches, which a plain model does not have.
    if (st.role == "student_scratch" && finishedMethods.count("student")
        && !finishedMethods["student"]->extraMetrics().empty() && !finishedMethods["student"]->branchLayout())
        learner.evaluator = finishedMethods["student"].get();
    return learner;
}

void ExperimentRun::logStageStart(std::size_t i, const Learner &learner)
{
    const auto &st = stages[i];
    const auto &view = viewOf(st.data);
    std::string line = st.role + ": " + st.spec.arch + " (" + std::to_string(learner.model->parameterCount())
        + " parameters), method " + st.method + ", " + std::to_string(st.spec.train.epochs) + " epochs";
    if (st.data.kind != DataView::Kind::Full || st.data.trainLimit > 0)
        line += ", trained on " + st.data.describe() + " (" + std::to_string(view.train.size()) + " images, "
            + std::to_string(view.numClasses) + " classes)";
    ctx.log(line);
    for (const auto &note : learner.method->setupNotes())
        ctx.log(st.role + ": " + note);
    if (st.teacherMode != TeacherMode::None)
        ctx.log(st.role + ": " + teacherText(st));
}

ProgressInfo ExperimentRun::progressAt(std::size_t i, std::chrono::steady_clock::time_point stageStart,
                                       double frac, double ips)
{
    ProgressInfo pi;
    pi.role = stages[i].role;
    pi.stageIndex = int(i);
    pi.stageCount = int(stages.size());
    pi.stageFraction = frac;
    pi.imagesPerSecond = ips;
    pi.device = summary.device;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - stageStart).count();
    // The stage clock starts before the teacher cache is built, so the one-off work counts as
    // done once training reports progress.
    const double workDone = stageOneOffCost[i] + (stageWork[i] - stageOneOffCost[i]) * frac;
    if (workDone > 0 && elapsed > 0)
        stageSecondsPerUnit[i] = elapsed / workDone;
    double remaining = 0, doneWork = 0, totalWork = 0;
    for (std::size_t k = 0; k < stages.size(); ++k) {
        double spu = stageSecondsPerUnit[k];
        if (!std::isfinite(spu))
            spu = stageSecondsPerUnit[i];
        if (!std::isfinite(spu))
            spu = 0;
        totalWork += stageWork[k];
        if (k < i) {
            doneWork += stageWork[k];
        } else if (k == i) {
            doneWork += workDone;
            remaining += (stageWork[k] - workDone) * spu;
        } else {
            remaining += stageWork[k] * spu;
        }
    }
    pi.overallFraction = totalWork > 0 ? std::min(1.0, doneWork / totalWork) : frac;
    pi.etaSeconds = remaining;
    return pi;
}

bool ExperimentRun::runTrainedStage(std::size_t i)
{
    const auto &st = stages[i];
    Learner learner = makeLearner(i);
    summary.roles[i].params = learner.model->parameterCount();
    logStageStart(i, learner);
    if (const auto *net = dynamic_cast<const MultiBranchNet *>(learner.model.get())) {
        const auto &l = net->layout();
        summary.roles[i].totalParams = summary.roles[i].params;
        summary.roles[i].params = net->trunkParameters() + net->tailParameters(l.deployed);
        std::string tails = std::to_string(net->tailParameters(0)) + " parameters each";
        if (!l.widthFractions.empty()) {
            tails.clear();
            for (int b = 0; b < l.branches; ++b)
                tails += (b ? ", " : "") + std::to_string(net->tailParameters(b));
            tails += " parameters";
        }
        ctx.log(st.role + ": one " + st.spec.arch + " split after " + BranchLayout::splitName(l.split) + " into a trunk ("
                + std::to_string(net->trunkParameters()) + " parameters) and " + std::to_string(l.branches)
                + " branches (" + tails + "); the deliverable, branch "
                + std::to_string(l.deployed + 1) + " with the trunk, has " + std::to_string(summary.roles[i].params)
                + " parameters (" + st.role + ".pt)");
    }

    const auto stageStart = std::chrono::steady_clock::now();
    ctx.progress = [this, i, stageStart](double frac, double ips) { return progressAt(i, stageStart, frac, ips); };

    TeacherSource teacherSource;
    std::shared_ptr<FeatureNet> teacher;
    std::unique_ptr<BatchStatisticsScope> teacherBatchStats; // released before `teacher`
    if (learner.method->needsTeacher()) {
        teacher = makeTeacher(st, [this](const std::string &role) { return models.at(role); });
        teacher->eval();
        teacherSource = TeacherSource(teacher.get());
        prepareTeacherCache(teacherSource, *learner.method, viewOf(st.data), ctx, p);
        // After the cache: building it puts the whole teacher in eval mode.
        if (learner.method->teacherBatchStatistics())
            teacherBatchStats = useTeacherBatchStatistics(st, *teacher);
    }
    StagePosition position;
    ctx.resumeAt = nullptr;
    if (resumePoint.active && resumePoint.training && resumePoint.stage == i) {
        restoreLearners({&learner}, position);
        ctx.resumeAt = &position;
    }
    ctx.checkpoint = [this, i](const std::vector<Learner *> &ls, const StagePosition &pos) {
        writeTrainingCheckpoint(i, ls, pos);
    };
    const bool finished = trainStage({&learner}, teacherSource, ctx);
    ctx.checkpoint = nullptr;
    ctx.resumeAt = nullptr;
    recordStageResult(i, learner, finished);
    models[st.role] = deliveredOf(learner);
    finishedMethods[st.role] = std::move(learner.method);
    summary.wallSeconds = ctx.wallSeconds();
    store->writeSummary(summary);
    if (finished)
        writeBoundaryCheckpoint(i + 1);
    return finished;
}

std::size_t ExperimentRun::cohortSize(std::size_t first) const
{
    std::size_t n = 0;
    while (first + n < stages.size() && stages[first + n].cohort == int(first))
        ++n;
    return n;
}

bool ExperimentRun::runCohortStage(std::size_t first, std::size_t n)
{
    // The peers in one loop (TrainingContext::cohort); each is its own role, model file and
    // summary entry, as a student is.
    std::vector<Learner> learners;
    learners.reserve(n);
    std::int64_t cohortParams = 0;
    for (std::size_t k = 0; k < n; ++k) {
        learners.push_back(makeLearner(first + k));
        summary.roles[first + k].params = learners.back().model->parameterCount();
        cohortParams += summary.roles[first + k].params;
        logStageStart(first + k, learners.back());
    }
    ctx.log("cohort: " + std::to_string(n) + " peers trained together by " + stages[first].method + ", "
            + std::to_string(cohortParams) + " parameters in all; each peer is a deliverable (peerK.pt)");
    std::vector<Learner *> ptrs;
    for (auto &l : learners)
        ptrs.push_back(&l);

    const auto stageStart = std::chrono::steady_clock::now();
    ctx.progress = [this, first, stageStart](double frac, double ips) { return progressAt(first, stageStart, frac, ips); };
    StagePosition position;
    ctx.resumeAt = nullptr;
    if (resumePoint.active && resumePoint.training && resumePoint.stage == first) {
        restoreLearners(ptrs, position);
        ctx.resumeAt = &position;
    }
    ctx.checkpoint = [this, first](const std::vector<Learner *> &ls, const StagePosition &pos) {
        writeTrainingCheckpoint(first, ls, pos);
    };
    ctx.cohort = true;
    for (auto &r : summary.roles)
        if (r.role == "ensemble") {
            r.params = cohortParams;
            ctx.ensembleSummary = &r;
        }
    const bool finished = trainStage(ptrs, TeacherSource(), ctx);
    ctx.cohort = false;
    ctx.ensembleSummary = nullptr;
    ctx.checkpoint = nullptr;
    ctx.resumeAt = nullptr;
    for (std::size_t k = 0; k < n; ++k) {
        recordStageResult(first + k, learners[k], finished);
        models[learners[k].role] = deliveredOf(learners[k]);
        finishedMethods[learners[k].role] = std::move(learners[k].method);
    }
    summary.wallSeconds = ctx.wallSeconds();
    store->writeSummary(summary);
    if (finished)
        writeBoundaryCheckpoint(first + n);
    return finished;
}

std::unique_ptr<BatchStatisticsScope> ExperimentRun::useTeacherBatchStatistics(const Stage &st, FeatureNet &teacher)
{
    auto scope = std::make_unique<BatchStatisticsScope>(teacher);
    if (scope->layers() == 0)
        ctx.log(st.role + ": the teacher's architecture has no BatchNorm layers; teacher_mode = "
                          "\"train\" changes nothing");
    else
        ctx.log(st.role + ": the teacher's " + std::to_string(scope->layers())
                + " BatchNorm layers normalise with batch statistics (train mode, as the method's "
                  "reference code; teacher_mode = \"train\"); its running statistics stay unchanged");
    return scope;
}

void ExperimentRun::recordStageResult(std::size_t i, const Learner &learner, bool finished)
{
    const auto &st = stages[i];
    auto &rs = summary.roles[i];
    rs.trainSeconds = learner.state.trainSeconds;
    rs.epochsDone = learner.state.epochsDone;
    rs.bestTestAcc = learner.state.bestTestAcc;
    rs.finalTestAcc = learner.state.finalTestAcc;
    rs.extras.clear();
    for (std::size_t k = 0; k < learner.state.finalExtra.size(); ++k)
        rs.extras.push_back({learner.state.finalExtra[k].first,
                             k < learner.state.bestExtra.size() ? learner.state.bestExtra[k].second : NAN,
                             learner.state.finalExtra[k].second});
    rs.completed = finished;
    rs.checkpoint = st.role + ".pt";
    const nlohmann::json meta = {{"role", st.role},
                                 {"arch", st.spec.arch},
                                 {"arch_options", archOptionsOf(st.role)},
                                 {"input", {data->shape.channels, data->shape.height, data->shape.width}},
                                 {"classes", viewOf(st.data).numClasses},
                                 {"method", st.method},
                                 {"teachers", st.teacherRoles},
                                 {"data", st.data.describe()},
                                 {"epochs_done", learner.state.epochsDone},
                                 {"completed", finished}};
    // What the role delivers: the trained model, or the network the method keeps in its place
    // (PCL's temporal mean), whose weights the files then hold.
    const auto model = deliveredOf(learner);
    auto *net = dynamic_cast<MultiBranchNet *>(model.get());
    if (!net) {
        saveCheckpoint(*model, store->path(rs.checkpoint), meta);
        return;
    }
    auto whole = meta;
    if (model != learner.model)
        whole["delivered"] = "the method's temporal mean (EMA) of the trained network";
    saveBranches(st, *net, whole);
}

std::shared_ptr<FeatureNet> ExperimentRun::deliveredOf(const Learner &learner)
{
    auto delivered = learner.method->deliveredModel();
    return delivered ? delivered : learner.model;
}

void ExperimentRun::saveBranches(const Stage &st, MultiBranchNet &net, const nlohmann::json &meta)
{
    // The whole network (what a resume reloads), then every branch as a standalone model of
    // the architecture, the deployed one also as <role>.pt: the deliverable, loadable as any
    // student or teacher checkpoint is.
    const auto &l = net.layout();
    const auto make = branchFactory(st.role);
    auto whole = meta;
    whole["multi_branch"] = {{"branches", l.branches},
                             {"split", BranchLayout::splitName(l.split)},
                             {"deploy_branch", l.deployed + 1},
                             {"deliverable", st.role + ".pt"},
                             {"params", net.parameterCount()}};
    if (!l.widthFractions.empty())
        whole["multi_branch"]["width_fractions"] = l.widthFractions;
    saveCheckpoint(net, store->path(st.role + "_multibranch.pt"), whole);
    for (int b = 0; b < l.branches; ++b) {
        auto branch = net.extractBranch(b, make);
        auto m = meta;
        m["arch_options"] = branchArchOptions(st.role, b);
        m["branch"] = b + 1;
        m["params"] = branch->parameterCount();
        m["multi_branch_params"] = net.parameterCount();
        m["whole_network"] = st.role + "_multibranch.pt";
        saveCheckpoint(*branch, store->path(st.role + "_branch" + std::to_string(b + 1) + ".pt"), m);
        if (b == l.deployed)
            saveCheckpoint(*branch, store->path(st.role + ".pt"), m);
    }
}

void ExperimentRun::finish(const std::string &status)
{
    summary.status = status;
    summary.wallSeconds = ctx.wallSeconds();
    store->writeSummary(summary);
    store->appendLog("status: " + summary.status);
    observer.onFinished(summary);
}

} // namespace kd
