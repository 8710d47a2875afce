// The method "srm" as the authors' code runs it (viebboy/SRM): the pure pieces of
// engine/methods/SrmCodebook.h and the whole method through its three phases (dictionary
// learning, student initialisation, KD) against golden values from scripts/gen_srm_golden.py
// (python3-torch, the same LibTorch 1.13); the defaults against the authors' CIFAR-100
// configuration; which parameters each phase moves; refusals; and a tiny real run whose log
// and metrics.csv show the phases.

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "methods/MethodRegistry.h"
#include "methods/SrmCodebook.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/Experiment.h"
#include "core/TorchFwd.h"
#include "support/MethodFixture.h"
#include "support/TestSupport.h"
#include "support/TensorChecks.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace {

using kd::test::termOf;

using kd::test::errorOf;

using nlohmann::json;

/// {"shape": [...], "data": [...]} → tensor (float64 unless `dtype`).
torch::Tensor tensorOf(const json &j, torch::Dtype dtype = torch::kFloat64)
{
    const auto data = j.at("data").get<std::vector<double>>();
    const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
    return torch::tensor(data, torch::kFloat64).reshape(shape).to(dtype);
}

/// Empty when `got` matches `want` within rel·|want| + abs, else what differs.
std::string mismatch(const torch::Tensor &got, const torch::Tensor &want, double rel, double abs)
{
    if (!got.defined())
        return "undefined tensor";
    if (got.sizes() != want.sizes()) {
        std::ostringstream os;
        os << "shape " << got.sizes() << " != expected " << want.sizes();
        return os.str();
    }
    const auto g = got.detach().to(torch::kFloat64).flatten().contiguous();
    const auto w = want.detach().to(torch::kFloat64).flatten().contiguous();
    for (std::int64_t i = 0; i < g.numel(); ++i) {
        const double a = g[i].item<double>(), b = w[i].item<double>();
        if (!std::isfinite(a) || std::abs(a - b) > rel * std::abs(b) + abs) {
            std::ostringstream os;
            os.precision(17);
            os << "element " << i << ": got " << a << ", expected " << b;
            return os.str();
        }
    }
    return {};
}

#define CHECK_CLOSE_TOL(got, want, rel, abs, what)                                                                         \
    do {                                                                                                               \
        const auto err_ = mismatch((got), (want), (rel), (abs));                                                       \
        QVERIFY2(err_.empty(), (std::string(what) + ": " + err_).c_str());                                             \
    } while (0)

kd::FeatureShapes shapesOf(const json &j, int classes)
{
    kd::FeatureShapes out;
    for (const auto &[name, shape] : j.items())
        out.emplace_back(name, shape.get<std::vector<std::int64_t>>());
    out.emplace_back("logits", std::vector<std::int64_t>{classes});
    return out;
}

kd::Features featuresOf(const json &j, bool requireGrad)
{
    kd::Features f;
    for (const auto &[name, value] : j.items())
        f.add(name, tensorOf(value, torch::kFloat32).set_requires_grad(requireGrad));
    return f;
}

} // namespace

class TestSrm : public QObject {
    Q_OBJECT

private:
    json m_golden;
    kd::MethodRegistry m_methods{"method"};

    std::unique_ptr<kd::DistillationMethod> create(const json &params = json::object()) const
    {
        const auto &entry = m_methods.get("srm");
        return entry.create(kd::resolveParams(entry.params, params, "method"));
    }

private Q_SLOTS:
    void initTestCase();

    void defaults_areTheAuthors();
    void sizes_matchGolden();
    void pieces_matchGolden();
    void phasePlans_matchGolden_data();
    void phasePlans_matchGolden();
    void method_phasesMatchGolden();
    void method_eachPhaseMovesOnlyItsParameters();
    void dictionary_learnsTheTeachersFeatures();
    void refusals_data();
    void refusals();
    void tinyRun_logsPhasesAndTerms();
};

