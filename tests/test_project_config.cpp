// Project file parsing: defaults, strict keys, ranges, syntax errors, overrides, round trip.
#include "core/Error.h"
#include "project/ChoiceChange.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"

#include <QDir>
#include <QTemporaryDir>
#include "support/TestSupport.h"

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
    template<typename F>
    static QString errorFrom(F &&f)
    {
        return QString::fromStdString(kd::test::errorOf(std::forward<F>(f)));
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

    void hugeNumberIsAJsonError()
    {
        // Found by fuzz_project: a number beyond a double's range was an internal error.
        const auto msg = errorFrom([] { kd::parseJsonText("{\"seed\": 1e999}", "p.json"); });
        QVERIFY2(msg.contains("p.json: JSON value error") && msg.contains("number overflow"), qPrintable(msg));
        json doc = json::object();
        const auto set = errorFrom([&] { kd::applyOverride(doc, "seed=7E7776"); });
        QVERIFY2(set.contains("--set seed=7E7776: the number is beyond the range of a double"), qPrintable(set));
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

    void overrideMustBeUtf8()
    {
        // Found by fuzz_project: a Latin-1 value became a JSON string that failed only when the
        // project was written (an internal error); now it is refused where it is given.
        json doc = json::object();
        const auto msg = errorFrom([&] { kd::applyOverride(doc, "name=caf\xe9"); });
        QVERIFY2(msg.contains("is not valid UTF-8"), qPrintable(msg));
        kd::applyOverride(doc, "name=caf\xc3\xa9"); // the same word in UTF-8 is fine
        QCOMPARE(doc["name"].get<std::string>(), std::string("caf\xc3\xa9"));
        for (const char *bad : {"x=\xc0\xaf", "x=\xed\xa0\x80", "x=\xf4\x90\x80\x80", "x=\xe2\x82"})
            QVERIFY2(errorFrom([&] { kd::applyOverride(doc, bad); }).contains("UTF-8"), bad);
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

    // `--set student.arch=...` / `method.name=...`: the previous choice's options go with a
    // note; what the user gives explicitly, and keys no choice knows, are still checked.
    void overridesSwitchingChoice()
    {
        const auto reg = kd::Registries::builtin();
        const json quick = kd::parseJsonText(kd::readTextFile(KD_SOURCE_DIR "/projects/fashion-mnist-quick.json"),
                                             "quick");
        auto dropped = [](const std::vector<std::string> &notes) {
            std::vector<std::string> out;
            for (const auto &n : notes)
                if (n.find(" dropped: ") != std::string::npos)
                    out.push_back(n);
            return out;
        };
        auto resolveError = [&](const json &doc) -> QString {
            try {
                reg.resolve(kd::Project::fromJson(doc));
            } catch (const kd::Error &e) {
                return QString::fromStdString(e.what());
            }
            return {};
        };
        QCOMPARE(resolveError(quick), QString());

        // Architecture: mlp's "hidden" goes, the shared "activation" stays.
        json doc = quick;
        doc["student"]["arch_options"]["activation"] = "lma";
        auto notes = dropped(kd::applyOverrides(doc, {"student.arch=resnet8"}, reg));
        QCOMPARE(notes.size(), std::size_t(1));
        QVERIFY2(notes[0].find("student.arch_options.hidden") != std::string::npos, notes[0].c_str());
        QVERIFY2(notes[0].find("\"mlp\", not of \"resnet8\"") != std::string::npos, notes[0].c_str());
        QVERIFY(!doc["student"]["arch_options"].contains("hidden"));
        const bool resnetHasActivation = [&] {
            for (const auto &s : reg.architectures.get("resnet8").params)
                if (s.key == "activation")
                    return true;
            return false;
        }();
        QCOMPARE(doc["student"]["arch_options"].contains("activation"), resnetHasActivation);
        QCOMPARE(resolveError(doc), QString());
        QCOMPARE(kd::Project::fromJson(doc).student.arch, std::string("resnet8"));

        // Method: kd's temperature and alpha go (fitnet declares neither); fitnet's defaults fill in.
        doc = quick;
        notes = kd::applyOverrides(doc, {"method.name=fitnet"}, reg);
        QCOMPARE(notes.size(), std::size_t(2));
        QVERIFY(!doc["method"].contains("alpha") && !doc["method"].contains("temperature"));
        QCOMPARE(resolveError(doc), QString());
        QCOMPARE(reg.resolve(kd::Project::fromJson(doc)).method.params["beta"].get<double>(), 100.0);
        // kd -> dkd keeps alpha and temperature (dkd declares both) and says so where the
        // value is not dkd's default.
        doc = quick;
        notes = kd::applyOverrides(doc, {"method.name=dkd"}, reg);
        QCOMPARE(doc["method"]["alpha"].get<double>(), quick["method"]["alpha"].get<double>());
        QCOMPARE(doc["method"]["temperature"].get<double>(), 4.0);
        QCOMPARE(notes.size(), std::size_t(1));
        QVERIFY2(notes[0].find("method.alpha = 0.5 kept") != std::string::npos, notes[0].c_str());

        // Explicit options of the new choice are checked strictly: in the same --set list ...
        doc = quick;
        notes = kd::applyOverrides(doc, {"method.name=fitnet", "method.alpha=0.5"}, reg);
        QCOMPARE(notes.size(), std::size_t(1)); // temperature only
        QVERIFY2(resolveError(doc).contains("unknown key method.alpha"), qPrintable(resolveError(doc)));
        doc = quick;
        kd::applyOverrides(doc, {R"(student={"arch": "resnet8", "arch_options": {"hidden": [3]}})"}, reg);
        QVERIFY(resolveError(doc).contains("unknown key student.arch_options.hidden"));
        // ... or in the file together with the choice (no override changed it).
        doc = quick;
        doc["student"]["arch"] = "resnet8";
        QVERIFY(kd::applyOverrides(doc, {"student.train.epochs=1"}, reg).empty());
        QVERIFY(resolveError(doc).contains("unknown key student.arch_options.hidden"));
        // A key neither architecture knows (a typo in the file) is still reported.
        doc = quick;
        doc["student"]["arch_options"]["hiden"] = json::array({3});
        kd::applyOverrides(doc, {"student.arch=resnet8"}, reg);
        QVERIFY(resolveError(doc).contains("unknown key student.arch_options.hiden"));
        // The same choice again, or an unknown one, drops nothing.
        doc = quick;
        QVERIFY(kd::applyOverrides(doc, {"student.arch=mlp"}, reg).empty());
        QVERIFY(kd::applyOverrides(doc, {"student.arch=resnet_nope"}, reg).empty());
        QVERIFY(resolveError(doc).contains("unknown architecture \"resnet_nope\""));
        // A file without a method section switches from the default method.
        doc = json{{"method", {{"temperature", 3.0}}}};
        notes = kd::applyOverrides(doc, {"method.name=ce"}, reg);
        QCOMPARE(notes.size(), std::size_t(1));
        QVERIFY(!doc["method"].contains("temperature"));
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
