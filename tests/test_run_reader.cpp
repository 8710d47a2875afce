// Reading run directories (engine/runs/RunReader.h, RunGroups.h, SeedSpread.h): runs written
// by the real RunStore and by a tiny real Experiment, damaged ones made by hand, a live and a
// dead writer, metrics.csv followed while it grows, config diffs and seed groups.
#include "core/Error.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "runs/RunGroups.h"
#include "runs/RunProcess.h"
#include "runs/RunReader.h"
#include "runs/RunStore.h"
#include "runs/SeedSpread.h"
#include "training/Experiment.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A resolved project as Experiment writes it into config.json.
json config(std::uint64_t seed, double temperature = 4.0, int threads = 1)
{
    json j = {{"name", "cmp"},
              {"seed", seed},
              {"threads", threads},
              {"dataset", {{"name", "fashion-mnist"}, {"limit", 300}, {"test_limit", 200}}},
              {"teacher", {{"arch", "mlp"}, {"arch_options", {{"hidden", {32}}}}, {"train", {{"epochs", 1}, {"log_every", 1}}}}},
              {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {8}}}}, {"train", {{"epochs", 1}, {"log_every", 1}}}}},
              {"method", {{"name", "kd"}, {"temperature", temperature}, {"alpha", 0.9}}}};
    const auto reg = kd::Registries::builtin();
    return reg.resolve(kd::Project::fromJson(j)).toJson();
}

kd::MetricRecord epochRecord(const std::string &role, int epoch, double testAcc)
{
    kd::MetricRecord r;
    r.role = role;
    r.kind = kd::MetricRecord::Kind::Epoch;
    r.epoch = epoch;
    r.step = epoch * 10;
    r.wallSeconds = epoch;
    r.losses = {{"loss", 0.5}};
    r.testAcc = testAcc;
    return r;
}

/// A finished run written by the real RunStore with the given final test accuracies.
void writeRun(const std::string &dir, const json &cfg, double teacher, double student, double scratch,
              const std::string &status = "completed")
{
    kd::RunStore store(dir, cfg, {"loss"});
    kd::RunSummary s;
    s.runDir = dir;
    s.status = status;
    s.device = "cpu";
    s.wallSeconds = 3;
    for (auto [role, acc] : {std::pair<std::string, double>{"teacher", teacher}, {"student", student},
                             {"student_scratch", scratch}}) {
        store.appendMetric(epochRecord(role, 1, acc));
        kd::RoleSummary r;
        r.role = role;
        r.arch = "mlp";
        r.method = role == "student" ? "kd" : "ce";
        r.params = role == "teacher" ? 25450 : 6370;
        r.finalTestAcc = r.bestTestAcc = acc;
        r.trainSeconds = 1.5;
        r.epochsDone = 1;
        r.completed = true;
        s.roles.push_back(r);
    }
    store.writeSummary(s);
}

