// TAKD's KL reduction and the knowledge-analysis controls (ls, kd_pt, kd_sim) against golden
// values from scripts/gen_controls_golden.py (python3-torch), their defaults against the
// documented reference values, and a tiny end-to-end run of each control.
#include "core/Error.h"
#include "methods/ControlLosses.h"
#include "methods/DistillationMethod.h"
#include "methods/MethodRegistry.h"
#include "models/ArchitectureRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/Experiment.h"
#include "core/TorchFwd.h"
#include "support/TensorChecks.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace {

using kd::test::mismatch;
using kd::test::termOf;

using nlohmann::json;

/// The losses here are closed formulas of a few logits: checked tighter than the default.
constexpr double kTightRelTol = 1e-6;

#define CHECK_TIGHT(got, want)                                                                    \
    do {                                                                                          \
        const std::string m_ = kd::test::mismatch((got), (want), kTightRelTol);                   \
        QVERIFY2(m_.empty(), (std::string(#got) + ": " + m_).c_str());                            \
    } while (0)


kd::Features logitsFeatures(const torch::Tensor &logits)
{
    kd::Features f;
    f.add("logits", logits);
    return f;
}

const kd::ParamSpec &specOf(const kd::MethodEntry &e, const std::string &key)
{
    for (const auto &s : e.params)
        if (s.key == key)
            return s;
    throw std::runtime_error("no parameter " + key);
}

} // namespace

class TestControls : public QObject {
    Q_OBJECT

private:
    json m_golden;
    kd::Registries m_registries = kd::Registries::builtin();

    const json &goldenCase(int i) const { return m_golden.at("cases").at(std::size_t(i)); }
    void addCaseRows()
    {
        kd::test::addCaseRows(m_golden.at("cases"));
    }
    std::unique_ptr<kd::DistillationMethod> create(const std::string &name, const json &params) const
    {
        const auto &entry = m_registries.methods.get(name);
        return entry.create(kd::resolveParams(entry.params, params, "method"));
    }
    /// Runs `name` on the case's logits and compares total, terms and the student gradient.
    void checkMethod(const json &c, const std::string &name, const json &params, const json &want,
                     const std::string &termName, const std::string &termKey);

private Q_SLOTS:
    void initTestCase();
    void defaultsMatchReferences();

    void lossFunctions_matchGolden_data() { addCaseRows(); }
    void lossFunctions_matchGolden();
    void methods_matchGolden_data() { addCaseRows(); }
    void methods_matchGolden();
    void kdPt_shufflesOnlyNonTargets();
    void kdSim_readsTeacherLogitLayer();
    void controls_runEndToEnd_data();
    void controls_runEndToEnd();
};

void TestControls::initTestCase()
{
    std::ifstream in(KD_TEST_DATA_DIR "/controls_golden.json");
    QVERIFY2(in.good(), "tests/data/controls_golden.json missing: run scripts/gen_controls_golden.py");
    m_golden = json::parse(in);
    QVERIFY(m_golden.at("cases").size() >= 3);
}

void TestControls::defaultsMatchReferences()
{
    // takd: the authors' reduction; T and lambda inside the space the authors search.
    const auto &authors = m_golden.at("authors").at("takd");
    const auto &takd = m_registries.methods.get("takd");
    QCOMPARE(specOf(takd, "kl_reduction").defaultValue.get<std::string>(), authors.at("kl_reduction").get<std::string>());
    const auto choices = authors.at("temperature_choices").get<std::vector<double>>();
    const double t = specOf(takd, "temperature").defaultValue.get<double>();
    QVERIFY2(std::find(choices.begin(), choices.end(), t) != choices.end(), std::to_string(t).c_str());
    const double lambda = specOf(takd, "alpha").defaultValue.get<double>();
    QVERIFY(lambda >= authors["lambda_range"][0].get<double>() && lambda <= authors["lambda_range"][1].get<double>());
    QCOMPARE(specOf(takd, "kl_reduction").choices, (std::vector<std::string>{"mean", "batchmean"}));

    // The controls stand in for a kd run: kd's T and alpha, matched smoothing strength.
    const auto &ref = m_golden.at("authors").at("controls");
    const auto &kd = m_registries.methods.get("kd");
    for (const char *name : {"ls", "kd_pt", "kd_sim"}) {
        const auto &e = m_registries.methods.get(name);
        QVERIFY2(e.needsTeacher, name);
        QCOMPARE(specOf(e, "temperature").defaultValue.get<double>(), ref.at("temperature").get<double>());
        QCOMPARE(specOf(e, "alpha").defaultValue.get<double>(), ref.at("alpha").get<double>());
        QCOMPARE(specOf(e, "temperature").defaultValue, specOf(kd, "temperature").defaultValue);
        QCOMPARE(specOf(e, "alpha").defaultValue, specOf(kd, "alpha").defaultValue);
    }
    QCOMPARE(specOf(m_registries.methods.get("ls"), "epsilon").defaultValue.get<double>(), ref.at("epsilon").get<double>());
    QCOMPARE(specOf(m_registries.methods.get("kd_sim"), "epsilon").defaultValue.get<double>(),
             ref.at("epsilon").get<double>());
}

void TestControls::lossFunctions_matchGolden()
{
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    const auto s = kd::test::matrixOf(c["student"]), t = kd::test::matrixOf(c["teacher"]), keys = kd::test::matrixOf(c["keys"]), w = kd::test::matrixOf(c["weights"]);
    const auto y = kd::test::labelsOf(c["labels"]);
    const double T = c["T"].get<double>(), tau = c["tau"].get<double>(), eps = c["epsilon"].get<double>();
    const auto rho = eps > 0 ? torch::tensor(eps, torch::kFloat64) : kd::meanNonTargetMass(t, y, T);
    CHECK_TIGHT(rho, c["rho"].get<double>());

    const auto qLs = kd::uniformSmoothingTargets(y, s.size(1), rho);
    CHECK_TIGHT(qLs, kd::test::matrixOf(c["ls_targets"]));
    CHECK_TIGHT(qLs.sum(1), torch::ones({s.size(0)}, torch::kFloat64));
    CHECK_TIGHT(kd::softTargetKdLoss(s, qLs, T), c["ls"]["term"].get<double>());

    const auto qPt = kd::permutedTeacherTargets(torch::softmax(t / T, 1), y, keys);
    CHECK_TIGHT(qPt, kd::test::matrixOf(c["kd_pt_targets"]));
    CHECK_TIGHT(kd::softTargetKdLoss(s, qPt, T), c["kd_pt"]["term"].get<double>());

    const auto qConf = kd::confidenceTargets(torch::softmax(t / T, 1), y);
    CHECK_TIGHT(qConf, kd::test::matrixOf(c["kd_pt_uniform_targets"]));
    CHECK_TIGHT(qConf.sum(1), torch::ones({s.size(0)}, torch::kFloat64));
    CHECK_TIGHT(kd::softTargetKdLoss(s, qConf, T), c["kd_pt_uniform"]["term"].get<double>());

    const auto shapes = kd::weightSimilarityShapes(w, tau);
    CHECK_TIGHT(shapes, kd::test::matrixOf(c["sim_shapes"]));
    const auto qSim = kd::similarityTargets(shapes, y, rho);
    CHECK_TIGHT(qSim, kd::test::matrixOf(c["kd_sim_targets"]));
    CHECK_TIGHT(kd::softTargetKdLoss(s, qSim, T), c["kd_sim"]["term"].get<double>());
}

void TestControls::checkMethod(const json &c, const std::string &name, const json &params, const json &want,
                               const std::string &termName, const std::string &termKey)
{
    auto s = kd::test::matrixOf(c["student"]).requires_grad_(true);
    const auto t = kd::test::matrixOf(c["teacher"]);
    const auto y = kd::test::labelsOf(c["labels"]);
    auto method = create(name, params);
    const auto sf = logitsFeatures(s), tf = logitsFeatures(t);
    const auto loss = method->compute(sf, &tf, y, kd::StepContext{});
    CHECK_TIGHT(loss.total, want["total"].get<double>());
    CHECK_TIGHT(termOf(loss, "ce"), want["ce"].get<double>());
    CHECK_TIGHT(termOf(loss, termName), want[termKey].get<double>());
    loss.total.backward();
    CHECK_TIGHT(s.grad(), kd::test::matrixOf(want["grad"]));
}

void TestControls::methods_matchGolden()
{
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    const json common = {{"temperature", c["T"]}, {"alpha", c["alpha"]}};
    json mean = common, batchmean = common;
    batchmean["kl_reduction"] = "batchmean";
    checkMethod(c, "takd", mean, c["takd_mean"], "kd", "kd"); // the default reduction
    if (QTest::currentTestFailed())
        return;
    checkMethod(c, "takd", batchmean, c["takd_batchmean"], "kd", "kd");
    if (QTest::currentTestFailed())
        return;
    // The authors' mean is the batchmean KL over C: C times weaker.
    const double classes = double(c["student"][0].size());
    QVERIFY(std::abs(c["takd_batchmean"]["kd"].get<double>() - classes * c["takd_mean"]["kd"].get<double>())
            < 1e-9 * c["takd_batchmean"]["kd"].get<double>());
    json ls = common;
    ls["epsilon"] = c["epsilon"];
    checkMethod(c, "ls", ls, c["ls"], "ls", "term");
    if (QTest::currentTestFailed())
        return;
    checkMethod(c, "kd_pt", common, c["kd_pt_uniform"], "kd_pt", "term"); // the default: the paper's KD-pt
}

void TestControls::kdPt_shufflesOnlyNonTargets()
{
    const auto &c = goldenCase(0);
    const auto s = kd::test::matrixOf(c["student"]), t = kd::test::matrixOf(c["teacher"]);
    const auto y = kd::test::labelsOf(c["labels"]);
    const double T = c["T"].get<double>();
    QCOMPARE(specOf(m_registries.methods.get("kd_pt"), "non_target").defaultValue, json("uniform"));
    auto method = create("kd_pt", {{"temperature", T}, {"alpha", 1.0}, {"non_target", "permuted"}});
    const auto sf = logitsFeatures(s), tf = logitsFeatures(t);
    // The method's shuffle comes from the global generator: the same seed, the same keys.
    torch::manual_seed(11);
    const auto got = termOf(method->compute(sf, &tf, y, kd::StepContext{}), "kd_pt");
    torch::manual_seed(11);
    const auto p = torch::softmax(t / T, 1);
    const auto q = kd::permutedTeacherTargets(p, y, torch::rand(p.sizes(), p.options()));
    CHECK_TIGHT(got, kd::softTargetKdLoss(s, q, T));
    // The labelled class keeps the teacher's probability; the others are the same values.
    const auto lab = y.view({-1, 1});
    CHECK_TIGHT(q.gather(1, lab), p.gather(1, lab));
    CHECK_TIGHT(std::get<0>(q.sort(1)), std::get<0>(p.sort(1)));
    QVERIFY(!torch::allclose(q, p)); // and it does move them
    // Another step draws another shuffle.
    const auto again = termOf(method->compute(sf, &tf, y, kd::StepContext{}), "kd_pt");
    QVERIFY(std::abs(again.item<double>() - got.item<double>()) > 1e-9);
}

void TestControls::kdSim_readsTeacherLogitLayer()
{
    const auto &archs = m_registries.architectures;
    const auto &mlp = archs.get("mlp");
    torch::manual_seed(3);
    auto teacher = mlp.create(kd::resolveParams(mlp.params, {{"hidden", {16}}}, "mlp"), kd::InputShape{1, 8, 8}, 5);
    teacher->eval();
    const auto x = torch::randn({6, 1, 8, 8});
    const auto y = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 3, 4, 0});
    const kd::Features tf = teacher->forwardFeatures(x);
    const auto s = torch::randn({6, 5}).to(torch::kFloat64).requires_grad_(true);
    const auto sf = logitsFeatures(s);
    const double T = 2.0, tau = 0.3;
    auto method = create("kd_sim", {{"temperature", T}, {"alpha", 0.6}, {"similarity_temperature", tau}});
    QCOMPARE(method->teacherFeatures(), (std::vector<std::string>{"pre_logits", "logits"})); // never the cache

    // Without the teacher model (cached outputs only) it says what it needs.
    try {
        method->compute(sf, &tf, y, kd::StepContext{});
        QFAIL("kd_sim ran without the teacher model");
    } catch (const kd::Error &e) {
        QVERIFY2(QString(e.what()).contains("logit-layer weights"), e.what());
    }
    kd::StepContext ctx;
    ctx.teacher = teacher.get();
    // Logits that are not the head applied to pre_logits are refused rather than misread.
    kd::Features fake;
    fake.add("pre_logits", tf.get("pre_logits"));
    fake.add("logits", torch::randn({6, 5}));
    try {
        create("kd_sim", json::object())->compute(sf, &fake, y, ctx);
        QFAIL("kd_sim accepted logits that no linear layer produced");
    } catch (const kd::Error &e) {
        QVERIFY2(QString(e.what()).contains("linear layer of its pre_logits"), e.what());
    }

    const auto loss = method->compute(sf, &tf, y, ctx);
    auto params = teacher->named_parameters();
    QVERIFY(params.contains("head.weight"));
    const auto shapes = kd::weightSimilarityShapes(params["head.weight"].detach().to(torch::kFloat64), tau);
    const auto rho = kd::meanNonTargetMass(tf.logits().to(torch::kFloat64), y, T);
    const auto want = kd::softTargetKdLoss(s, kd::similarityTargets(shapes, y, rho), T);
    QVERIFY2(mismatch(termOf(loss, "kd_sim"), want, 1e-5).empty(), mismatch(termOf(loss, "kd_sim"), want, 1e-5).c_str());
    // Every example of a class gets the same target: rows 0 and 5 (both class 0).
    const auto q = kd::similarityTargets(shapes, y, rho);
    CHECK_TIGHT(q[0], q[5]);
}

