// Methods that change the experiment's structure: teacher-assistant chains (takd), averaged
// ensembles (ensemble), representation consolidation (rc), deep model consolidation (dmc) and
// adversarially robust distillation (ard). Losses against golden values from
// scripts/gen_stage_golden.py (python3-torch), end-to-end runs through kd::Experiment on the
// synthetic dataset (stage order, roles, checkpoints, log lines, metrics columns), and the
// combinations that are refused before training.

#include "models/ArchitectureRegistry.h"
#include "training/Checkpoint.h"
#include "data/DataViews.h"
#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "training/Experiment.h"
#include "methods/KdLosses.h"
#include "methods/MethodRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "methods/StageAwareMethod.h"
#include "training/StagePlan.h"
#include "training/TeacherGroup.h"
#include "core/TorchFwd.h"
#include "methods/StageMethods.h"
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
using kd::test::mismatch;
using kd::test::termOf;

using kd::test::errorOf;

using nlohmann::json;


std::vector<std::string> termNamesOf(const kd::LossTerms &l)
{
    std::vector<std::string> out;
    for (const auto &kv : l.terms)
        out.push_back(kv.first);
    return out;
}

/// Records stages, log lines and metric records of a run.
class Recorder : public kd::ExperimentObserver {
public:
    std::vector<std::string> stages;
    std::vector<std::string> lines;
    std::vector<kd::MetricRecord> metrics;
    void onLog(Level, const std::string &text) override { lines.push_back(text); }
    void onStageStarted(const std::string &role, int, int) override { stages.push_back(role); }
    void onMetric(const kd::MetricRecord &r) override { metrics.push_back(r); }
    bool has(const std::string &needle) const
    {
        for (const auto &l : lines)
            if (l.find(needle) != std::string::npos)
                return true;
        return false;
    }
    /// Index of the first line containing `needle`, or -1.
    int indexOf(const std::string &needle) const
    {
        for (std::size_t i = 0; i < lines.size(); ++i)
            if (lines[i].find(needle) != std::string::npos)
                return int(i);
        return -1;
    }
};

json readJson(const std::string &path)
{
    std::ifstream in(path);
    if (!in)
        return {};
    return json::parse(in);
}

QStringList readLines(const std::string &path)
{
    QFile f(QString::fromStdString(path));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
}

json trainOptions(int epochs = 1)
{
    return {{"epochs", epochs}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 4}};
}

/// A small project on the synthetic dataset (10 classes, 1×28×28): one epoch per model.
json baseProject(const std::string &method)
{
    return {
        {"name", method},
        {"seed", 5},
        {"threads", 1},
        {"baseline", true},
        {"dataset", {{"name", "synthetic"}, {"limit", 512}, {"test_limit", 256}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", trainOptions()}}},
        {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {32}}}}, {"train", trainOptions()}}},
        {"method", {{"name", method}}},
    };
}

} // namespace

class TestStages : public QObject {
    Q_OBJECT

private:
    json m_golden;
    kd::Registries m_registries = kd::Registries::builtin();
    QTemporaryDir m_tmp;

    std::unique_ptr<kd::DistillationMethod> create(const std::string &name, const json &params = json::object()) const
    {
        const auto &entry = m_registries.methods.get(name);
        return entry.create(kd::resolveParams(entry.params, params, "method"));
    }

    /// Runs `project` into a fresh run directory; fails the test on an exception.
    kd::RunSummary run(const json &project, Recorder &rec, std::string &runDir)
    {
        static int counter = 0;
        runDir = m_tmp.filePath(QString("run%1").arg(++counter)).toStdString();
        json p = project;
        p["output_dir"] = m_tmp.path().toStdString();
        kd::Experiment exp(kd::Project::fromJson(p), m_registries);
        std::atomic<bool> stop{false};
        return exp.run(rec, stop, runDir);
    }

private Q_SLOTS:
    void initTestCase();

    void projectFormat_roundTripsNewKeys();
    void refusals_data();
    void refusals();
    void dmc_oldClassesOutOfRangeRefusedBeforeRunDirectory();

    void takd_chain_data();
    void takd_chain();

    void ensemble_lossMatchesGolden();
    void ensemble_teacherGroupAveragesProbabilities();
    void ensemble_endToEnd();

    void rc_headsAndTermsMatchGolden();
    void rc_endToEndWithProxyAndGeneralist();

    void dmc_lossMatchesGolden();
    void dmc_classSubsets();
    void dmc_endToEnd();

    void ard_pgdIncreasesLossWithinEpsilon();
    void ard_endToEndLogsRobustAccuracy();
};

void TestStages::initTestCase()
{
    const std::string path = std::string(KD_TEST_DATA_DIR) + "/stage_golden.json";
    std::ifstream in(path);
    QVERIFY2(in.good(), ("cannot open " + path + "; regenerate it with /usr/bin/python3 scripts/gen_stage_golden.py").c_str());
    m_golden = json::parse(in);
    QVERIFY(m_tmp.isValid());
    at::set_num_threads(1);
}

