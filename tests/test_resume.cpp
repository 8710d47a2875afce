// Reliability of training runs: SHA-256 checkpoints that refuse damage, atomic writes that
// survive a full disk, stop/kill and resume giving the metrics of an uninterrupted run step
// by step, the last-K rule, and NaN/Inf in a loss term or a gradient (stop or skip).
#include "core/Error.h"
#include "core/Sha256.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "project/Registries.h"
#include "runs/RunReader.h"
#include "runs/RunStore.h"
#include "support/RunRecorder.h"
#include "support/TestSupport.h"
#include "training/Checkpoint.h"
#include "training/Experiment.h"
#include "training/RunCheckpoint.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <atomic>
#include <filesystem>
#include <fstream>

using nlohmann::json;
using kd::test::errorOf;
using kd::test::readJson;
using kd::test::readLines;

namespace {

const char *kFashion = "/usr/share/datasets/fashion-mnist";

/// A small two-stage distillation (cnn_small teacher, mlp student) on 1,024 Fashion-MNIST
/// images: 16 steps per epoch, a step record every 4.
json smallProject(const QString &outDir, const json &method)
{
    return {
        {"name", "resume"},
        {"seed", 5},
        {"threads", 1},
        {"output_dir", outDir.toStdString()},
        {"dataset", {{"name", "fashion-mnist"}, {"limit", 1024}, {"test_limit", 500}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
                     {"train", {{"epochs", 1}, {"batch_size", 64}, {"log_every", 4}}}}},
        {"student", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}},
                     {"train", {{"epochs", 3}, {"batch_size", 64}, {"log_every", 4}, {"lr_schedule", "cosine"}}}}},
        {"method", method},
        {"baseline", false},
        {"analysis", {{"enabled", false}}},
    };
}

/// metrics.csv without the columns that measure time (wall_s, img_per_s): what must be equal
/// between an interrupted-and-resumed run and an uninterrupted one.
QStringList metricsWithoutTimes(const QString &runDir)
{
    const auto lines = readLines(runDir + "/metrics.csv");
    if (lines.isEmpty())
        return {};
    const auto header = lines.front().split(',');
    const int wall = int(header.indexOf("wall_s")), ips = int(header.indexOf("img_per_s"));
    QStringList out;
    for (const auto &line : lines) {
        auto cells = line.split(',');
        if (ips >= 0 && ips < cells.size())
            cells.removeAt(ips);
        if (wall >= 0 && wall < cells.size())
            cells.removeAt(wall);
        out << cells.join(',');
    }
    return out;
}

/// The first line where two metric tables differ, for a readable failure.
QString firstDifference(const QStringList &a, const QStringList &b)
{
    for (int i = 0; i < std::min(a.size(), b.size()); ++i)
        if (a[i] != b[i])
            return QStringLiteral("line %1:\n  uninterrupted %2\n  resumed       %3").arg(i + 1).arg(a[i], b[i]);
    return a.size() == b.size() ? QString() : QStringLiteral("%1 lines vs %2").arg(a.size()).arg(b.size());
}

kd::RunSummary runProject(const json &project, const QString &runDir, const kd::Registries &registries,
                          int stopAfterSteps = -1)
{
    kd::Experiment exp(kd::Project::fromJson(project), registries);
    std::atomic<bool> stop{false};
    kd::test::RunRecorder rec;
    if (stopAfterSteps > 0) {
        rec.stopFlag = &stop;
        rec.stopAfterSteps = stopAfterSteps;
    }
    return exp.run(rec, stop, runDir.toStdString());
}

kd::RunSummary resumeRun(const QString &runDir, const kd::Registries &registries, const std::string &checkpoint = {},
                         const std::vector<std::string> &overrides = {})
{
    kd::Experiment exp(kd::resumableProject(runDir.toStdString(), overrides), registries);
    std::atomic<bool> stop{false};
    kd::test::RunRecorder rec;
    return exp.resume(rec, stop, runDir.toStdString(), checkpoint);
}

