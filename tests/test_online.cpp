// Online distillation: the cohort methods' losses against golden values written by
// scripts/gen_online_golden.py (python3-torch), gradients that reach each peer's own outputs
// and not the detached targets, the authors' defaults, the project rules for "peers", and a
// real cohort of heterogeneous peers trained on a Fashion-MNIST subset, whose deliverables
// reload and evaluate as the run reported. The multi-branch methods (ONE) likewise: golden
// loss and ramp-up, gradients into trunk, branches and gate, and a real run whose branches
// reload as standalone students.
#include "core/Error.h"
#include "data/Dataset.h"
#include "data/DatasetRegistry.h"
#include "methods/DistillationMethod.h"
#include "methods/FeatureLosses.h"
#include "methods/KdLosses.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"
#include "models/MultiBranchNet.h"
#include "project/Registries.h"
#include "support/MethodFixture.h"
#include "support/TensorChecks.h"
#include "support/TestSupport.h"
#include "training/Checkpoint.h"
#include "training/StagePlan.h"
#include "training/Optim.h"
#include "training/Trainer.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

#include <set>
#include <sstream>

using nlohmann::json;
using kd::test::errorOf;
using kd::test::readJson;
using kd::test::readLines;
using kd::test::termOf;

namespace {

const char *kFashion = "/usr/share/datasets/fashion-mnist";

kd::Features logitsFeatures(const torch::Tensor &logits)
{
    kd::Features f;
    f.add("logits", logits);
    return f;
}

/// A DML cohort of two different architectures on 1,024 Fashion-MNIST images.
json dmlProject(const QString &outDir, bool baseline)
{
    const json train = {{"epochs", 2}, {"batch_size", 64}, {"log_every", 4}, {"lr", 0.05}};
    return {
        {"name", "dml"},
        {"seed", 3},
        {"threads", 1},
        {"output_dir", outDir.toStdString()},
        {"dataset", {{"name", "fashion-mnist"}, {"limit", 1024}, {"test_limit", 500}}},
        {"peers", {{{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}}, {"train", train}},
                   {{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}, {"train", train}}}},
        {"method", {{"name", "dml"}}},
        {"baseline", baseline},
        {"analysis", {{"enabled", false}}},
    };
}

/// ONE on a cnn_small (width 4) split after stage1 into 3 branches, 1,024 images.
json oneProject(const QString &outDir, bool baseline)
{
    return {
        {"name", "one"},
        {"seed", 5},
        {"threads", 1},
        {"output_dir", outDir.toStdString()},
        {"dataset", {{"name", "fashion-mnist"}, {"limit", 1024}, {"test_limit", 500}}},
        {"student", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}},
                     {"train", {{"epochs", 2}, {"batch_size", 64}, {"log_every", 4}, {"lr", 0.05}}}}},
        {"method", {{"name", "one"}, {"split", "stage1"}, {"deploy_branch", 2}}},
        {"baseline", baseline},
        {"analysis", {{"enabled", false}}},
    };
}

/// Sets `method` up on `net`'s features for input `x` (shapes as the run's probe gives them),
/// with `trainLabels` as the training set's (one per image) where the method reads them.
kd::MethodSetup setUpOn(kd::DistillationMethod &method, kd::FeatureNet &net, const torch::Tensor &x, int classes,
                        const torch::Tensor &trainLabels = {})
{
    kd::MethodSetup setup;
    if (trainLabels.defined()) {
        setup.trainSize = trainLabels.numel();
        setup.trainLabels = trainLabels;
    }
    {
        torch::NoGradGuard noGrad;
        const auto f = net.forwardFeatures(x); // alive while its items are read
        for (const auto &kv : f.items())
            setup.student.push_back({kv.first, kv.second.sizes().slice(1).vec()});
    }
    setup.numClasses = classes;
    method.setup(setup);
    return setup;
}

/// A golden case's branch logits, each a leaf that collects its gradient.
std::vector<torch::Tensor> branchLogitsOf(const json &c)
{
    std::vector<torch::Tensor> z;
    for (const auto &rows : c["logits"])
        z.push_back(kd::test::matrixOf(rows).requires_grad_(true));
    return z;
}

/// Every parameter of `m` has a non-zero gradient.
void checkAllGradients(const torch::nn::Module &m)
{
    for (const auto &kv : m.named_parameters())
        QVERIFY2(kv.value().grad().defined() && kv.value().grad().abs().sum().item<double>() > 0, kv.key().c_str());
}

/// What a finished multi-branch run left: metrics.csv's header, the student's summary entry,
/// log.txt and the run directory.
struct BranchRun {
    QString dir;
    QStringList header;
    json student;
    QString log;
};

/// The ONE example's project (1,024 images, 2 epochs) with a resnet8 student — a ResNet, whose
/// head pools globally as the methods' modules do — trained by `method`; `header` stays empty
/// unless the run completes.
BranchRun runOnResnet8(const QTemporaryDir &tmp, const json &method)
{
    BranchRun r;
    r.dir = tmp.filePath("run");
    auto project = oneProject(tmp.path(), false);
    project["student"]["arch"] = "resnet8";
    project["student"].erase("arch_options");
    project["method"] = method;
    const auto summary = kd::test::runProject(project, r.dir.toStdString());
    if (summary.status != "completed")
        return r;
    r.header = readLines(r.dir + "/metrics.csv").front().split(',');
    r.student = readJson(r.dir + "/summary.json")["models"]["student"];
    r.log = readLines(r.dir + "/log.txt").join('\n');
    return r;
}

/// Test only: a multi-branch method that asks for one augmented view per branch and records
/// what the trainer hands it (the views' count, that view 1 is the batch, that the views
/// differ) and how often afterStep() runs; its loss is the branches' CE.
struct ViewsRecord {
    int steps = 0, afterSteps = 0, withViews = 0, viewOneIsBatch = 0, viewsDiffer = 0;
};
class ViewsProbe : public kd::MultiBranchMethod {
public:
    ViewsProbe(const json &p, ViewsRecord *record)
        : MultiBranchMethod(p)
        , m_record(record)
    {
    }
    std::vector<std::string> termNames() const override { return {"ce"}; }
    int inputViews() const override { return m_layout.branches; }
    kd::LossTerms compute(const kd::Features &s, const kd::Features *, const torch::Tensor &labels,
                          const kd::StepContext &ctx) override
    {
        ++m_record->steps;
        if (ctx.views && int(ctx.views->size()) == m_layout.branches) {
            ++m_record->withViews;
            m_record->viewOneIsBatch += torch::equal((*ctx.views)[0], ctx.inputs);
            m_record->viewsDiffer += !torch::equal((*ctx.views)[0], (*ctx.views)[1]);
        }
        torch::Tensor ce;
        for (const auto &z : branchLogits(s))
            ce = ce.defined() ? ce + kd::crossEntropyLoss(z, labels) : kd::crossEntropyLoss(z, labels);
        return {ce, {{"ce", ce}}};
    }
    void afterStep(kd::FeatureNet &, const kd::StepContext &) override { ++m_record->afterSteps; }

private:
    ViewsRecord *m_record;
};

} // namespace

class TestOnline : public kd::test::MethodFixture {
    Q_OBJECT

    /// A multi-branch method's defaults are the authors' (golden "authors" block): `keys`
    /// exactly, the ramp-up fraction to 1e-12; one network without a teacher.
    void checkMultiBranchDefaults(const char *name, std::initializer_list<const char *> keys)
    {
        const auto &ref = m_golden.at("authors").at(name);
        const auto &e = m_methods.get(name);
        QVERIFY(!e.online); // one network, not a cohort of peers
        QVERIFY(!e.needsTeacher);
        const auto resolved = kd::resolveParams(e.params, json::object(), "method");
        for (const char *key : keys)
            QCOMPARE(resolved.at(key), ref.at(key));
        QVERIFY(std::abs(resolved.at("rampup_fraction").get<double>() - ref.at("rampup_fraction").get<double>()) < 1e-12);
    }

private Q_SLOTS:
    void initTestCase()
    {
        const auto problem = prepare("online_golden.json", "gen_online_golden.py");
        QVERIFY2(problem.empty(), problem.c_str());
    }

    void dmlDefaultsAreTheAuthors()
    {
        const auto &ref = m_golden.at("authors").at("dml");
        const auto &e = m_methods.get("dml");
        QVERIFY(e.online);
        QVERIFY(!e.needsTeacher);
        auto spec = [&](const std::string &name) {
            for (const auto &p : e.params)
                if (p.key == name)
                    return p.defaultValue;
            return json();
        };
        QCOMPARE(spec("temperature"), ref.at("temperature"));
        QCOMPARE(spec("weight"), ref.at("weight"));
        QCOMPARE(spec("peer_reduction"), ref.at("peer_reduction"));
    }