void TestSrm::initTestCase()
{
    const std::string path = std::string(KD_TEST_DATA_DIR) + "/srm_golden.json";
    std::ifstream in(path);
    QVERIFY2(in.good(), ("cannot open " + path + "; regenerate it with /usr/bin/python3 scripts/gen_srm_golden.py").c_str());
    m_golden = json::parse(in);
    kd::registerBuiltinMethods(m_methods);
    at::set_num_threads(1);
}

void TestSrm::defaults_areTheAuthors()
{
    QVERIFY(m_methods.contains("srm"));
    QVERIFY(m_methods.contains("srm_lite")); // the former one-stage stand-in, kept by its own name
    const auto &e = m_methods.get("srm");
    QVERIFY(e.needsTeacher);
    QVERIFY(e.description.find("Tran") != std::string::npos);
    for (const auto &p : e.params)
        QVERIFY2(!p.help.empty(), p.key.c_str());
    // viebboy/SRM cifar100/code/exp_configurations.py: codeword_multiplier 2.0 and
    // sparsity_multiplier 0.02 (the configuration of its srmkdwt runs, the middle of the
    // searched grids), target global-local, CLUSTER_EPOCH (10, 60, 30), INIT_EPOCH (30, 100,
    // 30), KD_EPOCH (30, 100, 70), CLUSTER_LR starting at 1e-3; alpha and T the middle of the
    // KD grids {0.25, 0.5, 0.75} x {2, 4, 8}.
    const auto d = kd::resolveParams(e.params, json::object(), "srm");
    QCOMPARE(d.at("codeword_multiplier").get<double>(), 2.0);
    QCOMPARE(d.at("sparsity_multiplier").get<double>(), 0.02);
    QCOMPARE(d.at("target").get<std::string>(), std::string("global-local"));
    QCOMPARE(d.at("dictionary_epochs").get<int>(), 10 + 60 + 30);
    QCOMPARE(d.at("init_epochs").get<int>(), 30 + 100 + 30);
    QCOMPARE(d.at("kd_epochs").get<int>(), 30 + 100 + 70);
    QCOMPARE(d.at("dictionary_lr").get<double>(), 1e-3);
    QCOMPARE(d.at("alpha").get<double>(), 0.5);
    QCOMPARE(d.at("temperature").get<double>(), 4.0);
    QCOMPARE(d.at("student_features").get<std::string>(), std::string("all"));
    QCOMPARE(d.at("teacher_features").get<std::string>(), std::string("all"));

    QCOMPARE(create()->termNames(), (std::vector<std::string>{"ce", "kd", "srm_dict", "srm_image", "srm_pixel"}));
    QCOMPARE(create({{"target", "global"}})->termNames(), (std::vector<std::string>{"ce", "kd", "srm_dict", "srm_image"}));
    QCOMPARE(create({{"target", "local"}})->termNames(), (std::vector<std::string>{"ce", "kd", "srm_dict", "srm_pixel"}));
    QCOMPARE(create({{"student_features", "stage2"}})->studentFeatures(), (std::vector<std::string>{"stage2", "logits"}));
}

void TestSrm::sizes_matchGolden()
{
    for (const auto &r : m_golden.at("sizes")) {
        const auto c = r["channels"].get<std::int64_t>();
        const auto cm = r["codeword_multiplier"].get<double>(), sm = r["sparsity_multiplier"].get<double>();
        const auto what = std::to_string(c) + " channels x " + std::to_string(cm) + ", " + std::to_string(sm);
        QVERIFY2(kd::srm::codewordCount(c, cm) == r["codewords"].get<std::int64_t>(), what.c_str());
        QVERIFY2(kd::srm::sparsity(c, cm, sm) == r["k"].get<std::int64_t>(), what.c_str());
    }
    // The authors' DenseNet-121 stages at the defaults: 256 / 512 / 2048 codewords, k 5 / 10 / 40.
    QCOMPARE(kd::srm::codewordCount(1024, 2.0), std::int64_t(2048));
    QCOMPARE(kd::srm::sparsity(1024, 2.0, 0.02), std::int64_t(40));
}

