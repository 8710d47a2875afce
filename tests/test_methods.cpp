// The KD method library: every loss against golden values from scripts/gen_method_golden.py
// (python3-torch, the same LibTorch 1.13; the papers' and RepDistiller / mdistiller's formulas),
// schedules, gradients into student and adapters but never into a frozen teacher, adapter
// insertion and refusals, and a few optimisation steps of every registered method through
// kd::Experiment.

#include "models/ArchitectureRegistry.h"
#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "training/Experiment.h"
#include "methods/KdLosses.h"
#include "methods/MethodRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "core/TorchFwd.h"
#include "methods/FeatureLosses.h"
#include "methods/Schedule.h"
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

using kd::test::tensorOf;
using kd::test::labelsOf;
using kd::test::termOf;

using kd::test::errorOf;

using nlohmann::json;


const char *kMethodNames[] = {"ce", "kd", "dkd", "fitnet", "at", "sp", "rkd", "pkt", "nst", "vid", "crd", "ofd"};
// Methods with suites of their own: the structure-changing ones (assistants, several teachers,
// class splits) in test_stages.cpp, srm_lite/london/iekd in test_methods_advanced.cpp, srm in
// test_srm.cpp, the knowledge-analysis controls ls/kd_pt/kd_sim in test_controls.cpp, the online methods (dml, afd, one, ffl, okddip, pcl, mcl, student_ensemble) in test_online.cpp.
const char *kMethodsTestedElsewhere[] = {"takd", "ensemble", "rc", "dmc", "ard", "srm", "srm_lite", "london", "iekd",
                                         "ls", "kd_pt", "kd_sim", "dml", "afd", "one", "ffl", "okddip", "pcl", "mcl", "student_ensemble"};

} // namespace

class TestMethods : public kd::test::MethodFixture {
    Q_OBJECT

private:
    kd::LossTerms runOnce(kd::DistillationMethod &method, kd::FeatureNet &student, kd::FeatureNet &teacher,
                          std::int64_t batch = 8, int epoch = 1, kd::Features *studentOut = nullptr)
    {
        return runStep(method, student, teacher, {batch, epoch}, studentOut);
    }

private Q_SLOTS:
    void initTestCase();

    void registry_holdsEveryMethodWithHelp();
    void scheduleValue_data();
    void scheduleValue();
    void scheduleValue_refusesBadInput();
    void kdMethod_followsSchedules();

    void dkdLoss_matchesGolden_data();
    void dkdLoss_matchesGolden();
    void dkdMethod_warmupAndTerms();
    void dkdLoss_float32ExtremeIsFinite();

    void featureLoss_matchesGolden_data();
    void featureLoss_matchesGolden();
    void negativeResponseStats_matchesGolden();
    void crd_matchesGolden();
    void fitnetMethod_matchesGolden();
    void vidMethod_matchesGolden();

    void gradients_reachStudentAndAdaptersNotTeacher_data();
    void gradients_reachStudentAndAdaptersNotTeacher();
    void adapters_insertedWhereShapesDiffer();
    void features_declaredBeforeAndAfterSetup();
    void refusals_data();
    void refusals();
    void crd_banksAreBuffersUpdatedAtIndices();
    void crd_negativesComeFromOtherClasses();
    void ofd_marginEstimatedThenFrozen();
    void ofd_gaussianMarginIsConditionalMean();

    void endToEnd_everyMethodTrains_data();
    void endToEnd_everyMethodTrains();
};

void TestMethods::initTestCase()
{
    const std::string problem = prepare("method_golden.json", "gen_method_golden.py");
    QVERIFY2(problem.empty(), problem.c_str());
}

void TestMethods::registry_holdsEveryMethodWithHelp()
{
    for (const char *name : kMethodNames) {
        QVERIFY2(m_methods.contains(name), name);
        const auto &e = m_methods.get(name);
        QVERIFY2(!e.description.empty(), name);
        for (const auto &p : e.params) {
            QVERIFY2(!p.help.empty(), (std::string(name) + "." + p.key).c_str());
            // Every default is valid against its own spec.
            QVERIFY(kd::resolveParams(e.params, json{{p.key, p.defaultValue}}, name).is_object());
        }
        auto m = create(name);
        QCOMPARE(m->needsTeacher(), e.needsTeacher);
        QVERIFY(!m->termNames().empty());
        QCOMPARE(m->termNames().front(), std::string("ce"));
    }
    // Every registered method is covered here or by its own suite.
    for (const auto &name : m_methods.names())
        QVERIFY2(std::count(std::begin(kMethodNames), std::end(kMethodNames), name)
                     + std::count(std::begin(kMethodsTestedElsewhere), std::end(kMethodsTestedElsewhere), name) > 0,
                 name.c_str());
}

