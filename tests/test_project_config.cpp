// Project file parsing: defaults, strict keys, ranges, syntax errors, overrides, round trip.
#include "core/Error.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

using nlohmann::json;

class TestProjectConfig : public QObject {
    Q_OBJECT

private:
    static QString errorOf(const json &j)
    {
        try {
            kd::Project::fromJson(j);
        } catch (const kd::Error &e) {
            return QString::fromStdString(e.what());
        }
        return {};
    }

private Q_SLOTS:
    void emptyObjectGivesDefaults()
    {
        const auto p = kd::Project::fromJson(json::object());
        QCOMPARE(QString::fromStdString(p.dataset.name), QStringLiteral("fashion-mnist"));
        QCOMPARE(QString::fromStdString(p.teacher.arch), QStringLiteral("cnn_large"));
        QCOMPARE(QString::fromStdString(p.student.arch), QStringLiteral("mlp"));
        QCOMPARE(QString::fromStdString(p.method.name), QStringLiteral("kd"));
        QCOMPARE(p.student.train.batchSize, 128);
        QVERIFY(p.baseline);
    }

    void invalidValues_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown top key") << R"({"nmae": "x"})" << "unknown key nmae";
        QTest::newRow("unknown nested key") << R"({"teacher": {"train": {"epoch": 3}}})"
                                            << "unknown key teacher.train.epoch";
        QTest::newRow("unknown dataset key") << R"({"dataset": {"lmit": 3}})" << "unknown key dataset.lmit";
        QTest::newRow("negative epochs") << R"({"student": {"train": {"epochs": -1}}})"
                                         << "student.train.epochs = -1 is out of range";
        QTest::newRow("lr wrong type") << R"({"student": {"train": {"lr": "fast"}}})"
                                       << "student.train.lr must be a number";
        QTest::newRow("bad optimizer") << R"({"teacher": {"train": {"optimizer": "rmsprop"}}})"
                                       << "use one of: sgd, adam";
        QTest::newRow("bad device") << R"({"device": "tpu"})" << "device = \"tpu\" is not valid";
        QTest::newRow("val split range") << R"({"dataset": {"val_split": 0.95}})" << "dataset.val_split";
        QTest::newRow("method not object") << R"({"method": "kd"})" << "method must be a JSON object";
        QTest::newRow("student checkpoint") << R"({"student": {"checkpoint": "a.pt"}})"
                                            << "unknown key student.checkpoint";
        QTest::newRow("negative train limit") << R"({"student": {"train": {"limit": -5}}})"
                                              << "student.train.limit = -5 is out of range";
        QTest::newRow("nesterov adam") << R"({"student": {"train": {"optimizer": "adam", "nesterov": true}}})"
                                       << "nesterov needs optimizer";
    }
    void invalidValues()
    {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        const auto msg = errorOf(json::parse(text.toStdString()));
        QVERIFY2(msg.contains(expected), qPrintable("got: " + msg));
    }

    void syntaxErrorHasLineAndColumn()
    {
        try {
            kd::parseJsonText("{\n  \"name\": \"x\",\n  \"seed\": ,\n}", "p.json");
            QFAIL("no error");
        } catch (const kd::Error &e) {
            const QString msg = e.what();
            QVERIFY2(msg.startsWith("p.json:3:11: JSON syntax error"), qPrintable(msg));
        }
    }

    void loadMissingFile()
    {
        try {
            kd::Project::load("/nonexistent/project.json");
            QFAIL("no error");
        } catch (const kd::Error &e) {
            QVERIFY(QString(e.what()).contains("file not found: /nonexistent/project.json"));
        }
    }

    void overrides()
    {
        json doc = json::object();
        kd::applyOverride(doc, "student.train.epochs=7");
        kd::applyOverride(doc, "student.arch=lenet5");
        kd::applyOverride(doc, "student.arch_options.hidden=[64,32]");
        kd::applyOverride(doc, "baseline=false");
        const auto p = kd::Project::fromJson(doc);
        QCOMPARE(p.student.train.epochs, 7);
        QCOMPARE(QString::fromStdString(p.student.arch), QStringLiteral("lenet5"));
        QCOMPARE(p.student.archOptions["hidden"], json({64, 32}));
        QVERIFY(!p.baseline);
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::applyOverride(doc, "noequals"));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::applyOverride(doc, "student.arch.x=1"));
    }

    void roundTripAndSave()
    {
        json j = {{"name", "rt"}, {"seed", 7}, {"method", {{"name", "kd"}, {"temperature", 2.5}}},
                  {"teacher", {{"arch", "cnn_small"}, {"train", {{"lr_schedule", "cosine"}, {"lr_min", 0.001}}}}}};
        const auto p = kd::Project::fromJson(j);
        const auto again = kd::Project::fromJson(p.toJson());
        QCOMPARE(again.toJson(), p.toJson());
        QCOMPARE(again.method.params["temperature"].get<double>(), 2.5);
        QTemporaryDir dir;
        const auto path = dir.filePath("p.json").toStdString();
        p.save(path);
        QCOMPARE(kd::Project::load(path).toJson(), p.toJson());
        QVERIFY(!QFile::exists(QString::fromStdString(path + ".tmp")));
    }

    void shippedProjectsResolve()
    {
        const auto registries = kd::Registries::builtin();
        QDir dir(KD_SOURCE_DIR "/projects");
        const auto files = dir.entryList({"*.json"});
        QVERIFY(files.contains("fashion-mnist-kd.json"));
        QVERIFY(files.contains("fashion-mnist-quick.json"));
        for (const auto &f : files) {
            const auto p = kd::Project::load(dir.filePath(f).toStdString());
            const auto r = registries.resolve(p);
            QVERIFY(r.method.params.contains("temperature") || r.method.name != "kd");
        }
    }
};

QTEST_GUILESS_MAIN(TestProjectConfig)
#include "test_project_config.moc"