void TestSrm::pieces_matchGolden()
{
    const auto &c = m_golden.at("pieces");
    const double rel = 1e-9, abs = 1e-12;
    const auto feature = tensorOf(c["feature"]);
    const auto centers = tensorOf(c["centers"]);
    const auto intercept = tensorOf(c["intercept"]);
    const auto k = c["k"].get<std::int64_t>();
    const auto sim = kd::srm::similarity(feature, centers, intercept);
    CHECK_CLOSE_TOL(sim, tensorOf(c["similarity"]), rel, abs, "similarity");
    const auto sparse = kd::srm::sparsify(sim, k);
    CHECK_CLOSE_TOL(sparse, tensorOf(c["sparse"]), rel, abs, "top-k sparse similarities");
    QCOMPARE((sparse > 0).sum(-1).max().item<std::int64_t>(), k);
    CHECK_CLOSE_TOL(kd::srm::reconstruct(sparse, centers), tensorOf(c["reconstruction"]), rel, abs, "reconstruction");
    CHECK_CLOSE_TOL(kd::srm::reconstructionLoss(feature, centers, intercept, k),
                torch::tensor(c["reconstruction_loss"].get<double>(), torch::kFloat64), rel, abs,
                "dictionary-learning loss");

    const auto image = kd::srm::imageLabels(sparse);
    CHECK_CLOSE_TOL(image, tensorOf(c["image_labels"]), rel, abs, "image-level labels");
    const auto pixel = kd::srm::pixelLabels(sparse);
    const auto wantPixel = torch::tensor(c["pixel_labels"].get<std::vector<std::int64_t>>(), torch::kInt64)
                               .reshape(c["pixel_labels_shape"].get<std::vector<std::int64_t>>());
    QVERIFY(pixel.dtype() == torch::kInt64);
    QVERIFY(torch::equal(pixel, wantPixel));

    const auto pred = kd::srm::similarity(tensorOf(c["student"]), tensorOf(c["head_centers"]),
                                          tensorOf(c["head_intercept"]));
    CHECK_CLOSE_TOL(pred, tensorOf(c["student_similarity"]), rel, abs, "student similarity");
    CHECK_CLOSE_TOL(kd::srm::imageLoss(pred, image), torch::tensor(c["image_loss"].get<double>(), torch::kFloat64), rel,
                abs, "image-level BCE");
    CHECK_CLOSE_TOL(kd::srm::pixelLoss(pred, pixel), torch::tensor(c["pixel_loss"].get<double>(), torch::kFloat64), rel,
                abs, "pixel-level CE");
    // The BCE vanishes only where the prediction is the label (here: labels predicted exactly
    // give the labels' own entropy, not 0, so compare against a label-matching prediction).
    QVERIFY(kd::srm::imageLoss(pred, image).item<double>() > kd::srm::imageLoss(sparse, image).item<double>());

    CHECK_CLOSE_TOL(kd::srm::sparsify(tensorOf(c["ties"]), 2), tensorOf(c["ties_sparse_k2"]), rel, abs,
                "ties at the k-th value are kept");
    CHECK_CLOSE_TOL(kd::srm::similarity(tensorOf(c["vector"]), centers, intercept), tensorOf(c["vector_similarity"]), rel,
                abs, "a vector is one position");
}

void TestSrm::phasePlans_matchGolden_data()
{
    QTest::addColumn<int>("index");
    const auto &rows = m_golden.at("plans");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto &r = rows[i];
        QTest::newRow(("epochs " + std::to_string(r["epochs"].get<int>()) + ", steps "
                       + std::to_string(r["steps"].get<int>()) + ", phases "
                       + std::to_string(r["dictionary_epochs"].get<int>()) + "/"
                       + std::to_string(r["init_epochs"].get<int>()) + "/" + std::to_string(r["kd_epochs"].get<int>()))
                          .c_str())
            << int(i);
    }
}