void TestStages::projectFormat_roundTripsNewKeys()
{
    json j = baseProject("rc");
    j["teachers"] = {{{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}},
                     {{"arch", "mlp"}, {"generalist", true}, {"train", {{"epochs", 2}}}}};
    j["proxy"] = {{"name", "synthetic"}, {"limit", 256}};
    const auto p = kd::Project::fromJson(j);
    QCOMPARE(p.teachers.size(), std::size_t(2));
    QVERIFY(!p.teachers[0].generalist);
    QVERIFY(p.teachers[1].generalist);
    QCOMPARE(p.teachers[1].train.epochs, 2);
    QVERIFY(p.hasProxy);
    QCOMPARE(p.proxy.limit, std::int64_t(256));
    QCOMPARE(kd::Project::fromJson(p.toJson()).toJson(), p.toJson());

    // Defaults: no assistants, no teachers, no proxy; written out explicitly.
    const auto d = kd::Project::fromJson(json::object());
    QVERIFY(d.assistants.empty() && d.teachers.empty() && !d.hasProxy);
    QVERIFY(d.toJson()["assistants"].is_array());
    QVERIFY(d.toJson()["proxy"].is_null());
    QCOMPARE(kd::Project::fromJson(d.toJson()).toJson(), d.toJson());

    json a = baseProject("takd");
    a["assistants"] = {{{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}}};
    const auto pa = kd::Project::fromJson(a);
    QCOMPARE(pa.assistants.size(), std::size_t(1));
    QCOMPARE(QString::fromStdString(pa.assistants[0].arch), QStringLiteral("mlp"));
    QCOMPARE(kd::Project::fromJson(pa.toJson()).toJson(), pa.toJson());
}

void TestStages::refusals_data()
{
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QString>("expected");
    QTest::newRow("takd without assistants") << R"({"method": {"name": "takd"}})"
                                             << "method \"takd\" needs at least one teacher assistant";
    QTest::newRow("assistants with kd") << R"({"method": {"name": "kd"}, "assistants": [{"arch": "mlp"}]})"
                                        << "assistants are used only by method \"takd\"";
    QTest::newRow("ensemble of one") << R"({"method": {"name": "ensemble"}, "teachers": [{"arch": "mlp"}]})"
                                     << "method \"ensemble\" averages at least 2 teachers, but \"teachers\" lists 1";
    QTest::newRow("ensemble without teachers") << R"({"method": {"name": "ensemble"}})"
                                               << "averages at least 2 teachers";
    QTest::newRow("teachers with kd") << R"({"method": {"name": "kd"}, "teachers": [{"arch": "mlp"}, {"arch": "mlp"}]})"
                                      << "method \"kd\" distils from the single \"teacher\"";
    QTest::newRow("teachers with ce") << R"({"method": {"name": "ce"}, "teachers": [{"arch": "mlp"}]})"
                                      << "method \"ce\" uses no teacher";
    QTest::newRow("teachers with takd")
        << R"({"method": {"name": "takd"}, "assistants": [{"arch": "mlp"}], "teachers": [{"arch": "mlp"}]})"
        << "distils from the single \"teacher\"";
    QTest::newRow("proxy with kd") << R"({"method": {"name": "kd"}, "proxy": {"name": "synthetic"}})"
                                   << "\"proxy\" is used only by method \"rc\"";
    QTest::newRow("generalist with ensemble")
        << R"({"method": {"name": "ensemble"}, "teachers": [{"arch": "mlp"}, {"arch": "mlp", "generalist": true}]})"
        << "teachers[1].generalist is used only by method \"rc\"";
    QTest::newRow("rc all generalists") << R"({"method": {"name": "rc"}, "teachers": [{"arch": "mlp", "generalist": true}]})"
                                        << "method \"rc\" needs at least one task teacher";
    QTest::newRow("dmc with 3 teachers")
        << R"({"method": {"name": "dmc"}, "teachers": [{"arch": "mlp"}, {"arch": "mlp"}, {"arch": "mlp"}]})"
        << "method \"dmc\" consolidates exactly 2 teachers";
    QTest::newRow("unknown teacher arch") << R"({"method": {"name": "ensemble"}, "teachers": [{"arch": "mlp"}, {"arch": "nope"}]})"
                                          << "teachers[1].arch: unknown architecture \"nope\"";
    QTest::newRow("missing teacher checkpoint")
        << R"({"method": {"name": "ensemble"}, "teachers": [{"arch": "mlp"}, {"arch": "mlp", "checkpoint": "/nonexistent/t.pt"}]})"
        << "teachers[1].checkpoint: file not found";
    QTest::newRow("bad assistant option") << R"({"method": {"name": "takd"}, "assistants": [{"arch": "mlp", "arch_options": {"width": 3}}]})"
                                          << "assistants[0].arch_options";
    // Structural errors of the file itself (Project::fromJson).
    QTest::newRow("assistants not a list") << R"({"assistants": {"arch": "mlp"}})" << "assistants must be a list";
    QTest::newRow("assistant without arch") << R"({"assistants": [{"train": {}}]})" << "assistants[0].arch is missing";
    QTest::newRow("assistant checkpoint") << R"({"assistants": [{"arch": "mlp", "checkpoint": "a.pt"}]})"
                                          << "unknown key assistants[0].checkpoint";
    QTest::newRow("generalist not bool") << R"({"teachers": [{"arch": "mlp", "generalist": "yes"}]})"
                                         << "teachers[0].generalist";
    QTest::newRow("proxy unknown key") << R"({"proxy": {"nmae": "mnist"}})" << "unknown key proxy.nmae";
    QTest::newRow("ard epsilon range") << R"({"method": {"name": "ard", "epsilon": 2}})" << "method.epsilon";
}

