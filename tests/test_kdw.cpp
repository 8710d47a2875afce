// The kdw command line as a user drives it: listings, a real run, and bad input that must
// end in one clear message and a non-zero exit, leaving nothing behind.
#include "project/ChoiceChange.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "runs/RunStore.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Result {
    int code = -1;
    QString out;
    QString err;
};

Result kdw(const QStringList &args, int timeoutMs = 300000)
{
    QProcess p;
    p.setWorkingDirectory(KD_SOURCE_DIR);
    p.start(KDW_EXECUTABLE, args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

void writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

/// A finished run written by the real RunStore: a resolved project with `seed` and KD
/// temperature `t`, and the given final test accuracies.
void writeRun(const QString &dir, std::uint64_t seed, double t, double teacher, double student, double scratch)
{
    nlohmann::json j = {{"name", "cmp"},
                        {"seed", seed},
                        {"dataset", {{"name", "fashion-mnist"}, {"limit", 300}}},
                        {"teacher", {{"arch", "cnn_small"}}},
                        {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {16}}}}}},
                        {"method", {{"name", "kd"}, {"temperature", t}, {"alpha", 0.9}}}};
    const auto config = kd::Registries::builtin().resolve(kd::Project::fromJson(j)).toJson();
    kd::RunStore store(dir.toStdString(), config, {"loss"});
    kd::RunSummary s;
    s.status = "completed";
    for (auto [role, acc] : {std::pair<std::string, double>{"teacher", teacher}, {"student", student},
                             {"student_scratch", scratch}}) {
        kd::RoleSummary r;
        r.role = role;
        r.params = role == "teacher" ? 100000 : 12730;
        r.finalTestAcc = acc;
        r.trainSeconds = 65;
        r.completed = true;
        s.roles.push_back(r);
    }
    store.writeSummary(s);
}

} // namespace