void TestSrm::phasePlans_matchGolden()
{
    QFETCH(int, index);
    const auto &r = m_golden.at("plans").at(std::size_t(index));
    const auto plan = kd::srm::planPhases(r["dictionary_epochs"].get<int>(), r["init_epochs"].get<int>(),
                                          r["kd_epochs"].get<int>(), r["epochs"].get<int>(), r["steps"].get<int>());
    QCOMPARE(plan.dictionaryEnd, r["dictionary_end"].get<std::int64_t>());
    QCOMPARE(plan.initEnd, r["init_end"].get<std::int64_t>());
    QCOMPARE(plan.scaled, r["scaled"].get<bool>());
}

void TestSrm::method_phasesMatchGolden()
{
    const auto &c = m_golden.at("method");
    auto m = create(c["params"]);
    kd::MethodSetup setup;
    setup.student = shapesOf(c["student_shapes"], 4);
    setup.teacher = shapesOf(c["teacher_shapes"], 4);
    setup.numClasses = 4;
    setup.trainSize = 18;
    torch::manual_seed(c["seed"].get<std::uint64_t>());
    m->setup(setup);

    // The heads start as the authors' layers do (kaiming_uniform_ centers, U(-1, 1) intercept),
    // drawn in the order the golden script draws them.
    auto heads = m->trainableModule();
    QVERIFY(heads);
    auto named = heads->named_parameters();
    for (std::size_t i = 0; i < c["initial"]["heads"].size(); ++i) {
        const auto &h = c["initial"]["heads"][i];
        const auto prefix = "stage" + std::to_string(i) + ".";
        CHECK_CLOSE_TOL(named[prefix + "centers"], tensorOf(h["centers"]), 0, 0, "initial head centers");
        CHECK_CLOSE_TOL(named[prefix + "intercept"], tensorOf(h["intercept"]), 0, 0, "initial head intercept");
    }
    QCOMPARE(int(heads->parameters().size()), 4); // the dictionary is not optimised with the student

    std::vector<std::string> logged;
    const std::function<void(const std::string &)> log = [&](const std::string &s) { logged.push_back(s); };
    const auto &batches = c["batches"];
    for (std::size_t step = 0; step < batches.size(); ++step) {
        const auto &b = batches[step];
        const auto s = featuresOf(b["student"], true);
        const auto t = featuresOf(b["teacher"], false);
        const auto y = torch::tensor(b["labels"].get<std::vector<std::int64_t>>(), torch::kInt64);
        kd::StepContext ctx;
        ctx.epochs = c["epochs"].get<int>();
        ctx.totalSteps = c["total_steps"].get<std::int64_t>();
        ctx.step = std::int64_t(step);
        ctx.epoch = int(step / 2) + 1;
        ctx.log = &log;
        const auto loss = m->compute(s, &t, y, ctx);
        const auto &e = c["expected"][step];
        const auto what = "step " + std::to_string(step) + " ";
        // float32 throughout, as the engine trains.
        const double rel = 2e-5, abs = 1e-6;
        CHECK_CLOSE_TOL(loss.total, torch::tensor(e["total"].get<double>()), rel, abs, what + "total");
        for (const char *term : {"ce", "kd", "srm_dict", "srm_image", "srm_pixel"})
            CHECK_CLOSE_TOL(termOf(loss, term), torch::tensor(e[term].get<double>()), rel, abs, what + term);
    }
    auto has = [&](const std::string &needle) {
        for (const auto &l : logged)
            if (l.find(needle) != std::string::npos)
                return true;
        return false;
    };
    QVERIFY(has("phase 1/3 (dictionary learning) from step 1"));
    QVERIFY(has("phase 2/3 (student initialisation) from step 3"));
    QVERIFY(has("phase 3/3 (KD) from step 5"));
    QVERIFY(has("phase 2/3 (student initialisation) done, mean loss"));
    QVERIFY(has("phase 3/3 (KD) done, mean loss"));
    QVERIFY(has("dictionary learning 2, student initialisation 2, KD 2 steps"));
    QVERIFY(has("stage1<-stage1 (6 codewords, k = 2), stage2<-stage2 (10 codewords, k = 3)"));
    QVERIFY(!has("scaled")); // 1 + 1 + 1 phase epochs in a 3-epoch stage
}

