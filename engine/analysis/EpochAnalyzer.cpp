#include "EpochAnalyzer.h"

#include "analysis/ClassificationMetrics.h"
#include "analysis/Cka.h"
#include "analysis/FeatureMaps.h"
#include "analysis/ProbeSet.h"
#include "core/Error.h"
#include "models/FeatureNet.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kMaxProbeImages = 64;
constexpr int kCalibrationBins = 15;
constexpr int kFeatureRows = 10; ///< probe images drawn per feature-map file (one per class first)

json number(double v)
{
    return std::isfinite(v) ? json(v) : json(nullptr);
}

json numbers(const std::vector<double> &v)
{
    json a = json::array();
    for (double x : v)
        a.push_back(number(x));
    return a;
}

json matrix(const std::vector<std::int64_t> &m, int k)
{
    json rows = json::array();
    for (int r = 0; r < k; ++r)
        rows.push_back(std::vector<std::int64_t>(m.begin() + std::ptrdiff_t(r) * k, m.begin() + std::ptrdiff_t(r + 1) * k));
    return rows;
}

json logitsJson(const torch::Tensor &logits)
{
    const auto l = logits.to(torch::kCPU, torch::kFloat64).contiguous();
    json rows = json::array();
    for (std::int64_t i = 0; i < l.size(0); ++i) {
        const auto *p = l[i].data_ptr<double>();
        rows.push_back(std::vector<double>(p, p + l.size(1)));
    }
    return rows;
}

json calibrationJson(const Calibration &c)
{
    json bins = json::array();
    for (const auto &b : c.bins)
        bins.push_back({{"lower", b.lower},
                        {"upper", b.upper},
                        {"count", b.count},
                        {"mean_confidence", b.meanConfidence},
                        {"accuracy", b.accuracy}});
    return {{"ece", number(c.ece)}, {"bins", bins}};
}