void TestMethods::scheduleValue_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<double>("start");
    QTest::addColumn<double>("end");
    QTest::addColumn<double>("progress");
    QTest::addColumn<double>("expected");
    const double geo = std::sqrt(4.0 * 1.0);
    for (const auto &[kind, mid] : std::vector<std::pair<const char *, double>>{
             {"constant", 4.0}, {"linear", 2.5}, {"cosine", 2.5}, {"exponential", geo}}) {
        QTest::addRow("%s p=0", kind) << kind << 4.0 << 1.0 << 0.0 << 4.0;
        QTest::addRow("%s p=0.5", kind) << kind << 4.0 << 1.0 << 0.5 << mid;
        QTest::addRow("%s p=1", kind) << kind << 4.0 << 1.0 << 1.0 << (std::string(kind) == "constant" ? 4.0 : 1.0);
    }
    // Cosine is not linear away from the midpoint: at p = 0.25 it has moved (1 − cos(π/4))/2.
    QTest::newRow("cosine p=0.25") << "cosine" << 4.0 << 1.0 << 0.25 << 1.0 + 3.0 * 0.5 * (1 + std::cos(M_PI / 4));
    QTest::newRow("exponential p=0.25") << "exponential" << 8.0 << 0.5 << 0.25 << 8.0 * std::pow(0.5 / 8.0, 0.25);
    QTest::newRow("linear increasing") << "linear" << 0.0 << 1.0 << 0.75 << 0.75;
    QTest::newRow("progress clamped") << "linear" << 4.0 << 1.0 << 1.5 << 1.0;
}

void TestMethods::scheduleValue()
{
    QFETCH(QString, kind);
    QFETCH(double, start);
    QFETCH(double, end);
    QFETCH(double, progress);
    QFETCH(double, expected);
    const double got = kd::scheduleValue(kind.toStdString(), start, end, progress);
    QVERIFY2(std::abs(got - expected) < 1e-12, qPrintable(QStringLiteral("got %1, expected %2").arg(got).arg(expected)));
}

void TestMethods::scheduleValue_refusesBadInput()
{
    auto msg = errorOf([] { kd::scheduleValue("exponential", 1.0, 0.0, 0.5); });
    QVERIFY2(msg.find("positive") != std::string::npos && msg.find("linear") != std::string::npos, msg.c_str());
    msg = errorOf([] { kd::scheduleValue("step", 1.0, 0.0, 0.5); });
    QVERIFY2(msg.find("\"step\"") != std::string::npos && msg.find("cosine") != std::string::npos, msg.c_str());
    // alpha has no exponential schedule (it may reach 0).
    msg = errorOf([&] { create("kd", {{"alpha_schedule", "exponential"}}); });
    QVERIFY2(msg.find("alpha_schedule") != std::string::npos, msg.c_str());
}

void TestMethods::kdMethod_followsSchedules()
{
    const auto &c = m_golden.at("dkd").at(0);
    const auto s = tensorOf(c["student"]), t = tensorOf(c["teacher"]);
    const auto y = labelsOf(c["labels"]);
    kd::Features fs, ft;
    fs.add("logits", s);
    ft.add("logits", t);
    auto m = create("kd", {{"temperature", 4.0}, {"temperature_schedule", "linear"}, {"temperature_final", 1.0},
                           {"alpha", 0.9}, {"alpha_schedule", "cosine"}, {"alpha_final", 0.1}});
    QCOMPARE(m->termNames(), (std::vector<std::string>{"ce", "kd"}));
    QCOMPARE(m->teacherFeatures(), std::vector<std::string>{"logits"}); // the teacher cache applies
    for (const double p : {0.0, 0.5, 1.0}) {
        kd::StepContext ctx;
        ctx.totalSteps = 100;
        ctx.step = std::int64_t(p * 100);
        const double T = 4.0 - 3.0 * p;
        const double alpha = 0.1 + 0.8 * 0.5 * (1 + std::cos(M_PI * p));
        const auto loss = m->compute(fs, &ft, y, ctx);
        const auto kdT = kd::hintonKdLoss(s, t, T);
        CHECK_CLOSE(termOf(loss, "kd"), kdT, "kd term at the scheduled T");
        CHECK_CLOSE(loss.total, (1 - alpha) * kd::crossEntropyLoss(s, y) + alpha * kdT, "total at the scheduled alpha");
    }
}

void TestMethods::dkdLoss_matchesGolden_data()
{
    kd::test::addCaseRows(m_golden.at("dkd"));
}

void TestMethods::dkdLoss_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("dkd").at(std::size_t(index));
    const auto &e = c["expected"];
    auto s = tensorOf(c["student"]).requires_grad_(true);
    const auto t = tensorOf(c["teacher"]);
    const auto y = labelsOf(c["labels"]);
    const double alpha = c["alpha"], beta = c["beta"];
    const auto parts = kd::dkdLoss(s, t, y, c["temperature"].get<double>());
    CHECK_CLOSE(parts.tckd, e["tckd"].get<double>(), "tckd");
    CHECK_CLOSE(parts.nckd, e["nckd"].get<double>(), "nckd");

    // The method with its warm-up over (epoch 1 of warm-up 1 = full weight).
    auto m = create("dkd", {{"alpha", alpha}, {"beta", beta}, {"temperature", c["temperature"]}, {"warmup_epochs", 1}});
    kd::Features fs, ft;
    fs.add("logits", s);
    ft.add("logits", t);
    const auto loss = m->compute(fs, &ft, y, kd::StepContext{});
    CHECK_CLOSE(termOf(loss, "ce"), e["ce"].get<double>(), "ce");
    CHECK_CLOSE(termOf(loss, "tckd"), e["tckd"].get<double>(), "tckd term");
    CHECK_CLOSE(termOf(loss, "nckd"), e["nckd"].get<double>(), "nckd term");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    CHECK_CLOSE(s.grad(), tensorOf(e["grad_student"]), "gradient");
}