void TestSrm::method_eachPhaseMovesOnlyItsParameters()
{
    // A student "layer" W feeds the student's features; an SGD with momentum and weight
    // decay, as the trainer's, steps after each compute(): in phase 1 nothing of the student
    // may move, in phase 2 W and the heads learn, in phase 3 the heads are dropped.
    const auto &c = m_golden.at("method");
    auto m = create(c["params"]);
    kd::MethodSetup setup;
    setup.student = shapesOf(c["student_shapes"], 4);
    setup.teacher = shapesOf(c["teacher_shapes"], 4);
    setup.numClasses = 4;
    m->setup(setup);
    auto W = torch::ones({1}).set_requires_grad(true);
    std::vector<torch::Tensor> params{W};
    for (auto &p : m->trainableModule()->parameters())
        params.push_back(p);
    torch::optim::SGD opt(params, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(5e-4));
    auto headSnapshot = [&] {
        std::vector<torch::Tensor> out;
        for (auto &p : m->trainableModule()->parameters())
            out.push_back(p.detach().clone());
        return out;
    };
    auto changed = [](const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b) {
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!torch::equal(a[i], b[i]))
                return true;
        return false;
    };
    const auto &batches = c["batches"];
    for (std::size_t step = 0; step < batches.size(); ++step) {
        const auto &b = batches[step];
        kd::Features s;
        for (const auto &[name, value] : b["student"].items())
            s.add(name, tensorOf(value, torch::kFloat32) * W);
        const auto t = featuresOf(b["teacher"], false);
        const auto y = torch::tensor(b["labels"].get<std::vector<std::int64_t>>(), torch::kInt64);
        kd::StepContext ctx;
        ctx.epochs = 3;
        ctx.totalSteps = 6;
        ctx.step = std::int64_t(step);
        const auto wBefore = W.detach().clone();
        const auto headsBefore = headSnapshot();
        const auto loss = m->compute(s, &t, y, ctx);
        opt.zero_grad();
        loss.total.backward();
        opt.step();
        const auto what = "step " + std::to_string(step);
        if (step < 2) {
            QVERIFY2(torch::equal(W, wBefore), (what + ": the student moved while the dictionary learns").c_str());
            QVERIFY2(!changed(headSnapshot(), headsBefore), (what + ": the heads moved in phase 1").c_str());
        } else if (step < 4) {
            QVERIFY2(!torch::equal(W, wBefore), (what + ": the student did not learn in phase 2").c_str());
            QVERIFY2(changed(headSnapshot(), headsBefore), (what + ": the heads did not learn in phase 2").c_str());
        } else {
            QVERIFY2(!torch::equal(W, wBefore), (what + ": the student did not learn from KD").c_str());
            QVERIFY2(!changed(headSnapshot(), headsBefore), (what + ": the dropped heads moved in phase 3").c_str());
        }
    }
}