    void dmlMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("cases"));
    }

    void dmlMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        auto method = create("dml", {{"temperature", c["T"]}, {"weight", c["weight"]}, {"peer_reduction", c["reduction"]}});
        for (std::size_t i = 0; i < c["peers"].size(); ++i) {
            const auto &want = c["peers"][i];
            std::vector<torch::Tensor> logits;
            std::vector<kd::Features> outs;
            for (const auto &z : c["logits"]) {
                logits.push_back(kd::test::matrixOf(z).requires_grad_(true));
                outs.push_back(logitsFeatures(logits.back()));
            }
            kd::StepContext ctx;
            ctx.cohort = &outs;
            ctx.cohortIndex = i;
            const auto loss = method->compute(outs[i], nullptr, y, ctx);
            CHECK_CLOSE(termOf(loss, "ce"), want["ce"].get<double>(), "ce");
            CHECK_CLOSE(termOf(loss, "mutual_kl"), want["mutual_kl"].get<double>(), "mutual_kl");
            CHECK_CLOSE(loss.total, want["total"].get<double>(), "total");
            loss.total.backward();
            CHECK_CLOSE(logits[i].grad(), kd::test::matrixOf(want["grad_self"]), "gradient of the peer's own logits");
            // The other peers are targets: nothing flows back into them.
            QVERIFY(want["grad_others_zero"].get<bool>());
            for (std::size_t j = 0; j < logits.size(); ++j)
                if (j != i)
                    QVERIFY2(!logits[j].grad().defined() || logits[j].grad().abs().max().item<double>() == 0.0,
                             "a gradient reached another peer's logits");
        }
    }

    void oneDefaultsAreTheAuthors()
    {
        checkMultiBranchDefaults("one", {"temperature", "weight", "branches", "split"});
    }

    void sigmoidRampupIsTheAuthors()
    {
        for (const auto &c : m_golden["rampup"])
            QVERIFY2(std::abs(kd::sigmoidRampup(c["current"].get<double>(), c["length"].get<double>())
                              - c["value"].get<double>()) < 1e-12,
                     c.dump().c_str());
    }

    void oneMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("one_cases"));
    }

    /// The loss terms and the gradients into every branch's logits and the gate, as the
    /// authors' train() computes them (the ensemble is a KL target without gradient, but it
    /// learns through its own cross-entropy).
    void oneMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["one_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        const auto gate = kd::test::matrixOf(c["gate"]).requires_grad_(true);
        const auto t = kd::oneLoss(z, gate, y, c["T"].get<double>());
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.ensembleCe, c["ensemble_ce"].get<double>(), "ensemble_ce");
        CHECK_CLOSE(t.kl, c["kl"].get<double>(), "kl");
        CHECK_CLOSE(t.ensemble, kd::test::matrixOf(c["ensemble"]), "gated ensemble");
        const auto total = t.ce + t.ensembleCe + c["weight"].get<double>() * t.kl;
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t b = 0; b < z.size(); ++b)
            CHECK_CLOSE(z[b].grad(), kd::test::matrixOf(c["grad_logits"][b]), "gradient of a branch's logits");
        CHECK_CLOSE(gate.grad(), kd::test::matrixOf(c["grad_gate"]), "gradient of the gate");
    }

    /// Through a real multi-branch network: the loss reaches every branch, the trunk and the
    /// gate; the KL weight follows the ramp-up; per-branch and ensemble accuracies are measured.
    void oneTrainsTrunkBranchesAndGate()
    {
        auto method = create("one", {{"split", "stage1"}, {"branches", 2}});
        const auto *layout = method->branchLayout();
        QVERIFY(layout);
        QCOMPARE(layout->split, 1);
        auto make = [&] { return model("cnn_small", {{"width", 4}}); };
        kd::MultiBranchNet net(make, *layout, "cnn_small");
        const auto x = torch::randn({8, 1, 28, 28});
        setUpOn(*method, net, x, 10);
        const auto gate = method->trainableModule();
        QVERIFY(gate && !gate->parameters().empty());
        kd::StepContext ctx;
        ctx.epoch = 1;
        ctx.epochs = 30; // ramp-up over 8 epochs: the first epoch's weight is exp(-5)
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        auto loss = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "kl_weight"), std::exp(-5.0), "ramped KL weight at the first epoch");
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*gate);
        ctx.epoch = 30;
        CHECK_CLOSE(termOf(method->compute(net.forwardFeatures(x), nullptr, y, ctx), "kl_weight"), 1.0,
                    "full KL weight after the ramp-up");

        kd::TensorDataset set;
        set.images = torch::randn({40, 1, 28, 28});
        set.labels = torch::randint(0, 10, {40}, torch::kInt64);
        const auto names = method->extraMetrics();
        QCOMPARE(names, (std::vector<std::string>{"branch1_acc", "branch2_acc", "ensemble_acc"}));
        const double b2 = method->evaluateExtra("branch2_acc", net, set, torch::kCPU, 16);
        net.eval();
        QCOMPARE(b2, kd::evaluateAccuracy(*net.extractBranch(1, make), set, torch::kCPU, 16));
        for (const auto &n : names)
            QVERIFY(std::isfinite(method->evaluateExtra(n, net, set, torch::kCPU, 16)));
        QVERIFY(net.is_training() == false); // evaluation restores the mode it found
    }

    void oneProjectRules()
    {
        auto msg = errorOf([&] { create("one", {{"deploy_branch", 4}}); });
        QVERIFY2(msg.find("deploy_branch 4 is not one of the 3 branches") != std::string::npos, msg.c_str());
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        auto deep = oneProject(tmp.path(), false);
        deep["method"]["split"] = "stage3"; // cnn_small has two stages
        msg = errorOf([&] { kd::test::runProject(deep, tmp.filePath("deep").toStdString()); });
        QVERIFY2(msg.find("stage1..stage2") != std::string::npos, msg.c_str());
    }

    void oneTrainsAndDeliversBranches()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        const auto summary = kd::test::runProject(oneProject(tmp.path(), true), run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

        // Per-branch and ensemble accuracies and every loss term are logged.
        const auto lines = readLines(run + "/metrics.csv");
        const auto header = lines.front().split(',');
        for (const char *col : {"loss_ce", "loss_ensemble_ce", "loss_kl", "loss_kl_weight", "branch1_acc", "branch2_acc",
                                "branch3_acc", "ensemble_acc"})
            QVERIFY2(header.contains(col), col);
        const int role = int(header.indexOf("model")), ens = int(header.indexOf("ensemble_acc")),
                  b2 = int(header.indexOf("branch2_acc")), test = int(header.indexOf("test_acc"));
        int epochRows = 0;
        for (int i = 1; i < lines.size(); ++i) {
            const auto cells = lines[i].split(',');
            if (cells[role] != "student" || cells[ens].isEmpty())
                continue;
            ++epochRows;
            QVERIFY2(cells[ens].toDouble() > 0.3, qPrintable(lines[i]));
            QCOMPARE(cells[b2], cells[test]); // branch 2 is the deployed student
        }
        QCOMPARE(epochRows, 2);

        // The summary: the deliverable's parameters and the whole network's; files for each.
        const auto s = readJson(run + "/summary.json");
        const auto &st = s["models"]["student"];
        const auto &scratch = s["models"]["student_scratch"];
        QCOMPARE(st["params"], scratch["params"]); // one branch with the trunk is the plain model
        QVERIFY(st["total_params"].get<std::int64_t>() > st["params"].get<std::int64_t>());
        QCOMPARE(st["final_test_acc"], st["final_branch2_acc"]);
        for (const char *file : {"student.pt", "student_multibranch.pt", "student_branch1.pt", "student_branch2.pt",
                                 "student_branch3.pt"})
            QVERIFY2(QFile::exists(run + "/" + file), file);
        const auto whole = kd::readCheckpointMeta((run + "/student_multibranch.pt").toStdString());
        QCOMPARE(whole["multi_branch"]["branches"], json(3));
        QCOMPARE(whole["multi_branch"]["params"], st["total_params"]);

        // student.pt and each branch load as a plain cnn_small and score what the run reported.
        const auto registries = kd::Registries::builtin();
        const auto &arch = registries.architectures.get("cnn_small");
        kd::Project p = kd::Project::fromJson(oneProject(tmp.path(), true));
        const auto data = kd::loadDataset(registries.datasets, p.dataset, p.seed);
        std::vector<std::pair<std::int64_t, std::int64_t>> params; // (meta, counted) of every file scored
        auto score = [&](const QString &file) {
            auto m = arch.create(kd::resolveParams(arch.params, {{"width", 4}}, "arch"), kd::InputShape{1, 28, 28}, 10);
            const auto meta = kd::loadCheckpoint(*m, (run + "/" + file).toStdString());
            params.emplace_back(meta["params"].get<std::int64_t>(), m->parameterCount());
            return kd::evaluateAccuracy(*m, data->test, torch::kCPU, 500);
        };
        QCOMPARE(score("student.pt"), st["final_test_acc"].get<double>());
        for (int b = 1; b <= 3; ++b) {
            const auto key = "final_branch" + std::to_string(b) + "_acc";
            QCOMPARE(score(QString("student_branch%1.pt").arg(b)), st[key].get<double>());
        }
        QCOMPARE(params.size(), std::size_t(4));
        for (const auto &pc : params)
            QCOMPARE(pc.first, pc.second);
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("split after stage1 into a trunk"), qPrintable(log));
    }

    void fflDefaultsAreTheAuthors()
    {
        checkMultiBranchDefaults("ffl", {"temperature", "weight", "branches", "split", "fusion_weight_decay"});
        const auto &ref = m_golden.at("authors").at("ffl");
        QCOMPARE(create("ffl")->trainableWeightDecay(), ref.at("fusion_weight_decay").get<double>());
    }

    void fflMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("ffl_cases"));
    }

    /// The loss terms and the gradients into every branch's logits and the fused logits, as
    /// the authors' train() computes them (the fused logits and the ensemble are KL targets
    /// without gradient; the fused classifier learns from its CE and the ensemble's KL).
    void fflMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["ffl_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        const auto fused = kd::test::matrixOf(c["fused"]).requires_grad_(true);
        const auto t = kd::fflLoss(z, fused, y, c["T"].get<double>());
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.fusedCe, c["fused_ce"].get<double>(), "fused_ce");
        CHECK_CLOSE(t.kl, c["kl"].get<double>(), "kl");
        CHECK_CLOSE(t.ensemble, kd::test::matrixOf(c["ensemble"]), "branch ensemble");
        const auto total = t.ce + t.fusedCe + c["weight"].get<double>() * t.kl;
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t b = 0; b < z.size(); ++b)
            CHECK_CLOSE(z[b].grad(), kd::test::matrixOf(c["grad_logits"][b]), "gradient of a branch's logits");
        CHECK_CLOSE(fused.grad(), kd::test::matrixOf(c["grad_fused"]), "gradient of the fused logits");
    }

    /// Through a real multi-branch network: the fusion module is the authors' (depthwise 3×3 on
    /// the concatenated maps, 1×1 back to C, a classifier), the loss reaches the trunk, every
    /// branch and the module, and the fused and ensemble accuracies are measured.
    void fflTrainsTrunkBranchesAndFusion()
    {
        auto method = create("ffl", {{"split", "stage1"}, {"branches", 3}});
        const auto *layout = method->branchLayout();
        QVERIFY(layout);
        auto make = [&] { return model("cnn_small", {{"width", 4}}); };
        kd::MultiBranchNet net(make, *layout, "cnn_small");
        const auto x = torch::randn({8, 1, 28, 28});
        const auto maps = net.forwardFeatures(x).get("branch1.head_input");
        QCOMPARE(maps.dim(), std::int64_t(4));
        const auto c = maps.size(1);
        setUpOn(*method, net, x, 10);
        const auto fusion = method->trainableModule();
        QVERIFY(fusion);
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto &kv : fusion->named_parameters())
            shapes[kv.key()] = kv.value().sizes().vec();
        const std::map<std::string, std::vector<std::int64_t>> want{
            {"conv1.weight", {3 * c, 1, 3, 3}}, // depthwise over the three branches' C channels each
            {"bn1.weight", {3 * c}},           {"bn1.bias", {3 * c}},
            {"conv1_1.weight", {c, 3 * c, 1, 1}}, {"bn1_1.weight", {c}}, {"bn1_1.bias", {c}},
            {"fc2.weight", {10, c}},           {"fc2.bias", {10}}};
        QCOMPARE(shapes, want);

        kd::StepContext ctx;
        ctx.epoch = 1;
        ctx.epochs = 30;
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        auto loss = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "kl_weight"), std::exp(-5.0), "ramped KL weight at the first epoch");
        for (const char *term : {"ce", "fused_ce", "kl"})
            QVERIFY2(std::isfinite(termOf(loss, term).item<double>()), term);
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*fusion);

        kd::TensorDataset set;
        set.images = torch::randn({40, 1, 28, 28});
        set.labels = torch::randint(0, 10, {40}, torch::kInt64);
        QCOMPARE(method->extraMetrics(),
                 (std::vector<std::string>{"branch1_acc", "branch2_acc", "branch3_acc", "ensemble_acc", "fused_acc"}));
        for (const auto &n : method->extraMetrics())
            QVERIFY(std::isfinite(method->evaluateExtra(n, net, set, torch::kCPU, 16)));
    }

    /// The fusion module's parameters form a second group of the stage's optimiser with the
    /// authors' weight decay; everything else (lr, momentum, Nesterov) is the stage's.
    void fflFusionHasItsOwnWeightDecay()
    {
        kd::TrainOptions o;
        o.lr = 0.1;
        o.weightDecay = 1e-4;
        o.nesterov = true;
        const std::vector<torch::Tensor> net{torch::zeros({3}, torch::requires_grad())};
        const std::vector<torch::Tensor> fusion{torch::zeros({2}, torch::requires_grad())};
        auto opt = kd::makeOptimizer(o, net, fusion, 1e-5);
        QCOMPARE(int(opt->param_groups().size()), 2);
        const auto &g0 = static_cast<const torch::optim::SGDOptions &>(opt->param_groups()[0].options());
        const auto &g1 = static_cast<const torch::optim::SGDOptions &>(opt->param_groups()[1].options());
        QCOMPARE(g0.weight_decay(), 1e-4);
        QCOMPARE(g1.weight_decay(), 1e-5);
        QVERIFY(g1.nesterov() && g1.momentum() == 0.9 && g1.lr() == 0.1);
        kd::setLearningRate(*opt, 0.01); // the schedule moves both groups
        QCOMPARE(static_cast<const torch::optim::SGDOptions &>(opt->param_groups()[1].options()).lr(), 0.01);
        // Without an own weight decay everything is one group, as before.
        QCOMPARE(int(kd::makeOptimizer(o, net, fusion, -1.0)->param_groups().size()), 1);
        o.optimizer = "adam";
        auto adam = kd::makeOptimizer(o, net, fusion, 1e-5);
        QCOMPARE(static_cast<const torch::optim::AdamOptions &>(adam->param_groups()[1].options()).weight_decay(), 1e-5);
    }

    void fflRefusesNetworksWithoutFeatureMaps()
    {
        auto method = create("ffl", {{"split", "stage1"}});
        auto make = [&] { return model("mlp", {{"hidden", json::array({16, 16})}}); };
        kd::MultiBranchNet net(make, *method->branchLayout(), "mlp");
        const auto msg = errorOf([&] { setUpOn(*method, net, torch::randn({4, 1, 28, 28}), 10); });
        QVERIFY2(msg.find("choose a convolutional student") != std::string::npos, msg.c_str());
    }

    void fflTrainsAndDeliversBranches()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto r = runOnResnet8(tmp, {{"name", "ffl"}, {"split", "stage1"}});
        QVERIFY2(!r.header.isEmpty(), "the run did not complete");
        for (const char *col : {"loss_ce", "loss_fused_ce", "loss_kl", "branch1_acc", "branch2_acc", "ensemble_acc",
                                "fused_acc"})
            QVERIFY2(r.header.contains(col), col);
        QVERIFY2(r.student["final_fused_acc"].get<double>() > 0.3, r.student.dump().c_str());
        QCOMPARE(r.student["final_test_acc"], r.student["final_branch1_acc"]);
        for (const char *file : {"student.pt", "student_branch1.pt", "student_branch2.pt", "student_multibranch.pt"})
            QVERIFY2(QFile::exists(r.dir + "/" + file), file);
        QVERIFY2(r.log.contains("ffl: 2 branches after stage1, fusion module on their last feature maps (weight decay "
                                "1e-05)"),
                 qPrintable(r.log));
    }

    void okddipDefaultsAreTheAuthors()
    {
        checkMultiBranchDefaults("okddip",
                                 {"temperature", "weight", "branches", "split", "projection_factor", "deploy_branch"});
        // deploy_branch 0 is the last branch: the group leader, the authors' deliverable.
        QCOMPARE(create("okddip")->branchLayout()->deployed, 3);
        QCOMPARE(create("okddip", {{"branches", 5}})->branchLayout()->deployed, 4);
        QCOMPARE(create("okddip", {{"deploy_branch", 2}})->branchLayout()->deployed, 1);
        const auto msg = errorOf([&] { create("okddip", {{"branches", 2}}); });
        QVERIFY2(msg.find("okddip needs at least two peers and a group leader: set branches to 3") != std::string::npos,
                 msg.c_str());
    }

    void okddipMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("okddip_cases"));
    }

    /// The attention over the peers, the terms and the gradients into every branch's logits
    /// and into the attention's queries and keys, as the authors' train() computes them (their
    /// KL keeps the target's gradient: peers and the attention learn through the targets).
    void okddipMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["okddip_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        std::vector<torch::Tensor> qs, ks;
        for (const auto &m : c["queries"])
            qs.push_back(kd::test::matrixOf(m));
        for (const auto &m : c["keys"])
            ks.push_back(kd::test::matrixOf(m));
        const auto q = torch::stack(qs).requires_grad_(true);
        const auto k = torch::stack(ks).requires_grad_(true);
        const auto a = kd::okddipAttention(q, k);
        for (std::size_t b = 0; b < c["attention"].size(); ++b)
            CHECK_CLOSE(a[std::int64_t(b)], kd::test::matrixOf(c["attention"][b]), "attention");
        const auto t = kd::okddipLoss(z, a, y, c["T"].get<double>());
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.kl, c["kl"].get<double>(), "kl");
        CHECK_CLOSE(t.leaderKl, c["leader_kl"].get<double>(), "leader_kl");
        CHECK_CLOSE(t.ensemble, kd::test::matrixOf(c["ensemble"]), "peer ensemble");
        const auto total = t.ce + c["weight"].get<double>() * (t.kl + t.leaderKl);
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t b = 0; b < z.size(); ++b)
            CHECK_CLOSE(z[b].grad(), kd::test::matrixOf(c["grad_logits"][b]), "gradient of a branch's logits");
        for (std::size_t b = 0; b < c["grad_queries"].size(); ++b) {
            CHECK_CLOSE(q.grad()[std::int64_t(b)], kd::test::matrixOf(c["grad_queries"][b]), "gradient of the queries");
            CHECK_CLOSE(k.grad()[std::int64_t(b)], kd::test::matrixOf(c["grad_keys"][b]), "gradient of the keys");
        }
    }

    /// Through a real multi-branch network: shared query and key projections C → C/8 on the
    /// peers' pooled maps; the loss reaches the trunk, every branch and both projections; the
    /// accuracies are each branch's and the peers' ensemble.
    void okddipTrainsTrunkBranchesAndAttention()
    {
        auto method = create("okddip", {{"split", "stage1"}});
        const auto *layout = method->branchLayout();
        QVERIFY(layout);
        auto make = [&] { return model("resnet8", json::object()); };
        kd::MultiBranchNet net(make, *layout, "resnet8");
        const auto x = torch::randn({8, 1, 28, 28});
        const auto c = net.forwardFeatures(x).get("branch1.head_input").size(1);
        setUpOn(*method, net, x, 10);
        const auto attention = method->trainableModule();
        QVERIFY(attention);
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto &kv : attention->named_parameters())
            shapes[kv.key()] = kv.value().sizes().vec();
        QCOMPARE(shapes, (std::map<std::string, std::vector<std::int64_t>>{{"query.weight", {c / 8, c}},
                                                                           {"key.weight", {c / 8, c}}}));
        kd::StepContext ctx;
        ctx.epoch = 31;
        ctx.epochs = 30;
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        auto loss = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "kl_weight"), 1.0, "KL weight after the ramp-up");
        for (const char *term : {"ce", "kl", "leader_kl"})
            QVERIFY2(std::isfinite(termOf(loss, term).item<double>()) && termOf(loss, term).item<double>() > 0, term);
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*attention);

        kd::TensorDataset set;
        set.images = torch::randn({40, 1, 28, 28});
        set.labels = torch::randint(0, 10, {40}, torch::kInt64);
        QCOMPARE(method->extraMetrics(), (std::vector<std::string>{"branch1_acc", "branch2_acc", "branch3_acc",
                                                                   "branch4_acc", "ensemble_acc"}));
        for (const auto &n : method->extraMetrics())
            QVERIFY(std::isfinite(method->evaluateExtra(n, net, set, torch::kCPU, 16)));
    }

    void okddipTrainsAndDeliversTheLeader()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto r = runOnResnet8(tmp, {{"name", "okddip"}, {"split", "stage1"}, {"branches", 3}});
        QVERIFY2(!r.header.isEmpty(), "the run did not complete");
        for (const char *col : {"loss_ce", "loss_kl", "loss_leader_kl", "branch1_acc", "branch3_acc", "ensemble_acc"})
            QVERIFY2(r.header.contains(col), col);
        QVERIFY2(r.student["final_branch3_acc"].get<double>() > 0.3, r.student.dump().c_str());
        QCOMPARE(r.student["final_test_acc"], r.student["final_branch3_acc"]); // the leader is the student
        for (const char *file : {"student.pt", "student_branch3.pt", "student_multibranch.pt"})
            QVERIFY2(QFile::exists(r.dir + "/" + file), file);
        QVERIFY2(r.log.contains("okddip: 2 peers and a group leader after stage1"), qPrintable(r.log));
        QVERIFY2(r.log.contains("branch 3 is the student"), qPrintable(r.log));
    }

    void pclDefaultsAreThePapers()
    {
        checkMultiBranchDefaults("pcl", {"temperature", "weight", "ema_decay", "branches", "split", "deploy_branch"});
        auto method = create("pcl");
        QCOMPARE(method->branchLayout()->deployed, 0); // peer 1's temporal mean is delivered
        QCOMPARE(method->inputViews(), 3);              // one augmented view per peer
        QCOMPARE(create("pcl", {{"branches", 4}})->inputViews(), 4);
    }

    void pclMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("pcl_cases"));
    }

    /// The peer ensemble teacher (a linear head on the concatenated features), the four terms
    /// and the gradients into every peer's logits and features and into the head, as the
    /// paper's Eq. 7 (the reproduction's loss_wrapper.py) computes them: the ensemble and the
    /// temporal means are read without gradient; then the temporal mean's decay schedule.
    void pclMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["pcl_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        std::vector<torch::Tensor> mean, feats;
        for (const auto &m : c["mean_logits"])
            mean.push_back(kd::test::matrixOf(m).requires_grad_(true));
        for (const auto &f : c["features"])
            feats.push_back(kd::test::matrixOf(f).requires_grad_(true));
        const auto w = kd::test::matrixOf(c["head_weight"]).requires_grad_(true);
        const auto b = torch::tensor(c["head_bias"].get<std::vector<double>>(), torch::kFloat64).requires_grad_(true);
        const auto ensemble = torch::nn::functional::linear(torch::cat(feats, 1), w, b);
        CHECK_CLOSE(ensemble, kd::test::matrixOf(c["ensemble"]), "peer ensemble teacher");
        const auto t = kd::pclLoss(z, ensemble, mean, y, c["T"].get<double>());
        CHECK_CLOSE(t.ensembleCe, c["ensemble_ce"].get<double>(), "ensemble_ce");
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.pe, c["pe"].get<double>(), "peer ensemble KL");
        CHECK_CLOSE(t.pm, c["pm"].get<double>(), "peer mean KL");
        const auto total = t.ensembleCe + t.ce + c["weight"].get<double>() * (t.pe + t.pm);
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t k = 0; k < z.size(); ++k) {
            CHECK_CLOSE(z[k].grad(), kd::test::matrixOf(c["grad_logits"][k]), "gradient of a peer's logits");
            CHECK_CLOSE(feats[k].grad(), kd::test::matrixOf(c["grad_features"][k]), "gradient of a peer's features");
            QVERIFY(!mean[k].grad().defined()); // the temporal means are targets only
        }
        CHECK_CLOSE(w.grad(), kd::test::matrixOf(c["grad_head_weight"]), "gradient of the ensemble head's weight");
        CHECK_CLOSE(b.grad(), torch::tensor(c["grad_head_bias"].get<std::vector<double>>(), torch::kFloat64),
                    "gradient of the ensemble head's bias");

        auto ema = torch::tensor(c["ema_start"].get<std::vector<double>>(), torch::kFloat64);
        const double decay = c["ema_decay"].get<double>();
        std::int64_t step = 0;
        for (const auto &p : c["ema_steps"]) {
            const double a = kd::temporalMeanDecay(step++, decay);
            ema = a * ema + (1.0 - a) * torch::tensor(p.get<std::vector<double>>(), torch::kFloat64);
        }
        CHECK_CLOSE(ema, torch::tensor(c["ema_result"].get<std::vector<double>>(), torch::kFloat64), "temporal mean");
        QCOMPARE(kd::temporalMeanDecay(0, 0.999), 0.0); // the first step copies the weights
        QCOMPARE(kd::temporalMeanDecay(9, 0.999), 0.9);
        QCOMPARE(kd::temporalMeanDecay(100000, 0.999), 0.999);
    }

    /// Through a real multi-branch network: every peer on its own view, the loss reaching the
    /// trunk, every peer and the ensemble head but not the temporal mean, which follows the
    /// trained weights after each step, is what the method delivers and what its state holds.
    void pclTrainsPeersHeadAndTemporalMean()
    {
        auto method = create("pcl", {{"split", "stage1"}});
        const auto *layout = method->branchLayout();
        auto make = [&] { return model("resnet8", json::object()); };
        kd::MultiBranchNet net(make, *layout, "resnet8");
        const auto x = torch::randn({8, 1, 28, 28});
        kd::MethodSetup setup;
        setup.student = shapesOf(net);
        setup.numClasses = 10;
        setup.newStudent = [&] { return std::make_shared<kd::MultiBranchNet>(make, *layout, "resnet8"); };
        method->setup(setup);
        const auto head = method->trainableModule();
        QVERIFY(head);
        const auto d = net.forwardFeatures(x).get("branch1.pre_logits").size(1);
        QCOMPARE(head->named_parameters()["ensemble_fc.weight"].sizes().vec(), (std::vector<std::int64_t>{10, 3 * d}));
        const auto mean = method->deliveredModel();
        QVERIFY(mean && mean.get() != &net);
        for (const auto &p : mean->parameters())
            QVERIFY(!p.requires_grad());

        const std::vector<torch::Tensor> views{x, torch::randn({8, 1, 28, 28}), torch::randn({8, 1, 28, 28})};
        kd::StepContext ctx;
        ctx.epoch = 31;
        ctx.epochs = 30;
        ctx.inputs = x;
        ctx.views = &views;
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        auto loss = method->compute(net.forwardViews(views), nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "kl_weight"), 1.0, "KL weight after the ramp-up");
        for (const char *term : {"ce", "ensemble_ce", "peer_ensemble_kl", "peer_mean_kl"})
            QVERIFY2(std::isfinite(termOf(loss, term).item<double>()) && termOf(loss, term).item<double>() > 0, term);
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*head);
        for (const auto &p : mean->parameters())
            QVERIFY(!p.grad().defined());

        // Step 0 copies the trained weights; later steps move by 1 − min(1 − 1/(t+1), decay).
        ctx.step = 0;
        method->afterStep(net, ctx);
        const auto live = net.parameters();
        auto ema = mean->parameters();
        QCOMPARE(ema.size(), live.size());
        for (std::size_t k = 0; k < live.size(); ++k)
            QVERIFY(torch::equal(ema[k], live[k].detach()));
        const auto before = ema.back().clone();
        {
            torch::NoGradGuard noGrad;
            live.back().add_(1.0);
        }
        ctx.step = 9;
        method->afterStep(net, ctx);
        CHECK_CLOSE(ema.back(), 0.9 * before + 0.1 * live.back().detach(), "temporal mean after step 9");

        kd::TensorDataset set;
        set.images = torch::randn({40, 1, 28, 28});
        set.labels = torch::randint(0, 10, {40}, torch::kInt64);
        QCOMPARE(method->extraMetrics(),
                 (std::vector<std::string>{"branch1_acc", "branch2_acc", "branch3_acc", "ensemble_acc",
                                           "ema_branch1_acc", "ema_branch2_acc", "ema_branch3_acc"}));
        for (const auto &n : method->extraMetrics())
            QVERIFY(std::isfinite(method->evaluateExtra(n, net, set, torch::kCPU, 16)));
        QCOMPARE(method->evaluateExtra("ema_branch1_acc", net, set, torch::kCPU, 16),
                 kd::evaluateAccuracy(*mean, set, torch::kCPU, 16));

        // The method's state is the temporal mean: another instance restores it exactly.
        torch::serialize::OutputArchive out;
        method->saveState(out);
        std::ostringstream bytes;
        out.save_to(bytes);
        auto other = create("pcl", {{"split", "stage1"}});
        other->setup(setup);
        torch::serialize::InputArchive in;
        std::istringstream read(bytes.str());
        in.load_from(read);
        other->loadState(in);
        const auto restored = other->deliveredModel()->parameters();
        for (std::size_t k = 0; k < ema.size(); ++k)
            QVERIFY(torch::equal(restored[k], ema[k]));
        const auto restoredBuffers = other->deliveredModel()->buffers();
        const auto buffers = mean->buffers();
        for (std::size_t k = 0; k < buffers.size(); ++k)
            QVERIFY(torch::equal(restoredBuffers[k], buffers[k]));
        auto wrong = create("pcl", {{"split", "stage1"}, {"branches", 2}});
        auto wrongSetup = setup;
        const kd::BranchLayout two = *wrong->branchLayout();
        wrongSetup.newStudent = [&] { return std::make_shared<kd::MultiBranchNet>(make, two, "resnet8"); };
        wrong->setup(wrongSetup);
        std::istringstream again(bytes.str());
        torch::serialize::InputArchive in2;
        in2.load_from(again);
        const auto msg = errorOf([&] { wrong->loadState(in2); });
        QVERIFY2(msg.find("belongs to another run") != std::string::npos, msg.c_str());
    }

    /// A real run: every peer on its own augmented view, the temporal mean of peer 1 is the
    /// student (its accuracy the run's, its weights in student.pt, which reloads and scores it).
    void pclTrainsAndDeliversTheTemporalMean()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        auto project = oneProject(tmp.path(), false);
        project["student"]["arch"] = "resnet8";
        project["student"].erase("arch_options");
        project["dataset"]["augment"] = {{"random_crop_padding", 2}, {"horizontal_flip", true}};
        project["method"] = {{"name", "pcl"}, {"split", "stage1"}};
        const auto summary = kd::test::runProject(project, run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        const auto header = readLines(run + "/metrics.csv").front().split(',');
        for (const char *col : {"loss_ce", "loss_ensemble_ce", "loss_peer_ensemble_kl", "loss_peer_mean_kl",
                                "branch1_acc", "ensemble_acc", "ema_branch1_acc", "ema_branch3_acc"})
            QVERIFY2(header.contains(col), col);
        const auto st = readJson(run + "/summary.json")["models"]["student"];
        QVERIFY2(st["final_ema_branch1_acc"].get<double>() > 0.3, st.dump().c_str());
        QCOMPARE(st["final_test_acc"], st["final_ema_branch1_acc"]); // the temporal mean is the student

        const auto registries = kd::Registries::builtin();
        kd::Project p = kd::Project::fromJson(project);
        const auto data = kd::loadDataset(registries.datasets, p.dataset, p.seed);
        const auto meta = kd::readCheckpointMeta((run + "/student.pt").toStdString());
        QVERIFY2(meta.value("delivered", std::string()).find("temporal mean") != std::string::npos, meta.dump().c_str());
        auto m = model("resnet8");
        kd::loadCheckpoint(*m, (run + "/student.pt").toStdString());
        QCOMPARE(kd::evaluateAccuracy(*m, data->test, torch::kCPU, 500), st["final_test_acc"].get<double>());
        QVERIFY(QFile::exists(run + "/student_multibranch.pt"));
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("pcl: 3 peers after stage1, each on its own augmented view"), qPrintable(log));
        QVERIFY2(log.contains("the temporal mean of branch 1 is the student"), qPrintable(log));
        QVERIFY2(!log.contains("this dataset is not augmented"), qPrintable(log));
    }

    void mclDefaultsAreTheAuthors()
    {
        checkMultiBranchDefaults("mcl", {"temperature", "ce_weight", "weight", "beta", "feat_dim", "nce_k", "nce_t",
                                         "nce_momentum", "branches", "split", "deploy_branch"});
        QCOMPARE(create("mcl")->branchLayout()->deployed, 3); // the last branch, the one the ensemble teaches
    }

    void mclMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("mcl_cases"));
    }

    /// Every pair's two contrastive scores (each branch's embedding against the other's bank,
    /// renormalised per batch), the terms, the gradients into every branch's logits and
    /// embeddings (none into the banks), and the bank update, as the authors' code computes them.
    void mclMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["mcl_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        std::vector<torch::Tensor> emb, mem;
        for (const auto &r : c["embeddings"])
            emb.push_back(kd::test::matrixOf(r).requires_grad_(true));
        for (const auto &r : c["memories"])
            mem.push_back(kd::test::matrixOf(r).requires_grad_(true)); // must not collect a gradient
        std::vector<std::int64_t> flat;
        for (const auto &r : c["idx"])
            for (const auto &v : r)
                flat.push_back(v.get<std::int64_t>());
        const auto idx = torch::tensor(flat, torch::kInt64).view({std::int64_t(c["idx"].size()), -1});
        const auto nData = c["n_data"].get<std::int64_t>();
        const auto scores = kd::mclScores(mem, emb, idx, c["nce_t"].get<double>(), nData);
        QCOMPARE(scores.size(), c["scores"].size());
        for (std::size_t i = 0; i < scores.size(); ++i)
            CHECK_CLOSE(scores[i], kd::test::matrixOf(c["scores"][i]), "contrastive scores");
        const auto t = kd::mclLoss(z, scores, y, c["T"].get<double>(), nData);
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.kl, c["kl"].get<double>(), "kl");
        CHECK_CLOSE(t.contrast, c["contrast"].get<double>(), "contrast");
        const auto total =
            c["gamma"].get<double>() * t.ce + c["alpha"].get<double>() * t.kl + c["beta"].get<double>() * t.contrast;
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t b = 0; b < z.size(); ++b) {
            CHECK_CLOSE(z[b].grad(), kd::test::matrixOf(c["grad_logits"][b]), "gradient of a branch's logits");
            CHECK_CLOSE(emb[b].grad(), kd::test::matrixOf(c["grad_embeddings"][b]), "gradient of an embedding");
            QVERIFY(!mem[b].grad().defined());
        }
        const auto anchors = idx.select(1, 0).contiguous();
        for (std::size_t b = 0; b < mem.size(); ++b)
            CHECK_CLOSE(kd::crdUpdatedRows(mem[b].detach(), emb[b], anchors, c["momentum"].get<double>()),
                        kd::test::matrixOf(c["updated_rows"][b]), "updated bank rows");
    }

    /// Through a real network: one embedding head and one bank per branch, sized from the
    /// branches' pre-logits; the loss reaches trunk, branches and heads; a step writes the
    /// batch's rows of every bank (unit length) and no others; too many negatives are capped
    /// with a note; the sampler's state round-trips through an archive.
    void mclTrainsTrunkBranchesAndHeads()
    {
        auto method = create("mcl", {{"branches", 3}, {"nce_k", 100000}});
        auto make = [&] { return model("resnet8", json::object()); };
        kd::MultiBranchNet net(make, *method->branchLayout(), "resnet8");
        const auto x = torch::randn({8, 1, 28, 28});
        const auto rep = net.forwardFeatures(x).get("branch1.pre_logits").size(1);
        const auto setup = setUpOn(*method, net, x, 10, torch::arange(50, torch::kInt64).remainder(5)); // 10 a class
        const auto notes = method->setupNotes();
        QVERIFY(notes.size() == 2 && notes[1].find("using 40") != std::string::npos);
        const auto state = method->trainableModule();
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto &kv : state->named_parameters())
            shapes[kv.key()] = kv.value().sizes().vec();
        QCOMPARE(shapes, (std::map<std::string, std::vector<std::int64_t>>{
                             {"embed1.weight", {128, rep}}, {"embed1.bias", {128}}, {"embed2.weight", {128, rep}},
                             {"embed2.bias", {128}}, {"embed3.weight", {128, rep}}, {"embed3.bias", {128}}}));
        std::vector<torch::Tensor> before;
        for (const auto &kv : state->named_buffers())
            before.push_back(kv.value().clone());
        QCOMPARE(int(before.size()), 3);
        QCOMPARE(before[0].sizes().vec(), (std::vector<std::int64_t>{50, 128}));

        kd::StepContext ctx;
        ctx.epoch = 1;
        ctx.epochs = 3;
        ctx.indices = torch::tensor({3, 7, 11, 12, 20, 31, 42, 49}, torch::kInt64);
        const auto y = setup.trainLabels.index_select(0, ctx.indices);
        auto loss = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "kl_weight"), 1.0, "no ramp-up");
        for (const char *term : {"ce", "kl", "contrast"})
            QVERIFY2(std::isfinite(termOf(loss, term).item<double>()), term);
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*state);
        const auto batchRows = torch::zeros({50}, torch::kBool).index_fill_(0, ctx.indices, true);
        std::size_t b = 0;
        for (const auto &kv : state->named_buffers()) {
            const auto &now = kv.value();
            QVERIFY2(!now.index({batchRows}).allclose(before[b].index({batchRows})), kv.key().c_str());
            QVERIFY2(now.index({~batchRows}).equal(before[b].index({~batchRows})), kv.key().c_str());
            CHECK_CLOSE(now.index({batchRows}).norm(2, 1), torch::ones({8}, torch::kFloat64), "unit rows");
            ++b;
        }
        // The sampler's pools are saved and restored with the run: the same next draw.
        torch::serialize::OutputArchive out;
        method->saveState(out);
        std::ostringstream bytes;
        out.save_to(bytes);
        auto other = create("mcl", {{"branches", 3}, {"nce_k", 100000}});
        other->setup(setup);
        torch::serialize::InputArchive in;
        std::istringstream src(bytes.str());
        in.load_from(src);
        other->loadState(in);
        {
            // The heads and banks travel with the module's checkpoint; copy them here.
            torch::NoGradGuard noGrad;
            auto to = other->trainableModule();
            for (const auto &kv : state->named_parameters())
                to->named_parameters()[kv.key()].copy_(kv.value());
            for (const auto &kv : state->named_buffers())
                to->named_buffers()[kv.key()].copy_(kv.value());
        }
        net.eval(); // the same features for both calls
        torch::manual_seed(3);
        const auto a = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        torch::manual_seed(3);
        const auto c = other->compute(net.forwardFeatures(x), nullptr, y, ctx);
        QCOMPARE(termOf(c, "contrast").item<double>(), termOf(a, "contrast").item<double>());
        const auto bad = errorOf([&] {
            kd::StepContext noIdx;
            method->compute(net.forwardFeatures(x), nullptr, y, noIdx);
        });
        QVERIFY2(bad.find("needs the training-set indices") != std::string::npos, bad.c_str());
    }

    void mclTrainsAndDeliversTheLastBranch()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto r = runOnResnet8(tmp, {{"name", "mcl"}, {"branches", 3}, {"nce_k", 256}});
        QVERIFY2(!r.header.isEmpty(), "the run did not complete");
        for (const char *col : {"loss_ce", "loss_kl", "loss_contrast", "branch1_acc", "branch3_acc", "ensemble_acc"})
            QVERIFY2(r.header.contains(col), col);
        QVERIFY2(r.student["final_branch3_acc"].get<double>() > 0.3, r.student.dump().c_str());
        QCOMPARE(r.student["final_test_acc"], r.student["final_branch3_acc"]);
        for (const char *file : {"student.pt", "student_branch3.pt", "student_multibranch.pt"})
            QVERIFY2(QFile::exists(r.dir + "/" + file), file);
        QVERIFY2(r.log.contains("mcl: 3 branches after stage1, embeddings 64 → 128 with a memory bank of 1024 rows "
                                "each, 256 negatives per anchor; branch 3 is the student"),
                 qPrintable(r.log));
    }

    void studentEnsembleDefaultsAreTheAuthors()
    {
        checkMultiBranchDefaults("student_ensemble",
                                 {"temperature", "ce_weight", "feature_weight", "kd_weight", "branches", "split",
                                  "deploy_branch"});
        const auto method = create("student_ensemble");
        const auto *layout = method->branchLayout();
        QCOMPARE(layout->widthFractions, (std::vector<double>{1.0, 0.8, 0.6, 0.4, 0.2})); // (N − j) / N
        QCOMPARE(layout->deployed, 4); // the most compressed student is student.pt
        QCOMPARE(create("student_ensemble", {{"branches", 3}})->branchLayout()->widthFractions,
                 (std::vector<double>{1.0, 2.0 / 3.0, 1.0 / 3.0}));
    }

    /// The narrower students are the architecture with its stages' widths times the fraction,
    /// truncated as the authors' int(c · (N − j)/N), the stem's kept: ResNet-110's five students.
    void resnetWidthFractionNarrowsTheStages()
    {
        for (const auto &[fraction, widths] : std::vector<std::pair<double, std::vector<std::int64_t>>>{
                 {1.0, {16, 32, 64}}, {0.8, {12, 25, 51}}, {0.6, {9, 19, 38}}, {0.4, {6, 12, 25}}, {0.2, {3, 6, 12}}}) {
            auto net = model("resnet110", {{"width_fraction", fraction}}, {3, 32, 32});
            torch::NoGradGuard noGrad;
            net->eval();
            const auto f = net->forwardFeatures(torch::zeros({1, 3, 32, 32}));
            QCOMPARE(net->named_parameters()["conv1.weight"].size(0), std::int64_t(16)); // the stem's kept
            for (int k = 1; k <= 3; ++k)
                QCOMPARE(f.get("stage" + std::to_string(k)).size(1), widths[std::size_t(k - 1)]);
        }
    }

    void studentEnsembleMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("student_ensemble_cases"));
    }

    /// CE and KD over every student (the widest too) against the detached mean of their
    /// logits, the adapted stage maps' MSE to the widest student's (its maps without gradient),
    /// and the gradients into every student's logits and adapted maps, as BOC-KD computes them.
    void studentEnsembleMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["student_ensemble_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = branchLogitsOf(c);
        auto mapOf = [&](const json &rows, std::size_t k) {
            return kd::test::matrixOf(rows).view(c["shapes"][k].get<std::vector<std::int64_t>>());
        };
        std::vector<torch::Tensor> widest;
        std::vector<std::vector<torch::Tensor>> adapted;
        for (std::size_t k = 0; k < c["widest"].size(); ++k) {
            widest.push_back(mapOf(c["widest"][k], k).requires_grad_(true));
            adapted.emplace_back();
            for (const auto &a : c["adapted"][k])
                adapted.back().push_back(mapOf(a, k).requires_grad_(true));
        }
        const auto t = kd::studentEnsembleLoss(z, adapted, widest, y, c["T"].get<double>());
        CHECK_CLOSE(t.ce, c["ce"].get<double>(), "ce");
        CHECK_CLOSE(t.kd, c["kd"].get<double>(), "kd");
        CHECK_CLOSE(t.feat, c["feat"].get<double>(), "feat");
        CHECK_CLOSE(t.ensemble, kd::test::matrixOf(c["ensemble"]), "ensemble teacher");
        const auto &a = c["weights"];
        const auto total = a[0].get<double>() * t.ce + a[1].get<double>() * t.feat + a[2].get<double>() * t.kd;
        CHECK_CLOSE(total, c["total"].get<double>(), "total");
        total.backward();
        for (std::size_t b = 0; b < z.size(); ++b)
            CHECK_CLOSE(z[b].grad(), kd::test::matrixOf(c["grad_logits"][b]), "gradient of a student's logits");
        for (std::size_t k = 0; k < adapted.size(); ++k) {
            QVERIFY(!widest[k].grad().defined()); // the widest student's maps are targets
            for (std::size_t j = 0; j < adapted[k].size(); ++j)
                CHECK_CLOSE(adapted[k][j].grad().reshape({adapted[k][j].size(0), -1}),
                            kd::test::matrixOf(c["grad_adapted"][k][j]), "gradient of an adapted map");
        }
    }

    /// Through a real network of three ResNet-8 students of widths 1, 2/3, 1/3 on one stem: the
    /// adapters map each narrower student's stage channels to the widest's; the loss reaches the
    /// stem, every student and every adapter; a branch extracts as the narrow architecture; a
    /// shared stage cannot differ in width.
    void studentEnsembleTrainsStemStudentsAndAdapters()
    {
        auto method = create("student_ensemble", {{"branches", 3}});
        const auto &layout = *method->branchLayout();
        kd::MultiBranchNet::BranchFactory make = [&](int b) {
            return model("resnet8", {{"width_fraction", layout.widthFractions[std::size_t(b)]}});
        };
        kd::MultiBranchNet net(make, layout, "resnet8");
        const auto x = torch::randn({8, 1, 28, 28});
        setUpOn(*method, net, x, 10);
        const auto adapters = method->trainableModule();
        std::map<std::string, std::vector<std::int64_t>> shapes;
        for (const auto &kv : adapters->named_parameters())
            if (kv.key().find(".weight") != std::string::npos)
                shapes[kv.key()] = kv.value().sizes().vec();
        QCOMPARE(shapes, (std::map<std::string, std::vector<std::int64_t>>{
                             {"stage1_student2.weight", {16, 10, 1, 1}}, {"stage1_student3.weight", {16, 5, 1, 1}},
                             {"stage2_student2.weight", {32, 21, 1, 1}}, {"stage2_student3.weight", {32, 10, 1, 1}},
                             {"stage3_student2.weight", {64, 42, 1, 1}}, {"stage3_student3.weight", {64, 21, 1, 1}}}));
        const auto notes = method->setupNotes();
        QVERIFY2(notes.front().find("3 students after the stem, stage widths 16/32/64; 10/21/42; 5/10/21") !=
                     std::string::npos,
                 notes.front().c_str());
        kd::StepContext ctx;
        ctx.epoch = 1;
        ctx.epochs = 3;
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        auto loss = method->compute(net.forwardFeatures(x), nullptr, y, ctx);
        for (const char *term : {"ce", "feat", "kd"})
            QVERIFY2(std::isfinite(termOf(loss, term).item<double>()) && termOf(loss, term).item<double>() > 0, term);
        loss.total.backward();
        checkAllGradients(net);
        checkAllGradients(*adapters);

        net.eval();
        const auto third = net.extractBranch(2, make);
        QCOMPARE(third->parameterCount(), model("resnet8", {{"width_fraction", 1.0 / 3.0}})->parameterCount());
        torch::NoGradGuard noGrad;
        third->eval();
        CHECK_CLOSE(third->forwardFeatures(x).logits(), net.forwardFeatures(x).get("branch3.logits"),
                    "the extracted student computes what its branch does");

        auto split = layout;
        split.split = 1;
        const auto msg = errorOf([&] { kd::MultiBranchNet wrong(make, split, "resnet8"); });
        QVERIFY2(msg.find("differs from branch 1 in its shared part") != std::string::npos, msg.c_str());
    }

    /// A run delivers every student with its own width: each file reloads as the narrow
    /// architecture its metadata names and scores what the run reported; the scratch twin is
    /// the deliverable's width; an architecture without widths is refused.
    void studentEnsembleTrainsAndDeliversEveryStudent()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        auto project = oneProject(tmp.path(), true);
        project["student"]["arch"] = "resnet8";
        project["student"].erase("arch_options");
        project["method"] = {{"name", "student_ensemble"}, {"branches", 3}};
        const auto summary = kd::test::runProject(project, run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        const auto header = readLines(run + "/metrics.csv").front().split(',');
        for (const char *col : {"loss_ce", "loss_feat", "loss_kd", "branch1_acc", "branch3_acc", "ensemble_acc"})
            QVERIFY2(header.contains(col), col);
        const auto s = readJson(run + "/summary.json");
        const auto &st = s["models"]["student"];
        QCOMPARE(st["final_test_acc"], st["final_branch3_acc"]);
        QCOMPARE(st["params"], s["models"]["student_scratch"]["params"]); // the twin is the narrow student
        const auto narrow = model("resnet8", {{"width_fraction", 1.0 / 3.0}});
        QCOMPARE(st["params"].get<std::int64_t>(), narrow->parameterCount());

        const auto registries = kd::Registries::builtin();
        const auto &arch = registries.architectures.get("resnet8");
        kd::Project p = kd::Project::fromJson(project);
        const auto data = kd::loadDataset(registries.datasets, p.dataset, p.seed);
        for (int b = 1; b <= 3; ++b) {
            const auto file = (run + QString("/student_branch%1.pt").arg(b)).toStdString();
            const auto meta = kd::readCheckpointMeta(file);
            const double fraction = meta["arch_options"]["width_fraction"].get<double>();
            QVERIFY(std::abs(fraction - double(4 - b) / 3.0) < 1e-12);
            auto m = arch.create(meta["arch_options"], kd::InputShape{1, 28, 28}, 10);
            kd::loadCheckpoint(*m, file);
            QCOMPARE(meta["params"].get<std::int64_t>(), m->parameterCount());
            QCOMPARE(kd::evaluateAccuracy(*m, data->test, torch::kCPU, 500),
                     st["final_branch" + std::to_string(b) + "_acc"].get<double>());
        }
        QVERIFY(QFile::exists(run + "/student.pt"));
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("student_ensemble: 3 students after the stem"), qPrintable(log));

        project["student"]["arch"] = "cnn_small";
        const auto msg = errorOf([&] { kd::test::runProject(project, tmp.filePath("refused").toStdString()); });
        QVERIFY2(msg.find("\"cnn_small\" does not have; choose a CIFAR ResNet") != std::string::npos, msg.c_str());
    }

    /// Branch b runs on view b: with several inputs each branch's outputs are those a
    /// one-input forward of that view gives it; "trunk" and the deployed features are view 1's.
    void multiBranchRunsEachBranchOnItsView()
    {
        auto method = create("one", {{"split", "stage1"}, {"branches", 3}, {"deploy_branch", 1}});
        auto make = [&] { return model("resnet8"); };
        kd::MultiBranchNet net(make, *method->branchLayout(), "resnet8");
        net.eval();
        torch::NoGradGuard noGrad;
        const std::vector<torch::Tensor> views{torch::randn({4, 1, 28, 28}), torch::randn({4, 1, 28, 28})};
        const auto f = net.forwardViews(views);
        for (int b = 1; b <= 3; ++b) {
            const auto own = net.forwardFeatures(views[std::size_t(b - 1) % 2]);
            const auto key = "branch" + std::to_string(b) + ".logits";
            CHECK_CLOSE(f.get(key), own.get(key), "a branch's logits on its view");
        }
        const auto first = net.forwardFeatures(views[0]);
        CHECK_CLOSE(f.get("trunk"), first.get("trunk"), "the trunk of view 1");
        CHECK_CLOSE(f.logits(), first.logits(), "the deployed branch (branch 1) on view 1");
    }

    /// A method that asks for views gets them in every step (view 1 the batch, the others
    /// augmented apart), and afterStep() follows every optimiser step.
    void trainerGivesViewsAndCallsAfterStep()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        ViewsRecord record;
        auto registries = kd::Registries::builtin();
        auto params = kd::multiBranchParams(2, "stage1", 0.0, "test only");
        registries.methods.add("views_probe", kd::MethodEntry{"test only: records the views it is given", false,
                                                              params, [&record](const json &p) {
                                                                  return std::make_unique<ViewsProbe>(p, &record);
                                                              }});
        QTemporaryDir tmp;
        auto project = oneProject(tmp.path(), false);
        project["student"]["arch"] = "resnet8";
        project["student"].erase("arch_options");
        project["dataset"]["augment"] = {{"random_crop_padding", 2}, {"horizontal_flip", true}};
        project["method"] = {{"name", "views_probe"}};
        const auto summary = kd::test::runProject(project, tmp.filePath("run").toStdString(), registries);
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        QCOMPARE(record.steps, 2 * 16); // 1,024 images in batches of 64, 2 epochs
        QCOMPARE(record.withViews, record.steps);
        QCOMPARE(record.viewOneIsBatch, record.steps);
        QCOMPARE(record.viewsDiffer, record.steps);
        QCOMPARE(record.afterSteps, record.steps);
    }

    void dmlOutsideACohortIsAClearError()
    {
        auto method = create("dml");
        const auto z = torch::randn({4, 10});
        const auto msg = errorOf([&] { method->compute(logitsFeatures(z), nullptr, torch::zeros({4}, torch::kInt64), {}); });
        QVERIFY2(msg.find("peers") != std::string::npos, msg.c_str());
    }

    void cohortProjectRules()
    {
        const auto registries = kd::Registries::builtin();
        auto plan = [&](const json &j) { return kd::planStages(registries.resolve(kd::Project::fromJson(j)), registries.methods); };
        QTemporaryDir tmp;
        // Two peers and their scratch twins, in order; the cohort is stages 0 and 1.
        const auto stages = plan(dmlProject(tmp.path(), true));
        QCOMPARE(int(stages.size()), 4);
        QCOMPARE(QString::fromStdString(stages[0].role), QStringLiteral("peer1"));
        QCOMPARE(QString::fromStdString(stages[1].role), QStringLiteral("peer2"));
        QCOMPARE(QString::fromStdString(stages[3].role), QStringLiteral("peer2_scratch"));
        QCOMPARE(stages[0].cohort, 0);
        QCOMPARE(stages[1].cohort, 0);
        QCOMPARE(stages[2].cohort, -1);
        QCOMPARE(QString::fromStdString(stages[2].method), QStringLiteral("ce"));
        QVERIFY(stages[0].seedOffset != stages[1].seedOffset); // different initial weights
        QCOMPARE(stages[3].seedOffset, stages[1].seedOffset);   // a twin starts as its peer
        QCOMPARE(stages[3].dataSeedOffset, std::int64_t(0));    // on the cohort's batches

        auto one = dmlProject(tmp.path(), false);
        one["peers"].erase(1);
        auto msg = errorOf([&] { plan(one); });
        QVERIFY2(msg.find("at least 2 in \"peers\"") != std::string::npos, msg.c_str());
        auto offline = dmlProject(tmp.path(), false);
        offline["method"] = {{"name", "kd"}};
        msg = errorOf([&] { plan(offline); });
        QVERIFY2(msg.find("not an online method") != std::string::npos, msg.c_str());
        auto uneven = dmlProject(tmp.path(), false);
        uneven["peers"][1]["train"]["epochs"] = 3;
        msg = errorOf([&] { plan(uneven); });
        QVERIFY2(msg.find("same train.epochs") != std::string::npos, msg.c_str());
        auto badPeer = dmlProject(tmp.path(), false);
        badPeer["peers"][1]["arch"] = "no_such_net";
        msg = errorOf([&] { plan(badPeer); });
        QVERIFY2(msg.find("peers[1]") != std::string::npos, msg.c_str());
    }

    void withoutMimicryEachPeerIsItsScratchTwin()
    {
        // weight 0 leaves only each peer's cross-entropy: the cohort must then train every peer
        // exactly as its scratch twin trains alone (same weights, same batches, same updates).
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        auto project = dmlProject(tmp.path(), true);
        project["method"]["weight"] = 0.0;
        const QString run = tmp.filePath("run");
        kd::test::runProject(project, run.toStdString());
        const auto s = readJson(run + "/summary.json");
        for (const char *peer : {"peer1", "peer2"})
            QCOMPARE(s["models"][peer]["final_test_acc"], s["models"][std::string(peer) + "_scratch"]["final_test_acc"]);
    }

    void afdDefaultsAreStated()
    {
        const auto &e = m_methods.get("afd");
        QVERIFY(e.online); // a cohort of networks that share nothing
        QVERIFY(!e.needsTeacher);
        const auto resolved = kd::resolveParams(e.params, json::object(), "method");
        const auto &ref = m_golden.at("authors").at("afd");
        for (const char *key : {"temperature", "weight", "adversarial_weight", "adversarial_lr", "adversarial_weight_decay"})
            QCOMPARE(resolved.at(key), ref.at(key));
        QCOMPARE(create("afd")->secondStepTerms(), std::size_t(2));
        QCOMPARE(create("afd")->termNames(), (std::vector<std::string>{"ce", "kl", "discriminator", "adversarial"}));
    }

    void afdMatchesGolden_data()
    {
        kd::test::addCaseRows(m_golden.at("afd_cases"));
    }

    /// The logit loss as the method computes it in a cohort (the previous peer's logits a
    /// detached target), and the least-squares adversarial terms with their gradients.
    void afdMatchesGolden()
    {
        QFETCH(int, index);
        const auto &c = m_golden["afd_cases"][std::size_t(index)];
        const auto y = kd::test::labelsOf(c["labels"]);
        const auto z = kd::test::matrixOf(c["logits"]).requires_grad_(true);
        const auto peer = kd::test::matrixOf(c["peer_logits"]).requires_grad_(true);
        auto method = create("afd", {{"temperature", c["T"]}, {"weight", c["weight"]}});
        kd::MethodSetup setup;
        const kd::FeatureShapes shapes{{"stage1", {4, 3, 3}}, {"logits", {z.size(1)}}};
        setup.student = shapes;
        setup.cohort = {shapes, shapes};
        setup.cohortIndex = 1; // peer 2 learns from peer 1
        setup.numClasses = int(z.size(1));
        method->setup(setup);
        kd::Features own, other;
        own.add("logits", z);
        other.add("logits", peer);
        const std::vector<kd::Features> cohort{other, own};
        kd::StepContext ctx;
        ctx.cohort = &cohort;
        ctx.cohortIndex = 1;
        const auto loss = method->compute(own, nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "ce"), c["ce"].get<double>(), "ce");
        CHECK_CLOSE(termOf(loss, "kl"), c["kl"].get<double>(), "kl");
        CHECK_CLOSE(loss.total, c["total"].get<double>(), "total");
        loss.total.backward();
        CHECK_CLOSE(z.grad(), kd::test::matrixOf(c["grad_logits"]), "gradient of the network's logits");
        QVERIFY(!peer.grad().defined()); // the previous peer is a target only

        const auto vec = [](const json &v) { return torch::tensor(v.get<std::vector<double>>(), torch::kFloat64); };
        const auto real = vec(c["real_scores"]).requires_grad_(true), fake = vec(c["fake_scores"]).requires_grad_(true);
        const auto d = kd::afdDiscriminatorLoss(real, fake);
        CHECK_CLOSE(d, c["discriminator"].get<double>(), "discriminator loss");
        d.backward();
        CHECK_CLOSE(real.grad(), vec(c["grad_real"]), "gradient of the real scores");
        CHECK_CLOSE(fake.grad(), vec(c["grad_fake_d"]), "gradient of the fake scores (discriminator)");
        const auto fakeG = vec(c["fake_scores"]).requires_grad_(true);
        const auto g = kd::afdGeneratorLoss(fakeG);
        CHECK_CLOSE(g, c["generator"].get<double>(), "generator loss");
        g.backward();
        CHECK_CLOSE(fakeG.grad(), vec(c["grad_fake_g"]), "gradient of the fake scores (network)");
    }

    /// Two real networks of different widths: each one's discriminator reads the previous
    /// peer's last map (a transfer layer matches the channels), the second update moves the
    /// network and its discriminator, and the state (discriminator, both Adams) restores so
    /// that a resumed instance updates exactly as the original does.
    void afdUpdatesNetworksAndDiscriminators()
    {
        std::vector<std::shared_ptr<kd::FeatureNet>> nets{model("resnet8"), model("resnet8", {{"width_fraction", 0.5}})};
        const auto x = torch::randn({8, 1, 28, 28});
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        std::vector<kd::FeatureShapes> shapes;
        for (auto &n : nets)
            shapes.push_back(shapesOf(*n));
        auto setupFor = [&](std::size_t k) {
            kd::MethodSetup setup;
            setup.student = shapes[k];
            setup.cohort = shapes;
            setup.cohortIndex = k;
            setup.numClasses = 10;
            return setup;
        };
        std::vector<std::unique_ptr<kd::DistillationMethod>> methods;
        for (std::size_t k = 0; k < 2; ++k) {
            methods.push_back(create("afd", {{"adversarial_lr", 1e-2}}));
            methods.back()->setup(setupFor(k));
        }
        const auto notes = methods[0]->setupNotes().front();
        QVERIFY2(notes.find("afd: peer1 learns from peer2 (logits at T 3; its stage3 64×7×7 against peer2's stage3 "
                            "32×7×7 through a discriminator after a 1×1 transfer layer") != std::string::npos,
                 notes.c_str());

        auto forwardAll = [&] {
            std::vector<kd::Features> outs;
            for (auto &n : nets)
                outs.push_back(n->forwardFeatures(x));
            return outs;
        };
        const auto outs = forwardAll();
        kd::StepContext ctx;
        ctx.cohort = &outs;
        torch::Tensor total;
        for (std::size_t k = 0; k < 2; ++k) {
            ctx.cohortIndex = k;
            const auto l = methods[k]->compute(outs[k], nullptr, y, ctx);
            QCOMPARE(l.terms.size(), std::size_t(2)); // the adversarial terms come from secondStep()
            total = total.defined() ? total + l.total : l.total;
        }
        total.backward();
        checkAllGradients(*nets[0]);

        // Snapshot, then the second update of peer 1 from fresh outputs.
        auto params = [](kd::FeatureNet &n) {
            std::vector<torch::Tensor> p;
            for (const auto &t : n.parameters())
                p.push_back(t.detach().clone());
            return p;
        };
        const auto before = params(*nets[0]);
        const auto again = forwardAll();
        ctx.cohort = &again;
        ctx.cohortIndex = 0;
        const auto v = methods[0]->secondStep(*nets[0], ctx);
        QCOMPARE(v.size(), std::size_t(2));
        for (double t : v)
            QVERIFY(std::isfinite(t) && t >= 0.0 && t <= 2.0);
        const auto after = params(*nets[0]);
        bool moved = false;
        for (std::size_t k = 0; k < before.size(); ++k)
            moved = moved || !torch::equal(before[k], after[k]);
        QVERIFY2(moved, "the adversarial step did not update the network");
        // The classifier comes after the compared map: the adversarial step leaves it alone.
        const auto names = nets[0]->named_parameters().keys();
        QVERIFY2(names.back().find("fc") != std::string::npos, names.back().c_str());
        QVERIFY(torch::equal(before.back(), after.back()) && torch::equal(before[before.size() - 2], after[after.size() - 2]));

        // Its state: a second instance (and a copy of the network) continues exactly alike.
        std::ostringstream bytes;
        {
            torch::serialize::OutputArchive a;
            methods[0]->saveState(a);
            a.save_to(bytes);
        }
        auto restored = create("afd", {{"adversarial_lr", 1e-2}});
        restored->setup(setupFor(0));
        {
            torch::serialize::InputArchive a;
            std::istringstream in(bytes.str());
            a.load_from(in);
            restored->loadState(a);
        }
        auto twin = model("resnet8");
        {
            torch::serialize::InputArchive a;
            std::ostringstream now;
            torch::serialize::OutputArchive o;
            nets[0]->save(o);
            o.save_to(now);
            std::istringstream in(now.str());
            a.load_from(in);
            twin->load(a);
        }
        const auto third = forwardAll();
        std::vector<kd::Features> thirdTwin{twin->forwardFeatures(x), third[1]};
        ctx.cohort = &third;
        methods[0]->secondStep(*nets[0], ctx);
        ctx.cohort = &thirdTwin;
        restored->secondStep(*twin, ctx);
        const auto a = params(*nets[0]), b = params(*twin);
        for (std::size_t k = 0; k < a.size(); ++k)
            QVERIFY2(torch::allclose(a[k], b[k], 1e-6, 1e-7), "a restored afd does not continue as the original");
    }

    void afdRefusesPeersWithoutComparableMaps()
    {
        const auto x = torch::randn({4, 1, 28, 28});
        const auto resnet = shapesOf(*model("resnet8"));
        const auto mlp = shapesOf(*model("mlp"));
        auto refusal = [&](const std::vector<kd::FeatureShapes> &cohort) {
            kd::MethodSetup setup;
            setup.student = cohort[0];
            setup.cohort = cohort;
            setup.numClasses = 10;
            return errorOf([&] { create("afd")->setup(setup); });
        };
        auto msg = refusal({resnet, mlp});
        QVERIFY2(msg.find("peer2's architecture has none (an MLP); choose convolutional peers") != std::string::npos,
                 msg.c_str());
        const kd::FeatureShapes coarse{{"stage3", {64, 4, 4}}, {"logits", {10}}};
        msg = refusal({resnet, coarse});
        QVERIFY2(msg.find("afd compares peer1's last feature map (stage3, 64×7×7) with peer2's (stage3, 64×4×4): "
                          "their spatial sizes differ") != std::string::npos,
                 msg.c_str());
        kd::MethodSetup alone;
        alone.student = resnet;
        msg = errorOf([&] { create("afd")->setup(alone); });
        QVERIFY2(msg.find("afd\" trains a cohort: list two or more peers") != std::string::npos, msg.c_str());
    }

    /// A real cohort of a ResNet-8 and a half-width one: both updates every batch, the
    /// adversarial terms logged, each peer a deliverable that reloads and scores what it reported.
    void afdCohortTrainsAndDelivers()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        auto project = dmlProject(tmp.path(), false);
        const json train = {{"epochs", 2}, {"batch_size", 64}, {"log_every", 4}, {"lr", 0.05}};
        project["peers"] = {{{"arch", "resnet8"}, {"train", train}},
                            {{"arch", "resnet8"}, {"arch_options", {{"width_fraction", 0.5}}}, {"train", train}}};
        project["method"] = {{"name", "afd"}};
        const auto summary = kd::test::runProject(project, run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        const auto lines = readLines(run + "/metrics.csv");
        const auto header = lines.front().split(',');
        const int role = int(header.indexOf("model")), kind = int(header.indexOf("kind")),
                  d = int(header.indexOf("loss_discriminator")), g = int(header.indexOf("loss_adversarial"));
        QVERIFY(role >= 0 && kind >= 0 && d >= 0 && g >= 0);
        int steps = 0;
        for (int i = 1; i < lines.size(); ++i) {
            const auto cells = lines[i].split(',');
            if (cells[role].startsWith("peer") && cells[kind] == "step") {
                ++steps;
                for (int col : {d, g})
                    QVERIFY2(cells[col].toDouble() > 0.0 && cells[col].toDouble() < 2.0, qPrintable(lines[i]));
            }
        }
        QVERIFY(steps >= 8);
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("afd: peer1 learns from peer2"), qPrintable(log));
        QVERIFY2(log.contains("afd: peer2 learns from peer1"), qPrintable(log));
        const auto s = readJson(run + "/summary.json");
        const auto registries = kd::Registries::builtin();
        kd::Project p = kd::Project::fromJson(project);
        const auto data = kd::loadDataset(registries.datasets, p.dataset, p.seed);
        for (const char *peer : {"peer1", "peer2"}) {
            const auto meta = kd::readCheckpointMeta((run + "/" + peer + ".pt").toStdString());
            auto m = model("resnet8", meta["arch_options"]);
            kd::loadCheckpoint(*m, (run + "/" + peer + ".pt").toStdString());
            QCOMPARE(kd::evaluateAccuracy(*m, data->test, torch::kCPU, 500),
                     s["models"][peer]["final_test_acc"].get<double>());
            QVERIFY2(s["models"][peer]["final_test_acc"].get<double>() > 0.3, peer);
        }
    }

    /// IE-KD's mutual form is an option of iekd: with `mutual` the project's two peers form a
    /// cohort (no teacher stage); without it, peers are refused with a hint.
    void iekdMutualIsACohortOption()
    {
        const auto registries = kd::Registries::builtin();
        const auto &e = registries.methods.get("iekd");
        QVERIFY(!e.online && e.needsTeacher);
        QVERIFY(e.isOnline(json{{"mutual", true}}) && !e.needsTeacherWith(json{{"mutual", true}}));
        QVERIFY(!e.isOnline(json{{"mutual", false}}) && e.needsTeacherWith(json::object()));
        auto plan = [&](const json &j) { return kd::planStages(registries.resolve(kd::Project::fromJson(j)), registries.methods); };
        QTemporaryDir tmp;
        auto project = dmlProject(tmp.path(), true);
        project["peers"][1] = project["peers"][0];
        project["peers"][1]["arch_options"]["width"] = 4;
        project["method"] = {{"name", "iekd"}, {"mutual", true}};
        const auto stages = plan(project);
        QCOMPARE(int(stages.size()), 4);
        QCOMPARE(QString::fromStdString(stages[0].role), QStringLiteral("peer1"));
        QCOMPARE(stages[1].cohort, 0);
        for (const auto &st : stages)
            QVERIFY2(st.role.find("teacher") == std::string::npos, st.role.c_str());
        auto plain = project;
        plain["method"] = {{"name", "iekd"}};
        auto msg = errorOf([&] { plan(plain); });
        QVERIFY2(msg.find("or set method.mutual to true for IE-KD's mutual form") != std::string::npos, msg.c_str());
        auto three = project;
        three["peers"].push_back(project["peers"][0]);
        msg = errorOf([&] { kd::test::runProject(three, tmp.filePath("three").toStdString()); });
        QVERIFY2(msg.find("iekd's mutual form trains two peers") != std::string::npos, msg.c_str());
    }

    /// Each peer's loss reaches its own network and its IE-KD parts, not its partner: the
    /// partner's feature and prediction are targets.
    void iekdMutualLearnsFromThePartner()
    {
        std::vector<std::shared_ptr<kd::FeatureNet>> nets{model("cnn_small", {{"width", 8}}),
                                                          model("cnn_small", {{"width", 4}})};
        const std::vector<kd::FeatureShapes> shapes{shapesOf(*nets[0]), shapesOf(*nets[1])};
        const auto x = torch::randn({8, 1, 28, 28});
        const auto y = torch::randint(0, 10, {8}, torch::kInt64);
        std::vector<kd::Features> outs{nets[0]->forwardFeatures(x), nets[1]->forwardFeatures(x)};
        auto method = create("iekd", {{"mutual", true}});
        QVERIFY(!method->needsTeacher());
        kd::MethodSetup setup;
        setup.student = shapes[1];
        setup.cohort = shapes;
        setup.cohortIndex = 1;
        setup.numClasses = 10;
        method->setup(setup);
        const auto notes = method->setupNotes();
        QVERIFY(!notes.empty());
        QVERIFY2(notes.front().find("iekd (mutual): peer2 inherits from and explores away from peer1's auto-encoded")
                     != std::string::npos,
                 notes.front().c_str());
        QVERIFY2(notes.front().find("autoencoder_epochs = 30 does not apply to the mutual form") != std::string::npos,
                 notes.front().c_str());
        QCOMPARE(method->termNames(),
                 (std::vector<std::string>{"ce", "inherit", "explore", "recon", "mutual_kl"}));
        kd::StepContext ctx;
        ctx.epoch = 1;
        ctx.epochs = 10;
        ctx.cohort = &outs;
        ctx.cohortIndex = 1;
        const auto loss = method->compute(outs[1], nullptr, y, ctx);
        CHECK_CLOSE(termOf(loss, "mutual_kl"),
                    kd::hintonKdLoss(outs[1].logits(), outs[0].logits().detach(), 1.0), "DML's KL to the partner");
        for (const char *t : {"inherit", "recon", "mutual_kl"})
            QVERIFY2(termOf(loss, t).item<double>() > 0, t);
        loss.total.backward();
        checkAllGradients(*nets[1]);
        for (const auto &p : nets[0]->parameters())
            QVERIFY(!p.grad().defined()); // the partner is a target
        checkAllGradients(*method->trainableModule());
        QVERIFY(errorOf([&] { method->compute(outs[1], nullptr, y, kd::StepContext{}); }).find("cohort of two peers")
                != std::string::npos);
    }

    /// A real IE-DML run: both peers train and deliver, every term logged.
    void iekdMutualTrainsAndDelivers()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        auto project = dmlProject(tmp.path(), false);
        project["peers"][1] = project["peers"][0];
        project["peers"][1]["arch_options"]["width"] = 8;
        project["peers"][0]["arch_options"]["width"] = 4;
        project["method"] = {{"name", "iekd"}, {"mutual", true}};
        const auto summary = kd::test::runProject(project, run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        const auto header = readLines(run + "/metrics.csv").front().split(',');
        for (const char *col : {"loss_ce", "loss_inherit", "loss_explore", "loss_recon", "loss_mutual_kl"})
            QVERIFY2(header.contains(col), col);
        const auto s = readJson(run + "/summary.json");
        for (const char *peer : {"peer1", "peer2"}) {
            QVERIFY2(s["models"][peer]["final_test_acc"].get<double>() > 0.3, peer);
            QVERIFY2(QFile::exists(run + "/" + peer + ".pt"), peer);
        }
        QVERIFY(!s["models"].contains("teacher"));
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("iekd (mutual): peer1 inherits from and explores away from peer2"), qPrintable(log));
    }

    void heterogeneousCohortTrainsAndDelivers()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const QString run = tmp.filePath("run");
        const auto summary = kd::test::runProject(dmlProject(tmp.path(), true), run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

        // Every peer, the ensemble and the scratch twins log; every loss is finite.
        const auto lines = readLines(run + "/metrics.csv");
        QVERIFY(lines.size() > 10);
        const auto header = lines.front().split(',');
        const int role = int(header.indexOf("model")), kind = int(header.indexOf("kind")), kl = int(header.indexOf("loss_mutual_kl")),
                  test = int(header.indexOf("test_acc"));
        QVERIFY(role >= 0 && kind >= 0 && kl >= 0 && test >= 0);
        std::set<QString> roles;
        for (int i = 1; i < lines.size(); ++i) {
            const auto cells = lines[i].split(',');
            roles.insert(cells[role]);
            if (cells[role].startsWith("peer") && !cells[role].endsWith("_scratch") && cells[kind] == "step")
                QVERIFY2(std::isfinite(cells[kl].toDouble()) && cells[kl].toDouble() >= 0.0, qPrintable(lines[i]));
            if (cells[role] == "ensemble")
                QVERIFY2(cells[test].toDouble() > 0.3, qPrintable(lines[i]));
        }
        for (const char *r : {"peer1", "peer2", "ensemble", "peer1_scratch", "peer2_scratch"})
            QVERIFY2(roles.count(QString::fromLatin1(r)), r);
        // The summary: the ensemble with the cohort's parameters, each peer's gain over its twin.
        {
            const auto sum = readJson(run + "/summary.json");
            const auto &e = sum["models"]["ensemble"];
            QCOMPARE(e["params"].get<std::int64_t>(),
                     sum["models"]["peer1"]["params"].get<std::int64_t>() + sum["models"]["peer2"]["params"].get<std::int64_t>());
            QCOMPARE(e["epochs_done"], json(2));
            QVERIFY(e["final_test_acc"].get<double>() > 0.3 && e["best_test_acc"] >= e["final_test_acc"]);
            for (const char *peer : {"peer1", "peer2"})
                QCOMPARE(sum["peer_gain_final_test_acc"][peer].get<double>(),
                         sum["models"][peer]["final_test_acc"].get<double>()
                             - sum["models"][std::string(peer) + "_scratch"]["final_test_acc"].get<double>());
        }
        const auto log = readLines(run + "/log.txt").join('\n');
        QVERIFY2(log.contains("cohort: 2 peers trained together by dml"), qPrintable(log));

        // Each peer is a standalone model: it reloads and scores what the run reported.
        const auto s = readJson(run + "/summary.json");
        const auto registries = kd::Registries::builtin();
        for (const char *peer : {"peer1", "peer2"}) {
            const auto &entry = s["models"][peer];
            QVERIFY2(entry.value("completed", false), peer);
            const auto meta = kd::readCheckpointMeta((run + "/" + peer + ".pt").toStdString());
            const auto &arch = registries.architectures.get(meta["arch"].get<std::string>());
            auto model = arch.create(kd::resolveParams(arch.params, meta["arch_options"], "arch"), kd::InputShape{1, 28, 28}, 10);
            kd::loadCheckpoint(*model, (run + "/" + peer + ".pt").toStdString());
            kd::Project p = kd::Project::fromJson(dmlProject(tmp.path(), true));
            const auto data = kd::loadDataset(registries.datasets, p.dataset, p.seed);
            const double acc = kd::evaluateAccuracy(*model, data->test, torch::kCPU, 500);
            QCOMPARE(acc, entry["final_test_acc"].get<double>());
        }
    }
};

QTEST_GUILESS_MAIN(TestOnline)
#include "test_online.moc"