void TestMethods::dkdMethod_warmupAndTerms()
{
    const auto &c = m_golden.at("dkd").at(0);
    const auto s = tensorOf(c["student"]), t = tensorOf(c["teacher"]);
    const auto y = labelsOf(c["labels"]);
    kd::Features fs, ft;
    fs.add("logits", s);
    ft.add("logits", t);
    auto m = create("dkd"); // defaults: alpha 1, beta 8, T 4, warm-up 20 epochs
    QCOMPARE(m->termNames(), (std::vector<std::string>{"ce", "tckd", "nckd"}));
    QCOMPARE(m->teacherFeatures(), std::vector<std::string>{"logits"}); // logit-only: cache applies
    QVERIFY(m->trainableModule() == nullptr);
    const auto parts = kd::dkdLoss(s, t, y, 4.0);
    const auto ce = kd::crossEntropyLoss(s, y);
    for (const int epoch : {1, 5, 20, 40}) {
        kd::StepContext ctx;
        ctx.epoch = epoch;
        ctx.epochs = 40;
        const double ramp = std::min(epoch / 20.0, 1.0);
        const auto loss = m->compute(fs, &ft, y, ctx);
        CHECK_CLOSE(loss.total, ce + ramp * (1.0 * parts.tckd + 8.0 * parts.nckd), "warm-up ramp");
    }
}

void TestMethods::dkdLoss_float32ExtremeIsFinite()
{
    // Training runs in float32: a teacher/student that is sure of the target (p_target rounds
    // to 1) must not give log(0) in TCKD.
    auto s = torch::tensor({{60.0f, -60.0f, -60.0f}, {-60.0f, 60.0f, -60.0f}}).requires_grad_(true);
    const auto t = torch::tensor({{80.0f, -80.0f, -80.0f}, {-80.0f, -80.0f, 80.0f}});
    const auto y = torch::tensor({0, 1}, torch::kInt64);
    const auto parts = kd::dkdLoss(s, t, y, 1.0);
    QVERIFY(std::isfinite(parts.tckd.item<double>()));
    QVERIFY(std::isfinite(parts.nckd.item<double>()));
    (parts.tckd + 8 * parts.nckd).backward();
    QVERIFY(torch::isfinite(s.grad()).all().item<bool>());
}

void TestMethods::featureLoss_matchesGolden_data()
{
    QTest::addColumn<int>("index");
    const auto &cases = m_golden.at("features");
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::newRow((cases[i]["loss"].get<std::string>() + " " + cases[i]["name"].get<std::string>()).c_str())
            << int(i);
}

void TestMethods::featureLoss_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("features").at(std::size_t(index));
    const auto loss = c["loss"].get<std::string>();
    auto s = tensorOf(c["student"]).requires_grad_(true);
    const auto t = tensorOf(c["teacher"]);
    std::vector<torch::Tensor> values;
    if (loss == "hint")
        values = {kd::hintLoss(s, t)};
    else if (loss == "at")
        values = {kd::attentionLoss(s, t, c["p"].get<double>())};
    else if (loss == "sp")
        values = {kd::similarityLoss(s, t)};
    else if (loss == "rkd")
        values = {kd::rkdDistanceLoss(s, t), kd::rkdAngleLoss(s, t)};
    else if (loss == "pkt")
        values = {kd::pktLoss(s, t)};
    else if (loss == "nst")
        values = {kd::nstLoss(s, t)};
    else if (loss == "vid")
        values = {kd::vidLoss(s, t, tensorOf(c["log_scale"]), c["eps"].get<double>())};
    else if (loss == "ofd")
        values = {kd::ofdLoss(s, t, tensorOf(c["margin"]))};
    else
        QFAIL(("unknown loss in golden file: " + loss).c_str());
    const auto &expected = c["expected"];
    QCOMPARE(values.size(), expected.size());
    torch::Tensor sum;
    for (std::size_t i = 0; i < values.size(); ++i) {
        QCOMPARE(values[i].dim(), 0);
        CHECK_CLOSE(values[i], expected[i].get<double>(), "value " + std::to_string(i));
        sum = sum.defined() ? sum + values[i] : values[i];
    }
    sum.backward();
    CHECK_CLOSE(s.grad(), tensorOf(c["grad_student"]), "gradient");
}

void TestMethods::negativeResponseStats_matchesGolden()
{
    const auto &c = m_golden.at("negative_stats");
    const auto [sums, counts] = kd::negativeResponseStats(tensorOf(c["feature"]));
    const auto want = [](const json &j) { return torch::tensor(j.get<std::vector<double>>(), torch::kFloat64); };
    CHECK_CLOSE(sums, want(c["sums"]), "sums");
    CHECK_CLOSE(counts, want(c["counts"]), "counts");
    CHECK_CLOSE(sums / counts.clamp_min(1.0), want(c["margin"]), "margin");
}