void TestStages::refusals()
{
    QFETCH(QString, patch);
    QFETCH(QString, expected);
    json j = baseProject("kd");
    j.merge_patch(json::parse(patch.toStdString()));
    const auto err = errorOf([&] { kd::Experiment(kd::Project::fromJson(j), m_registries); });
    QVERIFY2(err.find(expected.toStdString()) != std::string::npos, err.c_str());
    QVERIFY2(err.find("<other exception") == std::string::npos, err.c_str());
}

void TestStages::dmc_oldClassesOutOfRangeRefusedBeforeRunDirectory()
{
    json j = baseProject("dmc");
    j["method"]["old_classes"] = 10; // synthetic has 10 classes: nothing left for the new model
    j["output_dir"] = m_tmp.path().toStdString();
    kd::Experiment exp(kd::Project::fromJson(j), m_registries);
    Recorder rec;
    std::atomic<bool> stop{false};
    const auto runDir = m_tmp.filePath("dmc-refused").toStdString();
    const auto err = errorOf([&] { exp.run(rec, stop, runDir); });
    QVERIFY2(err.find("method.old_classes = 10 does not split the 10 classes") != std::string::npos, err.c_str());
    QVERIFY2(err.find("use 1..9") != std::string::npos, err.c_str());
    QVERIFY(!QFile::exists(QString::fromStdString(runDir)));

    // A dmc teacher.checkpoint cannot be both teachers.
    const QString fake = m_tmp.filePath("fake.pt");
    QFile f(fake);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.close();
    json c = baseProject("dmc");
    c["teacher"]["checkpoint"] = fake.toStdString();
    const auto err2 = errorOf([&] { kd::Experiment(kd::Project::fromJson(c), m_registries); });
    QVERIFY2(err2.find("one teacher.checkpoint cannot be both") != std::string::npos, err2.c_str());
}

void TestStages::takd_chain_data()
{
    QTest::addColumn<int>("assistants");
    QTest::newRow("one assistant") << 1;
    QTest::newRow("two assistants") << 2;
}

void TestStages::takd_chain()
{
    QFETCH(int, assistants);
    json j = baseProject("takd");
    j["method"]["temperature"] = 3.0;
    j["method"]["alpha"] = 0.8;
    j["assistants"] = json::array();
    const int widths[] = {64, 48};
    for (int k = 0; k < assistants; ++k)
        j["assistants"].push_back({{"arch", "mlp"}, {"arch_options", {{"hidden", {widths[k]}}}}, {"train", trainOptions()}});
    Recorder rec;
    std::string runDir;
    const auto summary = run(j, rec, runDir);
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

    std::vector<std::string> roles{"teacher"};
    for (int k = 1; k <= assistants; ++k)
        roles.push_back("assistant" + std::to_string(k));
    roles.push_back("student");
    roles.push_back("student_scratch");
    QCOMPARE(rec.stages, roles);

    const auto sj = readJson(runDir + "/summary.json");
    for (const auto &role : roles) {
        const auto *r = summary.find(role);
        QVERIFY2(r && r->completed, role.c_str());
        QVERIFY2(std::isfinite(r->finalTestAcc), role.c_str());
        QVERIFY2(QFile::exists(QString::fromStdString(runDir + "/" + role + ".pt")), role.c_str());
        QVERIFY2(sj["models"].contains(role), role.c_str());
    }
    QCOMPARE(QString::fromStdString(summary.find("assistant1")->method), QStringLiteral("takd"));
    QCOMPARE(QString::fromStdString(summary.find("teacher")->method), QStringLiteral("ce"));
    // Each assistant's own width: the chain really has different models.
    QVERIFY(summary.find("assistant1")->params != summary.find("student")->params);

    // Each link distils from the previous one; the student from the last assistant.
    std::string previous = "teacher";
    for (int k = 1; k <= assistants; ++k) {
        const std::string role = "assistant" + std::to_string(k);
        QVERIFY2(rec.has(role + ": learns from " + previous), role.c_str());
        const auto meta = kd::readCheckpointMeta(runDir + "/" + role + ".pt");
        QCOMPARE(meta["teachers"], json::array({previous}));
        previous = role;
    }
    const std::string last = "assistant" + std::to_string(assistants);
    QVERIFY(rec.has("student: learns from " + last));
    QCOMPARE(kd::readCheckpointMeta(runDir + "/student.pt")["teachers"], json::array({last}));
    // Log order follows stage order: the last assistant is trained before the student learns from it.
    QVERIFY(rec.indexOf(last + " epoch 1/1") >= 0);
    QVERIFY(rec.indexOf(last + " epoch 1/1") < rec.indexOf("student: learns from " + last));
    // Every KD link uses the (logit-only) teacher cache.
    int cached = 0;
    for (const auto &l : rec.lines)
        cached += l.find("reused every epoch") != std::string::npos;
    QCOMPARE(cached, assistants + 1);
    // The stage plan is visible before running.
    json again = j;
    kd::Experiment exp(kd::Project::fromJson(again), m_registries);
    QCOMPARE(exp.stages().size(), roles.size());
    QCOMPARE(exp.stages().back().role, std::string("student_scratch"));
    QCOMPARE(exp.stages()[std::size_t(assistants) + 1].teacherRoles, std::vector<std::string>{last});
}

