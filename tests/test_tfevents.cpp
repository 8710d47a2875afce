// TensorBoard event files: CRC-32C against published check values, the TFRecord framing read
// back by a reader of this suite (both CRCs checked, Events parsed with protobuf), corruption
// detected, and a real tiny run whose event file holds exactly metrics.csv's scalars, the
// hyperparameters and the final results. scripts/check_tfevents.py reads the same file
// independently (its own CRC and wire-format decoding).
#include "runs/RunStore.h"
#include "runs/TfEventsWriter.h"
#include "core/Error.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/Experiment.h"

#include "runs/proto/tb_event.pb.h"
#include "runs/proto/tb_hparams.pb.h"
#include "runs/proto/tb_summary.pb.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using nlohmann::json;

namespace {

const char *kFashion = "/usr/share/datasets/fashion-mnist";
const char *kPython = "/usr/bin/python3";

std::string readAll(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::uint64_t littleEndian(const std::string &s, std::size_t at, int bytes)
{
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= std::uint64_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}

/// This suite's TFRecord reader: every record's payload, or the first problem found.
struct Records {
    std::vector<std::string> data;
    std::string error; ///< empty when the whole file is sound
};

Records readRecords(const std::string &blob)
{
    Records out;
    std::size_t pos = 0;
    while (pos < blob.size()) {
        if (blob.size() - pos < 12) {
            out.error = "torn header at " + std::to_string(pos);
            return out;
        }
        const auto length = littleEndian(blob, pos, 8);
        if (kd::maskedCrc32c(blob.data() + pos, 8) != littleEndian(blob, pos + 8, 4)) {
            out.error = "length CRC mismatch at " + std::to_string(pos);
            return out;
        }
        if (length > blob.size() - pos - 12 || blob.size() - pos - 12 - length < 4) {
            out.error = "torn data at " + std::to_string(pos);
            return out;
        }
        const std::string data = blob.substr(pos + 12, length);
        if (kd::maskedCrc32c(data.data(), data.size()) != littleEndian(blob, pos + 12 + length, 4)) {
            out.error = "data CRC mismatch at " + std::to_string(pos);
            return out;
        }
        out.data.push_back(data);
        pos += 12 + length + 4;
    }
    return out;
}

std::vector<kd::tb::Event> parseEvents(const Records &records)
{
    std::vector<kd::tb::Event> events;
    for (const auto &d : records.data) {
        kd::tb::Event e;
        if (!e.ParseFromString(d))
            throw std::runtime_error("a record is not an Event");
        events.push_back(e);
    }
    return events;
}

/// (tag, step) -> value of every simple_value in the events, plus the plugin named on the
/// first value of each tag.
struct Scalars {
    std::map<std::pair<std::string, std::int64_t>, float> values;
    std::map<std::string, std::string> pluginOfTag;
    int valuesWithMetadata = 0;
    int duplicates = 0;
};

Scalars scalarsOf(const std::vector<kd::tb::Event> &events)
{
    Scalars s;
    for (const auto &e : events) {
        if (!e.has_summary())
            continue;
        for (const auto &v : e.summary().value()) {
            if (v.has_metadata()) {
                ++s.valuesWithMetadata;
                if (!s.pluginOfTag.emplace(v.tag(), v.metadata().plugin_data().plugin_name()).second)
                    s.pluginOfTag[v.tag()] = "(metadata twice)";
            }
            if (v.value_case() != kd::tb::Summary::Value::kSimpleValue)
                continue;
            if (!s.values.emplace(std::make_pair(v.tag(), e.step()), v.simple_value()).second)
                ++s.duplicates;
        }
    }
    return s;
}

/// The hparams plugin data of the value tagged `tag`, if any.
bool hparamsData(const std::vector<kd::tb::Event> &events, const std::string &tag, kd::tb::HParamsPluginData &out)
{
    for (const auto &e : events)
        for (const auto &v : e.summary().value())
            if (v.tag() == tag && v.metadata().plugin_data().plugin_name() == "hparams")
                return out.ParseFromString(v.metadata().plugin_data().content());
    return false;
}

std::vector<std::string> splitCsv(const std::string &line)
{
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream in(line);
    while (std::getline(in, cell, ','))
        cells.push_back(cell);
    if (!line.empty() && line.back() == ',')
        cells.emplace_back();
    return cells;
}

bool pythonProtobufAvailable()
{
    if (!QFile::exists(kPython))
        return false;
    QProcess p;
    p.start(kPython, {"-c", "import google.protobuf.struct_pb2"});
    return p.waitForFinished(30000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

/// Runs scripts/check_tfevents.py on `file`: its exit code and stdout (stderr on failure).
std::pair<int, std::string> runChecker(const std::string &file)
{
    QProcess p;
    p.start(kPython, {QString(KD_SOURCE_DIR) + "/scripts/check_tfevents.py", QString::fromStdString(file)});
    if (!p.waitForFinished(120000) || p.exitStatus() != QProcess::NormalExit)
        return {-1, "check_tfevents.py did not finish"};
    const int rc = p.exitCode();
    return {rc, (rc == 0 ? p.readAllStandardOutput() : p.readAllStandardError()).toStdString()};
}

void flipByte(const std::string &path, std::size_t at)
{
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(at));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x04);
    f.seekp(std::streamoff(at));
    f.write(&c, 1);
}

std::string onlyEventFile(const QString &dir)
{
    const auto files = QDir(dir).entryList({"events.out.tfevents.*"}, QDir::Files);
    return files.size() == 1 ? (dir + "/" + files.first()).toStdString() : std::string();
}

} // namespace

class TestTfEvents : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void crc32cCheckValues_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<quint32>("crc");
        // "123456789" is the CRC catalogue's check value; the 32-byte vectors are RFC 3720's
        // (iSCSI) CRC-32C examples, appendix B.4.
        QTest::newRow("check") << QByteArray("123456789") << quint32(0xE3069283u);
        QTest::newRow("empty") << QByteArray() << quint32(0);
        QTest::newRow("32 zeros") << QByteArray(32, '\0') << quint32(0x8A9136AAu);
        QTest::newRow("32 ones") << QByteArray(32, '\xff') << quint32(0x62A8AB43u);
        QByteArray up, down;
        for (int i = 0; i < 32; ++i) {
            up.append(char(i));
            down.append(char(31 - i));
        }
        QTest::newRow("incrementing") << up << quint32(0x46DD794Eu);
        QTest::newRow("decrementing") << down << quint32(0x113FDB5Cu);
    }

    void crc32cCheckValues()
    {
        QFETCH(QByteArray, data);
        QFETCH(quint32, crc);
        QCOMPARE(quint32(kd::crc32c(data.constData(), std::size_t(data.size()))), crc);
        // Continuing over a split gives the same value.
        const auto half = std::size_t(data.size() / 2);
        QCOMPARE(quint32(kd::crc32c(data.constData() + half, std::size_t(data.size()) - half,
                                    kd::crc32c(data.constData(), half))),
                 crc);
    }

    void maskedCrc()
    {
        // ((0xE3069283 >> 15) | (0xE3069283 << 17)) + 0xa282ead8 mod 2^32, worked by hand.
        QCOMPARE(quint32(kd::maskedCrc32c("123456789", 9)), quint32(0xC78AB0E5u));
    }

    void recordsRoundTrip()
    {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("events.out.tfevents.1.test.kdw").toStdString();
        const double t0 = 1.7e9 + 0.25;
        {
            kd::TfEventsWriter w(path, t0);
            w.writeSessionStart(kd::TfEventsWriter::flattenHParams(json{{"seed", 7},
                                                                        {"baseline", true},
                                                                        {"method", {{"name", "kd"}, {"alpha", 0.9}}},
                                                                        {"hidden", {128, 64}},
                                                                        {"note", nullptr}}),
                                t0);
            w.writeScalars(10, t0 + 1, {{"student/loss", 2.5}, {"student/lr", 0.05}, {"student/val_acc", NAN}});
            w.writeScalars(20, t0 + 2, {{"student/loss", 1.25}, {"student/test_acc", 0.875}});
            w.writeScalars(30, t0 + 3, {{"student/loss", INFINITY}}); // nothing finite: no record
            w.writeScalars(-4, t0 + 4, {{"student/loss", -0.5}});
            w.writeSessionEnd("completed", t0 + 5);
        }
        const auto records = readRecords(readAll(path));
        QVERIFY2(records.error.empty(), records.error.c_str());
        const auto events = parseEvents(records);
        QCOMPARE(events.size(), std::size_t(6));

        QCOMPARE(QString::fromStdString(events[0].file_version()), QStringLiteral("brain.Event:2"));
        QCOMPARE(events[0].wall_time(), t0);
        QVERIFY(!events[0].source_metadata().writer().empty());

        const auto s = scalarsOf(events);
        QCOMPARE(s.duplicates, 0);
        const std::map<std::pair<std::string, std::int64_t>, float> expected = {
            {{"student/loss", 10}, 2.5f}, {{"student/lr", 10}, 0.05f},     {{"student/loss", 20}, 1.25f},
            {{"student/test_acc", 20}, 0.875f}, {{"student/loss", -4}, -0.5f}};
        QVERIFY(s.values == expected);
        QCOMPARE(events[2].wall_time(), t0 + 1);
        QCOMPARE(events[3].step(), std::int64_t(20));
        // Metadata (plugin "scalars") once per tag, on its first value.
        QCOMPARE(s.valuesWithMetadata, 3 + 2); // 3 scalar tags + 2 hparams records
        for (const char *tag : {"student/loss", "student/lr", "student/test_acc"})
            QCOMPARE(QString::fromStdString(s.pluginOfTag.at(tag)), QStringLiteral("scalars"));
        QCOMPARE(events[3].summary().value(0).has_metadata(), false);

        kd::tb::HParamsPluginData start, end;
        QVERIFY(hparamsData(events, "_hparams_/session_start_info", start));
        QCOMPARE(start.version(), 0);
        QVERIFY(start.has_session_start_info());
        const auto &hp = start.session_start_info().hparams();
        QCOMPARE(int(hp.size()), 5); // "note" (null) is left out
        QCOMPARE(hp.at("seed").number_value(), 7.0);
        QCOMPARE(hp.at("baseline").bool_value(), true);
        QCOMPARE(QString::fromStdString(hp.at("method.name").string_value()), QStringLiteral("kd"));
        QCOMPARE(hp.at("method.alpha").number_value(), 0.9);
        QCOMPARE(QString::fromStdString(hp.at("hidden").string_value()), QStringLiteral("[128,64]"));
        QCOMPARE(start.session_start_info().start_time_secs(), t0);
        QVERIFY(hparamsData(events, "_hparams_/session_end_info", end));
        QCOMPARE(int(end.session_end_info().status()), int(kd::tb::STATUS_SUCCESS));
        QCOMPARE(end.session_end_info().end_time_secs(), t0 + 5);
    }

    void statusMapsToHParamsStatus_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<int>("expected");
        QTest::newRow("completed") << "completed" << int(kd::tb::STATUS_SUCCESS);
        QTest::newRow("failed") << "failed" << int(kd::tb::STATUS_FAILURE);
        QTest::newRow("running") << "running" << int(kd::tb::STATUS_RUNNING);
        QTest::newRow("stopped") << "stopped" << int(kd::tb::STATUS_UNKNOWN);
    }

    void statusMapsToHParamsStatus()
    {
        QFETCH(QString, status);
        QFETCH(int, expected);
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("events.out.tfevents.1.test.kdw").toStdString();
        {
            kd::TfEventsWriter w(path, 1.0);
            w.writeSessionEnd(status.toStdString(), 2.0);
        }
        kd::tb::HParamsPluginData end;
        QVERIFY(hparamsData(parseEvents(readRecords(readAll(path))), "_hparams_/session_end_info", end));
        QCOMPARE(int(end.session_end_info().status()), expected);
    }

    void corruptionIsDetected_data()
    {
        QTest::addColumn<int>("record");    // which record of the file
        QTest::addColumn<int>("offset");    // byte within it; negative: from its end
        QTest::addColumn<bool>("cut");      // cut the file before that byte instead
        QTest::addColumn<QString>("error"); // what the readers must say
        QTest::newRow("length") << 1 << 0 << false << "length CRC";
        QTest::newRow("length CRC") << 1 << 9 << false << "length CRC";
        QTest::newRow("data") << 1 << 15 << false << "data CRC";
        QTest::newRow("data CRC") << 2 << -2 << false << "data CRC";
        QTest::newRow("torn tail") << 2 << -3 << true << "torn";
    }

    void corruptionIsDetected()
    {
        QFETCH(int, record);
        QFETCH(int, offset);
        QFETCH(bool, cut);
        QFETCH(QString, error);
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("events.out.tfevents.1.test.kdw").toStdString();
        {
            kd::TfEventsWriter w(path, 1.0);
            w.writeScalars(1, 2.0, {{"a/loss", 1.0}});
            w.writeScalars(2, 3.0, {{"a/loss", 0.5}});
        }
        const auto sound = readRecords(readAll(path));
        QVERIFY(sound.error.empty());
        QCOMPARE(sound.data.size(), std::size_t(3));
        std::size_t start = 0; // a record is 8 + 4 + data + 4 bytes
        for (int k = 0; k < record; ++k)
            start += 16 + sound.data[std::size_t(k)].size();
        const std::size_t end = start + 16 + sound.data[std::size_t(record)].size();
        const std::size_t at = offset >= 0 ? start + std::size_t(offset) : end - std::size_t(-offset);
        if (cut)
            std::filesystem::resize_file(path, at);
        else
            flipByte(path, at);
        const auto damaged = readRecords(readAll(path));
        QVERIFY2(QString::fromStdString(damaged.error).contains(error), damaged.error.c_str());
        QCOMPARE(damaged.data.size(), std::size_t(record)); // the records before it still read

        if (pythonProtobufAvailable()) {
            const auto [rc, text] = runChecker(path);
            QCOMPARE(rc, 1);
            QVERIFY2(QString::fromStdString(text).contains(error), text.c_str());
        }
    }

    void unwritableFileIsAnError()
    {
        if (!QFile::exists("/dev/full"))
            QSKIP("no /dev/full on this system");
        try {
            kd::TfEventsWriter w("/dev/full", 1.0);
            QFAIL("writing to a full device was accepted");
        } catch (const kd::Error &e) {
            QVERIFY2(QString(e.what()).contains("/dev/full"), e.what());
        }
    }

    void writeFailureWarnsOnceAndTrainingGoesOn()
    {
        if (!QFile::exists("/dev/full"))
            QSKIP("no /dev/full on this system");
        QTemporaryDir tmp;
        const QString dir = tmp.filePath("run");
        kd::RunStore store(dir.toStdString(), json{{"seed", 1}}, {"loss"});
        const std::string events = onlyEventFile(dir);
        QVERIFY(!events.empty());
        QCOMPARE(QString::fromStdString(store.eventsPath()), QString::fromStdString(events));
        kd::MetricRecord r;
        r.role = "student";
        r.step = 1;
        r.losses = {{"loss", 1.0}};
        store.appendMetric(r);
        // Make the event file's descriptor a full disk from now on: its next write fails.
        int fd = -1;
        for (const auto &entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            std::error_code ec;
            const auto target = std::filesystem::read_symlink(entry.path(), ec);
            if (!ec && target == std::filesystem::path(events))
                fd = std::stoi(entry.path().filename().string());
        }
        QVERIFY(fd >= 0);
        const int full = ::open("/dev/full", O_WRONLY);
        QVERIFY(full >= 0);
        QVERIFY(::dup2(full, fd) == fd);
        ::close(full);
        for (int step = 2; step <= 4; ++step) {
            r.step = step;
            store.appendMetric(r); // must not throw
        }
        kd::RunSummary summary;
        summary.status = "completed";
        store.writeSummary(summary);
        store.appendLog("after");

        const auto csv = readAll(dir.toStdString() + "/metrics.csv");
        QCOMPARE(int(std::count(csv.begin(), csv.end(), '\n')), 1 + 4); // every row kept
        const auto log = QString::fromStdString(readAll(dir.toStdString() + "/log.txt"));
        QCOMPARE(log.count("warning: TensorBoard event file"), 1);
        QVERIFY(log.endsWith("after\n"));
    }

    void tinyRunMirrorsMetricsCsv()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const json project = {
            {"name", "tiny-tb"},
            {"seed", 5},
            {"threads", 1},
            {"output_dir", tmp.path().toStdString()},
            {"dataset", {{"name", "fashion-mnist"}, {"limit", 600}, {"test_limit", 300}, {"val_split", 0.1}}},
            {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}}, {"train", {{"epochs", 1}, {"batch_size", 64}, {"log_every", 3}}}}},
            {"student", {{"arch", "mlp"}, {"arch_options", {{"hidden", {16}}}}, {"train", {{"epochs", 2}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 3}}}}},
            {"method", {{"name", "kd"}, {"temperature", 4.0}, {"alpha", 0.9}}},
            {"baseline", true},
        };
        const auto registries = kd::Registries::builtin();
        kd::Experiment exp(kd::Project::fromJson(project), registries);
        kd::ExperimentObserver quiet;
        std::atomic<bool> stop{false};
        const QString runDir = tmp.filePath("run");
        const double before = kd::TfEventsWriter::nowUnixSeconds();
        const auto summary = exp.run(quiet, stop, runDir.toStdString());
        const double after = kd::TfEventsWriter::nowUnixSeconds();
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

        const std::string file = onlyEventFile(runDir);
        QVERIFY2(!file.empty(), "no single events.out.tfevents.* file in the run directory");
        QVERIFY(QString::fromStdString(file).endsWith(".kdw"));
        const auto records = readRecords(readAll(file));
        QVERIFY2(records.error.empty(), records.error.c_str());
        const auto events = parseEvents(records);
        QCOMPARE(QString::fromStdString(events.front().file_version()), QStringLiteral("brain.Event:2"));
        for (const auto &e : events)
            QVERIFY2(e.wall_time() >= std::floor(before) && e.wall_time() <= after + 1, "wall_time is not Unix time");
        const auto s = scalarsOf(events);
        QCOMPARE(s.duplicates, 0);

        // Every non-empty metrics.csv cell is one scalar: same tag rule, same step, same value
        // (csv keeps 6 significant digits, the event a float).
        std::ifstream csv(runDir.toStdString() + "/metrics.csv");
        std::string line;
        std::getline(csv, line);
        const auto header = splitCsv(line);
        const std::set<std::string> shared = {"lr", "img_per_s"}; // also in step rows
        std::size_t cells = 0;
        while (std::getline(csv, line)) {
            const auto row = splitCsv(line);
            QCOMPARE(row.size(), header.size());
            const bool epochRow = row[1] == "epoch";
            const std::int64_t step = std::stoll(row[3]);
            for (std::size_t c = 5; c < header.size(); ++c) {
                if (row[c].empty())
                    continue;
                const auto &col = header[c];
                const bool both = col == "loss" || col.rfind("loss_", 0) == 0 || shared.count(col);
                const std::string tag = row[0] + "/" + (epochRow && both ? "epoch_" : "") + col;
                const auto it = s.values.find({tag, step});
                QVERIFY2(it != s.values.end(), (tag + " at step " + row[3] + " is missing").c_str());
                const double want = std::stod(row[c]);
                QVERIFY2(std::fabs(it->second - want) <= 1e-5 * std::max(1.0, std::fabs(want)),
                         (tag + ": " + std::to_string(it->second) + " vs csv " + row[c]).c_str());
                ++cells;
            }
            if (epochRow) {
                QCOMPARE(s.values.at({row[0] + "/epoch", step}), float(std::stoi(row[2])));
                ++cells;
            }
        }
        std::size_t finals = 0;
        for (const auto &kv : s.values)
            finals += kv.first.first.rfind("hparams/", 0) == 0;
        QVERIFY(cells > 20);
        QCOMPARE(s.values.size(), cells + finals); // and nothing else
        for (const auto &kv : s.pluginOfTag)
            if (kv.first.rfind("_hparams_/", 0) != 0)
                QCOMPARE(QString::fromStdString(kv.second), QStringLiteral("scalars"));

        // Hyperparameters: the resolved config, flattened; final results; the end status.
        kd::tb::HParamsPluginData start, end;
        QVERIFY(hparamsData(events, "_hparams_/session_start_info", start));
        const auto &hp = start.session_start_info().hparams();
        QCOMPARE(hp.at("student.train.lr").number_value(), 0.05);
        QCOMPARE(hp.at("method.alpha").number_value(), 0.9);
        QCOMPARE(QString::fromStdString(hp.at("method.name").string_value()), QStringLiteral("kd"));
        QCOMPARE(QString::fromStdString(hp.at("teacher.arch").string_value()), QStringLiteral("cnn_small"));
        QCOMPARE(hp.at("baseline").bool_value(), true);
        QCOMPARE(QString::fromStdString(hp.at("student.arch_options.hidden").string_value()), QStringLiteral("[16]"));
        QVERIFY(hp.count("student.train.epochs") == 1 && hp.count("seed") == 1);
        QCOMPARE(QString::fromStdString(start.session_start_info().model_uri()), runDir);

        const auto sj = json::parse(readAll(runDir.toStdString() + "/summary.json"));
        for (const char *role : {"teacher", "student", "student_scratch"}) {
            const auto &m = sj["models"][role];
            const std::string p = std::string("hparams/") + role + "_";
            QCOMPARE(s.values.at({p + "test_acc", 0}), float(m["final_test_acc"].get<double>()));
            QCOMPARE(s.values.at({p + "best_test_acc", 0}), float(m["best_test_acc"].get<double>()));
            QCOMPARE(s.values.at({p + "params", 0}), float(m["params"].get<double>()));
        }
        QCOMPARE(s.values.at({"hparams/kd_gain", 0}), float(sj["kd_gain_final_test_acc"].get<double>()));
        QVERIFY(hparamsData(events, "_hparams_/session_end_info", end));
        QCOMPARE(int(end.session_end_info().status()), int(kd::tb::STATUS_SUCCESS));

        // The independent Python reader agrees record for record.
        if (!pythonProtobufAvailable()) {
            qWarning("python3-protobuf missing: scripts/check_tfevents.py not run");
            return;
        }
        const auto [rc, text] = runChecker(file);
        QVERIFY2(rc == 0, text.c_str());
        const auto py = json::parse(text);
        QCOMPARE(py["records"].get<std::size_t>(), events.size());
        QCOMPARE(QString::fromStdString(py["events"][0]["file_version"].get<std::string>()),
                 QStringLiteral("brain.Event:2"));
        std::map<std::pair<std::string, std::int64_t>, float> pyValues;
        for (const auto &e : py["events"])
            for (const auto &v : e["values"])
                if (v.contains("simple_value"))
                    pyValues[{v["tag"].get<std::string>(), e["step"].get<std::int64_t>()}] = v["simple_value"].get<float>();
        QCOMPARE(pyValues.size(), s.values.size());
        QVERIFY(pyValues == s.values); // bit for bit: both read the same float32
        QCOMPARE(py["hparams"]["student.train.lr"].get<double>(), 0.05);
        QCOMPARE(py["hparams"]["baseline"].get<bool>(), true);
        QCOMPARE(py["hparams"].size(), std::size_t(hp.size()));
        QCOMPARE(py["session_end"]["status"].get<int>(), int(kd::tb::STATUS_SUCCESS));
    }
};

QTEST_GUILESS_MAIN(TestTfEvents)
#include "test_tfevents.moc"