void TestMethods::crd_matchesGolden()
{
    const auto &c = m_golden.at("crd");
    const auto &e = c["expected"];
    const std::int64_t n = c["n_data"];
    const auto memS = tensorOf(c["memory_s"]), memT = tensorOf(c["memory_t"]);
    auto rawS = tensorOf(c["raw_s"]).requires_grad_(true);
    auto rawT = tensorOf(c["raw_t"]).requires_grad_(true);
    const auto idx = tensorOf(c["idx"]).to(torch::kInt64);
    const auto anchors = labelsOf(c["labels_idx"]);
    const auto l2 = [](const torch::Tensor &x) { return x / x.pow(2).sum(1, true).sqrt(); };
    const auto embS = l2(rawS), embT = l2(rawT);

    const auto scores = kd::crdScores(embS, embT, memS, memT, idx, c["temperature"], -1.0, -1.0, n);
    CHECK_CLOSE(scores.student, tensorOf(e["out_s"]), "student scores");
    CHECK_CLOSE(scores.teacher, tensorOf(e["out_t"]), "teacher scores");
    CHECK_CLOSE(torch::tensor(scores.zStudent, torch::kFloat64), e["z_s"].get<double>(), "Z_s");
    CHECK_CLOSE(torch::tensor(scores.zTeacher, torch::kFloat64), e["z_t"].get<double>(), "Z_t");
    const auto lossS = kd::crdContrastLoss(scores.student, n);
    const auto lossT = kd::crdContrastLoss(scores.teacher, n);
    CHECK_CLOSE(lossS, e["loss_s"].get<double>(), "student NCE");
    CHECK_CLOSE(lossT, e["loss_t"].get<double>(), "teacher NCE");
    (lossS + lossT).backward();
    CHECK_CLOSE(rawS.grad(), tensorOf(e["grad_raw_s"]), "gradient into the student embedding");
    CHECK_CLOSE(rawT.grad(), tensorOf(e["grad_raw_t"]), "gradient into the teacher embedding head");
    // A given normaliser is kept.
    const auto again = kd::crdScores(embS, embT, memS, memT, idx, c["temperature"], scores.zStudent, 7.0, n);
    QCOMPARE(again.zTeacher, 7.0);
    CHECK_CLOSE(again.student, tensorOf(e["out_s"]), "scores with a kept Z");

    const double momentum = c["momentum"];
    CHECK_CLOSE(kd::crdUpdatedRows(memS, embS, anchors, momentum), tensorOf(e["updated_s"]), "student bank update");
    CHECK_CLOSE(kd::crdUpdatedRows(memT, embT, anchors, momentum), tensorOf(e["updated_t"]), "teacher bank update");
}