void TestStages::ensemble_lossMatchesGolden()
{
    const auto &g = m_golden["ensemble"];
    const double T = g["temperature"].get<double>();
    const auto zs = tensorOf(g["student"]).requires_grad_(true);
    std::vector<torch::Tensor> teachers;
    for (const auto &t : g["teachers"])
        teachers.push_back(tensorOf(t));
    const auto labels = torch::tensor(g["labels"].get<std::vector<std::int64_t>>(), torch::kInt64);

    const auto ens = kd::ensembleLogits(teachers, T);
    CHECK_CLOSE(ens, tensorOf(g["ensemble_logits"]), "ensemble logits");
    // By hand: softmax(ens / T) is the mean of the softened teacher probabilities.
    auto mean = torch::zeros_like(teachers[0]);
    for (const auto &t : teachers)
        mean = mean + torch::softmax(t / T, 1) / double(teachers.size());
    CHECK_CLOSE(torch::softmax(ens / T, 1), mean, "softmax(ensemble logits / T)");

    auto method = create("ensemble", {{"temperature", T}, {"alpha", g["alpha"].get<double>()}});
    kd::Features s, t;
    s.add("logits", zs);
    t.add("logits", ens);
    kd::StepContext ctx;
    const auto loss = method->compute(s, &t, labels, ctx);
    CHECK_CLOSE(termOf(loss, "kd"), g["kd"].get<double>(), "ensemble kd");
    CHECK_CLOSE(termOf(loss, "ce"), g["ce"].get<double>(), "ensemble ce");
    CHECK_CLOSE(loss.total, g["total"].get<double>(), "ensemble total");
    loss.total.backward();
    CHECK_CLOSE(zs.grad(), tensorOf(g["grad_student"]), "ensemble grad");
    QVERIFY2(errorOf([&] { kd::ensembleLogits({teachers[0], teachers[0].narrow(1, 0, 3)}, T); }).find("same [batch, classes]")
                 != std::string::npos,
             "mismatched teachers must be refused");
}

void TestStages::ensemble_teacherGroupAveragesProbabilities()
{
    const auto &arch = m_registries.architectures.get("mlp");
    const auto opts = kd::resolveParams(arch.params, {{"hidden", {16}}}, "mlp");
    torch::manual_seed(1);
    auto a = arch.create(opts, {1, 28, 28}, 10);
    torch::manual_seed(2);
    auto b = arch.create(opts, {1, 28, 28}, 10);
    const auto x = torch::randn({4, 1, 28, 28});
    torch::NoGradGuard noGrad;
    kd::TeacherGroup avg(kd::TeacherGroup::Mode::Average, {{"teacher1", a}, {"teacher2", b}}, 4.0);
    avg.eval();
    QVERIFY(!a->is_training() && !b->is_training()); // eval() reaches the members
    const auto f = avg.forwardFeatures(x);
    QCOMPARE(f.items().size(), std::size_t(1));
    CHECK_CLOSE(f.logits(), kd::ensembleLogits({a->forward(x), b->forward(x)}, 4.0), "average group logits");

    kd::TeacherGroup group(kd::TeacherGroup::Mode::Group, {{"teacher_old", a}, {"teacher_new", b}});
    const auto g = group.forwardFeatures(x);
    QVERIFY(g.has("teacher_old.logits") && g.has("teacher_new.logits") && g.has("teacher_old.pre_logits"));
    QVERIFY(!g.has("logits"));
    CHECK_CLOSE(g.get("teacher_new.logits"), b->forward(x), "group member logits");
}