void flipByte(const QString &path, std::streamoff at)
{
    std::fstream f(path.toStdString(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x01);
    f.seekp(at);
    f.write(&c, 1);
}

QByteArray fileBytes(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

/// A method for the numerical-fault tests: cross-entropy, made NaN in the loss (kind "loss")
/// or only in its gradient (kind "gradient": sqrt at 0 has an infinite slope, times 0) at the
/// global steps [from, to).
class FaultyMethod : public kd::DistillationMethod {
public:
    explicit FaultyMethod(const json &p)
        : m_from(p.at("from_step").get<std::int64_t>())
        , m_to(p.at("to_step").get<std::int64_t>())
        , m_gradient(p.at("kind").get<std::string>() == "gradient")
    {
    }
    bool needsTeacher() const override { return false; }
    std::vector<std::string> termNames() const override { return {"ce", "probe"}; }
    kd::LossTerms compute(const kd::Features &s, const kd::Features *, const torch::Tensor &labels,
                          const kd::StepContext &ctx) override
    {
        const auto ce = kd::crossEntropyLoss(s.logits(), labels);
        auto probe = torch::zeros({}, ce.options());
        if (ctx.step >= m_from && ctx.step < m_to) {
            if (m_gradient) {
                const auto z = s.logits();
                probe = 0.0 * torch::sqrt(z - z.detach()).sum();
            } else {
                probe = torch::full({}, NAN, ce.options());
            }
        }
        return {ce + probe, {{"ce", ce}, {"probe", probe}}};
    }

private:
    std::int64_t m_from, m_to;
    bool m_gradient;
};

kd::Registries withFaultyMethod()
{
    auto r = kd::Registries::builtin();
    r.methods.add("faulty", {"test only: cross-entropy made non-finite at some steps",
                             false,
                             {kd::ParamSpec::integer("from_step", 0, 0, 1 << 30, "first faulty step"),
                              kd::ParamSpec::integer("to_step", 0, 0, 1 << 30, "first good step after"),
                              kd::ParamSpec::choice("kind", "loss", {"loss", "gradient"}, "where the NaN is")},
                             [](const json &p) { return std::make_unique<FaultyMethod>(p); }});
    return r;
}

/// The kd project (checkpoints every epoch, the last 5 kept) run twice in `dir`: to the end
/// into dir/whole, and stopped after `stopAfterSteps` step records into dir/stopped.
void runWholeAndStopped(const QString &dir, const kd::Registries &registries, int stopAfterSteps)
{
    auto project = smallProject(dir, {{"name", "kd"}});
    project["checkpoints"] = {{"every_epochs", 1}, {"every_minutes", 0}, {"keep", 5}};
    runProject(project, dir + "/whole", registries);
    runProject(project, dir + "/stopped", registries, stopAfterSteps);
}

json faultyProject(const QString &outDir, int fromStep, int toStep, const std::string &kind, const json &numerics)
{
    auto j = smallProject(outDir, {{"name", "faulty"}, {"from_step", fromStep}, {"to_step", toStep}, {"kind", kind}});
    j["numerics"] = numerics;
    return j;
}

} // namespace

class TestResume : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sha256KnownAnswers()
    {
        // FIPS 180-4 examples, fed in uneven pieces to exercise the block buffering.
        QCOMPARE(kd::Sha256::ofText(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(kd::Sha256::ofText("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(kd::Sha256::ofText("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
        kd::Sha256 h;
        const std::string chunk(997, 'a');
        std::size_t total = 0;
        while (total + chunk.size() <= 1000000) {
            h.update(chunk);
            total += chunk.size();
        }
        h.update(std::string(1000000 - total, 'a'));
        QCOMPARE(h.hex(), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
    }

    void damagedCheckpointsAreRefused()
    {
        QTemporaryDir tmp;
        torch::nn::Linear lin(4, 3);
        const QString path = tmp.filePath("m.pt");
        kd::saveCheckpoint(*lin, path.toStdString(), {{"arch", "linear"}});
        const auto meta = kd::readCheckpointMeta(path.toStdString());
        QCOMPARE(meta["sha256"].get<std::string>(), kd::Sha256::ofFile(path.toStdString()));
        QVERIFY(!QFile::exists(path + ".tmp"));

        // A flipped byte anywhere: refused by the SHA-256, naming the file.
        const QString flipped = tmp.filePath("flipped.pt");
        QFile::copy(path, flipped);
        QFile::copy(path + ".json", flipped + ".json");
        flipByte(flipped, QFileInfo(flipped).size() / 2);
        torch::nn::Linear probe(4, 3);
        auto msg = errorOf([&] { kd::loadCheckpoint(*probe, flipped.toStdString()); });
        QVERIFY2(msg.find("flipped.pt") != std::string::npos && msg.find("SHA-256") != std::string::npos, msg.c_str());

        // Truncated: refused by its size.
        const QString cut = tmp.filePath("cut.pt");
        QFile::copy(path, cut);
        QFile::copy(path + ".json", cut + ".json");
        std::filesystem::resize_file(cut.toStdString(), std::filesystem::file_size(cut.toStdString()) - 10);
        msg = errorOf([&] { kd::readCheckpointMeta(cut.toStdString()); });
        QVERIFY2(msg.find("truncated") != std::string::npos, msg.c_str());

        // A sidecar edited by hand (here: another architecture claimed): its own checksum fails.
        const QString edited = tmp.filePath("edited.pt");
        QFile::copy(path, edited);
        {
            auto m = meta;
            m["arch"] = "resnet20";
            std::ofstream(edited.toStdString() + ".json") << m.dump(2);
        }
        msg = errorOf([&] { kd::readCheckpointMeta(edited.toStdString()); });
        QVERIFY2(msg.find("own checksum") != std::string::npos, msg.c_str());

        // No sidecar at all.
        const QString lone = tmp.filePath("lone.pt");
        QFile::copy(path, lone);
        msg = errorOf([&] { kd::readCheckpointMeta(lone.toStdString()); });
        QVERIFY2(msg.find("copy both files together") != std::string::npos, msg.c_str());

        // The intact one still loads, with the same weights.
        kd::loadCheckpoint(*probe, path.toStdString());
        QVERIFY(torch::equal(probe->weight, lin->weight));
    }

    void fullDiskKeepsThePreviousCheckpoint()
    {
        if (!QFile::exists("/dev/full"))
            QSKIP("this system has no /dev/full");
        QTemporaryDir tmp;
        torch::nn::Linear first(8, 8), second(8, 8);
        const QString path = tmp.filePath("m.pt");
        kd::saveCheckpoint(*first, path.toStdString(), {});
        const auto before = fileBytes(path), beforeMeta = fileBytes(path + ".json");
        // The next write's temporary file lands on a full device.
        QVERIFY(QFile::link("/dev/full", path + ".tmp"));
        const auto msg = errorOf([&] { kd::saveCheckpoint(*second, path.toStdString(), {}); });
        QVERIFY2(msg.find("m.pt") != std::string::npos && msg.find("No space left") != std::string::npos, msg.c_str());
        QCOMPARE(fileBytes(path), before);
        QCOMPARE(fileBytes(path + ".json"), beforeMeta);
        QVERIFY(!QFileInfo::exists(path + ".tmp"));
        torch::nn::Linear probe(8, 8);
        kd::loadCheckpoint(*probe, path.toStdString());
        QVERIFY(torch::equal(probe->weight, first->weight));
    }

    void stopAndResumeEqualsUninterrupted_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<int>("stopAfter");
        QTest::addColumn<QStringList>("roles"); // the models compared; the last one's file is checked
        // Step records: the teacher logs 4, then the student 4 per epoch. Stops land in the
        // student's first epoch (after 6), in its second (after 10) and in the teacher (after 2).
        QTest::newRow("kd, cached teacher") << R"({"name": "kd"})" << 6 << QStringList{"teacher", "student"};
        QTest::newRow("crd: memory bank, sampled negatives") << R"({"name": "crd", "nce_k": 256})" << 10 << QStringList{"teacher", "student"};
        QTest::newRow("srm: own dictionary and optimiser, phases") << R"({"name": "srm"})" << 10 << QStringList{"teacher", "student"};
        QTest::newRow("fitnet: trained regressor; stop in the teacher") << R"({"name": "fitnet"})" << 2 << QStringList{"teacher", "student"};
        // With the scratch baseline and the distillation views: a stop in the baseline (after
        // the teacher's 4 and the student's 12 records), whose views compare it with the
        // student's teacher and give the per-class KD gain.
        QTest::newRow("kd + baseline + analysis; stop in the baseline")
            << R"({"name": "kd", "+": {"baseline": true, "analysis": {"enabled": true, "feature_maps": false}}})" << 18
            << QStringList{"teacher", "student"};
        // A multi-branch student (ONE): its gate is the method's module, its branches one network.
        QTest::newRow("one: trunk, two branches and a gate")
            << R"({"name": "one", "split": "stage1", "branches": 2})" << 10 << QStringList{"student"};
        // FFL: its fusion module has a parameter group (and weight decay) of its own.
        QTest::newRow("ffl: two branches and a fusion module")
            << R"({"name": "ffl", "split": "stage1"})" << 10 << QStringList{"student"};
        // OKDDip: its attention projections are the method's module; the leader is the student.
        QTest::newRow("okddip: two peers, a leader and the attention")
            << R"({"name": "okddip", "split": "stage1", "branches": 3})" << 10 << QStringList{"student"};
        // PCL: the ensemble head, the temporal mean network (the deliverable) and every peer
        // on its own augmented view.
        QTest::newRow("pcl: ensemble head, temporal mean, augmented views")
            << R"({"name": "pcl", "split": "stage1", "+": {"dataset": {"name": "fashion-mnist", "limit": 1024,
                   "test_limit": 500, "augment": {"random_crop_padding": 2, "horizontal_flip": true}}}})"
            << 10 << QStringList{"student"};
        // MCL: embedding heads, memory banks and the negative sampler's pools.
        QTest::newRow("mcl: heads, banks and sampled negatives")
            << R"({"name": "mcl", "branches": 2, "nce_k": 128})" << 10 << QStringList{"student"};
        // The student ensemble: students of different widths on one stem, and their adapters.
        QTest::newRow("student_ensemble: narrowing students and adapters")
            << R"({"name": "student_ensemble", "branches": 2, "+": {"student": {"arch": "resnet8",
                   "train": {"epochs": 3, "batch_size": 64, "log_every": 4, "lr_schedule": "cosine"}}}})"
            << 10 << QStringList{"student"};
        // An online cohort: two peers (and their ensemble) in one loop, 8 step records an
        // epoch; the stop lands in the second epoch.
        QTest::newRow("dml cohort of two peers")
            << R"({"name": "dml", "+": {"peers": [
                   {"arch": "cnn_small", "arch_options": {"width": 4}, "train": {"epochs": 3, "batch_size": 64, "log_every": 4}},
                   {"arch": "mlp", "arch_options": {"hidden": [32]}, "train": {"epochs": 3, "batch_size": 64, "log_every": 4}}]}})"
            << 11 << QStringList{"ensemble", "peer1", "peer2"};
        // AFD: two updates a batch, the discriminators and both Adams of the adversarial step.
        QTest::newRow("afd cohort: discriminators and a second update per batch")
            << R"({"name": "afd", "adversarial_lr": 0.001, "+": {"peers": [
                   {"arch": "resnet8", "train": {"epochs": 3, "batch_size": 64, "log_every": 4}},
                   {"arch": "resnet8", "arch_options": {"width_fraction": 0.5}, "train": {"epochs": 3, "batch_size": 64, "log_every": 4}}]}})"
            << 11 << QStringList{"ensemble", "peer1", "peer2"};
    }

    void stopAndResumeEqualsUninterrupted()
    {
        QFETCH(QString, method);
        QFETCH(int, stopAfter);
        QFETCH(QStringList, roles);
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto methodJson = json::parse(method.toStdString());
        const json extra = methodJson.value("+", json::object());
        methodJson.erase("+");
        auto project = smallProject(tmp.path(), methodJson);
        project.update(extra);
        project["checkpoints"] = {{"every_epochs", 1}, {"every_minutes", 0}, {"keep", 3}};
        const QString whole = tmp.filePath("whole"), stopped = tmp.filePath("stopped");
        QCOMPARE(QString::fromStdString(runProject(project, whole, registries).status), QStringLiteral("completed"));
        const auto s1 = runProject(project, stopped, registries, stopAfter);
        QCOMPARE(QString::fromStdString(s1.status), QStringLiteral("stopped"));
        QVERIFY(kd::CheckpointFolder(stopped.toStdString()).list().size() <= 3);

        const auto s2 = resumeRun(stopped, registries);
        QCOMPARE(QString::fromStdString(s2.status), QStringLiteral("completed"));
        const auto diff = firstDifference(metricsWithoutTimes(whole), metricsWithoutTimes(stopped));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        const auto sumWhole = readJson(whole + "/summary.json"), sumResumed = readJson(stopped + "/summary.json");
        QCOMPARE(sumResumed["status"], json("completed"));
        for (const auto &r : roles) {
            const auto role = r.toStdString();
            QCOMPARE(sumResumed["models"][role]["final_test_acc"], sumWhole["models"][role]["final_test_acc"]);
            QCOMPARE(sumResumed["models"][role]["epochs_done"], sumWhole["models"][role]["epochs_done"]);
        }
        QCOMPARE(kd::readCheckpointMeta((stopped + "/" + roles.last() + ".pt").toStdString())["epochs_done"], json(3));
        const auto log = readLines(stopped + "/log.txt").join('\n');
        QVERIFY2(log.contains("resumed from checkpoint"), qPrintable(log));
        // The distillation views (when on) are the uninterrupted run's too.
        for (const auto &file : QDir(whole + "/analysis").entryList({"*.json"}, QDir::Files)) {
            const auto a = readJson(whole + "/analysis/" + file), b = readJson(stopped + "/analysis/" + file);
            QVERIFY2(a == b, qPrintable(file + " differs after the resume"));
            if (file.startsWith("epoch"))
                QVERIFY2(a.contains("per_class_kd_gain"), qPrintable(file));
        }
    }

    void resumeFromAnEpochBoundaryEqualsUninterrupted()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        const QString whole = tmp.filePath("whole"), stopped = tmp.filePath("stopped");
        runWholeAndStopped(tmp.path(), registries, 10); // stopped in the student's second epoch
        // The checkpoint written when the student's first epoch ended: no running sums in it.
        std::string boundary;
        for (const auto &c : kd::CheckpointFolder(stopped.toStdString()).list()) {
            const auto meta = readJson(QString::fromStdString(c) + ".json");
            if (meta.value("role", "") == "student" && meta.value("epoch", -1) == 1 && meta.value("step_in_epoch", -1) == 0)
                boundary = c;
        }
        QVERIFY2(!boundary.empty(), "no checkpoint at the end of the student's first epoch");
        QCOMPARE(QString::fromStdString(resumeRun(stopped, registries, boundary).status), QStringLiteral("completed"));
        const auto diff = firstDifference(metricsWithoutTimes(whole), metricsWithoutTimes(stopped));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void killedKdwResumesWithTheSameMetrics()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        auto project = smallProject(tmp.path(), {{"name", "kd"}});
        project["dataset"]["limit"] = 4096; // 64 steps per epoch: time to kill it mid-epoch
        project["student"]["train"]["log_every"] = 8;
        project["checkpoints"] = {{"every_epochs", 1}, {"every_minutes", 0.003}, {"keep", 2}};
        const QString file = tmp.filePath("p.json");
        std::ofstream(file.toStdString()) << project.dump(2);
        const QString whole = tmp.filePath("whole"), killed = tmp.filePath("killed");
        QCOMPARE(kd::test::runKdwIn(KDW_EXECUTABLE, tmp.path(), {"run", file, "--out", whole, "--quiet"}), QString());

        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(KDW_EXECUTABLE, {"run", file, "--out", killed, "--quiet"});
        QVERIFY(p.waitForStarted());
        // SIGKILL once a checkpoint inside the student's first epoch exists.
        bool midEpoch = false;
        for (int i = 0; i < 1200 && !midEpoch; ++i) {
            QThread::msleep(50);
            for (const auto &c : kd::CheckpointFolder(killed.toStdString()).list()) {
                const auto meta = readJson(QString::fromStdString(c) + ".json");
                if (!meta.is_object())
                    continue; // pruned between the listing and the read
                midEpoch = midEpoch
                    || (meta.value("role", "") == "student" && meta.value("epoch", -1) == 0
                        && meta.value("step_in_epoch", 0) > 0);
            }
        }
        QVERIFY2(midEpoch, "no mid-epoch checkpoint of the student appeared");
        // A live run is never taken for a dead one.
        QVERIFY(kd::RunStore::markInterruptedRuns(tmp.path().toStdString()).empty());
        p.kill();
        QVERIFY(p.waitForFinished());
        QCOMPARE(readJson(killed + "/summary.json")["status"], json("running"));
        QVERIFY(kd::readRunInfo(killed.toStdString()).state == kd::RunState::Interrupted);

        // The next run opened in the same output folder finds it: summary.json says
        // "interrupted" (with the reason), the completed run beside it is untouched.
        const auto wholeSummary = fileBytes(whole + "/summary.json");
        auto tiny = project;
        tiny["dataset"]["limit"] = 256;
        tiny["student"]["train"]["epochs"] = 1;
        const QString tinyFile = tmp.filePath("tiny.json");
        std::ofstream(tinyFile.toStdString()) << tiny.dump(2);
        QCOMPARE(kd::test::runKdwIn(KDW_EXECUTABLE, tmp.path(), {"run", tinyFile, "--out", tmp.filePath("next"), "--quiet"}),
                 QString());
        const auto marked = readJson(killed + "/summary.json");
        QCOMPARE(marked["status"], json("interrupted"));
        QVERIFY2(marked.value("interrupted_reason", "").find("ended without finishing") != std::string::npos,
                 marked.dump().c_str());
        QCOMPARE(fileBytes(whole + "/summary.json"), wholeSummary);
        QVERIFY2(readLines(tmp.filePath("next") + "/log.txt").join('\n').contains("found interrupted run " + killed),
                 "the new run's log does not name the interrupted run it found");
        const auto info = kd::readRunInfo(killed.toStdString());
        QVERIFY(info.state == kd::RunState::Interrupted && info.resumable);

        QCOMPARE(kd::test::runKdwIn(KDW_EXECUTABLE, tmp.path(), {"resume", killed, "--quiet"}), QString());
        const auto diff = firstDifference(metricsWithoutTimes(whole), metricsWithoutTimes(killed));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
        QCOMPARE(readJson(killed + "/summary.json")["models"]["student"]["final_test_acc"],
                 readJson(whole + "/summary.json")["models"]["student"]["final_test_acc"]);
        QVERIFY(kd::CheckpointFolder(killed.toStdString()).list().size() <= 2);
    }

    void resumeRefusals()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        const QString whole = tmp.filePath("whole"), stopped = tmp.filePath("stopped");
        runWholeAndStopped(tmp.path(), registries, 6);

        auto msg = errorOf([&] { resumeRun(whole, registries); });
        QVERIFY2(msg.find("is complete") != std::string::npos, msg.c_str());
        msg = errorOf([&] { resumeRun(tmp.filePath("nothing"), registries); });
        QVERIFY2(msg.find("not a run directory") != std::string::npos, msg.c_str());
        msg = errorOf([&] { kd::resumableProject(stopped.toStdString(), {"student.train.lr=0.5"}); });
        QVERIFY2(msg.find("can change only") != std::string::npos, msg.c_str());

        // The newest checkpoint damaged: refused, naming it and the intact one before it;
        // nothing in the run directory changes.
        const auto all = kd::CheckpointFolder(stopped.toStdString()).list();
        QVERIFY(all.size() >= 2);
        const QString newest = QString::fromStdString(all.back());
        flipByte(newest, 100);
        const auto metricsBefore = fileBytes(stopped + "/metrics.csv"), summaryBefore = fileBytes(stopped + "/summary.json");
        msg = errorOf([&] { resumeRun(stopped, registries); });
        QVERIFY2(msg.find(QFileInfo(newest).fileName().toStdString()) != std::string::npos
                     && msg.find("--checkpoint " + all[all.size() - 2]) != std::string::npos,
                 msg.c_str());
        QCOMPARE(fileBytes(stopped + "/metrics.csv"), metricsBefore);
        QCOMPARE(fileBytes(stopped + "/summary.json"), summaryBefore);

        // Another configuration in config.json: its checkpoints are not this run's.
        {
            auto cfg = readJson(stopped + "/config.json");
            cfg["seed"] = 6;
            std::ofstream(stopped.toStdString() + "/config.json") << cfg.dump(2);
            msg = errorOf([&] { resumeRun(stopped, registries, all[all.size() - 2]); });
            QVERIFY2(msg.find("another configuration") != std::string::npos, msg.c_str());
            cfg["seed"] = 5;
            std::ofstream(stopped.toStdString() + "/config.json") << cfg.dump(2);
        }

        // The earlier checkpoint, named explicitly, resumes to the uninterrupted result.
        QCOMPARE(QString::fromStdString(resumeRun(stopped, registries, all[all.size() - 2]).status),
                 QStringLiteral("completed"));
        const auto diff = firstDifference(metricsWithoutTimes(whole), metricsWithoutTimes(stopped));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void fullDiskWhileLoggingFailsTheRunAndKeepsItsCheckpoint()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        // A file-size limit stands in for a full disk: with SIGXFSZ ignored, a write past 48 KiB
        // fails with EFBIG as a full disk fails with ENOSPC. metrics.csv (a row per step) gets
        // there in the teacher's second epoch; the only checkpoints are the small boundary ones.
        json project = smallProject(tmp.path(), {{"name", "kd"}});
        project["dataset"]["limit"] = 2000;
        project["teacher"] = {{"arch", "mlp"}, {"arch_options", {{"hidden", {8}}}},
                              {"train", {{"epochs", 8}, {"batch_size", 16}, {"log_every", 1}}}};
        project["student"] = {{"arch", "mlp"}, {"arch_options", {{"hidden", {8}}}},
                              {"train", {{"epochs", 1}, {"batch_size", 16}, {"log_every", 1}}}};
        project["checkpoints"] = {{"every_epochs", 0}, {"every_minutes", 0}};
        const QString file = tmp.filePath("p.json");
        std::ofstream(file.toStdString()) << project.dump(2);
        const QString full = tmp.filePath("full"), whole = tmp.filePath("whole");
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start("bash", {"-c", "trap '' XFSZ; ulimit -f 48; exec \"$0\" \"$@\"", KDW_EXECUTABLE, "run", file, "--out",
                         full, "--quiet"});
        QVERIFY(p.waitForFinished(300000));
        const QString output = QString::fromUtf8(p.readAll());
        QCOMPARE(p.exitCode(), 1);
        QVERIFY2(output.contains("cannot append to " + full + "/metrics.csv") && output.contains("File too large")
                     && output.contains("kdw resume"),
                 qPrintable(output));
        QCOMPARE(readJson(full + "/summary.json")["status"], json("failed"));
        const auto all = kd::CheckpointFolder(full.toStdString()).list();
        QVERIFY(!all.empty());
        kd::readCheckpointMeta(all.back()); // intact: throws otherwise
        // With space again, the run resumes from it and ends as an uninterrupted run does.
        QCOMPARE(kd::test::runKdwIn(KDW_EXECUTABLE, tmp.path(), {"resume", full, "--quiet"}), QString());
        QCOMPARE(kd::test::runKdwIn(KDW_EXECUTABLE, tmp.path(), {"run", file, "--out", whole, "--quiet"}), QString());
        const auto diff = firstDifference(metricsWithoutTimes(whole), metricsWithoutTimes(full));
        QVERIFY2(diff.isEmpty(), qPrintable(diff));
    }

    void receivedRunsWithLinksAreNotResumed()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto project = smallProject(tmp.path(), {{"name", "kd"}});
        const QString stopped = tmp.filePath("stopped");
        runProject(project, stopped, registries, 6);
        // Someone's run directory whose log points at a file of ours: resuming it would append
        // there. Refused before anything is written.
        const QString outside = tmp.filePath("precious.txt");
        std::ofstream(outside.toStdString()) << "keep me\n";
        QFile::remove(stopped + "/log.txt");
        QVERIFY(QFile::link(outside, stopped + "/log.txt"));
        const auto before = fileBytes(stopped + "/metrics.csv");
        const auto msg = errorOf([&] { resumeRun(stopped, registries); });
        QVERIFY2(msg.find("symbolic link (log.txt)") != std::string::npos, msg.c_str());
        QCOMPARE(fileBytes(outside), QByteArray("keep me\n"));
        QCOMPARE(fileBytes(stopped + "/metrics.csv"), before);
    }

    void nonFiniteLossStopsNamingModelStepAndTerm()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = withFaultyMethod();
        const QString dir = tmp.filePath("nan");
        const auto msg = errorOf([&] { runProject(faultyProject(tmp.path(), 20, 1000, "loss", json::object()), dir, registries); });
        QVERIFY2(msg.find("student: the loss term \"probe\"") != std::string::npos
                     && msg.find("step 21 of 48") != std::string::npos && msg.find("kdw resume") != std::string::npos,
                 msg.c_str());
        QCOMPARE(readJson(dir + "/summary.json")["status"], json("failed"));
        // The run stays resumable from the epoch-1 checkpoint, which is intact.
        const auto all = kd::CheckpointFolder(dir.toStdString()).list();
        QVERIFY(!all.empty());
        const auto meta = kd::readCheckpointMeta(all.back());
        QCOMPARE(meta["role"], json("student"));
        QCOMPARE(meta["epoch"], json(1));
    }

    void nonFiniteGradientStops()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = withFaultyMethod();
        const auto msg = errorOf(
            [&] { runProject(faultyProject(tmp.path(), 5, 6, "gradient", json::object()), tmp.filePath("g"), registries); });
        QVERIFY2(msg.find("student: the gradient of student.") != std::string::npos
                     && msg.find("step 6 of") != std::string::npos,
                 msg.c_str());
    }

    void nonFiniteStepsSkippedUpToTheCap()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = withFaultyMethod();
        // Steps 10 and 11 (0-based) are NaN: skipped, and the run completes with finite metrics.
        const QString dir = tmp.filePath("skip");
        const auto s = runProject(faultyProject(tmp.path(), 10, 12, "loss", {{"on_nonfinite", "skip"}}), dir, registries);
        QCOMPARE(QString::fromStdString(s.status), QStringLiteral("completed"));
        const auto log = readLines(dir + "/log.txt");
        QCOMPARE(log.filter("step skipped").size(), 2);
        QVERIFY(log.filter("step skipped").front().contains("step 11 of 48"));
        for (const auto &line : readLines(dir + "/metrics.csv"))
            QVERIFY2(!line.contains("nan", Qt::CaseInsensitive) && !line.contains("inf", Qt::CaseInsensitive),
                     qPrintable(line));
        QVERIFY(std::isfinite(s.find("student")->finalTestAcc));

        // More in a row than max_consecutive_skips: the run stops.
        const auto msg = errorOf([&] {
            runProject(faultyProject(tmp.path(), 10, 13, "loss", {{"on_nonfinite", "skip"}, {"max_consecutive_skips", 2}}),
                       tmp.filePath("cap"), registries);
        });
        QVERIFY2(msg.find("3 steps in a row") != std::string::npos, msg.c_str());
    }
};

QTEST_GUILESS_MAIN(TestResume)
#include "test_resume.moc"