void TestSrm::dictionary_learnsTheTeachersFeatures()
{
    // Phase 1 on one fixed batch: the codewords' own Adam lowers the reconstruction error
    // (100 steps of a 300-step stage, lr 0.1 / 0.01 / 0.001 over 10 / 60 / 30 of them).
    torch::manual_seed(21);
    auto m = create({{"student_features", "stage1"}, {"teacher_features", "stage1"}, {"dictionary_epochs", 1},
                     {"init_epochs", 1}, {"kd_epochs", 1}, {"dictionary_lr", 0.1}});
    kd::MethodSetup setup;
    setup.student = {{"stage1", {4, 4, 4}}, {"logits", {3}}};
    setup.teacher = {{"stage1", {6, 4, 4}}, {"logits", {3}}};
    m->setup(setup);
    kd::Features s, t;
    s.add("stage1", torch::randn({8, 4, 4, 4}));
    s.add("logits", torch::randn({8, 3}));
    t.add("stage1", torch::relu(torch::randn({8, 6, 4, 4})));
    t.add("logits", torch::randn({8, 3}));
    const auto y = torch::zeros({8}, torch::kInt64);
    double first = NAN, last = NAN;
    for (std::int64_t step = 0; step < 100; ++step) {
        kd::StepContext ctx;
        ctx.epochs = 3;
        ctx.totalSteps = 300;
        ctx.step = step;
        const double v = termOf(m->compute(s, &t, y, ctx), "srm_dict").item<double>();
        if (step == 0)
            first = v;
        last = v;
    }
    QVERIFY2(last < 0.9 * first, qPrintable(QString("reconstruction loss %1 -> %2").arg(first).arg(last)));
}

void TestSrm::refusals_data()
{
    QTest::addColumn<QString>("params");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("init without a dictionary") << R"({"dictionary_epochs": 0})"
                                               << QStringList{"dictionary_epochs = 0", "init_epochs"};
    QTest::newRow("a dictionary nobody uses") << R"({"init_epochs": 0})"
                                              << QStringList{"init_epochs = 0", "dictionary_epochs"};
    QTest::newRow("no phase at all") << R"({"dictionary_epochs": 0, "init_epochs": 0, "kd_epochs": 0})"
                                     << QStringList{"all 0"};
    QTest::newRow("unknown target") << R"({"target": "pixels"})" << QStringList{"target", "global-local"};
}

void TestSrm::refusals()
{
    QFETCH(QString, params);
    QFETCH(QStringList, needles);
    const auto msg = errorOf([&] { create(json::parse(params.toStdString())); });
    for (const auto &n : needles)
        QVERIFY2(msg.find(n.toStdString()) != std::string::npos, ("\"" + n.toStdString() + "\" not in: " + msg).c_str());
    // A map paired with a vector is refused at setup, naming both features.
    auto m = create({{"student_features", "stage1"}, {"teacher_features", "pre_logits"}});
    kd::MethodSetup setup;
    setup.student = {{"stage1", {4, 4, 4}}, {"logits", {4}}};
    setup.teacher = {{"pre_logits", {8}}, {"logits", {4}}};
    const auto kinds = errorOf([&] { m->setup(setup); });
    QVERIFY2(kinds.find("\"srm\"") != std::string::npos && kinds.find("pre_logits") != std::string::npos, kinds.c_str());
}