void TestMethods::fitnetMethod_matchesGolden()
{
    const auto &c = m_golden.at("fitnet_method");
    const auto &e = c["expected"];
    auto sFeat = tensorOf(c["student_feature"]).requires_grad_(true);
    const auto tFeat = tensorOf(c["teacher_feature"]);
    const auto logits = tensorOf(c["logits"]);
    auto m = create("fitnet", {{"beta", c["beta"]}, {"student_features", "stage1"}, {"teacher_features", "stage2"}});
    kd::MethodSetup setup;
    setup.student = {{"stage1", sFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    setup.teacher = {{"stage1", {7, 9, 9}}, {"stage2", tFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    setup.numClasses = int(logits.size(1));
    m->setup(setup);
    auto module = m->trainableModule();
    QVERIFY(module);
    module->to(torch::kFloat64);
    module->train();
    {
        torch::NoGradGuard noGrad;
        const auto params = module->named_parameters();
        QCOMPARE(params.size(), c["params"].size());
        for (const auto &[name, value] : c["params"].items()) {
            QVERIFY2(params.contains(name), ("adapter parameter " + name + " missing").c_str());
            params[name].copy_(tensorOf(value));
        }
    }
    kd::Features fs, ft;
    fs.add("stage1", sFeat);
    fs.add("logits", logits);
    ft.add("stage2", tFeat);
    ft.add("logits", torch::zeros_like(logits));
    const auto loss = m->compute(fs, &ft, labelsOf(c["labels"]), kd::StepContext{});
    QCOMPARE(m->termNames(), (std::vector<std::string>{"ce", "hint"}));
    CHECK_CLOSE(termOf(loss, "ce"), e["ce"].get<double>(), "ce");
    CHECK_CLOSE(termOf(loss, "hint"), e["hint"].get<double>(), "hint");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    CHECK_CLOSE(sFeat.grad(), tensorOf(e["grad_student_feature"]), "gradient into the student feature");
    CHECK_CLOSE(module->named_parameters()["regressor0.conv.weight"].grad(), tensorOf(e["grad_conv_weight"]),
                "gradient into the regressor");
}

void TestMethods::vidMethod_matchesGolden()
{
    const auto &c = m_golden.at("vid_method");
    const auto &e = c["expected"];
    auto sFeat = tensorOf(c["student_feature"]).requires_grad_(true);
    const auto tFeat = tensorOf(c["teacher_feature"]);
    const auto logits = tensorOf(c["logits"]);
    auto m = create("vid", {{"beta", c["beta"]}, {"student_features", "stage1"}, {"teacher_features", "stage1"}});
    kd::MethodSetup setup;
    setup.student = {{"stage1", sFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    setup.teacher = {{"stage1", tFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    m->setup(setup);
    auto module = m->trainableModule();
    QVERIFY(module);
    module->to(torch::kFloat64);
    {
        torch::NoGradGuard noGrad;
        const auto params = module->named_parameters();
        // The initial log-scale gives the paper's initial variance (5).
        CHECK_CLOSE(params["head0.log_scale"], tensorOf(c["params"]["head0.log_scale"]), "initial log-scale");
        QCOMPARE(params.size(), c["params"].size());
        for (const auto &[name, value] : c["params"].items()) {
            QVERIFY2(params.contains(name), ("adapter parameter " + name + " missing").c_str());
            params[name].copy_(tensorOf(value));
        }
    }
    kd::Features fs, ft;
    fs.add("stage1", sFeat);
    fs.add("logits", logits);
    ft.add("stage1", tFeat);
    const auto loss = m->compute(fs, &ft, labelsOf(c["labels"]), kd::StepContext{});
    CHECK_CLOSE(termOf(loss, "vid"), e["vid"].get<double>(), "vid");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    CHECK_CLOSE(sFeat.grad(), tensorOf(e["grad_student_feature"]), "gradient into the student feature");
    QVERIFY(module->named_parameters()["head0.log_scale"].grad().abs().sum().item<double>() > 0);
}

void TestMethods::gradients_reachStudentAndAdaptersNotTeacher_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("params");
    QTest::addColumn<QString>("feature"); // a student feature the distillation term must reach
    // ce_weight 0: only the distillation term produces gradients here.
    QTest::newRow("kd") << "kd" << R"({"alpha": 1.0})" << "logits";
    QTest::newRow("dkd") << "dkd" << R"({"ce_weight": 0.0, "warmup_epochs": 0})" << "logits";
    QTest::newRow("fitnet") << "fitnet" << R"({"ce_weight": 0.0})" << "stage2";
    QTest::newRow("at") << "at" << R"({"ce_weight": 0.0})" << "stage1";
    QTest::newRow("sp") << "sp" << R"({"ce_weight": 0.0})" << "stage3";
    QTest::newRow("rkd") << "rkd" << R"({"ce_weight": 0.0})" << "pre_logits";
    QTest::newRow("pkt") << "pkt" << R"({"ce_weight": 0.0})" << "pre_logits";
    // nst pairs every stage (RepDistiller's feat[1:-1]): the teacher's two with the student's first two.
    QTest::newRow("nst") << "nst" << R"({"ce_weight": 0.0})" << "stage1";
    QTest::newRow("vid") << "vid" << R"({"ce_weight": 0.0})" << "stage1";
    QTest::newRow("crd") << "crd" << R"({"ce_weight": 0.0, "nce_k": 16})" << "pre_logits";
    QTest::newRow("ofd") << "ofd" << R"({"ce_weight": 0.0})" << "stage2_pre";
    QTest::newRow("fitnet + kd term") << "fitnet" << R"({"ce_weight": 0.0, "kd_weight": 1.0})" << "logits";
}

void TestMethods::gradients_reachStudentAndAdaptersNotTeacher()
{
    QFETCH(QString, method);
    QFETCH(QString, params);
    QFETCH(QString, feature);
    torch::manual_seed(5);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("resnet8");
    teacher->eval();
    student->train();
    auto m = create(method.toStdString(), json::parse(params.toStdString()));
    m->setup(setupFor(*student, teacher.get()));
    if (auto extra = m->trainableModule())
        extra->train();
    kd::Features out;
    const auto loss = runOnce(*m, *student, *teacher, 8, 1, &out);
    QVERIFY(std::isfinite(loss.total.item<double>()));
    QCOMPARE(loss.terms.size(), m->termNames().size());
    loss.total.backward();

    const auto &f = out.get(feature.toStdString());
    QVERIFY2(f.grad().defined() && f.grad().abs().sum().item<double>() > 0,
             ("no gradient reached the student feature " + feature.toStdString()).c_str());
    // The stem is upstream of every feature.
    const auto first = student->named_parameters()[0];
    QVERIFY2(first.value().grad().defined() && first.value().grad().abs().sum().item<double>() > 0,
             ("student " + first.key() + " got no gradient").c_str());
    for (const auto &p : teacher->named_parameters())
        QVERIFY2(!p.value().grad().defined(), ("teacher " + p.key() + " got a gradient").c_str());
    if (auto extra = m->trainableModule()) {
        QVERIFY(!extra->parameters().empty());
        for (const auto &p : extra->named_parameters())
            QVERIFY2(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0,
                     ("adapter " + p.key() + " got no gradient").c_str());
    }
}

void TestMethods::adapters_insertedWhereShapesDiffer()
{
    torch::manual_seed(2);
    auto teacher = model("cnn_small", {{"width", 8}}); // stage1 8x14x14, stage2 16x7x7, pre_logits 128
    auto student = model("resnet8");                   // stage1 16x28x28, stage2 32x14x14, stage3 64x7x7, pre_logits 64
    teacher->eval();

    // Channels 32 → 8 at the same 14x14: RepDistiller's ConvReg, its equal-size case (1x1 conv + BN + ReLU).
    auto m = create("fitnet", {{"student_features", "stage2"}, {"teacher_features", "stage1"}});
    m->setup(setupFor(*student, teacher.get()));
    auto params = m->trainableModule()->named_parameters();
    QVERIFY(params.contains("regressor0.conv.weight"));
    QCOMPARE(params["regressor0.conv.weight"].sizes().vec(), (std::vector<std::int64_t>{8, 32, 1, 1}));
    QVERIFY(params.contains("regressor0.bn.weight"));
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher).total.item<double>()));

    // 16x28x28 → 16x7x7: channels match, sizes differ: ConvReg's valid (1 + 28 − 7)² conv
    // reaches the teacher's size, and still a regressor.
    m = create("fitnet", {{"student_features", "stage1"}, {"teacher_features", "stage2"}});
    m->setup(setupFor(*student, teacher.get()));
    QCOMPARE(m->trainableModule()->named_parameters()["regressor0.conv.weight"].sizes().vec(),
             (std::vector<std::int64_t>{16, 16, 22, 22}));
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher).total.item<double>()));

    // Vectors 64 → 128: a Linear regressor.
    m = create("fitnet", {{"student_features", "pre_logits"}, {"teacher_features", "pre_logits"}});
    m->setup(setupFor(*student, teacher.get()));
    QCOMPARE(m->trainableModule()->named_parameters()["regressor0.linear.weight"].sizes().vec(),
             (std::vector<std::int64_t>{128, 64}));
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher).total.item<double>()));

    // "all" stages, 3 student vs 2 teacher stages: the first two pair up (with pooling).
    m = create("at");
    m->setup(setupFor(*student, teacher.get()));
    QCOMPARE(m->studentFeatures(), (std::vector<std::string>{"stage1", "stage2", "logits"}));
    QCOMPARE(m->teacherFeatures(), (std::vector<std::string>{"stage1", "stage2"}));
    QVERIFY(m->trainableModule() == nullptr); // attention maps need no adapter
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher).total.item<double>()));

    // OFD: connectors on pre-ReLU stages, one per pair.
    m = create("ofd");
    m->setup(setupFor(*student, teacher.get()));
    QCOMPARE(m->teacherFeatures(), (std::vector<std::string>{"stage1_pre", "stage2_pre"}));
    params = m->trainableModule()->named_parameters();
    QCOMPARE(params["pair0.connector.conv.weight"].sizes().vec(), (std::vector<std::int64_t>{8, 16, 1, 1}));
    QCOMPARE(params["pair1.connector.conv.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 32, 1, 1}));
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher).total.item<double>()));
}

