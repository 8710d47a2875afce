// Dataset readers beyond IDX: CIFAR-10/100 binary batches, image folders (PGM/PPM written
// here byte by byte, decoded by OpenCV inside the engine), the synthetic dataset, and the
// registry's refusals. Every fixture is written by the test into a temporary folder in the
// real on-disk format, so each byte of each case is visible here.

#include "data/CifarReader.h"
#include "data/Dataset.h"
#include "data/DatasetRegistry.h"
#include "core/Error.h"
#include "data/ImageFolderReader.h"
#include "project/ProjectConfig.h"
#include "data/SyntheticDataset.h"
#include "core/TorchFwd.h"
#include "support/TestSupport.h"

#include <QtTest>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

using Bytes = std::vector<std::uint8_t>;

namespace {

using kd::test::errorOf;

/// Deterministic pseudo-random bytes.
Bytes pattern(std::size_t n, std::uint32_t seed = 1)
{
    Bytes b(n);
    std::uint32_t x = seed * 2654435761u + 12345u;
    for (auto &v : b) {
        x = x * 1664525u + 1013904223u;
        v = std::uint8_t(x >> 24);
    }
    return b;
}

void writeRaw(const std::string &path, const Bytes &bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

void writeText(const std::string &path, const std::string &text)
{
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

void mkdirs(const QString &path)
{
    if (!QDir().mkpath(path))
        qFatal("cannot create %s", qPrintable(path));
}

/// A binary PGM (P5, 1 channel) or PPM (P6, 3 channels interleaved R,G,B), rows top to bottom.
void writePnm(const QString &path, int width, int height, int channels, const Bytes &pixels)
{
    Q_ASSERT(pixels.size() == std::size_t(width) * height * channels);
    const std::string header = std::string(channels == 1 ? "P5" : "P6") + "\n" + std::to_string(width) + " "
                               + std::to_string(height) + "\n255\n";
    Bytes b(header.begin(), header.end());
    b.insert(b.end(), pixels.begin(), pixels.end());
    writeRaw(path.toStdString(), b);
}

void writeUniform(const QString &path, int width, int height, int channels, std::uint8_t value)
{
    writePnm(path, width, height, channels, Bytes(std::size_t(width) * height * channels, value));
}

/// An IDX file: magic 0,0,8,ndims, big-endian dimensions, data.
Bytes idxBytes(const std::vector<std::uint32_t> &dims, const Bytes &payload)
{
    Bytes b{0, 0, 0x08, std::uint8_t(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8)
            b.push_back(std::uint8_t(d >> s));
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

std::vector<std::int64_t> toVector(const torch::Tensor &t)
{
    const auto c = t.to(torch::kInt64).contiguous();
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

Bytes toBytes(const torch::Tensor &t)
{
    const auto c = t.contiguous();
    const auto *p = c.data_ptr<std::uint8_t>();
    return Bytes(p, p + c.numel());
}

// ---------------------------------------------------------------------------------------
// CIFAR fixtures

/// One CIFAR record: label byte(s) then 3072 pixel bytes (R plane, G plane, B plane; each
/// 32 rows of 32).
struct CifarRecord {
    int coarse = 0; ///< CIFAR-100 only
    int label = 0;  ///< CIFAR-10 label or CIFAR-100 fine label
    Bytes pixels;
};

Bytes encode(const std::vector<CifarRecord> &records, bool cifar100)
{
    Bytes b;
    for (const auto &r : records) {
        if (cifar100)
            b.push_back(std::uint8_t(r.coarse));
        b.push_back(std::uint8_t(r.label));
        b.insert(b.end(), r.pixels.begin(), r.pixels.end());
    }
    return b;
}

Bytes redImage()
{
    Bytes px(3072, 0);
    std::fill(px.begin(), px.begin() + 1024, std::uint8_t(255));
    return px;
}

const std::vector<std::string> kCifar10Names{"airplane", "automobile", "bird", "cat", "deer",
                                             "dog", "frog", "horse", "ship", "truck"};

/// data_batch_1..5 with 2, 3, 1, 2, 2 records, test_batch with 3 (the first pure red).
struct Cifar10Fixture {
    std::vector<std::vector<CifarRecord>> train; // per file
    std::vector<CifarRecord> test;

    Cifar10Fixture()
    {
        const int counts[5] = {2, 3, 1, 2, 2};
        std::uint32_t seed = 1;
        for (int f = 0; f < 5; ++f) {
            train.emplace_back();
            for (int j = 0; j < counts[f]; ++j, ++seed)
                train.back().push_back({0, int((seed * 7) % 10), pattern(3072, seed)});
        }
        test.push_back({0, 3, redImage()});
        test.push_back({0, 9, pattern(3072, 100)});
        test.push_back({0, 0, pattern(3072, 101)});
    }
    std::vector<CifarRecord> allTrain() const
    {
        std::vector<CifarRecord> all;
        for (const auto &f : train)
            all.insert(all.end(), f.begin(), f.end());
        return all;
    }
    void write(const QString &dir, bool names = true) const
    {
        mkdirs(dir);
        for (int f = 0; f < 5; ++f)
            writeRaw((dir + QStringLiteral("/data_batch_%1.bin").arg(f + 1)).toStdString(), encode(train[std::size_t(f)], false));
        writeRaw((dir + "/test_batch.bin").toStdString(), encode(test, false));
        if (names) {
            std::string text;
            for (const auto &n : kCifar10Names)
                text += n + "\n";
            writeText((dir + "/batches.meta.txt").toStdString(), text + "\n"); // trailing blank line
        }
    }
};

/// CIFAR-100: 6 training and 3 test records with distinct (coarse, fine) pairs.
struct Cifar100Fixture {
    std::vector<CifarRecord> train, test;

    Cifar100Fixture()
    {
        const int pairs[6][2] = {{0, 4}, {19, 99}, {7, 30}, {3, 3}, {11, 0}, {19, 58}};
        for (int i = 0; i < 6; ++i)
            train.push_back({pairs[i][0], pairs[i][1], pattern(3072, 200 + i)});
        test.push_back({5, 77, pattern(3072, 300)});
        test.push_back({0, 1, redImage()});
        test.push_back({18, 98, pattern(3072, 301)});
    }
    void write(const QString &dir) const
    {
        mkdirs(dir);
        writeRaw((dir + "/train.bin").toStdString(), encode(train, true));
        writeRaw((dir + "/test.bin").toStdString(), encode(test, true));
        std::string fine, coarse;
        for (int i = 0; i < 100; ++i)
            fine += "fine" + std::to_string(i) + "\r\n"; // CRLF is tolerated
        for (int i = 0; i < 20; ++i)
            coarse += "coarse" + std::to_string(i) + "\n";
        writeText((dir + "/fine_label_names.txt").toStdString(), fine);
        writeText((dir + "/coarse_label_names.txt").toStdString(), coarse);
    }
};

std::vector<std::int64_t> labelsOf(const std::vector<CifarRecord> &records, bool coarse = false)
{
    std::vector<std::int64_t> out;
    for (const auto &r : records)
        out.push_back(coarse ? r.coarse : r.label);
    return out;
}

Bytes pixelsOf(const std::vector<CifarRecord> &records)
{
    Bytes out;
    for (const auto &r : records)
        out.insert(out.end(), r.pixels.begin(), r.pixels.end());
    return out;
}

// ---------------------------------------------------------------------------------------
// image-folder fixtures

/// Sizes (w, h) cycled over the files, so the reader has to resize most of them.
const int kSizes[4][2] = {{8, 8}, {16, 12}, {5, 7}, {20, 20}};

/// A flat image folder: class → number of files. Every file is a uniform grey image with a
/// level unique in the folder (4 + 8·k), alternating PGM and PPM, so a loaded image's mean
/// says which file it came from. Returns level → class name.
std::map<int, std::string> writeFlatFolder(const QString &dir, const std::map<std::string, int> &classes)
{
    std::map<int, std::string> levels;
    int k = 0;
    for (const auto &c : classes) {
        mkdirs(dir + "/" + QString::fromStdString(c.first));
        for (int i = 0; i < c.second; ++i, ++k) {
            const int level = 4 + 8 * k;
            const bool ppm = k % 2 == 1;
            const auto *s = kSizes[k % 4];
            writeUniform(dir + QStringLiteral("/%1/img%2.%3").arg(QString::fromStdString(c.first)).arg(i).arg(ppm ? "ppm" : "pgm"),
                         s[0], s[1], ppm ? 3 : 1, std::uint8_t(level));
            levels[level] = c.first;
        }
    }
    return levels;
}

/// The file level of each image (its rounded mean, which must be uniform within ±1).
std::vector<int> levelsOf(const torch::Tensor &images)
{
    std::vector<int> out;
    for (std::int64_t i = 0; i < images.size(0); ++i) {
        const auto img = images[i].to(torch::kInt32);
        const int lo = img.min().item<int>(), hi = img.max().item<int>();
        if (hi - lo > 1)
            return {}; // not uniform: the caller's check fails
        out.push_back((lo + hi + 1) / 2);
    }
    return out;
}

/// Snaps a decoded level to the nearest written one (4 + 8·k).
int snap(int level)
{
    return 4 + 8 * ((level - 4 + 4) / 8);
}

kd::DatasetRegistry builtinRegistry()
{
    kd::DatasetRegistry registry("dataset");
    kd::registerBuiltinDatasets(registry);
    return registry;
}

/// Sets an environment variable for the scope, restoring the old value after.
class EnvGuard {
public:
    EnvGuard(const char *name, const QByteArray &value) : m_name(name), m_had(qEnvironmentVariableIsSet(name)), m_old(qgetenv(name))
    {
        qputenv(name, value);
    }
    ~EnvGuard()
    {
        if (m_had)
            qputenv(m_name, m_old);
        else
            qunsetenv(m_name);
    }

private:
    const char *m_name;
    bool m_had;
    QByteArray m_old;
};

} // namespace

class TestDatasets : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    int m_counter = 0;
    QString freshDir();

private Q_SLOTS:
    void initTestCase();

    // CIFAR-10
    void cifar10_readsBatches();
    void cifar10_throughRegistry();
    void cifar10_subFolderAndDefaultNames();
    void cifar10_rejectsBadFolders_data();
    void cifar10_rejectsBadFolders();

    // CIFAR-100
    void cifar100_fineAndCoarse_data();
    void cifar100_fineAndCoarse();
    void cifar100_rejectsBadLabels_data();
    void cifar100_rejectsBadLabels();

    // image folders
    void imageFolder_pixelsAndChannelOrder();
    void imageFolder_testSplitIsSeededAndStratified_data();
    void imageFolder_testSplitIsSeededAndStratified();
    void imageFolder_trainTestLayout();
    void imageFolder_throughRegistry();
    void imageFolder_rejectsBadFolders_data();
    void imageFolder_rejectsBadFolders();

    // synthetic
    void synthetic_deterministicPerSeed();
    void synthetic_shapesAndBalance_data();
    void synthetic_shapesAndBalance();
    void synthetic_isLearnable();
    void synthetic_throughRegistry();

    // the registry's refusals
    void loadDataset_imageSizeOnlyForFoldersAndSynthetic();
    void loadDataset_unknownName();
    void loadDataset_noDefaultPathFound();
};

QString TestDatasets::freshDir()
{
    const QString name = QStringLiteral("case%1").arg(++m_counter);
    mkdirs(m_tmp.filePath(name));
    return m_tmp.filePath(name);
}

void TestDatasets::initTestCase()
{
    QVERIFY2(m_tmp.isValid(), qPrintable(m_tmp.errorString()));
}

// ---------------------------------------------------------------------------------------
// CIFAR-10

void TestDatasets::cifar10_readsBatches()
{
    const Cifar10Fixture fx;
    const auto dir = freshDir();
    fx.write(dir);

    const auto raw = kd::loadCifarDirectory(dir.toStdString(), false, false);
    QCOMPARE(raw.trainImages.sizes().vec(), (std::vector<std::int64_t>{10, 3, 32, 32}));
    QCOMPARE(raw.testImages.sizes().vec(), (std::vector<std::int64_t>{3, 3, 32, 32}));
    QCOMPARE(raw.trainImages.scalar_type(), torch::kUInt8);
    QCOMPARE(raw.trainLabels.scalar_type(), torch::kInt64);
    // Records in file order: data_batch_1 .. data_batch_5, then test_batch.
    QCOMPARE(toVector(raw.trainLabels), labelsOf(fx.allTrain()));
    QCOMPARE(toVector(raw.testLabels), labelsOf(fx.test));
    QVERIFY(toBytes(raw.trainImages) == pixelsOf(fx.allTrain()));
    QVERIFY(toBytes(raw.testImages) == pixelsOf(fx.test));
    // Pixel (c, y, x) of record i is byte 1 + c·1024 + y·32 + x of that record.
    const auto all = fx.allTrain();
    const auto &r = all[4].pixels; // (a reference into the temporary itself dangled: ASan found it)
    QCOMPARE(raw.trainImages[4][1][5][7].item<int>(), int(r[1024 + 5 * 32 + 7]));
    QCOMPARE(raw.trainImages[4][2][31][0].item<int>(), int(r[2048 + 31 * 32]));
    // The pure-red test record: R plane in channel 0.
    const auto red = raw.testImages[0].to(torch::kInt32);
    QCOMPARE(red[0].min().item<int>(), 255);
    QCOMPARE(red[1].max().item<int>(), 0);
    QCOMPARE(red[2].max().item<int>(), 0);

    QCOMPARE(raw.numClasses, 10);
    QCOMPARE(raw.classNames, kCifar10Names);
    QVERIFY(raw.mean.empty());
}

void TestDatasets::cifar10_throughRegistry()
{
    const Cifar10Fixture fx;
    const auto dir = freshDir();
    fx.write(dir);
    const auto registry = builtinRegistry();
    QCOMPARE(registry.get("cifar10").probe(dir.toStdString()), std::string());
    QVERIFY(!registry.get("cifar10").probe(freshDir().toStdString()).empty());

    kd::DatasetOptions o;
    o.name = "cifar10";
    o.path = dir.toStdString();
    o.normalize = false;
    const auto b = kd::loadDataset(registry, o, 1);
    QCOMPARE(b->shape.toString(), std::string("3x32x32"));
    QCOMPARE(b->numClasses, 10);
    // What editors are told before loading is what loading gives.
    const auto expected10 = registry.get("cifar10").expectedShape(o);
    QCOMPARE(expected10.input.toString(), b->shape.toString());
    QCOMPARE(expected10.numClasses, b->numClasses);
    QVERIFY(expected10.classesKnown);
    kd::DatasetOptions coarse;
    coarse.labels = "coarse";
    QCOMPARE(registry.get("cifar100").expectedShape(coarse).numClasses, 20);
    QCOMPARE(registry.get("cifar100").expectedShape(kd::DatasetOptions{}).numClasses, 100);
    QCOMPARE(b->classNames, kCifar10Names);
    QCOMPARE(b->train.images.sizes().vec(), (std::vector<std::int64_t>{10, 3, 32, 32}));
    QCOMPARE(b->test.images.sizes().vec(), (std::vector<std::int64_t>{3, 3, 32, 32}));
    QCOMPARE(toVector(b->train.labels), labelsOf(fx.allTrain()));
    QCOMPARE(toVector(b->test.labels), labelsOf(fx.test));
    const auto red = b->test.normalised()[0];
    QCOMPARE(red[0].min().item<float>(), 1.0f);
    QCOMPARE(red[1].max().item<float>(), 0.0f);
    QCOMPARE(red[2].max().item<float>(), 0.0f);

    // Normalised: three per-channel statistics from the training batches.
    o.normalize = true;
    const auto n = kd::loadDataset(registry, o, 1);
    QCOMPARE(int(n->mean.size()), 3);
    const auto expected = torch::tensor(pixelsOf(fx.allTrain())).to(torch::kFloat64).div(255).view({10, 3, 1024});
    for (int c = 0; c < 3; ++c)
        QVERIFY(std::abs(n->mean[std::size_t(c)] - expected.select(1, c).mean().item<double>()) < 1e-5);
}

void TestDatasets::cifar10_subFolderAndDefaultNames()
{
    const Cifar10Fixture fx;
    const auto dir = freshDir();
    fx.write(dir + "/cifar-10-batches-bin", false); // no batches.meta.txt
    QCOMPARE(QString::fromStdString(kd::findCifarFolder(dir.toStdString(), false)), dir + "/cifar-10-batches-bin");
    QCOMPARE(kd::findCifarFolder(dir.toStdString(), true), std::string());
    const auto raw = kd::loadCifarDirectory(dir.toStdString(), false, false);
    QCOMPARE(raw.trainImages.size(0), 10);
    QCOMPARE(toVector(raw.testLabels), labelsOf(fx.test));
    // Without batches.meta.txt the classes are named by number.
    QCOMPARE(raw.classNames.size(), std::size_t(10));
    QCOMPARE(raw.classNames.front(), std::string("0"));
    QCOMPARE(raw.classNames.back(), std::string("9"));

    const auto registry = builtinRegistry();
    QCOMPARE(registry.get("cifar10").probe(dir.toStdString()), std::string());
    kd::DatasetOptions o;
    o.name = "cifar10";
    o.path = dir.toStdString();
    QCOMPARE(kd::loadDataset(registry, o, 1)->train.size(), 10);
}

void TestDatasets::cifar10_rejectsBadFolders_data()
{
    QTest::addColumn<QString>("problem");
    QTest::addColumn<QString>("file"); ///< the file the message must name ("" for none)
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("truncated batch") << "truncated" << "data_batch_2.bin"
                                     << QStringList{"truncated", "3073-byte", "6141 bytes"};
    QTest::newRow("truncated test batch") << "truncatedTest" << "test_batch.bin" << QStringList{"truncated"};
    QTest::newRow("label 10") << "label10" << "data_batch_4.bin" << QStringList{"label 10", "10 classes", "record 1"};
    QTest::newRow("label 255 in test") << "label255" << "test_batch.bin" << QStringList{"label 255"};
    QTest::newRow("missing data_batch_3") << "missing" << "data_batch_3.bin" << QStringList{"missing"};
    QTest::newRow("empty folder") << "empty" << ""
                                  << QStringList{"no CIFAR-10 binary files", "test_batch.bin", "cifar-10-batches-bin"};
    QTest::newRow("empty batch file") << "emptyFile" << "data_batch_5.bin" << QStringList{"0 bytes"};
}

void TestDatasets::cifar10_rejectsBadFolders()
{
    QFETCH(QString, problem);
    QFETCH(QString, file);
    QFETCH(QStringList, needles);
    Cifar10Fixture fx;
    if (problem == "label10")
        fx.train[3][1].label = 10;
    if (problem == "label255")
        fx.test[2].label = 255;
    const auto dir = freshDir();
    if (problem != "empty")
        fx.write(dir);
    const auto path = [&](const char *name) { return (dir + "/" + name).toStdString(); };
    if (problem == "truncated") {
        auto b = encode(fx.train[1], false); // 3 records, 9219 bytes
        b.resize(b.size() - 3078);
        writeRaw(path("data_batch_2.bin"), b);
    }
    if (problem == "truncatedTest") {
        auto b = encode(fx.test, false);
        b.push_back(0);
        writeRaw(path("test_batch.bin"), b);
    }
    if (problem == "missing")
        QVERIFY(QFile::remove(dir + "/data_batch_3.bin"));
    if (problem == "emptyFile")
        writeRaw(path("data_batch_5.bin"), {});

    const std::string msg = errorOf([&] { kd::loadCifarDirectory(dir.toStdString(), false, false); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    const std::string named = file.isEmpty() ? dir.toStdString() : (dir + "/" + file).toStdString();
    QVERIFY2(msg.find(named) != std::string::npos, ("the message should name " + named + ": " + msg).c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());

    // The registry reports the same problem.
    const auto registry = builtinRegistry();
    kd::DatasetOptions o;
    o.name = "cifar10";
    o.path = dir.toStdString();
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), needles.front().toStdString());
}

// ---------------------------------------------------------------------------------------
// CIFAR-100

void TestDatasets::cifar100_fineAndCoarse_data()
{
    QTest::addColumn<bool>("coarse");
    QTest::addColumn<bool>("viaRegistry");
    QTest::addColumn<bool>("subFolder");
    QTest::newRow("fine") << false << false << false;
    QTest::newRow("coarse") << true << false << false;
    QTest::newRow("fine, registry, sub-folder") << false << true << true;
    QTest::newRow("coarse, registry") << true << true << false;
}

void TestDatasets::cifar100_fineAndCoarse()
{
    QFETCH(bool, coarse);
    QFETCH(bool, viaRegistry);
    QFETCH(bool, subFolder);
    const Cifar100Fixture fx;
    const auto dir = freshDir();
    fx.write(subFolder ? dir + "/cifar-100-binary" : dir);
    const int classes = coarse ? 20 : 100;
    const std::string prefix = coarse ? "coarse" : "fine";

    torch::Tensor trainImages, trainLabels, testImages, testLabels;
    std::vector<std::string> names;
    int numClasses = 0;
    if (viaRegistry) {
        kd::DatasetOptions o;
        o.name = "cifar100";
        o.path = dir.toStdString();
        o.labels = coarse ? "coarse" : "fine";
        o.normalize = false;
        const auto b = kd::loadDataset(builtinRegistry(), o, 1);
        // Kept as read (uint8); without normalisation a batch reads them as x / 255.
        trainImages = b->train.images;
        testImages = b->test.images;
        QCOMPARE(trainImages.scalar_type(), torch::kUInt8);
        QVERIFY(torch::equal(b->train.normalised(), trainImages.to(torch::kFloat32).div(255.0)));
        trainLabels = b->train.labels;
        testLabels = b->test.labels;
        names = b->classNames;
        numClasses = b->numClasses;
    } else {
        const auto raw = kd::loadCifarDirectory(dir.toStdString(), true, coarse);
        trainImages = raw.trainImages;
        testImages = raw.testImages;
        trainLabels = raw.trainLabels;
        testLabels = raw.testLabels;
        names = raw.classNames;
        numClasses = raw.numClasses;
    }
    QCOMPARE(numClasses, classes);
    QCOMPARE(int(names.size()), classes);
    QCOMPARE(names.front(), prefix + "0");
    QCOMPARE(names.back(), prefix + std::to_string(classes - 1));
    QCOMPARE(trainImages.sizes().vec(), (std::vector<std::int64_t>{6, 3, 32, 32}));
    QCOMPARE(testImages.sizes().vec(), (std::vector<std::int64_t>{3, 3, 32, 32}));
    QCOMPARE(toVector(trainLabels), labelsOf(fx.train, coarse));
    QCOMPARE(toVector(testLabels), labelsOf(fx.test, coarse));
    // Two label bytes per record: the pixels start after both.
    QVERIFY(toBytes(trainImages) == pixelsOf(fx.train));
    QVERIFY(toBytes(testImages) == pixelsOf(fx.test));
    QCOMPARE(testImages[1][0].min().item<int>(), 255);
    QCOMPARE(testImages[1].narrow(0, 1, 2).max().item<int>(), 0);
}

void TestDatasets::cifar100_rejectsBadLabels_data()
{
    QTest::addColumn<QString>("labels");
    QTest::addColumn<int>("coarseLabel");
    QTest::addColumn<int>("fineLabel");
    QTest::addColumn<QString>("needle");
    QTest::newRow("fine 100, fine labels") << "fine" << 3 << 100 << "label 100";
    QTest::newRow("coarse 20, coarse labels") << "coarse" << 20 << 3 << "label 20";
    // A record with one impossible label is corrupt whichever label set is used.
    QTest::newRow("fine 100, coarse labels") << "coarse" << 3 << 100 << "label 100";
    QTest::newRow("coarse 20, fine labels") << "fine" << 20 << 3 << "label 20";
}

void TestDatasets::cifar100_rejectsBadLabels()
{
    QFETCH(QString, labels);
    QFETCH(int, coarseLabel);
    QFETCH(int, fineLabel);
    QFETCH(QString, needle);
    Cifar100Fixture fx;
    fx.train[4].coarse = coarseLabel;
    fx.train[4].label = fineLabel;
    const auto dir = freshDir();
    fx.write(dir);
    const std::string file = (dir + "/train.bin").toStdString();
    KD_VERIFY_ERROR(kd::loadCifarDirectory(dir.toStdString(), true, labels == "coarse"), needle.toStdString(),
                    "record 4", file);
    kd::DatasetOptions o;
    o.name = "cifar100";
    o.path = dir.toStdString();
    o.labels = labels.toStdString();
    KD_VERIFY_ERROR(kd::loadDataset(builtinRegistry(), o, 1), needle.toStdString(), file);
}

// ---------------------------------------------------------------------------------------
// image folders

void TestDatasets::imageFolder_pixelsAndChannelOrder()
{
    // train/a: an 8×8 PPM whose R, G, B encode x, y and 255 - x; train/b: an 8×8 PGM ramp.
    // test/a: a 10×6 pure-red PPM; test/b: a 3×9 uniform grey PGM.
    const auto dir = freshDir();
    for (const char *sub : {"train/a", "train/b", "test/a", "test/b"})
        mkdirs(dir + "/" + sub);
    Bytes rgb, ramp;
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
            rgb.insert(rgb.end(), {std::uint8_t(x * 30), std::uint8_t(y * 30 + 5), std::uint8_t(255 - x * 30)});
            ramp.push_back(std::uint8_t(y * 32 + x));
        }
    writePnm(dir + "/train/a/rgb.ppm", 8, 8, 3, rgb);
    writePnm(dir + "/train/b/ramp.pgm", 8, 8, 1, ramp);
    Bytes red;
    for (int i = 0; i < 10 * 6; ++i)
        red.insert(red.end(), {255, 0, 0});
    writePnm(dir + "/test/a/red.ppm", 10, 6, 3, red);
    writeUniform(dir + "/test/b/grey.pgm", 3, 9, 1, 90);

    const auto c3 = kd::loadImageFolder(dir.toStdString(), 8, 3, 0.2, 1);
    QCOMPARE(c3.trainImages.sizes().vec(), (std::vector<std::int64_t>{2, 3, 8, 8}));
    QCOMPARE(c3.testImages.sizes().vec(), (std::vector<std::int64_t>{2, 3, 8, 8}));
    QCOMPARE(c3.trainImages.scalar_type(), torch::kUInt8);
    QCOMPARE(toVector(c3.trainLabels), (std::vector<std::int64_t>{0, 1}));
    QCOMPARE(toVector(c3.testLabels), (std::vector<std::int64_t>{0, 1}));
    // Not resized (already 8×8): exact pixels, R in channel 0, row y, column x.
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
            QCOMPARE(c3.trainImages[0][0][y][x].item<int>(), x * 30);
            QCOMPARE(c3.trainImages[0][1][y][x].item<int>(), y * 30 + 5);
            QCOMPARE(c3.trainImages[0][2][y][x].item<int>(), 255 - x * 30);
            for (int c = 0; c < 3; ++c) // a greyscale file in colour: the same value three times
                QCOMPARE(c3.trainImages[1][c][y][x].item<int>(), y * 32 + x);
        }
    const auto redImg = c3.testImages[0].to(torch::kInt32);
    QCOMPARE(redImg[0].min().item<int>(), 255);
    QCOMPARE(redImg[1].max().item<int>(), 0);
    QCOMPARE(redImg[2].max().item<int>(), 0);
    QCOMPARE(c3.testImages[1].min().item<int>(), 90);
    QCOMPARE(c3.testImages[1].max().item<int>(), 90);

    // Greyscale: colour files are converted (red → 0.299 · 255 ≈ 76).
    const auto c1 = kd::loadImageFolder(dir.toStdString(), 8, 1, 0.2, 1);
    QCOMPARE(c1.trainImages.sizes().vec(), (std::vector<std::int64_t>{2, 1, 8, 8}));
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) {
            QCOMPARE(c1.trainImages[1][0][y][x].item<int>(), y * 32 + x);
            const double grey = 0.299 * (x * 30) + 0.587 * (y * 30 + 5) + 0.114 * (255 - x * 30);
            QVERIFY(std::abs(c1.trainImages[0][0][y][x].item<int>() - grey) <= 1.0);
        }
    QVERIFY(std::abs(c1.testImages[0].min().item<int>() - 76) <= 1);
    QVERIFY(std::abs(c1.testImages[0].max().item<int>() - 76) <= 1);

    // Downscaling: size 4 averages 2×2 blocks of the ramp.
    const auto small = kd::loadImageFolder(dir.toStdString(), 4, 1, 0.2, 1);
    QCOMPARE(small.trainImages.sizes().vec(), (std::vector<std::int64_t>{2, 1, 4, 4}));
    QVERIFY(std::abs(small.trainImages[1][0][1][2].item<int>() - (2.5 * 32 + 4.5)) <= 1.0);
}

void TestDatasets::imageFolder_testSplitIsSeededAndStratified_data()
{
    QTest::addColumn<int>("channels");
    QTest::addColumn<double>("testSplit");
    QTest::addColumn<QList<int>>("testPerClass"); // ant (12 files), bee (8), cat (5)
    QTest::newRow("grey, 0.25") << 1 << 0.25 << QList<int>{3, 2, 1};
    QTest::newRow("colour, 0.25") << 3 << 0.25 << QList<int>{3, 2, 1};
    QTest::newRow("colour, 0.5") << 3 << 0.5 << QList<int>{6, 4, 3};
    // 0.9 of 5 rounds to 5: the class keeps one training image instead of none.
    QTest::newRow("colour, 0.9") << 3 << 0.9 << QList<int>{11, 7, 4};
}

void TestDatasets::imageFolder_testSplitIsSeededAndStratified()
{
    QFETCH(int, channels);
    QFETCH(double, testSplit);
    QFETCH(QList<int>, testPerClass);
    const auto dir = freshDir();
    // Created out of order: labels follow the sorted names, not the creation order.
    const auto levels = writeFlatFolder(dir, {{"cat", 5}, {"ant", 12}, {"bee", 8}});
    const std::vector<std::string> classes{"ant", "bee", "cat"};

    const auto a = kd::loadImageFolder(dir.toStdString(), 8, channels, testSplit, 7);
    QCOMPARE(a.numClasses, 3);
    QCOMPARE(a.classNames, classes);
    const int nTest = testPerClass[0] + testPerClass[1] + testPerClass[2];
    QCOMPARE(a.testImages.sizes().vec(), (std::vector<std::int64_t>{nTest, channels, 8, 8}));
    QCOMPARE(a.trainImages.sizes().vec(), (std::vector<std::int64_t>{25 - nTest, channels, 8, 8}));
    // Stratified: each class contributes its own share of test images.
    QCOMPARE(toVector(torch::bincount(a.testLabels, {}, 3)),
             (std::vector<std::int64_t>{testPerClass[0], testPerClass[1], testPerClass[2]}));
    QCOMPARE(toVector(torch::bincount(a.trainLabels, {}, 3)),
             (std::vector<std::int64_t>{12 - testPerClass[0], 8 - testPerClass[1], 5 - testPerClass[2]}));

    // Every file lands exactly once, in one split, with its class's label.
    std::multiset<int> seen;
    std::set<int> testLevels;
    for (const auto *split : {&a.trainImages, &a.testImages}) {
        const auto lv = levelsOf(*split);
        QCOMPARE(int(lv.size()), int(split->size(0)));
        const auto &labels = split == &a.trainImages ? a.trainLabels : a.testLabels;
        for (std::size_t i = 0; i < lv.size(); ++i) {
            const int level = snap(lv[i]);
            QVERIFY2(std::abs(level - lv[i]) <= 1, qPrintable(QString::number(lv[i])));
            QVERIFY(levels.count(level));
            QCOMPARE(classes[std::size_t(labels[std::int64_t(i)].item<std::int64_t>())], levels.at(level));
            seen.insert(level);
            if (split == &a.testImages)
                testLevels.insert(level);
        }
    }
    QCOMPARE(int(seen.size()), 25);
    QCOMPARE(int(std::set<int>(seen.begin(), seen.end()).size()), 25);

    // Seeded: the same seed picks the same test images; other seeds pick others.
    const auto again = kd::loadImageFolder(dir.toStdString(), 8, channels, testSplit, 7);
    QVERIFY(torch::equal(again.testImages, a.testImages));
    QVERIFY(torch::equal(again.trainImages, a.trainImages));
    QVERIFY(torch::equal(again.testLabels, a.testLabels));
    int differing = 0;
    for (std::uint64_t seed : {1, 2, 3, 4}) {
        const auto other = kd::loadImageFolder(dir.toStdString(), 8, channels, testSplit, seed);
        QCOMPARE(other.testImages.size(0), a.testImages.size(0));
        std::set<int> otherLevels;
        for (int l : levelsOf(other.testImages))
            otherLevels.insert(snap(l));
        differing += otherLevels != testLevels;
    }
    QVERIFY2(differing >= 3, qPrintable(QString("only %1 of 4 other seeds changed the split").arg(differing)));
}

void TestDatasets::imageFolder_trainTestLayout()
{
    const auto dir = freshDir();
    writeFlatFolder(dir + "/train", {{"dog", 3}, {"cow", 2}});
    const auto testLevels = writeFlatFolder(dir + "/test", {{"dog", 1}, {"cow", 2}});
    // A stray file and a non-image file are ignored.
    writeText((dir + "/train/README.txt").toStdString(), "not a class");
    writeText((dir + "/train/dog/notes.txt").toStdString(), "not an image");

    const auto raw = kd::loadImageFolder(dir.toStdString(), 6, 3, 0.5, 1);
    QCOMPARE(raw.classNames, (std::vector<std::string>{"cow", "dog"}));
    QCOMPARE(raw.trainImages.sizes().vec(), (std::vector<std::int64_t>{5, 3, 6, 6}));
    QCOMPARE(raw.testImages.sizes().vec(), (std::vector<std::int64_t>{3, 3, 6, 6}));
    // test_split does not apply: the test/ folder is the test set, in class then file order.
    QCOMPARE(toVector(raw.trainLabels), (std::vector<std::int64_t>{0, 0, 1, 1, 1}));
    QCOMPARE(toVector(raw.testLabels), (std::vector<std::int64_t>{0, 0, 1}));
    const auto lv = levelsOf(raw.testImages);
    QCOMPARE(int(lv.size()), 3);
    for (std::size_t i = 0; i < 3; ++i)
        QCOMPARE(testLevels.at(snap(lv[i])), std::string(i < 2 ? "cow" : "dog"));
    QCOMPARE(kd::probeImageFolder(dir.toStdString()), std::string());
}

void TestDatasets::imageFolder_throughRegistry()
{
    const auto dir = freshDir();
    writeFlatFolder(dir, {{"x", 6}, {"y", 6}});
    const auto registry = builtinRegistry();
    QCOMPARE(registry.get("image-folder").probe(dir.toStdString()), std::string());
    kd::DatasetOptions o;
    o.name = "image-folder";
    o.path = dir.toStdString();
    o.imageSize = 5;
    o.channels = 1;
    o.testSplit = 1.0 / 3.0;
    const auto b = kd::loadDataset(registry, o, 3);
    QCOMPARE(b->shape.toString(), std::string("1x5x5"));
    QCOMPARE(b->numClasses, 2);
    QCOMPARE(registry.get("image-folder").expectedShape(o).input.toString(), std::string("1x5x5"));
    QVERIFY(!registry.get("image-folder").expectedShape(o).classesKnown); // the folders decide
    QCOMPARE(b->classNames, (std::vector<std::string>{"x", "y"}));
    QCOMPARE(b->train.size(), 8);
    QCOMPARE(b->test.size(), 4);
    // Defaults: 32×32 colour.
    o.imageSize = 0;
    o.channels = 0;
    QCOMPARE(kd::loadDataset(registry, o, 3)->shape.toString(), std::string("3x32x32"));
    QCOMPARE(registry.get("image-folder").expectedShape(o).input.toString(), std::string("3x32x32"));
}

void TestDatasets::imageFolder_rejectsBadFolders_data()
{
    QTest::addColumn<QString>("problem");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("corrupt image") << "corrupt" << QStringList{"cannot decode", "b/broken.png"};
    QTest::newRow("one class folder") << "oneClass" << QStringList{"fewer than two class"};
    QTest::newRow("test/ lacks a class") << "testMissing" << QStringList{"\"b\"", "test"};
    QTest::newRow("test/ has an extra class") << "testExtra" << QStringList{"test/c", "train/"};
    QTest::newRow("no folder") << "noFolder" << QStringList{"image folder not found"};
    QTest::newRow("a split without images") << "emptySplit" << QStringList{"0 test images"};
    QTest::newRow("train/ without test/") << "noTest" << QStringList{"train/ folder but no test/"};
    QTest::newRow("empty class folder") << "emptyClass" << QStringList{"\"b\"", "no training image files"};
    QTest::newRow("empty train/ class folder") << "emptyTrainClass" << QStringList{"\"b\"", "train/b"};
}

void TestDatasets::imageFolder_rejectsBadFolders()
{
    QFETCH(QString, problem);
    QFETCH(QStringList, needles);
    auto dir = freshDir();
    if (problem == "corrupt") {
        writeFlatFolder(dir, {{"a", 3}, {"b", 3}});
        writeRaw((dir + "/b/broken.png").toStdString(), pattern(300, 5));
    } else if (problem == "oneClass") {
        writeFlatFolder(dir, {{"only", 4}});
    } else if (problem == "testMissing") {
        writeFlatFolder(dir + "/train", {{"a", 2}, {"b", 2}});
        writeFlatFolder(dir + "/test", {{"a", 2}});
    } else if (problem == "testExtra") {
        writeFlatFolder(dir + "/train", {{"a", 2}, {"b", 2}});
        writeFlatFolder(dir + "/test", {{"a", 2}, {"b", 1}, {"c", 1}});
    } else if (problem == "noFolder") {
        dir += "/nope";
    } else if (problem == "noTest") {
        writeFlatFolder(dir + "/train", {{"a", 2}, {"b", 2}});
    } else if (problem == "emptyClass") {
        writeFlatFolder(dir, {{"a", 3}, {"b", 0}, {"c", 3}});
    } else if (problem == "emptyTrainClass") {
        writeFlatFolder(dir + "/train", {{"a", 2}, {"b", 0}});
        writeFlatFolder(dir + "/test", {{"a", 1}, {"b", 1}});
    } else if (problem == "emptySplit") {
        writeFlatFolder(dir, {{"a", 1}, {"b", 1}}); // 0.2 of one file rounds to no test image
    }
    const std::string msg = errorOf([&] { kd::loadImageFolder(dir.toStdString(), 8, 3, 0.2, 1); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
    if (problem == "oneClass" || problem == "noFolder")
        QVERIFY(!kd::probeImageFolder(dir.toStdString()).empty());
}

// ---------------------------------------------------------------------------------------
// synthetic

void TestDatasets::synthetic_deterministicPerSeed()
{
    const kd::InputShape shape{3, 12, 10};
    const auto a = kd::makeSyntheticDataset(shape, 10, 50, 20, 5);
    const auto b = kd::makeSyntheticDataset(shape, 10, 50, 20, 5);
    const auto c = kd::makeSyntheticDataset(shape, 10, 50, 20, 6);
    QVERIFY(torch::equal(a.trainImages, b.trainImages));
    QVERIFY(torch::equal(a.testImages, b.testImages));
    QVERIFY(torch::equal(a.trainLabels, b.trainLabels));
    QVERIFY(!torch::equal(a.trainImages, c.trainImages));
    QVERIFY(!torch::equal(a.testImages, c.testImages));
    // Train and test are different draws, not copies.
    QVERIFY(!torch::equal(a.trainImages.narrow(0, 0, 20), a.testImages));
    // Some variety within a class (shift and noise), not one fixed image per class.
    QVERIFY(!torch::equal(a.trainImages[0], a.trainImages[10]));
}

void TestDatasets::synthetic_shapesAndBalance_data()
{
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("classes");
    QTest::newRow("1x28x28, 10 classes") << 1 << 28 << 28 << 10;
    QTest::newRow("3x32x32, 10 classes") << 3 << 32 << 32 << 10;
    QTest::newRow("3x8x16, 4 classes") << 3 << 8 << 16 << 4;
}

void TestDatasets::synthetic_shapesAndBalance()
{
    QFETCH(int, channels);
    QFETCH(int, height);
    QFETCH(int, width);
    QFETCH(int, classes);
    const auto raw = kd::makeSyntheticDataset({channels, height, width}, classes, 200, 40, 1);
    QCOMPARE(raw.trainImages.sizes().vec(), (std::vector<std::int64_t>{200, channels, height, width}));
    QCOMPARE(raw.testImages.sizes().vec(), (std::vector<std::int64_t>{40, channels, height, width}));
    QCOMPARE(raw.trainImages.scalar_type(), torch::kUInt8);
    QCOMPARE(raw.trainLabels.scalar_type(), torch::kInt64);
    QCOMPARE(raw.numClasses, classes);
    QCOMPARE(int(raw.classNames.size()), classes);
    QVERIFY(torch::equal(torch::bincount(raw.trainLabels), torch::full({classes}, 200 / classes, torch::kInt64)));
    QVERIFY(torch::equal(torch::bincount(raw.testLabels), torch::full({classes}, 40 / classes, torch::kInt64)));
    // Uses the byte range, not a constant.
    QVERIFY(raw.trainImages.max().item<int>() - raw.trainImages.min().item<int>() > 100);
}

void TestDatasets::synthetic_isLearnable()
{
    // A nearest-class-mean classifier on the training means must beat chance (0.1) by far.
    const auto raw = kd::makeSyntheticDataset({1, 16, 16}, 10, 500, 200, 11);
    const auto train = raw.trainImages.to(torch::kFloat32).view({500, -1});
    const auto test = raw.testImages.to(torch::kFloat32).view({200, -1});
    std::vector<torch::Tensor> means;
    for (int k = 0; k < 10; ++k)
        means.push_back(train.index({raw.trainLabels == k}).mean(0));
    const auto centres = torch::stack(means);                // 10 × D
    const auto distances = torch::cdist(test, centres);      // 200 × 10
    const auto predicted = distances.argmin(1);
    const double acc = predicted.eq(raw.testLabels).to(torch::kFloat64).mean().item<double>();
    QVERIFY2(acc > 0.5, qPrintable(QString("nearest-mean accuracy %1").arg(acc)));
}

void TestDatasets::synthetic_throughRegistry()
{
    const auto registry = builtinRegistry();
    QVERIFY(!registry.get("synthetic").needsFiles());
    kd::DatasetOptions o;
    o.name = "synthetic";
    o.imageSize = 12;
    o.channels = 3;
    o.limit = 300;
    o.testLimit = 100;
    const auto b = kd::loadDataset(registry, o, 9);
    QCOMPARE(b->shape.toString(), std::string("3x12x12"));
    QCOMPARE(b->numClasses, 10);
    QCOMPARE(registry.get("synthetic").expectedShape(o).input.toString(), std::string("3x12x12"));
    QCOMPARE(b->train.size(), 300);
    QCOMPARE(b->test.size(), 100);
    QVERIFY(torch::equal(b->train.images, kd::loadDataset(registry, o, 9)->train.images));
    QVERIFY(!torch::equal(b->train.images, kd::loadDataset(registry, o, 10)->train.images));
    // Defaults: 1×28×28, 2000 / 500.
    kd::DatasetOptions defaults;
    defaults.name = "synthetic";
    const auto d = kd::loadDataset(registry, defaults, 1);
    QCOMPARE(d->shape.toString(), std::string("1x28x28"));
    QCOMPARE(registry.get("synthetic").expectedShape(defaults).input.toString(), std::string("1x28x28"));
    QCOMPARE(registry.get("fashion-mnist").expectedShape(defaults).input.toString(), std::string("1x28x28"));
    QCOMPARE(registry.get("fashion-mnist").expectedShape(defaults).numClasses, 10);
    QVERIFY(!registry.get("idx").expectedShape(defaults).classesKnown);
    QCOMPARE(d->train.size(), 2000);
    QCOMPARE(d->test.size(), 500);
}

// ---------------------------------------------------------------------------------------
// the registry's refusals

void TestDatasets::loadDataset_imageSizeOnlyForFoldersAndSynthetic()
{
    // A Fashion-MNIST-like IDX folder of 6×6 greyscale images.
    const auto dir = freshDir().toStdString();
    writeRaw(dir + "/train-images-idx3-ubyte", idxBytes({4, 6, 6}, pattern(4 * 36, 1)));
    writeRaw(dir + "/train-labels-idx1-ubyte", idxBytes({4}, {0, 1, 2, 3}));
    writeRaw(dir + "/t10k-images-idx3-ubyte", idxBytes({2, 6, 6}, pattern(2 * 36, 2)));
    writeRaw(dir + "/t10k-labels-idx1-ubyte", idxBytes({2}, {1, 0}));
    const auto registry = builtinRegistry();
    kd::DatasetOptions o;
    o.name = "idx";
    o.path = dir;
    o.imageSize = 28;
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), "image_size", "1x6x6", "set both to 0");
    o.imageSize = 0;
    o.channels = 3;
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), "channels", "1x6x6");
    // Values that match the data are accepted.
    o.imageSize = 6;
    o.channels = 1;
    QCOMPARE(kd::loadDataset(registry, o, 1)->shape.toString(), std::string("1x6x6"));

    // CIFAR is 32×32 colour: image_size 28 is refused too.
    const auto cifar = freshDir();
    Cifar10Fixture().write(cifar);
    kd::DatasetOptions c;
    c.name = "cifar10";
    c.path = cifar.toStdString();
    c.imageSize = 28;
    KD_VERIFY_ERROR(kd::loadDataset(registry, c, 1), "image_size", "3x32x32");
}