void writeText(const fs::path &path, const std::string &text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::string readText(const fs::path &path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Every file of a directory with its content and mtime: reading a run must not change it.
std::map<std::string, std::pair<std::string, fs::file_time_type>> snapshot(const fs::path &dir)
{
    std::map<std::string, std::pair<std::string, fs::file_time_type>> m;
    for (const auto &e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            m[e.path().string()] = {readText(e.path()), fs::last_write_time(e.path())};
    return m;
}

void makeOld(const fs::path &dir, std::chrono::minutes age)
{
    for (const auto &e : fs::directory_iterator(dir))
        fs::last_write_time(e.path(), fs::file_time_type::clock::now() - age);
}

const char *kHeader = "model,kind,epoch,step,wall_s,loss,lr,train_acc,val_acc,test_acc,img_per_s\n";

} // namespace

class TestRunReader : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void storeWritesRunningThenCompleted()
    {
        QTemporaryDir tmp;
        const std::string dir = tmp.filePath("run").toStdString();
        {
            kd::RunStore store(dir, config(1), {"loss"});
            // From the start: a summary that names this process.
            const auto start = json::parse(readText(fs::path(dir) / "summary.json"));
            QCOMPARE(start["status"].get<std::string>(), std::string("running"));
            QCOMPARE(start["pid"].get<std::int64_t>(), std::int64_t(QCoreApplication::applicationPid()));
            QCOMPARE(start["host"].get<std::string>(), kd::currentHostName());
            const auto started = kd::parseIsoUtc(start["started_at"].get<std::string>());
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
            QVERIFY2(std::llabs(started - now) < 60, start["started_at"].get<std::string>().c_str());

            const auto before = snapshot(dir);
            const auto live = kd::readRunInfo(dir);
            QCOMPARE(snapshot(dir), before); // reading changed nothing
            QCOMPARE(int(live.state), int(kd::RunState::Running));
            QVERIFY(live.problem.empty());
            QCOMPARE(live.startedUnix, started);
            QCOMPARE(live.name, std::string("run"));
            QCOMPARE(live.dir, fs::path(dir).lexically_normal().string());
            QCOMPARE(live.seed, std::int64_t(1));
            QCOMPARE(live.method, std::string("kd"));
            QCOMPARE(live.methodParams["temperature"].get<double>(), 4.0);
            QVERIFY(!live.methodParams.contains("name"));
            QVERIFY(std::isnan(live.studentAcc));
        }
        fs::remove_all(dir);
        writeRun(dir, config(7), 0.9, 0.85, 0.83);
        const auto done = kd::readRunInfo(dir + "/"); // a trailing slash names the same run
        QCOMPARE(int(done.state), int(kd::RunState::Completed));
        QCOMPARE(done.name, std::string("run"));
        QCOMPARE(done.dataset, std::string("fashion-mnist"));
        QCOMPARE(done.teacherArch, std::string("mlp"));
        QCOMPARE(done.studentArch, std::string("mlp"));
        // The project's teacher stays in the config of a method without one: none is shown.
        for (const json &method : {json{{"name", "ce"}}, json{{"name", "one"}}, json{{"name", "iekd"}, {"mutual", true}}}) {
            auto noTeacher = config(7);
            noTeacher["method"] = method;
            const std::string name = method["name"].get<std::string>();
            const std::string other = dir + "-" + name;
            writeRun(other, noTeacher, NAN, 0.85, 0.83);
            QCOMPARE(kd::readRunInfo(other).teacherArch, std::string());
            fs::remove_all(other);
        }
        QCOMPARE(done.seed, std::int64_t(7));
        QCOMPARE(done.teacherAcc, 0.9);
        QCOMPARE(done.studentAcc, 0.85);
        QCOMPARE(done.scratchAcc, 0.83);
        QVERIFY(std::fabs(done.kdGain - 0.02) < 1e-12);
        QCOMPARE(done.studentParams, std::int64_t(6370));
        QCOMPARE(done.trainSeconds, 4.5);
        QVERIFY(done.metricsBytes > std::strlen(kHeader));
        // The final summary keeps the writer's identity next to the keys it always had.
        const auto sj = json::parse(readText(fs::path(dir) / "summary.json"));
        QCOMPARE(sj["pid"].get<std::int64_t>(), std::int64_t(QCoreApplication::applicationPid()));
        QVERIFY(sj.contains("started_at") && sj.contains("host") && sj.contains("device"));
        QCOMPARE(sj["status"].get<std::string>(), std::string("completed"));
        QVERIFY(sj["models"]["student"].contains("final_test_acc"));

        const auto m = kd::readMetrics(dir);
        QVERIFY(m.problems.empty());
        QCOMPARE(m.blocks.size(), std::size_t(3));
        const auto *b = m.find("student", "epoch");
        QVERIFY(b);
        QCOMPARE(b->rows(), std::size_t(1));
        QCOMPARE(b->column("test_acc")->front(), 0.85);
        QVERIFY(std::isnan(b->column("lr")->front())); // empty cell
        QVERIFY(!b->column("model"));                  // role and kind are the block, not columns
    }

    void tinyRealExperiment()
    {
        if (!QFile::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        auto cfg = config(5);
        cfg["output_dir"] = tmp.path().toStdString();
        kd::Experiment exp(kd::Project::fromJson(cfg), registries);
        kd::ExperimentObserver quiet;
        std::atomic<bool> stop{false};
        const std::string dir = tmp.filePath("real").toStdString();
        const auto summary = exp.run(quiet, stop, dir);
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

        const auto info = kd::readRunInfo(dir);
        QCOMPARE(int(info.state), int(kd::RunState::Completed));
        QVERIFY(info.problem.empty());
        QCOMPARE(info.studentAcc, summary.find("student")->finalTestAcc);
        QCOMPARE(info.scratchAcc, summary.find("student_scratch")->finalTestAcc);
        QCOMPARE(info.teacherAcc, summary.find("teacher")->finalTestAcc);
        QCOMPARE(info.studentParams, summary.find("student")->params);
        QVERIFY(info.trainSeconds > 0);
        QCOMPARE(info.config, cfg);

        const auto m = kd::readMetrics(dir);
        QVERIFY2(m.problems.empty(), m.problems.empty() ? "" : m.problems.front().c_str());
        for (const char *role : {"teacher", "student", "student_scratch"}) {
            const auto *e = m.find(role, "epoch");
            QVERIFY2(e, role);
            QCOMPARE(e->rows(), std::size_t(1));
            // metrics.csv keeps 6 significant digits.
            QVERIFY(std::fabs(e->column("test_acc")->back() - summary.find(role)->finalTestAcc) < 1e-5);
            const auto *s = m.find(role, "step");
            QVERIFY2(s && s->rows() >= 1, role);
            for (const auto &col : s->columns)
                QCOMPARE(col.second.size(), s->rows());
        }
        QVERIFY(m.find("student", "step")->column("loss_kd"));
        // The run's own note: no other seeds of this setting here yet.
        const auto note = kd::seedSpreadNote(dir);
        QVERIFY2(note.text.find("spread unknown (one seed)") != std::string::npos, note.text.c_str());
        QCOMPARE(note.otherSeeds, std::size_t(0));
    }

    void damagedRuns_data()
    {
        QTest::addColumn<QByteArray>("configText"); // "-": no config.json
        QTest::addColumn<QByteArray>("summaryText"); // "-": no summary.json
        QTest::addColumn<int>("state");
        QTest::addColumn<QString>("problem");
        const QByteArray good = QByteArray::fromStdString(config(1).dump(2));
        QTest::newRow("empty dir") << QByteArray("-") << QByteArray("-") << int(kd::RunState::Damaged) << "config.json is missing";
        QTest::newRow("empty config") << QByteArray("") << QByteArray("-") << int(kd::RunState::Damaged) << "config.json is empty";
        QTest::newRow("truncated config") << good.left(good.size() / 2) << QByteArray("-") << int(kd::RunState::Damaged)
                                          << "config.json is not valid JSON";
        QTest::newRow("config array") << QByteArray("[1, 2]") << QByteArray("-") << int(kd::RunState::Damaged)
                                      << "config.json holds no JSON object";
        QTest::newRow("truncated summary") << good << QByteArray("{\"status\": \"compl") << int(kd::RunState::Damaged)
                                           << "summary.json is not valid JSON";
        QTest::newRow("binary summary") << good << QByteArray("\x00\xff\x13garbage", 10) << int(kd::RunState::Damaged)
                                        << "summary.json is not valid JSON";
        QTest::newRow("unknown status") << good << QByteArray(R"({"status": "paused"})") << int(kd::RunState::Damaged)
                                        << "unknown status \"paused\"";
        QTest::newRow("no status") << good << QByteArray(R"({"models": {}})") << int(kd::RunState::Damaged)
                                   << "summary.json has no status";
        QTest::newRow("wrong types") << good << QByteArray(R"({"status": "completed", "models": {"student": 3, "teacher": {"final_test_acc": "x"}}})")
                                     << int(kd::RunState::Completed) << "";
        QTest::newRow("stopped") << good << QByteArray(R"({"status": "stopped", "models": {}})") << int(kd::RunState::Stopped)
                                 << "stopped before the end";
    }
    void damagedRuns()
    {
        QFETCH(QByteArray, configText);
        QFETCH(QByteArray, summaryText);
        QFETCH(int, state);
        QFETCH(QString, problem);
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        if (configText != "-")
            writeText(dir / "config.json", configText.toStdString());
        if (summaryText != "-")
            writeText(dir / "summary.json", summaryText.toStdString());
        writeText(dir / "metrics.csv", std::string(kHeader) + "student,epoch,1,10,1.0,0.3,,,,0.8");
        const auto before = snapshot(dir);
        kd::RunInfo info;
        try {
            info = kd::readRunInfo(dir.string());
        } catch (const std::exception &e) {
            QFAIL(e.what());
        }
        QCOMPARE(snapshot(dir), before);
        QCOMPARE(int(info.state), state);
        QVERIFY2(QString::fromStdString(info.problem).contains(problem), info.problem.c_str());
        QVERIFY(std::isnan(info.studentAcc));
    }

    void failedRunTellsWhy()
    {
        QTemporaryDir tmp;
        const std::string dir = tmp.filePath("f").toStdString();
        {
            kd::RunStore store(dir, config(1), {"loss"});
            store.appendLog("run directory: " + dir);
            store.appendLog("failed: out of memory; lower batch_size");
            kd::RunSummary s;
            s.status = "failed";
            store.writeSummary(s);
        }
        const auto info = kd::readRunInfo(dir);
        QCOMPARE(int(info.state), int(kd::RunState::Failed));
        QCOMPARE(info.problem, std::string("out of memory; lower batch_size"));
    }

    void notADirectoryThrows()
    {
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::readRunInfo("/nonexistent/run/dir"));
    }

    void liveAndDeadWriters()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        writeText(dir / "config.json", config(1).dump());
        auto summary = [&](std::int64_t pid, const std::string &host, std::int64_t start = -1) {
            json s = {{"status", "running"}, {"pid", pid}, {"host", host}, {"started_at", "2026-01-02T03:04:05Z"},
                      {"models", json::object()}};
            if (start >= 0)
                s["pid_start"] = start;
            writeText(dir / "summary.json", s.dump());
        };
        const auto self = std::int64_t(QCoreApplication::applicationPid());
        summary(self, kd::currentHostName(), kd::processStartTicks(self));
        auto info = kd::readRunInfo(dir.string());
        QCOMPARE(int(info.state), int(kd::RunState::Running));
        QCOMPARE(info.startedUnix, std::int64_t(1767323045)); // date -u -d 2026-01-02T03:04:05Z +%s

        // A process that has exited.
        QProcess p;
        p.start("true", {});
        QVERIFY(p.waitForStarted());
        const auto dead = std::int64_t(p.processId());
        QVERIFY(p.waitForFinished());
        summary(dead, kd::currentHostName());
        info = kd::readRunInfo(dir.string());
        QCOMPARE(int(info.state), int(kd::RunState::Interrupted));
        QVERIFY2(info.problem.find("pid " + std::to_string(dead)) != std::string::npos, info.problem.c_str());

        // A live pid that started at another time is another process (the id was reused).
        summary(self, kd::currentHostName(), kd::processStartTicks(self) + 1);
        QCOMPARE(int(kd::readRunInfo(dir.string()).state), int(kd::RunState::Interrupted));

        // Another host: only the files' age can tell.
        summary(self, "some-other-host");
        QCOMPARE(int(kd::readRunInfo(dir.string()).state), int(kd::RunState::Running));
        makeOld(dir, std::chrono::minutes(11));
        info = kd::readRunInfo(dir.string());
        QCOMPARE(int(info.state), int(kd::RunState::Interrupted));
        QVERIFY2(info.problem.find("not changed for 11 min") != std::string::npos, info.problem.c_str());

        // No summary at all (a run from before summaries were written at the start).
        fs::remove(dir / "summary.json");
        writeText(dir / "metrics.csv", kHeader);
        QCOMPARE(int(kd::readRunInfo(dir.string()).state), int(kd::RunState::Running));
        makeOld(dir, std::chrono::minutes(30));
        info = kd::readRunInfo(dir.string());
        QCOMPARE(int(info.state), int(kd::RunState::Interrupted));
        QVERIFY2(info.problem.find("no summary.json") != std::string::npos, info.problem.c_str());
    }

    void metricsTolerance()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        writeText(dir / "metrics.csv",
                  std::string(kHeader)
                      + "teacher,step,1,10,0.5,2.3,0.05,,,,1000\n"
                        "teacher,step,1,20,1.0,2.1,0.05\n"              // 7 cells
                        "teacher,step,1,30,1.5,abc,0.05,,,,1000\n"      // not a number
                        "\n"                                            // blank line
                        "teacher,epoch,1,30,1.6,,,0.7,,0.69,\r\n"       // CRLF
                        "teacher,step,2,40,2.0,1.9,0.05,,,,10");        // torn: no newline yet
        const auto m = kd::readMetrics(dir.string());
        QCOMPARE(m.header.size(), std::size_t(11));
        const auto *step = m.find("teacher", "step");
        QVERIFY(step);
        QCOMPARE(step->rows(), std::size_t(2)); // the 7-cell row skipped, the torn one not yet there
        QCOMPARE(step->column("step")->at(0), 10.0);
        QCOMPARE(step->column("step")->at(1), 30.0);
        QVERIFY(std::isnan(step->column("loss")->at(1)));
        QCOMPARE(step->column("img_per_s")->at(0), 1000.0);
        const auto *epoch = m.find("teacher", "epoch");
        QVERIFY(epoch);
        QCOMPARE(epoch->column("test_acc")->at(0), 0.69);
        QVERIFY(std::isnan(epoch->column("img_per_s")->at(0)));
        QCOMPARE(m.problems.size(), std::size_t(2));
        QCOMPARE(m.problems[0], std::string("line 3: 7 cells, header has 11 (skipped)"));
        QVERIFY2(m.problems[1].find("line 4: \"abc\" in column loss is not a number") == 0, m.problems[1].c_str());

        // A file of nothing but garbage lines: problems, capped, no crash.
        std::string junk = kHeader;
        for (int i = 0; i < 500; ++i)
            junk += "x,y\n";
        writeText(dir / "metrics.csv", junk);
        const auto j = kd::readMetrics(dir.string());
        QVERIFY(j.blocks.empty());
        QCOMPARE(j.problems.size(), std::size_t(51));
        QCOMPARE(j.problems.back(), std::string("450 more problems not listed"));
        // No metrics.csv at all.
        fs::remove(dir / "metrics.csv");
        QVERIFY(kd::readMetrics(dir.string()).blocks.empty());
    }

    void followerSeesRowsAppear()
    {
        QTemporaryDir tmp;
        const fs::path file = fs::path(tmp.path().toStdString()) / "metrics.csv";
        kd::MetricsFollower f(file.string());
        QVERIFY(!f.poll()); // not there yet
        std::ofstream out(file, std::ios::binary);
        auto append = [&](const std::string &s) {
            out << s;
            out.flush();
        };
        const std::string header = kHeader;
        append(header.substr(0, 20)); // torn header
        QVERIFY(!f.poll());
        QVERIFY(f.metrics().header.empty());
        append(header.substr(20) + "student,step,1,10,0.5,2.3,0.05,,,,1");
        QVERIFY(!f.poll()); // header complete, the row torn
        QCOMPARE(f.metrics().header.size(), std::size_t(11));
        QVERIFY(f.metrics().blocks.empty());
        append("00\nstudent,step,1,20,1.0,2.2,0.05,,,,200\nstudent,ep");
        QVERIFY(f.poll());
        QCOMPARE(f.metrics().find("student", "step")->rows(), std::size_t(2));
        QCOMPARE(f.metrics().find("student", "step")->column("img_per_s")->at(0), 100.0);
        QCOMPARE(f.offset(), std::uintmax_t(fs::file_size(file)));
        QVERIFY(!f.poll()); // nothing new
        append("och,1,20,1.1,,,,,0.8,\n");
        QVERIFY(f.poll());
        QCOMPARE(f.metrics().find("student", "epoch")->column("test_acc")->at(0), 0.8);
        QCOMPARE(f.metrics().find("student", "step")->rows(), std::size_t(2)); // nothing read twice

        // The header grows: a new column, NaN for the rows before it.
        append("model,kind,epoch,step,wall_s,loss,lr,train_acc,val_acc,test_acc,img_per_s,agreement\n"
               "student,epoch,2,40,2.0,,,,,0.85,,0.9\n");
        QVERIFY(f.poll());
        const auto *e = f.metrics().find("student", "epoch");
        QCOMPARE(e->rows(), std::size_t(2));
        QVERIFY(std::isnan(e->column("agreement")->at(0)));
        QCOMPARE(e->column("agreement")->at(1), 0.9);
        const auto *s = f.metrics().find("student", "step");
        for (const auto &col : s->columns)
            QCOMPARE(col.second.size(), std::size_t(2));
        QVERIFY(s->column("agreement"));
        QVERIFY(f.metrics().problems.empty());
        out.close();

        // Replaced by a new, shorter file (a rerun into the same place): read from the start.
        const fs::path next = file.string() + ".new";
        writeText(next, header + "teacher,step,1,5,0.1,2.0,0.1,,,,50\n");
        fs::rename(next, file);
        QVERIFY(f.poll());
        QCOMPARE(f.metrics().blocks.size(), std::size_t(1));
        QCOMPARE(f.metrics().find("teacher", "step")->rows(), std::size_t(1));
        QCOMPARE(f.metrics().header.size(), std::size_t(11));
        // Truncated in place (same inode, smaller): again from the start.
        fs::resize_file(file, header.size());
        QVERIFY(f.poll());
        QVERIFY(f.metrics().blocks.empty());
        QCOMPARE(f.offset(), std::uintmax_t(header.size()));
    }

    void followerOnRunStore()
    {
        QTemporaryDir tmp;
        const std::string dir = tmp.filePath("live").toStdString();
        kd::RunStore store(dir, config(1), {"loss", "kd"}, {"robust_acc"});
        kd::MetricsFollower f(store.path("metrics.csv"));
        f.poll();
        QCOMPARE(f.metrics().header.back(), std::string("robust_acc"));
        for (int i = 1; i <= 30; ++i) {
            kd::MetricRecord r;
            r.role = "student";
            r.step = i;
            r.epoch = 1;
            r.wallSeconds = 0.1 * i;
            r.losses = {{"loss", 1.0 / i}, {"kd", 0.5 / i}};
            store.appendMetric(r);
            if (i % 7 == 0) {
                QVERIFY(f.poll());
                QCOMPARE(f.metrics().find("student", "step")->rows(), std::size_t(i));
            }
        }
        f.poll();
        const auto *b = f.metrics().find("student", "step");
        QCOMPARE(b->rows(), std::size_t(30));
        QVERIFY(std::fabs(b->column("loss_kd")->at(9) - 0.05) < 1e-9);
        QCOMPARE(b->column("step")->back(), 30.0);
    }

    void findsRunDirectories()
    {
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        for (const char *d : {"a", "b/c", "a/features", "d/e/f/g", "empty/x"})
            fs::create_directories(root / d);
        for (const char *d : {"a", "b/c", "a/features", "d/e/f/g"})
            writeText(root / d / "config.json", "{}");
        const auto found = kd::findRunDirectories(root.string());
        QCOMPARE(found, (std::vector<std::string>{(root / "a").string(), (root / "b/c").string()}));
        QCOMPARE(kd::findRunDirectories(root.string(), 4).size(), std::size_t(3));
        QCOMPARE(kd::findRunDirectories((root / "a").string()), (std::vector<std::string>{(root / "a").string()}));
        QVERIFY(kd::findRunDirectories((root / "missing").string()).empty());
    }

    void configDiff()
    {
        auto a = config(1, 4.0), b = config(2, 2.0), c = config(3, 4.0, 2);
        b["name"] = "other";
        b["output_dir"] = "elsewhere";
        c["method"].erase("alpha");
        const auto rows = kd::diffConfigs({a, b, c});
        std::map<std::string, std::vector<std::string>> byKey;
        for (const auto &r : rows)
            byKey[r.key] = r.values;
        QCOMPARE(byKey.size(), std::size_t(4));
        QCOMPARE(byKey["seed"], (std::vector<std::string>{"1", "2", "3"}));
        QCOMPARE(byKey["method.temperature"], (std::vector<std::string>{"4.0", "2.0", "4.0"}));
        QCOMPARE(byKey["method.alpha"], (std::vector<std::string>{"0.9", "0.9", ""}));
        QCOMPARE(byKey["threads"], (std::vector<std::string>{"1", "1", "2"}));
        QVERIFY(std::is_sorted(rows.begin(), rows.end(), [](auto &x, auto &y) { return x.key < y.key; }));
        QVERIFY(kd::diffConfigs({a, a}).empty());
        // Arrays are one value.
        auto d = a;
        d["student"]["arch_options"]["hidden"] = {8, 4};
        const auto arr = kd::diffConfigs({a, d});
        QCOMPARE(arr.size(), std::size_t(1));
        QCOMPARE(arr[0].key, std::string("student.arch_options.hidden"));
        QCOMPARE(arr[0].values[1], std::string("[8,4]"));

        // Setting keys: seed, threads and log_every do not make another setting.
        auto e = config(9, 4.0, 2);
        e["student"]["train"]["log_every"] = 5;
        e["device"] = "cpu";
        QCOMPARE(kd::settingKey(e), kd::settingKey(a));
        QVERIFY(kd::settingKey(e, false) != kd::settingKey(a, false));
        QVERIFY(kd::settingKey(b) != kd::settingKey(a));
    }

    void seedGroupsAndSpread()
    {
        QTemporaryDir tmp;
        const fs::path root = tmp.path().toStdString();
        // Setting A (T = 4) over three seeds, setting B (T = 2) over two, one damaged run.
        const double stA[] = {0.84, 0.86, 0.85}, scA[] = {0.80, 0.81, 0.815};
        for (int s = 0; s < 3; ++s)
            writeRun((root / ("a" + std::to_string(s))).string(), config(s + 1, 4.0, s == 2 ? 2 : 1), 0.9, stA[s], scA[s]);
        writeRun((root / "b0").string(), config(1, 2.0), 0.9, 0.82, 0.80);
        writeRun((root / "b1").string(), config(2, 2.0), 0.9, 0.83, 0.81);
        fs::create_directories(root / "broken");
        writeText(root / "broken" / "config.json", "{\"seed\": ");
        std::vector<kd::RunInfo> runs;
        for (const auto &d : kd::findRunDirectories(root.string()))
            runs.push_back(kd::readRunInfo(d));
        QCOMPARE(runs.size(), std::size_t(6)); // a0 a1 a2 b0 b1 broken
        const auto groups = kd::groupBySeed(runs);
        QCOMPARE(groups.size(), std::size_t(3));
        QCOMPARE(groups[0].members, (std::vector<std::size_t>{0, 1, 2}));
        QCOMPARE(groups[0].seeds, (std::vector<std::int64_t>{1, 2, 3}));
        QCOMPARE(groups[1].members, (std::vector<std::size_t>{3, 4}));
        QCOMPARE(groups[2].members, (std::vector<std::size_t>{5}));
        QVERIFY(groups[2].key.empty()); // damaged: alone, no setting
        QCOMPARE(groups[0].studentAcc.n, std::size_t(3));
        QVERIFY(std::fabs(groups[0].studentAcc.mean - 0.85) < 1e-12);
        QVERIFY(std::fabs(groups[0].studentAcc.sd - 0.01) < 1e-12);
        QVERIFY(std::fabs(groups[0].kdGain.mean - (0.04 + 0.05 + 0.035) / 3) < 1e-12);
        QVERIFY(groups[0].teacherAcc.sd < 1e-12);
        const auto w = groups[0].studentVsScratch;
        const auto expect = kd::welchTest({0.84, 0.86, 0.85}, {0.80, 0.81, 0.815});
        QCOMPARE(w.p, expect.p);
        QVERIFY(w.diff > 0 && w.ciLow > 0); // this gain is real
        const auto ab = kd::compareGroups(groups[0], groups[1], runs);
        QCOMPARE(ab.p, kd::welchTest({0.84, 0.86, 0.85}, {0.82, 0.83}).p);
        QVERIFY(std::fabs(ab.diff - (0.85 - 0.825)) < 1e-12);

        // Seed spread: a0's gain (+4.0 pt) against the gains of its setting (sd 0.76 pt).
        auto note = kd::seedSpreadNote((root / "a0").string());
        QVERIFY(note.known);
        QCOMPARE(note.otherSeeds, std::size_t(2));
        QCOMPARE(note.gains.n, std::size_t(3));
        QVERIFY(!note.within);
        QCOMPARE(note.text, std::string("gain +4.00 pt; seed-to-seed sd of this setting (3 runs): 0.76 pt \xE2\x80\x94 beyond the spread"));
        // b0 has one sibling seed only.
        note = kd::seedSpreadNote((root / "b0").string());
        QVERIFY(!note.known);
        QVERIFY2(note.text.find("spread unknown (two seeds") != std::string::npos, note.text.c_str());
        // A noisy setting: gains +0.5, +3, −2 pt.
        const fs::path noisy = root / "noisy";
        const double st[] = {0.805, 0.83, 0.78};
        for (int s = 0; s < 3; ++s)
            writeRun((noisy / ("n" + std::to_string(s))).string(), config(s + 1, 8.0), 0.9, st[s], 0.80);
        note = kd::seedSpreadNote((noisy / "n0").string());
        QVERIFY(note.known && note.within);
        QVERIFY2(note.text.find("gain +0.50 pt; seed-to-seed sd of this setting (3 runs): 2.50 pt") == 0, note.text.c_str());
        QVERIFY(note.text.find("within the spread") != std::string::npos);
        // A run without a scratch baseline has no gain, so no note.
        QVERIFY(kd::seedSpreadNote((root / "broken").string()).text.empty());
    }
};

QTEST_GUILESS_MAIN(TestRunReader)
#include "test_run_reader.moc"