void TestStages::ensemble_endToEnd()
{
    json j = baseProject("ensemble");
    j["method"]["temperature"] = 2.0;
    // Two teachers of the same architecture: they must still differ (their own seeds).
    j["teachers"] = {{{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}, {"train", trainOptions()}},
                     {{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}, {"train", trainOptions()}}};
    Recorder rec;
    std::string runDir;
    const auto summary = run(j, rec, runDir);
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    QCOMPARE(rec.stages, (std::vector<std::string>{"teacher1", "teacher2", "student", "student_scratch"}));
    for (const char *role : {"teacher1", "teacher2", "student", "student_scratch"}) {
        QVERIFY2(summary.find(role) && summary.find(role)->completed, role);
        QVERIFY2(QFile::exists(QString::fromStdString(runDir + "/" + role + ".pt")), role);
    }
    QVERIFY(kd::readCheckpointMeta(runDir + "/teacher1.pt")["sha256"] != kd::readCheckpointMeta(runDir + "/teacher2.pt")["sha256"]);
    QVERIFY(rec.has("student: learns from the average of teacher1, teacher2 (softened probabilities at T = 2)"));
    // The cache holds the ensemble's logits only: one row of 10 per training image.
    QVERIFY2(rec.has("teacher cache: 512 x 10 logits"), "ensemble logits cached");
    QVERIFY(rec.has("reused every epoch"));
    QCOMPARE(kd::readCheckpointMeta(runDir + "/student.pt")["teachers"], json::array({"teacher1", "teacher2"}));

    // A trained teacher can be loaded from its checkpoint instead.
    json k = j;
    k["teachers"][0]["checkpoint"] = runDir + "/teacher1.pt";
    k["baseline"] = false;
    Recorder rec2;
    std::string runDir2;
    const auto s2 = run(k, rec2, runDir2);
    QCOMPARE(QString::fromStdString(s2.find("teacher1")->method), QStringLiteral("checkpoint"));
    QCOMPARE(s2.find("teacher1")->finalTestAcc, summary.find("teacher1")->finalTestAcc);
    QVERIFY(rec2.has("teacher1 loaded from"));
}

void TestStages::rc_headsAndTermsMatchGolden()
{
    const auto &g = m_golden["rc"];
    const double T = g["temperature"].get<double>(), alpha = g["alpha"].get<double>();
    for (const bool labels : {true, false}) {
        auto method = create("rc", {{"temperature", T}, {"alpha", alpha}});
        auto *aware = dynamic_cast<kd::StageAwareMethod *>(method.get());
        QVERIFY(aware);
        kd::StageInfo info;
        info.teacherRoles = {"teacher1", "teacher2"};
        info.generalistRoles = {"teacher2"};
        info.labelsAreTargets = labels;
        aware->configureStage(info);
        const auto expectedTerms = labels ? std::vector<std::string>{"ce", "kd_teacher1", "kd_teacher2"}
                                          : std::vector<std::string>{"kd_teacher1", "kd_teacher2"};
        QCOMPARE(method->termNames(), expectedTerms);
        QCOMPARE(method->teacherFeatures(), (std::vector<std::string>{"teacher1.logits", "teacher2.logits"}));
        QCOMPARE(method->studentFeatures(), (std::vector<std::string>{"pre_logits", "logits"}));

        const auto zs = tensorOf(g["student"]).to(torch::kFloat32).requires_grad_(true);
        const auto pre = tensorOf(g["pre_logits"]).to(torch::kFloat32).requires_grad_(true);
        kd::MethodSetup setup;
        setup.student = {{"pre_logits", {pre.size(1)}}, {"logits", {zs.size(1)}}};
        setup.teacher = {{"teacher1.logits", {zs.size(1)}}, {"teacher2.logits", {tensorOf(g["teacher2"]).size(1)}}};
        setup.numClasses = int(zs.size(1));
        method->setup(setup);
        // One head per teacher: teacher1 (the task teacher) supervises the student's own
        // classifier, teacher2 (the generalist) an extra Linear head on pre_logits.
        auto heads = method->trainableModule();
        QVERIFY(heads);
        const auto children = heads->named_children();
        QCOMPARE(children.size(), std::size_t(1));
        QVERIFY(children.contains("head_teacher2"));
        {
            torch::NoGradGuard noGrad;
            auto params = heads->named_parameters();
            params["head_teacher2.weight"].copy_(tensorOf(g["head_weight"]));
            params["head_teacher2.bias"].copy_(tensorOf(g["head_bias"]));
        }
        kd::Features s, t;
        s.add("pre_logits", pre);
        s.add("logits", zs);
        t.add("teacher1.logits", tensorOf(g["teacher1"]).to(torch::kFloat32));
        t.add("teacher2.logits", tensorOf(g["teacher2"]).to(torch::kFloat32));
        const auto y = torch::tensor(g["labels"].get<std::vector<std::int64_t>>(), torch::kInt64);
        kd::StepContext ctx;
        const auto loss = method->compute(s, &t, y, ctx);
        QCOMPARE(termNamesOf(loss), expectedTerms);
        // float32 inputs: compare at float precision.
        auto close = [](const torch::Tensor &got, double want) {
            return std::abs(got.item<double>() - want) <= 2e-5 * std::abs(want) + 1e-6;
        };
        QVERIFY(close(termOf(loss, "kd_teacher1"), g["kd_teacher1"].get<double>()));
        QVERIFY(close(termOf(loss, "kd_teacher2"), g["kd_teacher2"].get<double>()));
        if (labels)
            QVERIFY(close(termOf(loss, "ce"), g["ce"].get<double>()));
        QVERIFY(close(loss.total, g[labels ? "total" : "total_without_labels"].get<double>()));
        if (labels) {
            loss.total.backward();
            const auto want = tensorOf(g["grad_pre_logits"]).to(torch::kFloat32);
            QVERIFY(torch::allclose(pre.grad(), want, 1e-4, 1e-6));
            QVERIFY(torch::allclose(zs.grad(), tensorOf(g["grad_student"]).to(torch::kFloat32), 1e-4, 1e-6));
        }
    }
}