std::vector<std::int64_t> toVector(const torch::Tensor &t)
{
    const auto c = t.to(torch::kCPU, torch::kInt64).contiguous();
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

std::vector<double> toDoubles(const torch::Tensor &t)
{
    const auto c = t.to(torch::kCPU, torch::kFloat64).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

/// The features CKA compares: stage outputs (post-activation), pre_logits and logits.
bool comparedFeature(const std::string &name)
{
    if (name == "pre_logits" || name == "logits")
        return true;
    return name.size() > 5 && name.compare(0, 5, "stage") == 0
        && name.find_first_not_of("0123456789", 5) == std::string::npos;
}

bool drawnFeature(const std::string &name, const torch::Tensor &t)
{
    return t.dim() == 4 && comparedFeature(name) && name != "logits" && name != "pre_logits";
}

std::string epochName(int epoch)
{
    std::ostringstream os;
    os << "epoch" << std::setw(3) << std::setfill('0') << epoch;
    return os.str();
}

std::string fileSafe(std::string s)
{
    for (auto &c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
            c = '+';
    return s;
}

/// A model's outputs on the probe and on the whole test set (CPU tensors).
struct ModelView {
    std::vector<std::pair<std::string, torch::Tensor>> probeFeatures; ///< compared features only
    torch::Tensor probeLogits;
    torch::Tensor testLogits;
};

} // namespace

struct EpochAnalyzer::Impl {
    Setup setup;
    std::vector<std::int64_t> probe;
    torch::Tensor probeImages;    ///< normalised probe images (CPU)
    std::vector<std::int64_t> probeLabels;
    std::vector<std::int64_t> featureRows; ///< probe rows drawn in feature maps
    std::vector<std::int64_t> testLabels;
    bool prepared = false;
    /// Teacher outputs by role and model (a frozen teacher is evaluated once per stage).
    std::map<std::string, ModelView> teachers;
    std::map<std::string, std::string> teacherProblems; // why a teacher is not comparable
    /// The student's teacher, kept for the scratch baseline.
    std::string studentTeacherRole, studentTeacherKey;
    /// Per-class test accuracy by role and epoch, for the KD gain.
    std::map<std::string, std::map<int, std::vector<double>>> perClass;
    json probeFile;
    std::set<std::string> logged;
    std::string lastKey; ///< key of the teacher teacherView() last looked up

    void logOnce(const std::string &key, const std::string &text)
    {
        if (logged.insert(key).second && setup.log)
            setup.log(text);
    }

    std::string path(const std::string &relative) const { return (fs::path(setup.runDir) / relative).string(); }

    void prepare()
    {
        if (prepared)
            return;
        prepared = true;
        const auto &test = setup.data->test;
        testLabels = toVector(test.labels);
        probe = chooseProbeIndices(testLabels, setup.data->numClasses, setup.options.probePerClass, kMaxProbeImages,
                                   setup.seed);
        if (probe.empty())
            return;
        const auto index = torch::tensor(probe, torch::kInt64);
        probeImages = test.select(index).to(torch::kCPU).contiguous();
        for (auto i : probe)
            probeLabels.push_back(testLabels[std::size_t(i)]);
        // Feature-map rows: the first probe image of each class, then the next ones.
        std::set<std::int64_t> seen;
        for (std::size_t r = 0; r < probe.size() && int(featureRows.size()) < kFeatureRows; ++r)
            if (seen.insert(probeLabels[r]).second)
                featureRows.push_back(std::int64_t(r));
        for (std::size_t r = 0; r < probe.size() && int(featureRows.size()) < kFeatureRows; ++r)
            if (std::find(featureRows.begin(), featureRows.end(), std::int64_t(r)) == featureRows.end())
                featureRows.push_back(std::int64_t(r));
        std::sort(featureRows.begin(), featureRows.end());

        probeFile = {{"indices", probe},
                     {"labels", probeLabels},
                     {"class_names", setup.data->classNames},
                     {"num_classes", setup.data->numClasses},
                     {"test_images", test.size()},
                     {"seed", setup.seed},
                     {"per_class", setup.options.probePerClass},
                     {"images", json::array()},
                     {"teachers", json::object()},
                     {"students", json::object()}};
        // A resumed run: keep the models this run analysed before it was interrupted.
        if (fs::exists(path("analysis/probe.json"))) {
            try {
                const auto before = json::parse(readTextFile(path("analysis/probe.json")));
                if (before.is_object() && before.value("indices", json()) == probeFile["indices"])
                    for (const char *k : {"teachers", "students"})
                        if (before.contains(k) && before[k].is_object())
                            probeFile[k] = before[k];
            } catch (const std::exception &) {
                // unreadable: written again from here on
            }
        }
        if (setup.options.featureMaps) {
            const auto &shape = setup.data->shape;
            const int side = int(std::max(shape.height, shape.width));
            const int cell = featureCellSize(int(shape.height), int(shape.width), FeatureMapOptions{});
            const int scale = std::max(1, cell / std::max(1, side));
            fs::create_directories(path("features/probe"));
            for (std::size_t k = 0; k < probe.size(); ++k) {
                const std::string file = "features/probe/" + std::to_string(k) + ".png";
                writePng(renderInput(probeImages[std::int64_t(k)], setup.data->mean, setup.data->stddev, scale), path(file));
                probeFile["images"].push_back(file);
            }
        }
    }

    ModelView evaluate(FeatureNet &model, const TensorDataset &test, bool withTest)
    {
        torch::NoGradGuard noGrad;
        // Every module's own mode comes back afterwards, not just the top one's: a teacher may
        // run with its BatchNorm layers alone in train mode (BatchStatisticsScope).
        struct Restore {
            std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes;
            ~Restore()
            {
                for (auto &m : modes)
                    m.first->train(m.second);
            }
        } restore;
        for (const auto &m : model.modules(/*include_self=*/false))
            restore.modes.emplace_back(m, m->is_training());
        const bool wasTraining = model.is_training();
        model.eval();
        struct RestoreSelf {
            FeatureNet &m;
            bool t;
            ~RestoreSelf() { m.train(t); } // first, then each module (Restore)
        } restoreSelf{model, wasTraining};
        ModelView v;
        auto x = probeImages.to(setup.device);
        if (setup.channelsLast)
            x = x.contiguous(torch::MemoryFormat::ChannelsLast);
        const auto f = model.forwardFeatures(x);
        for (const auto &kv : f.items())
            if (comparedFeature(kv.first))
                v.probeFeatures.emplace_back(kv.first, kv.second.to(torch::kCPU, torch::kFloat32).contiguous());
        if (f.has("logits"))
            v.probeLogits = f.logits().to(torch::kCPU, torch::kFloat32);
        if (!withTest || !f.has("logits"))
            return v;
        std::vector<torch::Tensor> parts;
        const auto n = test.size();
        for (std::int64_t i = 0; i < n; i += setup.evalBatchSize) {
            const auto len = std::min<std::int64_t>(setup.evalBatchSize, n - i);
            auto b = test.rows(i, len).to(setup.device);
            if (setup.channelsLast)
                b = b.contiguous(torch::MemoryFormat::ChannelsLast);
            parts.push_back(model.forwardFeatures(b).logits().to(torch::kCPU, torch::kFloat32));
        }
        v.testLogits = torch::cat(parts, 0);
        return v;
    }

    /// The teacher's view, or null (with the reason logged once) when it cannot be compared.
    const ModelView *teacherView(FeatureNet *teacher, const std::string &teacherRole, const TensorDataset &test)
    {
        if (!teacher)
            return nullptr;
        std::ostringstream key;
        key << teacherRole << "@" << static_cast<const void *>(teacher);
        auto it = teachers.find(key.str());
        if (it == teachers.end()) {
            auto v = evaluate(*teacher, test, true);
            std::string problem;
            if (!v.testLogits.defined())
                problem = "its outputs have no \"logits\" (it is a group of teachers read by role)";
            else if (v.testLogits.size(1) != setup.data->numClasses)
                problem = "its logits have " + std::to_string(v.testLogits.size(1)) + " classes, the test set "
                    + std::to_string(setup.data->numClasses);
            if (!problem.empty()) {
                teacherProblems[key.str()] = problem;
                logOnce("teacher:" + teacherRole, "analysis: teacher " + teacherRole
                                                      + " is not compared with its student: " + problem);
            }
            it = teachers.emplace(key.str(), std::move(v)).first;
            if (problem.empty())
                probeFile["teachers"][teacherRole] = logitsJson(it->second.probeLogits);
        }
        lastKey = key.str();
        return teacherProblems.count(key.str()) ? nullptr : &it->second;
    }

    json drawMaps(const std::string &role, const ModelView &v, const std::string &dir, std::vector<std::string> &written)
    {
        json list = json::array();
        for (const auto &kv : v.probeFeatures) {
            if (!drawnFeature(kv.first, kv.second))
                continue;
            const std::string file = dir + "/" + fileSafe(role) + "_" + kv.first + ".png";
            writePng(renderStageMaps(probeImages, kv.second, featureRows, setup.data->mean, setup.data->stddev), path(file));
            written.push_back(file);
            list.push_back({{"stage", kv.first}, {"file", file}});
        }
        return list;
    }
};

EpochAnalyzer::EpochAnalyzer(Setup setup)
    : d(std::make_unique<Impl>())
{
    d->setup = std::move(setup);
    if (!d->setup.data)
        throw std::invalid_argument("EpochAnalyzer needs the dataset");
}

EpochAnalyzer::~EpochAnalyzer() = default;

std::vector<std::string> EpochAnalyzer::columns()
{
    return {"agreement", "kl_teacher_student", "ece", "cev", "sde"};
}

bool EpochAnalyzer::wants(const std::string &role, bool hasTeacher) const
{
    return d->setup.options.enabled && (hasTeacher || role == "student_scratch");
}

void EpochAnalyzer::rememberStudentTeacher(FeatureNet &teacher, const std::string &teacherRole)
{
    d->prepare();
    if (d->probe.empty())
        return;
    d->teacherView(&teacher, teacherRole, d->setup.data->test);
    d->studentTeacherKey = d->lastKey;
    d->studentTeacherRole = teacherRole;
}

const std::vector<std::int64_t> &EpochAnalyzer::probeIndices() const
{
    return d->probe;
}

std::vector<std::pair<std::string, double>> EpochAnalyzer::analyse(const std::string &role, int epoch, FeatureNet &model,
                                                                   FeatureNet *teacher, const std::string &teacherRole,
                                                                   const DataBundle &stageData)
{
    // The views must never end a training run: a failure is logged and the epoch's columns
    // stay empty.
    try {
        return analyseEpoch(role, epoch, model, teacher, teacherRole, stageData);
    } catch (const std::exception &e) {
        if (d->setup.log)
            d->setup.log("analysis: " + role + " epoch " + std::to_string(epoch) + " failed: " + e.what());
    }
    std::vector<std::pair<std::string, double>> out;
    for (const auto &c : columns())
        out.emplace_back(c, NAN);
    return out;
}

std::vector<std::pair<std::string, double>> EpochAnalyzer::analyseEpoch(const std::string &role, int epoch,
                                                                        FeatureNet &model, FeatureNet *teacher,
                                                                        const std::string &teacherRole,
                                                                        const DataBundle &stageData)
{
    std::vector<std::pair<std::string, double>> out;
    for (const auto &c : columns())
        out.emplace_back(c, NAN);
    if (!wants(role, teacher != nullptr))
        return out;
    const auto t0 = std::chrono::steady_clock::now();
    const auto &data = *d->setup.data;
    const auto &test = stageData.test;
    if (stageData.numClasses != data.numClasses || test.size() != data.test.size() || test.size() == 0) {
        d->logOnce("data:" + role, "analysis: " + role + " is evaluated on another test set than the project's ("
                                       + std::to_string(test.size()) + " images, " + std::to_string(stageData.numClasses)
                                       + " classes); no distillation views for it");
        return out;
    }
    d->prepare();
    if (d->probe.empty())
        return out;

    // The reference this learner is compared with: its own teacher, or for the scratch
    // baseline the student's teacher.
    std::string refRole = teacherRole;
    const ModelView *ref = d->teacherView(teacher, teacherRole, test);
    if (teacher && role == "student") {
        d->studentTeacherKey = d->lastKey;
        d->studentTeacherRole = teacherRole;
    }
    if (!teacher && !d->studentTeacherKey.empty() && !d->teacherProblems.count(d->studentTeacherKey)) {
        ref = &d->teachers.at(d->studentTeacherKey);
        refRole = d->studentTeacherRole;
    }

    const auto mine = d->evaluate(model, test, true);
    const int k = data.numClasses;
    json r = json::object();
    if (!mine.testLogits.defined() || mine.testLogits.size(1) != k) {
        d->logOnce("logits:" + role, "analysis: " + role + " has no logits over the " + std::to_string(k)
                                         + " test classes; no distillation views for it");
        return out;
    }
    const auto probs = torch::softmax(mine.testLogits.to(torch::kFloat64), 1);
    const auto top = probs.max(1);
    const auto predicted = toVector(std::get<1>(top));
    const auto confTensor = std::get<0>(top).contiguous();
    std::vector<double> confidence(confTensor.data_ptr<double>(), confTensor.data_ptr<double>() + confTensor.numel());
    std::vector<bool> correct(predicted.size());
    for (std::size_t i = 0; i < predicted.size(); ++i)
        correct[i] = predicted[i] == d->testLabels[i];
    const auto calibration = expectedCalibrationError(confidence, correct, kCalibrationBins);
    const auto confusion = confusionMatrix(d->testLabels, predicted, k);
    const auto accuracy = perClassAccuracy(confusion, k);
    d->perClass[role][epoch] = accuracy;
    r["test_acc"] = number(agreement(predicted, d->testLabels));
    r["ece"] = number(calibration.ece);
    r["calibration"] = calibrationJson(calibration);
    r["confusion"] = matrix(confusion, k);
    r["per_class_accuracy"] = numbers(accuracy);
    r["probe_logits"] = logitsJson(mine.probeLogits);
    out[2].second = calibration.ece;

    const std::string dir = "features/" + epochName(epoch);
    std::vector<std::string> written;
    if (d->setup.options.featureMaps)
        fs::create_directories(d->path(dir));
    if (d->setup.options.featureMaps)
        r["feature_maps"] = d->drawMaps(role, mine, dir, written);

    if (ref) {
        const auto tProbs = torch::softmax(ref->testLogits.to(torch::kFloat64), 1);
        const auto tTop = tProbs.max(1);
        const auto tPredicted = toVector(std::get<1>(tTop));
        const double agree = agreement(predicted, tPredicted);
        // KL(p_t ‖ p_s) at T = 1, summed over classes, averaged over images.
        const double kl = meanKlDivergence(toDoubles(ref->testLogits), toDoubles(mine.testLogits), k);
        const auto tConfusion = confusionMatrix(d->testLabels, tPredicted, k);
        const auto bias = compressionBias(tConfusion, confusion, k);
        const auto tConf = std::get<0>(tTop).contiguous();
        std::vector<double> tConfidence(tConf.data_ptr<double>(), tConf.data_ptr<double>() + tConf.numel());
        std::vector<bool> tCorrect(tPredicted.size());
        for (std::size_t i = 0; i < tPredicted.size(); ++i)
            tCorrect[i] = tPredicted[i] == d->testLabels[i];
        out[0].second = agree;
        out[1].second = kl;
        out[3].second = bias.cev;
        out[4].second = bias.sde;
        r["teacher"] = refRole;
        r["agreement"] = number(agree);
        r["kl_teacher_student"] = number(kl);
        r["cev"] = number(bias.cev);
        r["sde"] = number(bias.sde);
        r["bias"] = {{"fpr_change_percent", numbers(bias.fprChange)},
                     {"fnr_change_percent", numbers(bias.fnrChange)},
                     {"classes_used", bias.classesUsed}};
        r["teacher_confusion"] = matrix(tConfusion, k);
        r["teacher_per_class_accuracy"] = numbers(perClassAccuracy(tConfusion, k));
        r["teacher_calibration"] = calibrationJson(expectedCalibrationError(tConfidence, tCorrect, kCalibrationBins));

        std::vector<std::string> tNames, sNames;
        std::vector<torch::Tensor> tFeat, sFeat;
        for (const auto &kv : ref->probeFeatures) {
            tNames.push_back(kv.first);
            tFeat.push_back(kv.second);
        }
        for (const auto &kv : mine.probeFeatures) {
            sNames.push_back(kv.first);
            sFeat.push_back(kv.second);
        }
        const auto cka = linearCkaMatrix(tFeat, sFeat);
        json rows = json::array();
        for (std::size_t i = 0; i < tNames.size(); ++i)
            rows.push_back(numbers(std::vector<double>(cka.begin() + std::ptrdiff_t(i * sNames.size()),
                                                       cka.begin() + std::ptrdiff_t((i + 1) * sNames.size()))));
        r["cka"] = {{"teacher_features", tNames}, {"student_features", sNames}, {"matrix", rows}};
        if (d->setup.options.featureMaps)
            r["teacher_feature_maps"] = d->drawMaps(refRole, *ref, dir, written);
    } else if (role == "student_scratch") {
        d->logOnce("noref:" + role, "analysis: " + role + " has no teacher to be compared with (the student had none "
                                        "with comparable logits); only its own confusion and calibration are written");
    }

    // Roles of the same epoch share its file (the baseline trains after the student): read
    // back what an earlier role wrote rather than holding every epoch in memory.
    const std::string epochPath = d->path("analysis/" + epochName(epoch) + ".json");
    json file;
    if (fs::exists(epochPath)) {
        try {
            file = json::parse(readTextFile(epochPath));
        } catch (const std::exception &) {
            file = json(); // unreadable: start the file again
        }
    }
    if (!file.is_object() || !file.contains("roles"))
        file = {{"epoch", epoch}, {"class_names", data.classNames}, {"num_classes", k}, {"roles", json::object()}};
    file["roles"][role] = r;
    // Per-class KD gain, student − scratch, once both have this epoch (from this process, or
    // from the file when the run was resumed in between).
    auto perClassOf = [&](const std::string &who) -> std::vector<double> {
        const auto it = d->perClass.find(who);
        if (it != d->perClass.end() && it->second.count(epoch))
            return it->second.at(epoch);
        std::vector<double> v;
        const auto &roles = file["roles"];
        if (roles.contains(who) && roles[who].contains("per_class_accuracy") && roles[who]["per_class_accuracy"].is_array())
            for (const auto &x : roles[who]["per_class_accuracy"])
                v.push_back(x.is_number() ? x.get<double>() : NAN);
        return v;
    };
    const auto a = perClassOf("student"), b = perClassOf("student_scratch");
    if (!a.empty() && a.size() == b.size()) {
        std::vector<double> gain(a.size());
        for (std::size_t c = 0; c < a.size(); ++c)
            gain[c] = a[c] - b[c];
        file["per_class_kd_gain"] = numbers(gain);
    }
    writeFileAtomically(epochPath, file.dump() + "\n");
    d->probeFile["students"][role] = {{"epoch", epoch}, {"logits", r["probe_logits"]}};
    writeFileAtomically(d->path("analysis/probe.json"), d->probeFile.dump() + "\n");

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(2);
    os << "analysis: " << role << " epoch " << epoch << " in " << seconds << " s";
    if (ref) {
        os.precision(4);
        os << " (agreement " << out[0].second << ", KL " << out[1].second << ", ECE " << out[2].second << ", CEV ";
        os.precision(1);
        os << out[3].second << ", SDE " << out[4].second << "; " << written.size() << " feature maps)";
    }
    if (d->setup.log)
        d->setup.log(os.str());
    return out;
}

} // namespace kd