void TestSrm::tinyRun_logsPhasesAndTerms()
{
    // Tiny CNNs on 320 synthetic images, threads 1: the student's 2 epochs of 10 steps hold
    // the authors' 100 / 160 / 200 phase epochs scaled to 4 / 7 / 9 steps.
    QTemporaryDir tmp;
    const json j = {
        {"name", "srm-tiny"},
        {"seed", 3},
        {"threads", 1},
        {"baseline", false},
        {"output_dir", tmp.path().toStdString()},
        {"dataset", {{"name", "synthetic"}, {"limit", 320}, {"test_limit", 128}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
                     {"train", {{"epochs", 1}, {"batch_size", 32}, {"lr", 0.05}}}}},
        {"student", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}},
                     {"train", {{"epochs", 2}, {"batch_size", 32}, {"lr", 0.05}, {"log_every", 1}}}}},
        {"method", {{"name", "srm"}}},
    };
    const auto runDir = tmp.filePath("run").toStdString();
    kd::RunSummary summary;
    try {
        summary = kd::test::runProject(j, runDir);
    } catch (const std::exception &e) {
        QFAIL(e.what());
    }
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

    QFile logFile(QString::fromStdString(runDir + "/log.txt"));
    QVERIFY(logFile.open(QIODevice::ReadOnly));
    const auto log = QString::fromUtf8(logFile.readAll());
    if (qEnvironmentVariableIsSet("KD_TEST_SHOW_LOG"))
        qInfo().noquote() << log;
    for (const char *needle :
         {"srm: 2 stage pair(s): stage1<-stage1", "phases over the stage's 20 steps: dictionary learning 4, student "
          "initialisation 7, KD 9 steps", "the stage has 2 epochs, not the 460 of dictionary_epochs 100 + init_epochs "
          "160 + kd_epochs 200, so the phases are scaled", "phase 1/3 (dictionary learning) from step 1, epoch 1",
          "phase 1/3 (dictionary learning) done", "phase 2/3 (student initialisation) from step 5, epoch 1",
          "phase 3/3 (KD) from step 12, epoch 2", "phase 3/3 (KD) done, mean loss"})
        QVERIFY2(log.contains(QString::fromUtf8(needle)), qPrintable(QString("not in log.txt: ") + needle + "\n" + log));

    // One step row per step (log_every 1): each phase's own terms are non-zero in its rows
    // only, and the total is its phase's objective.
    QFile csv(QString::fromStdString(runDir + "/metrics.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const auto lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    const auto header = lines.first().split(',');
    auto col = [&](const char *name) { return int(header.indexOf(QString(name))); };
    const int kind = col("kind"), step = col("step"), loss = col("loss"), ce = col("loss_ce"), kdc = col("loss_kd"),
              dict = col("loss_srm_dict"), image = col("loss_srm_image"), pixel = col("loss_srm_pixel");
    QVERIFY(kind >= 0 && step >= 0 && loss >= 0 && ce >= 0 && kdc >= 0 && dict >= 0 && image >= 0 && pixel >= 0);
    int rows = 0;
    double firstDict = NAN, lastDict = NAN;
    for (const auto &line : lines.mid(1)) {
        const auto cells = line.split(',');
        if (cells[0] != "student" || cells[kind] != "step")
            continue;
        ++rows;
        const int s = cells[step].toInt();
        auto v = [&](int c) { return cells[c].toDouble(); };
        if (s <= 4) {
            QVERIFY2(v(dict) > 0 && v(image) == 0 && v(pixel) == 0 && v(ce) == 0 && v(kdc) == 0, qPrintable(line));
            QVERIFY2(std::abs(v(loss) - v(dict)) < 1e-6 * std::max(1.0, v(dict)), qPrintable(line));
            if (s == 1)
                firstDict = v(dict);
            lastDict = v(dict);
        } else if (s <= 11) {
            QVERIFY2(v(dict) == 0 && v(image) > 0 && v(pixel) > 0 && v(ce) == 0 && v(kdc) == 0, qPrintable(line));
            QVERIFY2(std::abs(v(loss) - v(image) - v(pixel)) < 1e-4 * v(loss), qPrintable(line));
        } else {
            QVERIFY2(v(dict) == 0 && v(image) == 0 && v(pixel) == 0 && v(ce) > 0 && v(kdc) >= 0, qPrintable(line));
            QVERIFY2(std::abs(v(loss) - 0.5 * v(ce) - 0.5 * v(kdc)) < 1e-4 * v(loss), qPrintable(line));
        }
    }
    QCOMPARE(rows, 20);
    QVERIFY(std::isfinite(firstDict) && std::isfinite(lastDict));
}

QTEST_GUILESS_MAIN(TestSrm)
#include "test_srm.moc"