void TestStages::rc_endToEndWithProxyAndGeneralist()
{
    json j = baseProject("rc");
    j["teachers"] = {{{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", trainOptions()}},
                     {{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}, {"generalist", true}, {"train", trainOptions()}}};
    // A proxy dataset (here the synthetic set again, fewer images): its labels train the
    // generalist, never the student.
    j["proxy"] = {{"name", "synthetic"}, {"limit", 384}, {"test_limit", 128}};
    Recorder rec;
    std::string runDir;
    const auto summary = run(j, rec, runDir);
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    QCOMPARE(rec.stages, (std::vector<std::string>{"teacher1", "teacher2", "student", "student_scratch"}));
    QVERIFY(rec.has("teacher2: mlp"));
    QVERIFY(rec.has("trained on the proxy dataset (its own labels)"));
    QVERIFY(rec.has("student: learns from teacher1, teacher2 (one head per teacher)"));
    QVERIFY(rec.has("trained on the proxy dataset's images (labels unused) (384 images, 10 classes)"));
    QVERIFY(rec.has("teacher cache: 384 x logits of teacher1 teacher2"));
    QVERIFY(std::isfinite(summary.find("student")->finalTestAcc));

    const auto lines = readLines(runDir + "/metrics.csv");
    const auto header = lines.first().split(',');
    const int ce = int(header.indexOf("loss_ce")), kd1 = int(header.indexOf("loss_kd_teacher1")),
              kd2 = int(header.indexOf("loss_kd_teacher2"));
    QVERIFY(ce >= 0 && kd1 >= 0 && kd2 >= 0);
    const int trainAcc = int(header.indexOf("train_acc")), testAcc = int(header.indexOf("test_acc"));
    int studentRows = 0;
    for (const auto &line : lines.mid(1)) {
        const auto cells = line.split(',');
        if (cells[0] != "student")
            continue;
        ++studentRows;
        QVERIFY2(cells[ce].isEmpty(), qPrintable(line)); // no labels on the proxy: no CE term
        QVERIFY2(!cells[kd1].isEmpty() && !cells[kd2].isEmpty(), qPrintable(line));
        if (cells[1] == "epoch") {
            QVERIFY2(cells[trainAcc].isEmpty(), qPrintable(line)); // proxy labels are not the task's
            QVERIFY2(!cells[testAcc].isEmpty(), qPrintable(line));
        }
    }
    QVERIFY(studentRows >= 2);
}

void TestStages::dmc_lossMatchesGolden()
{
    const auto &g = m_golden["dmc"];
    const auto zs = tensorOf(g["student"]).requires_grad_(true);
    const auto zo = tensorOf(g["old"]), zn = tensorOf(g["new"]);
    const auto loss = kd::dmcLoss(zs, zo, zn);
    CHECK_CLOSE(loss, g["loss"].get<double>(), "dmc loss");
    // By hand, element by element.
    double sum = 0;
    const auto n = zs.size(0), co = zo.size(1), cn = zn.size(1);
    for (std::int64_t i = 0; i < n; ++i) {
        const double mo = zo[i].mean().item<double>(), mn = zn[i].mean().item<double>();
        for (std::int64_t c = 0; c < co + cn; ++c) {
            const double target = c < co ? zo[i][c].item<double>() - mo : zn[i][c - co].item<double>() - mn;
            const double diff = zs[i][c].item<double>() - target;
            sum += diff * diff;
        }
    }
    CHECK_CLOSE(loss, sum / double(n * (co + cn)), "dmc loss by hand");
    loss.backward();
    CHECK_CLOSE(zs.grad(), tensorOf(g["grad_student"]), "dmc grad");
    QVERIFY(errorOf([&] { kd::dmcLoss(zs, zo, zn.narrow(1, 0, 2)); }).find("C_old + C_new") != std::string::npos);

    auto method = create("dmc");
    QCOMPARE(method->termNames(), std::vector<std::string>{"dd"});
    kd::Features s, t;
    s.add("logits", zs.detach());
    t.add("teacher_old.logits", zo);
    t.add("teacher_new.logits", zn);
    kd::StepContext ctx;
    // Labels are not used: any labels give the same loss.
    CHECK_CLOSE(method->compute(s, &t, torch::zeros({n}, torch::kInt64), ctx).total, g["loss"].get<double>(), "dmc method");
}

void TestStages::dmc_classSubsets()
{
    kd::TensorDataset set;
    set.images = torch::arange(8, torch::kFloat32).view({8, 1, 1, 1});
    set.labels = torch::tensor(std::vector<std::int64_t>{0, 3, 1, 4, 2, 0, 4, 3}, torch::kInt64);
    const auto oldSet = kd::selectClasses(set, 0, 2);
    QCOMPARE(oldSet.labels.sizes().vec(), std::vector<std::int64_t>{3});
    QVERIFY(torch::equal(oldSet.labels, torch::tensor(std::vector<std::int64_t>{0, 1, 0})));
    QVERIFY(torch::equal(oldSet.images.flatten(), torch::tensor(std::vector<float>{0, 2, 5})));
    const auto newSet = kd::selectClasses(set, 2, 5);
    QVERIFY(torch::equal(newSet.labels, torch::tensor(std::vector<std::int64_t>{1, 2, 0, 2, 1})));
}

void TestStages::dmc_endToEnd()
{
    json j = baseProject("dmc");
    j["method"]["old_classes"] = 4;
    j["method"]["aux_limit"] = 256;
    j["teacher"]["train"]["batch_size"] = 16; // ~200 images per class subset: enough steps to learn
    Recorder rec;
    std::string runDir;
    const auto summary = run(j, rec, runDir);
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    QCOMPARE(rec.stages, (std::vector<std::string>{"teacher_old", "teacher_new", "student", "student_scratch"}));
    QVERIFY(rec.has("teacher_old: cnn_small"));
    QVERIFY(rec.has("trained on the old classes of the training set"));
    QVERIFY(rec.has("4 classes)"));
    QVERIFY(rec.has("trained on the new classes of the training set"));
    QVERIFY(rec.has("6 classes)"));
    QVERIFY(rec.has("trained on the first 256 training images (labels unused) (256 images, 10 classes)"));
    QVERIFY(rec.has("student: learns from teacher_old, teacher_new (regressing onto their concatenated, mean-subtracted logits)"));

    // Output sizes: each teacher over its own classes, the student over all of them.
    const auto &arch = m_registries.architectures.get("cnn_small");
    const auto opts = kd::resolveParams(arch.params, {{"width", 8}}, "cnn_small");
    for (const auto &[role, classes] : std::vector<std::pair<std::string, int>>{{"teacher_old", 4}, {"teacher_new", 6}}) {
        const auto path = runDir + "/" + role + ".pt";
        QCOMPARE(kd::readCheckpointMeta(path)["classes"].get<int>(), classes);
        auto model = arch.create(opts, {1, 28, 28}, classes);
        kd::loadCheckpoint(*model, path);
        model->eval();
        torch::NoGradGuard noGrad;
        QCOMPARE(model->forward(torch::zeros({2, 1, 28, 28})).size(1), std::int64_t(classes));
        // Evaluated on its own classes' test images: far above its chance level.
        QVERIFY2(summary.find(role)->finalTestAcc > 1.5 / classes,
                 qPrintable(QString("%1 acc %2").arg(role.c_str()).arg(summary.find(role)->finalTestAcc)));
    }
    QCOMPARE(kd::readCheckpointMeta(runDir + "/student.pt")["classes"].get<int>(), 10);
    QVERIFY(std::isfinite(summary.find("student")->finalTestAcc));
    const auto header = readLines(runDir + "/metrics.csv").first().split(',');
    QVERIFY(header.contains("loss_dd"));
    // The stage views: 4 old classes, the test set limited to them as well.
    const auto &log = rec.lines;
    QVERIFY(std::any_of(log.begin(), log.end(), [](const std::string &l) { return l.find("teacher_old epoch 1/1") == 0; }));
}

void TestStages::ard_pgdIncreasesLossWithinEpsilon()
{
    const auto &arch = m_registries.architectures.get("mlp");
    torch::manual_seed(3);
    auto model = arch.create(kd::resolveParams(arch.params, {{"hidden", {32}}}, "mlp"), {1, 28, 28}, 10);
    model->eval();
    const std::vector<float> mean{0.3f}, stddev{0.25f};
    // Images in pixel units [0, 1], then normalised as the data pipeline does.
    const auto pixels = torch::rand({16, 1, 28, 28});
    const auto x = (pixels - mean[0]) / stddev[0];
    const auto y = torch::arange(16, torch::kInt64) % 10;
    const double eps = 8.0 / 255.0;
    const auto opts = kd::PgdOptions::fromPixels(eps, 2.0 / 255.0, 10, true, mean, stddev, torch::kCPU);
    const auto adv = kd::pgdAttack(*model, x, y, opts);
    QVERIFY(!adv.requires_grad());
    for (const auto &p : model->parameters())
        QVERIFY(!p.grad().defined()); // only the input got gradients
    const auto advPixels = adv * stddev[0] + mean[0];
    const double maxDelta = (advPixels - pixels).abs().max().item<double>();
    QVERIFY2(maxDelta <= eps + 1e-5, qPrintable(QString("max |delta| %1 > eps %2").arg(maxDelta).arg(eps)));
    QVERIFY2(maxDelta > 0.5 * eps, qPrintable(QString("max |delta| %1").arg(maxDelta)));
    QVERIFY(advPixels.min().item<double>() >= -1e-5 && advPixels.max().item<double>() <= 1 + 1e-5);
    torch::NoGradGuard noGrad;
    const double clean = kd::crossEntropyLoss(model->forward(x), y).item<double>();
    const double attacked = kd::crossEntropyLoss(model->forward(adv), y).item<double>();
    QVERIFY2(attacked > clean, qPrintable(QString("clean %1, attacked %2").arg(clean).arg(attacked)));

    // Without a random start and with 0 steps the input is unchanged.
    const auto none = kd::PgdOptions::fromPixels(eps, 2.0 / 255.0, 0, false, mean, stddev, torch::kCPU);
    QVERIFY(torch::allclose(kd::pgdAttack(*model, x, y, none), x));

    // The method: KD on the PGD examples against the clean teacher, CE on clean inputs.
    auto method = create("ard", {{"alpha", 0.5}, {"temperature", 4.0}, {"steps", 3}});
    dynamic_cast<kd::StageAwareMethod &>(*method).configureStage({{}, {}, true, mean, stddev, 10});
    QCOMPARE(method->extraMetrics(), std::vector<std::string>{"robust_acc"});
    kd::MethodSetup setup;
    method->setup(setup);
    kd::StepContext ctx;
    ctx.inputs = x;
    ctx.student = model.get();
    kd::Features s, t;
    {
        torch::AutoGradMode grad(true);
        s = model->forwardFeatures(x);
        t.add("logits", torch::randn({16, 10}));
        const auto loss = method->compute(s, &t, y, ctx);
        CHECK_CLOSE(loss.total, 0.5 * termOf(loss, "kd").item<double>() + 0.5 * termOf(loss, "ce").item<double>(),
                    "ard total");
        CHECK_CLOSE(termOf(loss, "ce"), kd::crossEntropyLoss(s.logits(), y).item<double>(), "ard clean ce");
        QVERIFY(std::isfinite(termOf(loss, "kd").item<double>()));

        // kl_reduction: "mean" (default, the authors' nn.KLDivLoss()) is batchmean / classes.
        auto batchmean = create("ard", {{"alpha", 0.5}, {"temperature", 4.0}, {"steps", 3}, {"kl_reduction", "batchmean"}});
        dynamic_cast<kd::StageAwareMethod &>(*batchmean).configureStage({{}, {}, true, mean, stddev, 10});
        batchmean->setup(setup);
        torch::manual_seed(11);
        const double kdMean = termOf(method->compute(s, &t, y, ctx), "kd").item<double>();
        torch::manual_seed(11);
        const double kdBatch = termOf(batchmean->compute(s, &t, y, ctx), "kd").item<double>();
        QVERIFY2(kdMean > 0, qPrintable(QString::number(kdMean)));
        CHECK_CLOSE(torch::tensor(kdBatch), kdMean * 10.0, "ard batchmean = 10 classes x mean");
    }
    kd::TensorDataset test{x, y};
    const double robust = method->evaluateExtra("robust_acc", *model, test, torch::kCPU, 8);
    const double cleanAcc = model->forward(x).argmax(1).eq(y).to(torch::kFloat64).mean().item<double>();
    QVERIFY(robust <= cleanAcc);
}

void TestStages::ard_endToEndLogsRobustAccuracy()
{
    json j = baseProject("ard");
    j["dataset"]["test_limit"] = 128;
    j["method"] = {{"name", "ard"}, {"temperature", 4.0}, {"alpha", 0.9}, {"steps", 3}, {"robust_eval_limit", 128}};
    Recorder rec;
    std::string runDir;
    const auto summary = run(j, rec, runDir);
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    QCOMPARE(rec.stages, (std::vector<std::string>{"teacher", "student", "student_scratch"}));
    QVERIFY(rec.has("reused every epoch")); // teacher targets on clean inputs: cacheable
    QVERIFY(rec.has(", robust_acc "));

    const auto lines = readLines(runDir + "/metrics.csv");
    QVERIFY(lines.first().contains(",img_per_s,robust_acc")); // then the analysis columns
    const auto header = lines.first().split(',');
    const int test = int(header.indexOf("test_acc")), robust = int(header.indexOf("robust_acc"));
    int epochRows = 0;
    for (const auto &line : lines.mid(1)) {
        const auto cells = line.split(',');
        QCOMPARE(cells.size(), header.size());
        if (cells[1] != "epoch")
            continue;
        if (cells[0] == "student" || cells[0] == "student_scratch") {
            ++epochRows;
            bool ok1 = false, ok2 = false;
            const double r = cells[robust].toDouble(&ok1), c = cells[test].toDouble(&ok2);
            QVERIFY2(ok1 && ok2, qPrintable(line));
            QVERIFY2(r <= c, qPrintable(line)); // same 128 images; robust counts clean-and-attacked correct
        } else {
            QVERIFY2(cells[robust].isEmpty(), qPrintable(line));
        }
    }
    QCOMPARE(epochRows, 2); // the baseline is attacked the same way, for comparison
    const auto *st = summary.find("student");
    QVERIFY(st->extra("robust_acc"));
    QVERIFY(std::isfinite(st->extra("robust_acc")->finalValue));
    QVERIFY(st->extra("robust_acc")->best >= st->extra("robust_acc")->finalValue);
    const auto sj = readJson(runDir + "/summary.json");
    QVERIFY(sj["models"]["student"].contains("best_robust_acc"));
    QVERIFY(sj["models"]["student"].contains("final_robust_acc"));
    QVERIFY(sj["models"]["student_scratch"].contains("final_robust_acc"));
    QVERIFY(!sj["models"]["teacher"].contains("final_robust_acc"));
}

QTEST_GUILESS_MAIN(TestStages)
#include "test_stages.moc"
