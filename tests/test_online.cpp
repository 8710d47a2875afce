// Online distillation: the cohort methods' losses against golden values written by
// scripts/gen_online_golden.py (python3-torch), gradients that reach each peer's own outputs
// and not the detached targets, the authors' defaults, the project rules for "peers", and a
// real cohort of heterogeneous peers trained on a Fashion-MNIST subset, whose deliverables
// reload and evaluate as the run reported.
#include "core/Error.h"
#include "data/Dataset.h"
#include "data/DatasetRegistry.h"
#include "methods/DistillationMethod.h"
#include "methods/online/OnlineLosses.h"
#include "project/Registries.h"
#include "support/MethodFixture.h"
#include "support/TensorChecks.h"
#include "support/TestSupport.h"
#include "training/Checkpoint.h"
#include "training/StagePlan.h"
#include "training/Trainer.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <torch/torch.h>

#include <set>

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

} // namespace

class TestOnline : public kd::test::MethodFixture {
    Q_OBJECT

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
        QTest::addColumn<int>("index");
        for (std::size_t i = 0; i < m_golden["cases"].size(); ++i)
            QTest::newRow(m_golden["cases"][i]["name"].get<std::string>().c_str()) << int(i);
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