void TestMethods::features_declaredBeforeAndAfterSetup()
{
    // Before setup() a method can only name what its parameters name; "all" needs stage1.
    auto m = create("at");
    QCOMPARE(m->studentFeatures(), (std::vector<std::string>{"stage1", "logits"}));
    QCOMPARE(m->teacherFeatures(), std::vector<std::string>{"stage1"});
    m = create("fitnet");
    QCOMPARE(m->studentFeatures(), (std::vector<std::string>{"stage2", "logits"}));
    QCOMPARE(m->teacherFeatures(), std::vector<std::string>{"stage2"});
    m = create("fitnet", {{"kd_weight", 0.5}});
    QCOMPARE(m->teacherFeatures(), (std::vector<std::string>{"stage2", "logits"}));
    QCOMPARE(m->termNames(), (std::vector<std::string>{"ce", "kd", "hint"}));
    // Every feature method reads more than the teacher's logits, so the teacher cache never applies.
    for (const char *name : {"fitnet", "at", "sp", "rkd", "pkt", "nst", "vid", "crd", "ofd"}) {
        auto teacher = model("cnn_small", {{"width", 8}});
        auto student = model("resnet8");
        auto fm = create(name);
        fm->setup(setupFor(*student, teacher.get()));
        QVERIFY2(fm->teacherFeatures() != std::vector<std::string>{"logits"}, name);
        QVERIFY2(!fm->teacherFeatures().empty(), name);
    }
    QCOMPARE(create("rkd")->termNames(), (std::vector<std::string>{"ce", "rkd_distance", "rkd_angle"}));
}

void TestMethods::refusals_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("params");
    QTest::addColumn<QString>("student");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("at on an mlp student") << "at" << "{}" << "mlp"
        << QStringList{"\"at\"", "spatial", "student feature \"stage1\"", "[128]", "choose a convolutional student",
                       "rkd"};
    QTest::newRow("nst on an mlp student") << "nst" << "{}" << "mlp"
        << QStringList{"\"nst\"", "spatial", "\"stage1\"", "[128]", "convolutional"};
    QTest::newRow("unknown student feature") << "fitnet" << R"({"student_features": "stage9"})" << "resnet8"
        << QStringList{"student_features", "no feature \"stage9\"", "stage1 [16, 28, 28]", "pre_logits [64]", "all"};
    QTest::newRow("unknown teacher feature") << "fitnet" << R"({"teacher_features": "stage3"})" << "resnet8"
        << QStringList{"teacher_features", "teacher has no feature \"stage3\"", "stage2 [16, 7, 7]"};
    QTest::newRow("map onto vector") << "fitnet" << R"({"teacher_features": "pre_logits"})" << "resnet8"
        << QStringList{"\"stage2\"", "[32, 14, 14]", "\"pre_logits\"", "[128]", "map to a map"};
    QTest::newRow("unequal lists") << "at" << R"({"student_features": "stage1,stage2", "teacher_features": "stage1"})"
        << "resnet8" << QStringList{"2 (stage1,stage2)", "1 (stage1)", "as many"};
    QTest::newRow("crd with two pairs") << "crd" << R"({"student_features": "stage3,pre_logits", "teacher_features": "stage2,pre_logits"})"
        << "resnet8" << QStringList{"crd", "one feature"};
    QTest::newRow("empty list") << "sp" << R"({"student_features": " , "})" << "resnet8"
        << QStringList{"names no feature", "last"};
}