void TestControls::controls_runEndToEnd_data()
{
    QTest::addColumn<QString>("method");
    QTest::newRow("ls") << "ls";
    QTest::newRow("kd_pt") << "kd_pt";
    QTest::newRow("kd_sim") << "kd_sim";
}

void TestControls::controls_runEndToEnd()
{
    QFETCH(QString, method);
    QTemporaryDir tmp;
    const json train = {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 4}};
    const json project = {
        {"name", method.toStdString()},
        {"seed", 5},
        {"threads", 1},
        {"baseline", false},
        {"output_dir", tmp.path().toStdString()},
        {"dataset", {{"name", "synthetic"}, {"limit", 384}, {"test_limit", 128}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", train}}},
        {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {32}}}}, {"train", train}}},
        {"method", {{"name", method.toStdString()}}},
    };
    struct Recorder : kd::ExperimentObserver {
        std::vector<kd::MetricRecord> metrics;
        void onMetric(const kd::MetricRecord &r) override { metrics.push_back(r); }
    } rec;
    kd::Experiment exp(kd::Project::fromJson(project), m_registries);
    std::atomic<bool> stop{false};
    const auto summary = exp.run(rec, stop, tmp.filePath("run").toStdString());
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    const auto *st = summary.find("student");
    QVERIFY(st && st->completed && std::isfinite(st->finalTestAcc));
    QCOMPARE(QString::fromStdString(st->method), method);
    bool sawTerm = false;
    for (const auto &r : rec.metrics)
        if (r.role == "student" && r.kind == kd::MetricRecord::Kind::Step)
            for (const auto &kv : r.losses)
                if (kv.first == method.toStdString() && std::isfinite(kv.second) && kv.second > 0)
                    sawTerm = true;
    QVERIFY2(sawTerm, "the control's loss term was not logged");
}

QTEST_GUILESS_MAIN(TestControls)
#include "test_controls.moc"