class TestKdw : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void usageWithoutArguments()
    {
        const auto r = kdw({});
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("usage: kdw"));
    }

    void listings_data()
    {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("architectures") << "architectures" << QStringList{"mlp", "lenet5", "cnn_small", "cnn_large", "params"};
        QTest::newRow("methods") << "methods" << QStringList{"ce ", "kd ", "temperature", "alpha"};
        QTest::newRow("datasets") << "datasets" << QStringList{"fashion-mnist", "mnist", "idx"};
    }
    void listings()
    {
        QFETCH(QString, what);
        QFETCH(QStringList, expected);
        const auto r = kdw({"list", what});
        QCOMPARE(r.code, 0);
        for (const auto &e : expected)
            QVERIFY2(r.out.contains(e), qPrintable(e + " missing in:\n" + r.out));
    }

    void info()
    {
        const auto r = kdw({"info", "resnet20", "--input", "3x32x32", "--classes", "10"});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("parameters: 272474"), qPrintable(r.out)); // He et al.: 0.27M
        QVERIFY(r.out.contains("MACs:       40813184")); // ~41M, as usually quoted
        QVERIFY(r.out.contains("stage3_pre    64x8x8"));
        QVERIFY(r.out.contains("logits        10"));
        const auto mlp = kdw({"info", "mlp", "--input", "1x28x28", "--set", "hidden=[256,128]"});
        QCOMPARE(mlp.code, 0);
        QVERIFY(mlp.out.contains("parameters: 235146")); // 784*256+256 + 256*128+128 + 128*10+10

        const auto unknown = kdw({"info", "resnet9"});
        QCOMPARE(unknown.code, 1);
        QVERIFY(unknown.err.contains("valid architectures:") && unknown.err.contains("resnet8"));
        const auto shape = kdw({"info", "mlp", "--input", "28x28"});
        QCOMPARE(shape.code, 1);
        QVERIFY(shape.err.contains("write CxHxW"));
        const auto option = kdw({"info", "mlp", "--set", "hiden=[3]"});
        QCOMPARE(option.code, 1);
        QVERIFY(option.err.contains("unknown key mlp.hiden"));
    }

    void badInput_data()
    {
        QTest::addColumn<QByteArray>("project");   // file contents; empty: no file
        QTest::addColumn<QStringList>("extraArgs");
        QTest::addColumn<QStringList>("expected"); // all must appear on stderr
        QTest::newRow("missing file") << QByteArray() << QStringList{} << QStringList{"file not found"};
        QTest::newRow("syntax error") << QByteArray("{\n  \"name\": \"x\"\n  \"seed\": 1\n}") << QStringList{}
                                      << QStringList{"p.json:3:8", "JSON syntax error"};
        QTest::newRow("unknown arch") << QByteArray(R"({"student": {"arch": "resnet9000"}})") << QStringList{}
                                      << QStringList{"unknown architecture \"resnet9000\"", "mlp", "cnn_large", "lenet5"};
        QTest::newRow("unknown method") << QByteArray(R"({"method": {"name": "magic"}})") << QStringList{}
                                        << QStringList{"unknown method \"magic\"", "kd", "ce"};
        QTest::newRow("unknown dataset") << QByteArray(R"({"dataset": {"name": "cifar-11"}})") << QStringList{}
                                         << QStringList{"unknown dataset \"cifar-11\"", "fashion-mnist", "cifar10"};
        QTest::newRow("unknown key") << QByteArray(R"({"student": {"trian": {}}})") << QStringList{}
                                     << QStringList{"unknown key student.trian"};
        QTest::newRow("bad method param") << QByteArray(R"({"method": {"name": "kd", "alpha": 2}})") << QStringList{}
                                          << QStringList{"method.alpha", "[0, 1]"};
        QTest::newRow("bad override") << QByteArray("{}") << QStringList{"--set", "student.train.epochs=-3"}
                                      << QStringList{"student.train.epochs = -3 is out of range"};
        QTest::newRow("unknown option") << QByteArray("{}") << QStringList{"--fast"} << QStringList{"unknown option --fast"};
        QTest::newRow("cuda missing") << QByteArray(R"({"device": "cuda:7"})") << QStringList{}
                                      << QStringList{"cuda:7"};
    }
    void badInput()
    {
        QFETCH(QByteArray, project);
        QFETCH(QStringList, extraArgs);
        QFETCH(QStringList, expected);
        QTemporaryDir tmp;
        const QString path = tmp.filePath("p.json");
        if (!project.isEmpty())
            writeFile(path, project);
        const auto r = kdw(QStringList{"run", path, "--out", tmp.filePath("run")} + extraArgs);
        QVERIFY2(r.code == 1 || r.code == 2, qPrintable(QString::number(r.code) + r.err));
        for (const auto &e : expected)
            QVERIFY2(r.err.contains(e), qPrintable("expected \"" + e + "\" in:\n" + r.err));
        QVERIFY2(!r.err.contains("internal error"), qPrintable(r.err));
        QVERIFY(!QFile::exists(tmp.filePath("run"))); // nothing half-written
    }

    void badTeacherCheckpointsAndOutputs()
    {
        // A real teacher checkpoint: an MLP trained here on synthetic 1x28x28 images, 10 classes.
        QTemporaryDir tmp;
        const QString teacherProject = tmp.filePath("t.json");
        writeFile(teacherProject, R"({"dataset": {"name": "synthetic", "limit": 64}, "baseline": false,
            "teacher": {"arch": "mlp", "train": {"epochs": 1}}, "student": {"arch": "mlp", "train": {"epochs": 1}}})");
        const QString made = tmp.filePath("made");
        QCOMPARE(kdw({"run", teacherProject, "--out", made, "--quiet"}).code, 0);
        const QString ckpt = made + "/teacher.pt";
        const QString project = tmp.filePath("p.json");
        writeFile(project, R"({"dataset": {"name": "synthetic", "limit": 64}, "method": {"name": "kd"},
            "teacher": {"arch": "mlp", "checkpoint": ")" + ckpt.toUtf8() + R"("}, "student": {"arch": "mlp"}})");
        const struct {
            const char *what;
            QStringList args;
            QStringList expected;
        } cases[] = {
            {"another architecture", {"--set", "teacher.arch=lenet5"}, {"does not fit the configured architecture", "teacher.arch"}},
            {"another input shape", {"--set", "dataset.image_size=16"}, {"was trained on 1x28x28 images", "gives 1x16x16"}},
            {"another width", {"--set", "teacher.arch_options.hidden=[64]"}, {"does not fit the configured model", "[128, 784]", "[64, 784]"}},
            {"another class count", {"--set", "method.name=dmc", "--set", "teachers=[{\"arch\": \"mlp\", \"checkpoint\": \"" + ckpt + "\"}, {\"arch\": \"mlp\"}]"},
             {"has 10 output classes", "needs 5 (the old classes"}},
            {"feature shapes the method cannot adapt", {"--set", "method.name=at"}, {"needs spatial feature maps", "choose a convolutional student"}},
        };
        for (const auto &c : cases) {
            const QString out = tmp.filePath(QString("run-%1").arg(c.what).replace(' ', '-'));
            const auto r = kdw(QStringList{"run", project, "--out", out} + c.args);
            QVERIFY2(r.code == 1, qPrintable(QString(c.what) + ": exit " + QString::number(r.code) + r.err));
            for (const auto &e : c.expected)
                QVERIFY2(r.err.contains(e), qPrintable(QString(c.what) + ": expected \"" + e + "\" in:\n" + r.err));
            QVERIFY2(!r.err.contains("internal error"), qPrintable(r.err));
            QVERIFY2(!QFile::exists(out), c.what); // refused before the run directory exists
        }
        // An existing run is never overwritten; an output folder that cannot be created is named.
        const auto before = QFileInfo(made + "/metrics.csv").size();
        auto r = kdw({"run", teacherProject, "--out", made});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("already exists and is not empty"), qPrintable(r.err));
        QCOMPARE(QFileInfo(made + "/metrics.csv").size(), before);
        r = kdw({"run", teacherProject, "--out", ckpt + "/run"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("cannot create run directory") && r.err.contains("Not a directory"), qPrintable(r.err));
    }

    void badDatasetFile()
    {
        // A label file whose magic number is wrong.
        QTemporaryDir tmp;
        const QByteArray hdr3("\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c", 16);
        const QByteArray img = hdr3 + QByteArray(2 * 28 * 28, '\x10');
        const QByteArray lab("\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02", 10);
        QDir().mkpath(tmp.filePath("data"));
        writeFile(tmp.filePath("data/train-images-idx3-ubyte"), img);
        writeFile(tmp.filePath("data/t10k-images-idx3-ubyte"), img);
        writeFile(tmp.filePath("data/t10k-labels-idx1-ubyte"), lab);
        QByteArray badLab = lab;
        badLab[0] = '\x07';
        writeFile(tmp.filePath("data/train-labels-idx1-ubyte"), badLab);
        writeFile(tmp.filePath("p.json"), R"({"dataset": {"name": "mnist", "path": ")" + tmp.filePath("data").toUtf8() + R"("}})");
        const auto r = kdw({"run", tmp.filePath("p.json"), "--out", tmp.filePath("run")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("train-labels-idx1-ubyte has a wrong IDX magic number"), qPrintable(r.err));
        QVERIFY(!QFile::exists(tmp.filePath("run")));
    }

    void compareRuns()
    {
        QTemporaryDir tmp;
        // Two settings (T = 4 over three seeds, T = 2 over two) and a damaged run, nested.
        writeRun(tmp.filePath("runs/t4-s1"), 1, 4.0, 0.91, 0.850, 0.810);
        writeRun(tmp.filePath("runs/t4-s2"), 2, 4.0, 0.91, 0.860, 0.815);
        writeRun(tmp.filePath("runs/t4-s3"), 3, 4.0, 0.91, 0.855, 0.805);
        writeRun(tmp.filePath("runs/old/t2-s1"), 1, 2.0, 0.91, 0.830, 0.810);
        writeRun(tmp.filePath("runs/old/t2-s2"), 2, 2.0, 0.91, 0.835, 0.815);
        QDir().mkpath(tmp.filePath("runs/broken"));
        writeFile(tmp.filePath("runs/broken/config.json"), "{\"seed\": 3, \"meth");

        const auto table = kdw({"compare", tmp.filePath("runs")});
        QVERIFY2(table.code == 0, qPrintable(table.out + table.err));
        const auto lines = table.out.split('\n', Qt::SkipEmptyParts);
        QVERIFY2(lines[0].startsWith("name") && lines[0].contains("temperature") && lines[0].contains("KD gain pt")
                     && !lines[0].contains("alpha"), // same in every run: no column
                 qPrintable(table.out));
        QVERIFY(table.out.contains("t4-s2") && table.out.contains("t2-s1"));
        QVERIFY2(table.out.contains(QRegularExpression("t4-s2 +completed +fashion-mnist +cnn_small +mlp +kd +4.0 +2 +91.00 +86.00 +81.50 +\\+4.50 +12.73k +3m15s")),
                 qPrintable(table.out));
        QVERIFY2(table.out.contains("broken: damaged: config.json is not valid JSON"), qPrintable(table.out));

        const auto groups = kdw({"compare", tmp.filePath("runs/old"), tmp.filePath("runs"), "--group-seeds"});
        QVERIFY2(groups.code == 0, qPrintable(groups.out + groups.err));
        QVERIFY2(groups.out.contains("seed groups"), qPrintable(groups.out));
        // The folder given twice lists each run once: groups of 2 (old/, first) and 3.
        QVERIFY2(groups.out.contains(QRegularExpression("\\n1 +2 +1 2 +kd +2.0 +91.00 \u00b1 0.00 +83.25 \u00b1 0.35")),
                 qPrintable(groups.out));
        QVERIFY2(groups.out.contains(QRegularExpression("\\n2 +3 +1 2 3 +kd +4.0 ")), qPrintable(groups.out));
        QVERIFY2(groups.out.contains("group 2: +4.50 pt, 95 % CI ["), qPrintable(groups.out));
        QVERIFY(groups.out.contains("group 1 \u2212 group 2: -2.25 pt, 95 % CI ["));
        QVERIFY(groups.out.contains("p = "));

        const auto csv = kdw({"compare", tmp.filePath("runs"), "--csv"});
        QCOMPARE(csv.code, 0);
        const auto rows = csv.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(rows.size(), 7); // header + 6 runs
        const auto head = rows[0].split(',');
        QVERIFY2(head.contains("method.temperature") && head.contains("kd_gain") && head.contains("problem"), qPrintable(rows[0]));
        for (const auto &row : rows.mid(1))
            if (!row.startsWith("broken")) // its problem text holds a comma inside quotes
                QCOMPARE(row.split(',').size(), head.size());
        const int gain = head.indexOf("kd_gain");
        QCOMPARE(rows[5].split(',')[0], QStringLiteral("t4-s2")); // sorted by path: broken, old/..., t4-s1, t4-s2
        QCOMPARE(rows[5].split(',')[gain].toDouble(), 0.86 - 0.815);

        const auto gcsv = kdw({"compare", tmp.filePath("runs"), "--csv", "--group-seeds"});
        QCOMPARE(gcsv.code, 0);
        QCOMPARE(gcsv.out.split('\n', Qt::SkipEmptyParts).size(), 3); // header + 2 groups

        const auto diff = kdw({"compare", tmp.filePath("runs/t4-s1"), tmp.filePath("runs/old/t2-s2"), "--diff"});
        QCOMPARE(diff.code, 0);
        QVERIFY2(diff.out.contains(QRegularExpression("method.temperature +4.0 +2.0")), qPrintable(diff.out));
        QVERIFY(diff.out.contains(QRegularExpression("seed +1 +2")));
        QCOMPARE(diff.out.split('\n', Qt::SkipEmptyParts).size(), 3); // header, temperature, seed
        QVERIFY(!diff.out.contains("name") && !diff.out.contains("output_dir"));
        const auto same = kdw({"compare", tmp.filePath("runs/t4-s1"), tmp.filePath("runs/t4-s1"), "--diff"});
        QVERIFY2(same.out.contains("one run"), qPrintable(same.out));
    }

    void compareNothing()
    {
        QTemporaryDir tmp;
        QCOMPARE(kdw({"compare"}).code, 2);
        const auto empty = kdw({"compare", tmp.path()});
        QCOMPARE(empty.code, 1);
        QVERIFY2(empty.err.contains("no run directories in") && empty.err.contains("no runs to compare"), qPrintable(empty.err));
        const auto missing = kdw({"compare", tmp.filePath("nope")});
        QCOMPARE(missing.code, 1);
        QVERIFY(missing.err.contains("does not exist"));
        const auto option = kdw({"compare", tmp.path(), "--fast"});
        QCOMPARE(option.code, 1);
        QVERIFY(option.err.contains("unknown option --fast"));
    }

    void quickRunWithOverrides()
    {
        if (!QFile::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed");
        QTemporaryDir tmp;
        const QString out = tmp.filePath("run");
        const auto r = kdw({"run", "projects/fashion-mnist-quick.json", "--set", "dataset.limit=3000",
                            "--set", "dataset.test_limit=1000", "--set", "teacher.train.epochs=1",
                            "--set", "student.train.epochs=1", "--set", "teacher.arch_options.width=8",
                            "--set", "threads=1", "--out", out, "--background"});
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QVERIFY2(r.out.contains("note: training at background CPU priority (nice "), qPrintable(r.out));
        QVERIFY(r.out.contains("ETA"));
        QVERIFY(r.out.contains("student_scratch"));
        QVERIFY(r.out.contains("KD gain"));
        QVERIFY2(r.out.contains("KD gain vs seed noise: gain ") && r.out.contains("spread unknown (one seed)"), qPrintable(r.out));
        QVERIFY(r.out.trimmed().endsWith("run: " + out));
        for (const char *f : {"config.json", "metrics.csv", "summary.json", "teacher.pt", "student.pt",
                              "student_scratch.pt", "student.pt.json"})
            QVERIFY2(QFile::exists(out + "/" + f), f);
        QFile cfg(out + "/config.json");
        QVERIFY(cfg.open(QIODevice::ReadOnly));
        QVERIFY(cfg.readAll().contains("\"limit\": 3000"));

        // The same --out again is refused and the first run is left as it was.
        const auto again = kdw({"run", "projects/fashion-mnist-quick.json", "--out", out});
        QCOMPARE(again.code, 1);
        QVERIFY(again.err.contains("already exists"));
        QVERIFY(QFile::exists(out + "/summary.json"));
    }

    /// The issue's two variations of the quick example: switching the student's architecture
    /// or the method drops the previous choice's options, with a note each on stdout and in
    /// log.txt (which options: test_project_config checks the rule itself).
    void switchingArchitectureOrMethod_data()
    {
        QTest::addColumn<QString>("assignment");
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("student.arch=resnet8") << "student.arch=resnet8" << QStringList();
        // fitnet's default hint layers are stage2 (RepDistiller's hint_layer 2), which a
        // one-hidden-layer MLP student does not have: its vectors are paired instead.
        QTest::newRow("method.name=fitnet")
            << "method.name=fitnet"
            << QStringList{"--set", "method.student_features=pre_logits", "--set", "method.teacher_features=pre_logits"};
    }
    void switchingArchitectureOrMethod()
    {
        QFETCH(QString, assignment);
        QFETCH(QStringList, extra);
        if (!QFile::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed");
        const char *project = KD_SOURCE_DIR "/projects/fashion-mnist-quick.json";
        auto doc = kd::parseJsonText(kd::readTextFile(project), project);
        const auto notes = kd::applyOverrides(doc, {assignment.toStdString()}, kd::Registries::builtin());
        QVERIFY2(!notes.empty(), "the quick example no longer has options for this switch to drop");

        QTemporaryDir tmp;
        const QStringList tiny{"--set", "dataset.limit=300", "--set", "dataset.test_limit=200", "--set",
                               "teacher.train.epochs=1", "--set", "student.train.epochs=1", "--set", "threads=1",
                               "--quiet"};
        // The issue's command as typed no longer trips over the previous choice's options; if it
        // stops, it is on a real mismatch that names the parameter to change.
        const auto plain = kdw(QStringList{"run", "projects/fashion-mnist-quick.json", "--set", assignment} + tiny
                               + QStringList{"--out", tmp.filePath("plain")});
        QVERIFY2(!plain.err.contains("unknown key"), qPrintable(plain.err));
        QVERIFY2(plain.code == 0 || (!extra.isEmpty() && plain.err.contains("student_features")),
                 qPrintable(plain.out + plain.err));

        const QString out = tmp.filePath("run");
        const auto r = kdw(QStringList{"run", "projects/fashion-mnist-quick.json", "--set", assignment} + extra + tiny
                           + QStringList{"--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.out + r.err));
        QFile log(out + "/log.txt");
        QVERIFY(log.open(QIODevice::ReadOnly));
        const QString logText = QString::fromUtf8(log.readAll());
        for (const auto &n : notes) {
            const QString line = "note: " + QString::fromStdString(n);
            QVERIFY2(r.out.contains(line + "\n"), qPrintable(line + "\n---\n" + r.out));
            QVERIFY2(logText.contains(line), qPrintable(line));
        }

        // An option given explicitly with the new choice is still checked strictly.
        const QString wrong = assignment.startsWith("student") ? "student.arch_options.hidden=[64]" : "method.alpha=0.5";
        const auto bad = kdw({"run", "projects/fashion-mnist-quick.json", "--set", assignment, "--set", wrong,
                              "--out", tmp.filePath("bad")});
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("unknown key " + wrong.left(wrong.indexOf('='))), qPrintable(bad.err));
        QVERIFY(!QFile::exists(tmp.filePath("bad")));
    }
};

QTEST_GUILESS_MAIN(TestKdw)
#include "test_kdw.moc"