void TestMethods::refusals()
{
    QFETCH(QString, method);
    QFETCH(QString, params);
    QFETCH(QString, student);
    QFETCH(QStringList, needles);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto s = model(student.toStdString(), student == "mlp" ? json{{"hidden", {128}}} : json::object());
    auto m = create(method.toStdString(), json::parse(params.toStdString()));
    const auto msg = errorOf([&] { m->setup(setupFor(*s, teacher.get())); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &n : needles)
        QVERIFY2(msg.find(n.toStdString()) != std::string::npos, ("\"" + n.toStdString() + "\" not in: " + msg).c_str());
}

void TestMethods::crd_banksAreBuffersUpdatedAtIndices()
{
    torch::manual_seed(9);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("resnet8");
    teacher->eval();
    auto m = create("crd", {{"nce_k", 4096}, {"feat_dim", 16}});
    m->setup(setupFor(*student, teacher.get(), /*trainSize=*/40));
    auto module = m->trainableModule();
    const auto buffers = module->named_buffers();
    QVERIFY(buffers.contains("crd.memory_s") && buffers.contains("crd.memory_t"));
    QCOMPARE(buffers["crd.memory_s"].sizes().vec(), (std::vector<std::int64_t>{40, 16}));
    for (const auto &p : module->named_parameters())
        QVERIFY2(p.key().find("memory") == std::string::npos, "a memory bank must not be a parameter");
    QCOMPARE(module->named_parameters()["crd.embed_s.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 64}));
    QCOMPARE(module->named_parameters()["crd.embed_t.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 128}));
    QCOMPARE(buffers["crd.z"][0].item<double>(), -1.0);

    const auto before = buffers["crd.memory_s"].clone();
    const auto loss = runOnce(*m, *student, *teacher, 8); // indices 0..7, K capped to 39
    QVERIFY(std::isfinite(loss.total.item<double>()));
    const auto after = module->named_buffers()["crd.memory_s"];
    QVERIFY(!torch::equal(before.narrow(0, 0, 8), after.narrow(0, 0, 8)));
    QVERIFY(torch::equal(before.narrow(0, 8, 32), after.narrow(0, 8, 32)));
    // Updated rows are unit vectors; Z is set once.
    QVERIFY(torch::allclose(after.narrow(0, 0, 8).norm(2, 1), torch::ones({8}), 1e-5, 1e-5));
    const double z = module->named_buffers()["crd.z"][0].item<double>();
    QVERIFY(z > 0);
    runOnce(*m, *student, *teacher, 8);
    QCOMPARE(module->named_buffers()["crd.z"][0].item<double>(), z);
}

void TestMethods::crd_negativesComeFromOtherClasses()
{
    torch::manual_seed(5);
    // 30 images of 3 classes in a shuffled order, class 2 the largest.
    const auto labels = torch::cat({torch::zeros({8}), torch::ones({7}), torch::full({15}, 2.0)})
                            .to(torch::kInt64)
                            .index_select(0, torch::randperm(30));
    const auto index = kd::CrdClassIndex::build(labels);
    QCOMPARE(index.minOtherClassImages(), std::int64_t(15));
    const auto anchorLabels = torch::tensor({0, 1, 2, 2, 0}, torch::kInt64);
    const auto neg = kd::crdOtherClassNegatives(index, anchorLabels, 4000);
    QCOMPARE(neg.sizes().vec(), (std::vector<std::int64_t>{5, 4000}));
    QVERIFY(neg.min().item<std::int64_t>() >= 0 && neg.max().item<std::int64_t>() < 30);
    for (std::int64_t i = 0; i < 5; ++i) {
        const auto negLabels = labels.index_select(0, neg[i]);
        QVERIFY2(!negLabels.eq(anchorLabels[i]).any().item<bool>(), "a negative shares the anchor's class");
        // Uniform over the other classes' images: every one of them is drawn.
        const auto c = anchorLabels[i].item<std::int64_t>();
        QCOMPARE(std::get<0>(torch::_unique(neg[i])).numel(), 30 - labels.eq(c).sum().item<std::int64_t>());
    }

    // The method with labels: K is capped to the images outside the largest class.
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("cnn_small", {{"width", 4}});
    teacher->eval();
    auto m = create("crd", {{"nce_k", 4096}, {"feat_dim", 8}});
    auto setup = setupFor(*student, teacher.get(), 30);
    setup.trainLabels = labels;
    m->setup(setup);
    QVERIFY(std::isfinite(runOnce(*m, *student, *teacher, 8).total.item<double>()));
    auto single = create("crd", {});
    setup.trainLabels = torch::zeros({30}, torch::kInt64);
    QVERIFY(errorOf([&] { single->setup(setup); }).find("single class") != std::string::npos);
}

void TestMethods::ofd_marginEstimatedThenFrozen()
{
    torch::manual_seed(4);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("cnn_small", {{"width", 4}});
    teacher->eval();
    auto m = create("ofd", {{"margin_batches", 2}, {"student_features", "last"}, {"teacher_features", "last"}});
    m->setup(setupFor(*student, teacher.get()));
    auto module = m->trainableModule();
    std::vector<torch::Tensor> seen;
    for (int step = 0; step < 3; ++step) {
        const auto x = torch::randn({6, 1, 28, 28});
        kd::Features t;
        {
            torch::NoGradGuard noGrad;
            t = teacher->forwardFeatures(x);
        }
        seen.push_back(t.get("stage2_pre"));
        auto s = student->forwardFeatures(x);
        m->compute(s, &t, torch::zeros({6}, torch::kInt64), kd::StepContext{}).total.backward();
    }
    // The margin is OFD's Gaussian E[x | x < 0] of each channel's mean and deviation over the
    // first two batches only, written out here per channel with std::erfc.
    const auto all = torch::cat({seen[0], seen[1]}).to(torch::kFloat64).transpose(0, 1).reshape({seen[0].size(1), -1});
    const auto margin = module->named_buffers()["pair0.margin"];
    for (std::int64_t c = 0; c < all.size(0); ++c) {
        const double mu = all[c].mean().item<double>();
        const double sd = all[c].std(/*unbiased=*/false).item<double>();
        const double tail = 0.5 * std::erfc(mu / sd / std::sqrt(2.0));
        const double want = tail > 0.001 ? mu - sd * std::exp(-0.5 * mu * mu / (sd * sd)) / std::sqrt(2 * M_PI) / tail
                                         : -3.0 * sd;
        CHECK_CLOSE(margin[c], want, "margin of a channel");
    }
    QVERIFY((margin < 0).all().item<bool>());
}

void TestMethods::ofd_gaussianMarginIsConditionalMean()
{
    // For Gaussian responses the margin is E[x | x < 0]: compare with the sample mean of the
    // negative values of a large sample; far-positive channels fall back to −3σ.
    torch::manual_seed(2);
    const auto mean = torch::tensor({0.0, 0.5, -1.0, 10.0}, torch::kFloat64);
    const auto sd = torch::tensor({1.0, 2.0, 0.5, 1.0}, torch::kFloat64);
    const auto x = torch::randn({200000, 4}, torch::kFloat64) * sd + mean;
    const auto margin = kd::ofdGaussianMargin(mean, sd);
    CHECK_CLOSE(margin[0], -std::sqrt(2.0 / M_PI), "standard normal: -sqrt(2/pi)");
    for (std::int64_t c = 0; c < 3; ++c) {
        const auto col = x.select(1, c);
        const double sample = col.masked_select(col < 0).mean().item<double>();
        QVERIFY2(std::abs(margin[c].item<double>() - sample) < 0.01 * std::abs(sample),
                 qPrintable(QString("channel %1: %2 vs sample %3").arg(c).arg(margin[c].item<double>()).arg(sample)));
    }
    CHECK_CLOSE(margin[3], -3.0, "Phi(-10) <= 0.001: -3 sigma");
}

void TestMethods::endToEnd_everyMethodTrains_data()
{
    QTest::addColumn<QString>("method");
    for (const char *name : kMethodNames)
        QTest::newRow(name) << name;
}

namespace {
/// Keeps the log lines of a run.
class LogRecorder : public kd::ExperimentObserver {
public:
    std::vector<std::string> lines;
    void onLog(Level, const std::string &text) override { lines.push_back(text); }
    bool has(const std::string &needle) const
    {
        for (const auto &l : lines)
            if (l.find(needle) != std::string::npos)
                return true;
        return false;
    }
};
} // namespace

void TestMethods::endToEnd_everyMethodTrains()
{
    QFETCH(QString, method);
    static QTemporaryDir tmp;
    static std::string teacherCheckpoint;
    const auto registries = kd::Registries::builtin();
    json j = {
        {"name", "m"},
        {"seed", 1},
        {"threads", 1},
        {"baseline", false},
        {"output_dir", tmp.path().toStdString()},
        {"dataset", {{"name", "synthetic"}, {"limit", 512}, {"test_limit", 256}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
                     {"train", {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}}}}},
        {"student", {{"arch", "resnet8"}, {"train", {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 2}}}}},
        {"method", {{"name", method.toStdString()}}},
    };
    // Train the teacher once (in the first row that needs one) and reuse its checkpoint.
    const bool needsTeacher = m_methods.get(method.toStdString()).needsTeacher;
    if (needsTeacher && !teacherCheckpoint.empty())
        j["teacher"]["checkpoint"] = teacherCheckpoint;
    const auto runDir = tmp.filePath(method + "-run").toStdString();
    kd::Experiment exp(kd::Project::fromJson(j), registries);
    LogRecorder log;
    std::atomic<bool> stop{false};
    kd::RunSummary summary;
    try {
        summary = exp.run(log, stop, runDir);
    } catch (const std::exception &e) {
        QFAIL(e.what());
    }
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    const auto *student = summary.find("student");
    QVERIFY(student && student->completed);
    QVERIFY(std::isfinite(student->finalTestAcc));
    if (needsTeacher && teacherCheckpoint.empty())
        teacherCheckpoint = runDir + "/teacher.pt";
    // Logit-only methods reuse cached teacher logits; feature methods run the teacher live.
    if (method == "kd" || method == "dkd")
        QVERIFY(log.has("reused every epoch"));
    else if (needsTeacher)
        QVERIFY(log.has("teacher cache: not used; the method reads teacher features beyond the logits"));

    // Every term is a metrics.csv column with finite values in the student's rows.
    QFile csv(QString::fromStdString(runDir + "/metrics.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const auto lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    const auto header = lines.first().split(',');
    auto m = create(method.toStdString());
    for (const auto &term : m->termNames()) {
        const int col = int(header.indexOf(QString::fromStdString("loss_" + term)));
        QVERIFY2(col >= 0, ("no column loss_" + term).c_str());
        int rows = 0;
        for (const auto &line : lines.mid(1)) {
            const auto cells = line.split(',');
            if (cells[0] != "student")
                continue;
            bool ok = false;
            const double v = cells[col].toDouble(&ok);
            QVERIFY2(ok && std::isfinite(v), qPrintable(line));
            ++rows;
        }
        QVERIFY(rows >= 2);
    }
}

QTEST_GUILESS_MAIN(TestMethods)
#include "test_methods.moc"
