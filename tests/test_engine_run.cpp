// End-to-end engine runs on a real Fashion-MNIST subset: accuracy well above chance, a
// complete run directory, checkpoint reuse with checksums, and a prompt, consistent stop.
#include "models/Architectures.h"
#include "training/Checkpoint.h"
#include "core/Error.h"
#include "core/Priority.h"
#include "training/Experiment.h"
#include "project/Registries.h"
#include "support/RunRecorder.h"
#include "support/TestSupport.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <map>

#include <fstream>

using nlohmann::json;

namespace {

using kd::test::readJson;
using kd::test::readLines;

const char *kFashion = "/usr/share/datasets/fashion-mnist";

kd::Project tinyProject(const QString &outDir)
{
    json j = {
        {"name", "tiny"},
        {"seed", 3},
        {"threads", 1},
        {"output_dir", outDir.toStdString()},
        {"dataset", {{"name", "fashion-mnist"}, {"limit", 4000}, {"test_limit", 2000}, {"val_split", 0.1}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 10}}}}},
        {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {64}}}}, {"train", {{"epochs", 2}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 10}}}}},
        {"method", {{"name", "kd"}, {"temperature", 4.0}, {"alpha", 0.7}}},
        {"baseline", true},
    };
    return kd::Project::fromJson(j);
}

using Recorder = kd::test::RunRecorder;

} // namespace