void TestDatasets::loadDataset_unknownName()
{
    kd::DatasetOptions o;
    o.name = "cifar-11";
    KD_VERIFY_ERROR(kd::loadDataset(builtinRegistry(), o, 1), "unknown dataset \"cifar-11\"", "cifar10", "cifar100",
                    "fashion-mnist", "image-folder", "synthetic");
}

void TestDatasets::loadDataset_noDefaultPathFound()
{
    // Point every default location at empty or missing folders.
    const auto home = freshDir();
    const auto data = freshDir();
    EnvGuard h("HOME", home.toUtf8());
    EnvGuard d("KD_DATA", data.toUtf8());
    mkdirs(data + "/cifar10"); // present but empty: probed and rejected
    const auto registry = builtinRegistry();
    QVERIFY(registry.get("cifar10").locate().empty());
    kd::DatasetOptions o;
    o.name = "cifar10";
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), "dataset \"cifar10\" was not found", "looked in",
                    (data + "/cifar10").toStdString(), (data + "/cifar-10-batches-bin").toStdString(),
                    (home + "/.local/share/kd-workbench/datasets/cifar10").toStdString(), "dataset.path");

    // Once the files are in a default folder, it is found without a path.
    Cifar10Fixture().write(data + "/cifar-10-batches-bin");
    QCOMPARE(QString::fromStdString(registry.get("cifar10").locate()), data + "/cifar-10-batches-bin");
    QCOMPARE(kd::loadDataset(registry, o, 1)->train.size(), 10);

    // An entry without default folders says so.
    o.name = "image-folder";
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), "no default location", "dataset.path");
}

QTEST_APPLESS_MAIN(TestDatasets)
#include "test_datasets.moc"