class TestEngineRun : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }

    void fullRunBeatsChanceAndWritesRunDirectory()
    {
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        kd::Experiment exp(tinyProject(tmp.path()), registries);
        Recorder rec;
        std::atomic<bool> stop{false};
        const QString runDir = tmp.filePath("run1");
        const auto summary = exp.run(rec, stop, runDir.toStdString());

        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        QVERIFY(rec.finished);
        QCOMPARE(rec.stages, (std::vector<std::string>{"teacher", "student", "student_scratch"}));
        for (const char *role : {"teacher", "student", "student_scratch"}) {
            const auto *r = summary.find(role);
            QVERIFY(r);
            QVERIFY(r->completed);
            // Ten classes: chance is 0.10. A few thousand images must already give far more.
            QVERIFY2(r->finalTestAcc > 0.6, qPrintable(QString("%1 acc %2").arg(role).arg(r->finalTestAcc)));
            QVERIFY(r->bestTestAcc >= r->finalTestAcc);
            QVERIFY(r->params > 0);
            QVERIFY(QFile::exists(runDir + "/" + QString::fromStdString(r->checkpoint)));
        }
        QCOMPARE(summary.find("student")->params, summary.find("student_scratch")->params);

        // config.json is the resolved project and reruns to the same configuration.
        const auto config = readJson(runDir + "/config.json");
        QCOMPARE(config["method"]["alpha"].get<double>(), 0.7);
        QCOMPARE(config["student"]["arch_options"]["dropout"].get<double>(), 0.0); // default filled in
        QCOMPARE(kd::Project::fromJson(config).toJson(), config);

        // summary.json per role.
        const auto sj = readJson(runDir + "/summary.json");
        QCOMPARE(QString::fromStdString(sj["status"].get<std::string>()), QStringLiteral("completed"));
        for (const char *role : {"teacher", "student", "student_scratch"}) {
            const auto &m = sj["models"][role];
            for (const char *key : {"best_test_acc", "final_test_acc", "params", "train_seconds"})
                QVERIFY2(m.contains(key), key);
            QVERIFY(m["train_seconds"].get<double>() > 0);
        }
        QVERIFY(sj.contains("kd_gain_final_test_acc"));

        // metrics.csv: header with each loss term, step and epoch rows for every role.
        const auto lines = readLines(runDir + "/metrics.csv");
        QVERIFY(lines.size() > 10);
        QCOMPARE(lines.first(), QStringLiteral("model,kind,epoch,step,wall_s,loss,loss_ce,loss_kd,lr,train_acc,val_acc,test_acc,img_per_s,"
                                              "agreement,kl_teacher_student,ece,cev,sde")); // analysis columns: test_analysis
        int epochRows = 0;
        for (const auto &line : lines.mid(1)) {
            const auto cells = line.split(',');
            QCOMPARE(cells.size(), 18); // 13 + the five analysis columns
            if (cells[1] == "epoch") {
                ++epochRows;
                QVERIFY(!cells[9].isEmpty() && !cells[10].isEmpty() && !cells[11].isEmpty());
            }
            if (cells[0] == "student_scratch")
                QVERIFY(cells[7].isEmpty()); // no kd term without a teacher
            if (cells[0] == "student" && cells[1] == "step")
                QVERIFY(!cells[7].isEmpty());
        }
        QCOMPARE(epochRows, 1 + 2 + 2);
        QVERIFY(!rec.progress.empty());
        QVERIFY(rec.progress.back().overallFraction > 0.99);
        // Progress is weighted by work, not images: the CNN teacher (1 epoch) costs about as
        // much as both MLP students (2 epochs each, the KD one from the teacher cache), so the
        // teacher's end is about half-way; counting images would put it at 20%.
        double teacherEnd = -1;
        for (const auto &p : rec.progress) {
            QVERIFY(p.overallFraction >= 0 && p.overallFraction <= 1);
            if (p.role == "teacher")
                teacherEnd = p.overallFraction;
        }
        QVERIFY2(teacherEnd > 0.35 && teacherEnd < 0.75, qPrintable(QString::number(teacherEnd)));

        // Reuse the teacher checkpoint: same accuracy, checksum checked; a flipped byte is refused.
        auto again = tinyProject(tmp.path());
        again.teacher.checkpoint = (runDir + "/teacher.pt").toStdString();
        again.baseline = false;
        again.student.train.epochs = 1;
        kd::Experiment exp2(again, registries);
        Recorder rec2;
        const auto s2 = exp2.run(rec2, stop, tmp.filePath("run2").toStdString());
        QCOMPARE(QString::fromStdString(s2.find("teacher")->method), QStringLiteral("checkpoint"));
        QCOMPARE(s2.find("teacher")->finalTestAcc, summary.find("teacher")->finalTestAcc);

        const QString corrupt = tmp.filePath("corrupt.pt");
        QFile::copy(runDir + "/teacher.pt", corrupt);
        QFile::copy(runDir + "/teacher.pt.json", corrupt + ".json");
        {
            std::fstream f(corrupt.toStdString(), std::ios::in | std::ios::out | std::ios::binary);
            f.seekg(200);
            char c = 0;
            f.read(&c, 1);
            c = char(c ^ 0x10);
            f.seekp(200);
            f.write(&c, 1);
        }
        kd::PlainCnn probe({1, 28, 28}, 10, {{8, true}, {16, true}}, 128);
        try {
            kd::loadCheckpoint(probe, corrupt.toStdString());
            QFAIL("a corrupt checkpoint was accepted");
        } catch (const kd::Error &e) {
            QVERIFY2(QString(e.what()).contains("damaged") && QString(e.what()).contains("SHA-256"), e.what());
        }
    }

    /// Training at background priority (the window's worker, `kdw --background`): the
    /// calling thread, the threads already running (BLAS and torch pools) and the threads it
    /// starts later run at nice 10; the main thread keeps its priority when asked to.
    void backgroundPriorityReachesEveryTrainingThread()
    {
#if !defined(__linux__)
        QSKIP("background priority is implemented for Linux only");
#endif
        const int mainBefore = kd::currentThreadNice();
        if (mainBefore >= kd::kBackgroundNice)
            QSKIP("the test already runs at background priority");
        // A thread that exists before the call, as a BLAS pool's threads do.
        std::mutex m;
        std::condition_variable cv;
        bool release = false;
        long bystander = 0;
        std::thread waiting([&] {
            std::unique_lock<std::mutex> lock(m);
            bystander = kd::currentThreadId();
            cv.notify_all();
            cv.wait(lock, [&] { return release; });
        });
        {
            std::unique_lock<std::mutex> lock(m);
            cv.wait(lock, [&] { return bystander != 0; });
        }
        std::string why = "not run";
        int trainer = -1, child = -1;
        std::thread training([&] {
            why = kd::lowerTrainingPriority(/*keepMainThread=*/true);
            trainer = kd::currentThreadNice();
            std::thread later([&] { child = kd::currentThreadNice(); });
            later.join();
        });
        training.join();
        const int bystanderNice = kd::threadNice(bystander);
        {
            std::lock_guard<std::mutex> lock(m);
            release = true;
        }
        cv.notify_all();
        waiting.join();
        QCOMPARE(QString::fromStdString(why), QString());
        QCOMPARE(trainer, kd::kBackgroundNice);
        QCOMPARE(child, kd::kBackgroundNice);
        QCOMPARE(bystanderNice, kd::kBackgroundNice);
        QCOMPARE(kd::currentThreadNice(), mainBefore); // the GUI thread keeps the CPU first
    }

    void stopIsPromptAndConsistent()
    {
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto project = tinyProject(tmp.path());
        project.teacher.train.epochs = 3;
        kd::Experiment exp(project, registries);
        std::atomic<bool> stop{false};
        Recorder rec;
        rec.stopFlag = &stop;
        rec.stopAfterSteps = 2;
        const QString runDir = tmp.filePath("stopped");
        const auto summary = exp.run(rec, stop, runDir.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("stopped"));
        // The stop came after the second logged interval (20 steps): honoured within one batch.
        const auto *t = summary.find("teacher");
        QVERIFY(t && !t->completed);
        const auto sj = readJson(runDir + "/summary.json");
        QCOMPARE(QString::fromStdString(sj["status"].get<std::string>()), QStringLiteral("stopped"));
        QCOMPARE(sj["models"]["student"]["completed"].get<bool>(), false);
        QVERIFY(QFile::exists(runDir + "/teacher.pt.json"));
        const auto lines = readLines(runDir + "/metrics.csv");
        QVERIFY(lines.size() >= 3);
        QVERIFY(lines.last().startsWith("teacher,step,1,21,")); // stop seen right after step 21
    }

    void divergenceFailsWithConsistentRunDirectory()
    {
        // A learning rate of 100 makes the loss infinite within a few steps: the run fails with
        // a message that names the fix, and observers still learn the run's directory.
        QTemporaryDir tmp;
        auto p = tinyProject(tmp.path());
        p.teacher.train.lr = 100.0;
        const auto registries = kd::Registries::builtin(); // the experiment keeps a reference
        kd::Experiment exp(p, registries);
        Recorder rec;
        std::atomic<bool> stop{false};
        const QString runDir = tmp.filePath("diverged");
        try {
            exp.run(rec, stop, runDir.toStdString());
            QFAIL("a diverging run completed");
        } catch (const kd::Error &e) {
            QVERIFY2(QString(e.what()).contains("teacher.train.lr"), e.what());
        }
        QVERIFY(rec.finished);
        QCOMPARE(QString::fromStdString(rec.lastStatus), QStringLiteral("failed"));
        QCOMPARE(QString::fromStdString(rec.lastRunDir), runDir);
        const auto sj = readJson(runDir + "/summary.json");
        QCOMPARE(QString::fromStdString(sj["status"].get<std::string>()), QStringLiteral("failed"));
        QVERIFY(readLines(runDir + "/log.txt").last().startsWith(QStringLiteral("failed: ")));
    }

    void studentTrainLimitAppliesToStudentAndScratchOnly()
    {
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto project = tinyProject(tmp.path());
        project.student.train.limit = 640; // 10 batches of 64; the teacher keeps all 3,600 images
        kd::Experiment exp(project, registries);
        Recorder rec;
        std::atomic<bool> stop{false};
        const auto summary = exp.run(rec, stop, tmp.filePath("limited").toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        std::map<std::string, std::int64_t> lastStep;
        for (const auto &r : rec.metrics)
            lastStep[r.role] = std::max(lastStep[r.role], r.step);
        QCOMPARE(lastStep["teacher"], std::int64_t(3600 / 64));
        QCOMPARE(lastStep["student"], std::int64_t(2 * 10));
        QCOMPARE(lastStep["student_scratch"], std::int64_t(2 * 10));
        QCOMPARE(kd::Project::fromJson(project.toJson()).student.train.limit, std::int64_t(640));
    }

    void badInputLeavesNoRunDirectory()
    {
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto project = tinyProject(tmp.path());
        project.dataset.name = "mnist";
        project.dataset.path = tmp.filePath("nowhere").toStdString();
        kd::Experiment exp(project, registries);
        Recorder rec;
        std::atomic<bool> stop{false};
        const QString runDir = tmp.filePath("never");
        QVERIFY_THROWS_EXCEPTION(kd::Error, exp.run(rec, stop, runDir.toStdString()));
        QVERIFY(!QFile::exists(runDir));

        // An existing, non-empty run directory is refused and left untouched.
        QDir().mkpath(runDir);
        QFile keep(runDir + "/keep.txt");
        QVERIFY(keep.open(QIODevice::WriteOnly));
        keep.write("mine");
        keep.close();
        kd::Experiment exp2(tinyProject(tmp.path()), registries);
        try {
            exp2.run(rec, stop, runDir.toStdString());
            QFAIL("existing run directory accepted");
        } catch (const kd::Error &e) {
            QVERIFY(QString(e.what()).contains("already exists"));
        }
        QCOMPARE(QDir(runDir).entryList(QDir::Files), QStringList{"keep.txt"});
    }
};

QTEST_GUILESS_MAIN(TestEngineRun)
#include "test_engine_run.moc"
