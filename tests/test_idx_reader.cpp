// IDX reading (raw and gzip), dataset folders, limits, the seeded validation split,
// normalisation and seeded shuffling. The fixtures are written by the tests themselves into a
// temporary folder, so every byte of each case is visible here.

#include "data/Dataset.h"
#include "data/DatasetRegistry.h"
#include "core/Error.h"
#include "data/IdxReader.h"
#include "project/ProjectConfig.h"
#include "core/TorchFwd.h"
#include "support/TestSupport.h"

#include <QtTest>

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>

using Bytes = std::vector<std::uint8_t>;

namespace {

using kd::test::errorOf;

/// An IDX image: magic 0,0,type,ndims, then each dimension as big-endian uint32, then data.
Bytes idxBytes(const std::vector<std::uint32_t> &dims, const Bytes &payload,
               std::uint8_t type = 0x08, std::uint8_t firstByte = 0)
{
    Bytes b{firstByte, 0, type, std::uint8_t(dims.size())};
    for (auto d : dims) {
        b.push_back(std::uint8_t(d >> 24));
        b.push_back(std::uint8_t(d >> 16));
        b.push_back(std::uint8_t(d >> 8));
        b.push_back(std::uint8_t(d));
    }
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

/// Deterministic pseudo-random bytes (incompressible enough that gzip keeps them large).
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

std::size_t product(const std::vector<std::uint32_t> &dims)
{
    std::size_t n = 1;
    for (auto d : dims)
        n *= d;
    return n;
}

void writeRaw(const std::string &path, const Bytes &bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), std::streamsize(bytes.size()));
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

Bytes readRawFile(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writeGzip(const std::string &path, const Bytes &bytes)
{
    gzFile f = gzopen(path.c_str(), "wb9");
    if (!f)
        throw std::runtime_error("gzopen failed for " + path);
    if (!bytes.empty() && gzwrite(f, bytes.data(), unsigned(bytes.size())) != int(bytes.size())) {
        gzclose(f);
        throw std::runtime_error("gzwrite failed for " + path);
    }
    if (gzclose(f) != Z_OK)
        throw std::runtime_error("gzclose failed for " + path);
}

Bytes gzipped(const std::string &scratchPath, const Bytes &bytes)
{
    writeGzip(scratchPath, bytes);
    return readRawFile(scratchPath);
}

QByteArray toQ(const Bytes &b)
{
    return QByteArray(reinterpret_cast<const char *>(b.data()), qsizetype(b.size()));
}

Bytes fromQ(const QByteArray &q)
{
    return Bytes(q.begin(), q.end());
}

/// A small IDX dataset folder: train/t10k images (N×H×W) and labels.
struct FolderSpec {
    std::uint32_t height = 4, width = 3;
    Bytes trainLabels{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1};
    Bytes testLabels{9, 8, 7, 6, 5};
    std::uint32_t trainImages = 12, testImages = 5; ///< image counts (normally = label counts)
    std::uint32_t testHeight = 4;
    bool gzip = false;
};

void writeFolder(const QString &dir, const FolderSpec &s)
{
    const auto base = dir.toStdString() + "/";
    const std::string ext = s.gzip ? ".gz" : "";
    auto put = [&](const std::string &name, const Bytes &b) {
        if (s.gzip)
            writeGzip(base + name + ext, b);
        else
            writeRaw(base + name, b);
    };
    put("train-images-idx3-ubyte",
        idxBytes({s.trainImages, s.height, s.width}, pattern(s.trainImages * s.height * s.width, 1)));
    put("train-labels-idx1-ubyte", idxBytes({std::uint32_t(s.trainLabels.size())}, s.trainLabels));
    put("t10k-images-idx3-ubyte",
        idxBytes({s.testImages, s.testHeight, s.width}, pattern(s.testImages * s.testHeight * s.width, 2)));
    put("t10k-labels-idx1-ubyte", idxBytes({std::uint32_t(s.testLabels.size())}, s.testLabels));
}

/// A synthetic raw dataset: n training images of c×h×w whose label is their index, so a
/// label identifies the image after splitting and shuffling.
kd::RawDataset syntheticRaw(std::int64_t n, std::int64_t c = 1, std::int64_t h = 4, std::int64_t w = 4)
{
    torch::manual_seed(1234);
    kd::RawDataset raw;
    raw.trainImages = torch::randint(0, 256, {n, c, h, w}, torch::kUInt8);
    raw.trainLabels = torch::arange(n, torch::kInt64);
    raw.testImages = torch::randint(0, 256, {20, c, h, w}, torch::kUInt8);
    raw.testLabels = torch::arange(20, torch::kInt64) % n;
    raw.numClasses = int(n);
    return raw;
}

std::vector<std::int64_t> toVector(const torch::Tensor &t)
{
    const auto c = t.to(torch::kInt64).contiguous();
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

} // namespace

class TestIdxReader : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    int m_counter = 0;
    QString freshDir();
    std::string path(const QString &name) const { return m_tmp.filePath(name).toStdString(); }

private Q_SLOTS:
    void initTestCase();

    // IDX files
    void readIdxFile_roundTrip_data();
    void readIdxFile_roundTrip();
    void readIdxFile_gzipDetectedByContentNotName();
    void readMaybeGzip_returnsDecompressedBytes();
    void readIdxFile_rejectsBadFiles_data();
    void readIdxFile_rejectsBadFiles();
    void readIdxFile_missingFile();

    // dataset folders
    void loadIdxDirectory_readsFolder_data();
    void loadIdxDirectory_readsFolder();
    void loadIdxDirectory_fourDimensionalImagesAreChannelsLast();
    void loadIdxDirectory_rejectsBadFolders_data();
    void loadIdxDirectory_rejectsBadFolders();
    void loadIdxDirectory_prefersRawOverGzip();
    void loadIdxDirectory_missingFolder();
    void datasetProbe();

    // finishing: limits, split, normalisation
    void finishDataset_limits_data();
    void finishDataset_limits();
    void finishDataset_valSplitPartitionsTraining();
    void finishDataset_valSplitIsSeeded();
    void finishDataset_valSplitTooSmall();
    void finishDataset_normalisation();
    void finishDataset_uint8PathEqualsFloatPath();
    void finishDataset_statisticsIgnoreLimit();
    void finishDataset_perChannelAndKnownStatistics();

    // shuffling
    void shuffledIndices_isPermutation_data();
    void shuffledIndices_isPermutation();
    void shuffledIndices_deterministicPerSeedAndEpoch();

    // the real thing
    void realFashionMnist();
    void datasetWithoutDefaultPath();
};

QString TestIdxReader::freshDir()
{
    const QString name = QStringLiteral("case%1").arg(++m_counter);
    if (!QDir(m_tmp.path()).mkpath(name))
        qFatal("cannot create %s", qPrintable(name));
    return m_tmp.filePath(name);
}

void TestIdxReader::initTestCase()
{
    QVERIFY2(m_tmp.isValid(), qPrintable(m_tmp.errorString()));
}

// ---------------------------------------------------------------------------------------
// IDX files

void TestIdxReader::readIdxFile_roundTrip_data()
{
    QTest::addColumn<QList<quint32>>("dims");
    QTest::addColumn<bool>("gzip");
    QTest::newRow("idx1 raw") << QList<quint32>{7} << false;
    QTest::newRow("idx1 gzip") << QList<quint32>{7} << true;
    QTest::newRow("idx3 raw") << QList<quint32>{3, 5, 4} << false;
    QTest::newRow("idx3 gzip") << QList<quint32>{3, 5, 4} << true;
    QTest::newRow("idx4 gzip") << QList<quint32>{2, 3, 3, 3} << true;
    QTest::newRow("idx3 large gzip (>64 KiB inflated)") << QList<quint32>{100, 28, 28} << true;
    // 0x010203 elements: three distinct non-zero bytes check the big-endian decoding.
    QTest::newRow("idx1, 0x010203 elements") << QList<quint32>{0x010203} << true;
}

void TestIdxReader::readIdxFile_roundTrip()
{
    QFETCH(QList<quint32>, dims);
    QFETCH(bool, gzip);
    const std::vector<std::uint32_t> d(dims.begin(), dims.end());
    const auto payload = pattern(product(d), 7);
    const auto file = path(QStringLiteral("roundtrip%1%2").arg(++m_counter).arg(gzip ? ".gz" : ""));
    if (gzip)
        writeGzip(file, idxBytes(d, payload));
    else
        writeRaw(file, idxBytes(d, payload));

    const auto a = kd::readIdxFile(file);
    QCOMPARE(a.dims, d);
    QCOMPARE(a.count(), std::size_t(d[0]));
    QCOMPARE(a.itemSize(), product(d) / d[0]);
    QVERIFY(a.data == payload);

    // Same result as parsing the bytes in memory.
    const auto b = kd::parseIdx(idxBytes(d, payload), "memory");
    QCOMPARE(b.dims, a.dims);
    QVERIFY(b.data == a.data);
}

void TestIdxReader::readIdxFile_gzipDetectedByContentNotName()
{
    const auto bytes = idxBytes({2, 2}, {1, 2, 3, 4});
    const auto gzNoSuffix = path("compressed-without-suffix");
    const auto rawWithSuffix = path("raw-with-suffix.gz");
    writeGzip(gzNoSuffix, bytes);
    writeRaw(rawWithSuffix, bytes);
    QVERIFY(readRawFile(gzNoSuffix) != bytes); // really compressed
    QVERIFY(kd::readIdxFile(gzNoSuffix).data == (Bytes{1, 2, 3, 4}));
    QVERIFY(kd::readIdxFile(rawWithSuffix).data == (Bytes{1, 2, 3, 4}));
}

void TestIdxReader::readMaybeGzip_returnsDecompressedBytes()
{
    const auto bytes = pattern(200000, 3);
    writeGzip(path("blob.gz"), bytes);
    writeRaw(path("blob.raw"), bytes);
    QVERIFY(readRawFile(path("blob.gz")).size() > 1000);
    QVERIFY(kd::readMaybeGzip(path("blob.gz")) == bytes);
    QVERIFY(kd::readMaybeGzip(path("blob.raw")) == bytes);
    writeRaw(path("empty.raw"), {});
    QVERIFY(kd::readMaybeGzip(path("empty.raw")).empty());
}

enum class Storage { Raw, Gzip, GzipCutInHalf, GzipWithoutTrailer, GzipGarbage };
Q_DECLARE_METATYPE(Storage)

void TestIdxReader::readIdxFile_rejectsBadFiles_data()
{
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<Storage>("storage");
    QTest::addColumn<QStringList>("needles");

    const auto valid = toQ(idxBytes({50, 20, 20}, pattern(50 * 20 * 20, 5)));
    QTest::newRow("truncated payload")
        << toQ(idxBytes({10, 4}, pattern(30))) << Storage::Raw
        << QStringList{"truncated", "40 bytes", "only 30"};
    QTest::newRow("truncated payload in gzip")
        << toQ(idxBytes({10, 4}, pattern(30))) << Storage::Gzip << QStringList{"truncated", "only 30"};
    QTest::newRow("truncated header")
        << toQ(Bytes{0, 0, 8, 3, 0, 0, 0, 2}) << Storage::Raw << QStringList{"truncated", "header"};
    QTest::newRow("too short") << toQ(Bytes{0, 0}) << Storage::Raw << QStringList{"too short"};
    QTest::newRow("empty file") << QByteArray() << Storage::Raw << QStringList{"too short", "0 bytes"};
    QTest::newRow("first byte non-zero")
        << toQ(idxBytes({4}, {1, 2, 3, 4}, 0x08, 0x12)) << Storage::Raw << QStringList{"magic"};
    QTest::newRow("second byte non-zero")
        << toQ([] { auto b = idxBytes({4}, {1, 2, 3, 4}); b[1] = 1; return b; }()) << Storage::Raw
        << QStringList{"magic"};
    QTest::newRow("type float (0x0d)")
        << toQ(idxBytes({4}, pattern(16), 0x0d)) << Storage::Raw << QStringList{"type 0x0d", "0x08"};
    QTest::newRow("type int (0x0c) in gzip")
        << toQ(idxBytes({4}, pattern(16), 0x0c)) << Storage::Gzip << QStringList{"type 0x0c", "0x08"};
    QTest::newRow("zero dimension count")
        << toQ(Bytes{0, 0, 8, 0, 1, 2}) << Storage::Raw << QStringList{"declares 0 dimensions"};
    QTest::newRow("five dimensions")
        << toQ(idxBytes({1, 1, 1, 1, 1}, {7})) << Storage::Raw << QStringList{"declares 5 dimensions"};
    QTest::newRow("a dimension is 0")
        << toQ(idxBytes({3, 0}, {})) << Storage::Raw << QStringList{"dimension 1 is 0"};
    QTest::newRow("implausible dimensions")
        << toQ(idxBytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {})) << Storage::Raw
        << QStringList{"implausibly large"};
    QTest::newRow("trailing bytes")
        << toQ(idxBytes({4}, pattern(6))) << Storage::Raw << QStringList{"2 bytes of trailing data"};
    QTest::newRow("gzip cut in half")
        << valid << Storage::GzipCutInHalf << QStringList{"truncated gzip"};
    QTest::newRow("gzip without its 8-byte trailer")
        << valid << Storage::GzipWithoutTrailer << QStringList{"truncated gzip"};
    QTest::newRow("gzip magic, then garbage")
        << valid << Storage::GzipGarbage << QStringList{"not a valid gzip"};
}

void TestIdxReader::readIdxFile_rejectsBadFiles()
{
    QFETCH(QByteArray, content);
    QFETCH(Storage, storage);
    QFETCH(QStringList, needles);

    const auto file = path(QStringLiteral("bad%1.idx").arg(++m_counter));
    const auto bytes = fromQ(content);
    Bytes onDisk;
    switch (storage) {
    case Storage::Raw:
        onDisk = bytes;
        break;
    case Storage::Gzip:
        onDisk = gzipped(file, bytes);
        break;
    case Storage::GzipCutInHalf:
        onDisk = gzipped(file, bytes);
        onDisk.resize(onDisk.size() / 2);
        break;
    case Storage::GzipWithoutTrailer:
        onDisk = gzipped(file, bytes);
        onDisk.resize(onDisk.size() - 8);
        break;
    case Storage::GzipGarbage:
        onDisk = pattern(500, 9);
        onDisk[0] = 0x1f;
        onDisk[1] = 0x8b;
        break;
    }
    writeRaw(file, onDisk);

    const std::string msg = errorOf([&] { kd::readIdxFile(file); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    QVERIFY2(msg.find(file) != std::string::npos, ("the message should name the file: " + msg).c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
}

void TestIdxReader::readIdxFile_missingFile()
{
    const auto file = path("does-not-exist-idx1-ubyte");
    KD_VERIFY_ERROR(kd::readIdxFile(file), "not found", file.c_str());
    KD_VERIFY_ERROR(kd::readIdxFile(m_tmp.path().toStdString()), "not found"); // a folder
}

// ---------------------------------------------------------------------------------------
// dataset folders

void TestIdxReader::loadIdxDirectory_readsFolder_data()
{
    QTest::addColumn<bool>("gzip");
    QTest::addColumn<int>("numClasses");
    QTest::addColumn<int>("expectedClasses");
    QTest::newRow("raw, 10 classes") << false << 10 << 10;
    QTest::newRow("gzip, 10 classes") << true << 10 << 10;
    QTest::newRow("gzip, classes from labels") << true << 0 << 10;
    QTest::newRow("raw, 15 classes declared") << false << 15 << 15;
}

void TestIdxReader::loadIdxDirectory_readsFolder()
{
    QFETCH(bool, gzip);
    QFETCH(int, numClasses);
    QFETCH(int, expectedClasses);
    FolderSpec spec;
    spec.gzip = gzip;
    const auto dir = freshDir();
    writeFolder(dir, spec);

    const auto raw = kd::loadIdxDirectory(dir.toStdString(), numClasses, {});
    QCOMPARE(raw.trainImages.sizes().vec(), (std::vector<std::int64_t>{12, 1, 4, 3}));
    QCOMPARE(raw.testImages.sizes().vec(), (std::vector<std::int64_t>{5, 1, 4, 3}));
    QCOMPARE(raw.trainImages.scalar_type(), torch::kUInt8);
    QCOMPARE(raw.trainLabels.scalar_type(), torch::kInt64);
    QCOMPARE(toVector(raw.trainLabels), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}));
    QCOMPARE(toVector(raw.testLabels), (std::vector<std::int64_t>{9, 8, 7, 6, 5}));
    QCOMPARE(raw.numClasses, expectedClasses);
    QCOMPARE(int(raw.classNames.size()), expectedClasses);
    QCOMPARE(raw.classNames.front(), std::string("0"));
    QCOMPARE(raw.classNames.back(), std::to_string(expectedClasses - 1));
    QVERIFY(raw.mean.empty());

    // Pixels in file order: image n, row y, column x.
    const auto px = pattern(12 * 4 * 3, 1);
    const auto img = raw.trainImages.contiguous();
    QVERIFY(std::equal(px.begin(), px.end(), img.data_ptr<std::uint8_t>()));
    QCOMPARE(raw.trainImages[5][0][2][1].item<int>(), int(px[5 * 12 + 2 * 3 + 1]));
}

void TestIdxReader::loadIdxDirectory_fourDimensionalImagesAreChannelsLast()
{
    // An N×H×W×C file becomes N×C×H×W: element (n, y, x, c) of the file is image[n][c][y][x].
    const auto dir = freshDir().toStdString();
    const std::uint32_t n = 2, h = 3, w = 2, c = 3;
    const auto px = pattern(n * h * w * c, 4);
    writeRaw(dir + "/train-images-idx3-ubyte", idxBytes({n, h, w, c}, px));
    writeRaw(dir + "/train-labels-idx1-ubyte", idxBytes({n}, {0, 1}));
    writeRaw(dir + "/t10k-images-idx3-ubyte", idxBytes({n, h, w, c}, px));
    writeRaw(dir + "/t10k-labels-idx1-ubyte", idxBytes({n}, {1, 0}));
    const auto raw = kd::loadIdxDirectory(dir, 2, {"a", "b"});
    QCOMPARE(raw.trainImages.sizes().vec(), (std::vector<std::int64_t>{2, 3, 3, 2}));
    QCOMPARE(raw.classNames, (std::vector<std::string>{"a", "b"}));
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t y = 0; y < h; ++y)
            for (std::uint32_t x = 0; x < w; ++x)
                for (std::uint32_t ch = 0; ch < c; ++ch)
                    QCOMPARE(raw.trainImages[i][ch][y][x].item<int>(),
                             int(px[((i * h + y) * w + x) * c + ch]));
}

void TestIdxReader::loadIdxDirectory_rejectsBadFolders_data()
{
    QTest::addColumn<QString>("problem");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("label out of range") << "label12" << QStringList{"label 12", "10 classes", "train-labels"};
    QTest::newRow("test label out of range") << "testlabel10" << QStringList{"label 10", "10 classes", "t10k-labels"};
    QTest::newRow("fewer labels than images") << "counts" << QStringList{"holds 11 labels", "12 images"};
    QTest::newRow("test images of another size") << "testsize" << QStringList{"another size"};
    QTest::newRow("missing test labels") << "missing" << QStringList{"no file named", "t10k-labels-idx1-ubyte"};
    QTest::newRow("two candidates") << "two" << QStringList{"more than one candidate"};
    QTest::newRow("labels with 2 dimensions") << "labeldims" << QStringList{"exactly 1"};
    QTest::newRow("images with 2 dimensions") << "imagedims" << QStringList{"needs 3"};
    QTest::newRow("corrupt gzip in folder") << "corrupt" << QStringList{"truncated gzip"};
}

void TestIdxReader::loadIdxDirectory_rejectsBadFolders()
{
    QFETCH(QString, problem);
    QFETCH(QStringList, needles);
    FolderSpec spec;
    if (problem == "label12")
        spec.trainLabels[3] = 12;
    if (problem == "testlabel10")
        spec.testLabels[0] = 10;
    if (problem == "counts")
        spec.trainLabels.pop_back();
    if (problem == "testsize")
        spec.testHeight = 5;
    if (problem == "corrupt")
        spec.gzip = true;
    const auto dir = freshDir();
    writeFolder(dir, spec);
    const auto d = dir.toStdString();
    if (problem == "missing")
        QVERIFY(QFile::remove(dir + "/t10k-labels-idx1-ubyte"));
    if (problem == "two")
        writeRaw(d + "/other-train-images-idx3-ubyte", readRawFile(d + "/train-images-idx3-ubyte"));
    if (problem == "labeldims")
        writeRaw(d + "/train-labels-idx1-ubyte", idxBytes({12, 1}, spec.trainLabels));
    if (problem == "imagedims")
        writeRaw(d + "/train-images-idx3-ubyte", idxBytes({12, 12}, pattern(144)));
    if (problem == "corrupt") {
        auto b = readRawFile(d + "/t10k-images-idx3-ubyte.gz");
        b.resize(b.size() / 2);
        writeRaw(d + "/t10k-images-idx3-ubyte.gz", b);
    }

    const std::string msg = errorOf([&] { kd::loadIdxDirectory(d, 10, {}); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
}

void TestIdxReader::loadIdxDirectory_prefersRawOverGzip()
{
    // Both train-images-idx3-ubyte and its .gz: the raw file is read (here the .gz is broken,
    // so reading it would throw).
    FolderSpec spec;
    const auto dir = freshDir().toStdString();
    writeFolder(QString::fromStdString(dir), spec);
    writeRaw(dir + "/train-images-idx3-ubyte.gz", {0x1f, 0x8b, 0, 0});
    const auto raw = kd::loadIdxDirectory(dir, 10, {});
    QCOMPARE(raw.trainImages.size(0), 12);
}

void TestIdxReader::loadIdxDirectory_missingFolder()
{
    const auto dir = freshDir().toStdString();
    KD_VERIFY_ERROR(kd::loadIdxDirectory(dir + "/nope", 10, {}), "dataset folder not found", "/nope");
    KD_VERIFY_ERROR(kd::loadIdxDirectory("/usr/share/datasets/fashion-mnist-not-here", 10, {}),
                    "apt-get install dataset-fashion-mnist");
}

void TestIdxReader::datasetProbe()
{
    kd::DatasetRegistry registry("dataset");
    kd::registerBuiltinDatasets(registry);
    const auto &entry = registry.get("idx");
    QCOMPARE(entry.format, std::string("idx"));
    const auto dir = freshDir();
    QVERIFY(entry.probe(dir.toStdString()).find("fewer than four") != std::string::npos);
    writeFolder(dir, FolderSpec{});
    QCOMPARE(entry.probe(dir.toStdString()), std::string());
    QVERIFY(!entry.probe(dir.toStdString() + "/missing").empty());
    QVERIFY(!entry.probe("").empty());

    // The "idx" entry infers the class count from the training labels.
    const auto raw = entry.load(dir.toStdString(), kd::DatasetOptions{}, 1);
    QCOMPARE(raw->numClasses, 10);
}

// ---------------------------------------------------------------------------------------
// finishing

void TestIdxReader::finishDataset_limits_data()
{
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<qint64>("testLimit");
    QTest::addColumn<qint64>("expectedTrain");
    QTest::addColumn<qint64>("expectedTest");
    QTest::newRow("no limits") << qint64(0) << qint64(0) << qint64(100) << qint64(20);
    QTest::newRow("limit 30") << qint64(30) << qint64(0) << qint64(30) << qint64(20);
    QTest::newRow("test limit 7") << qint64(0) << qint64(7) << qint64(100) << qint64(7);
    QTest::newRow("both") << qint64(1) << qint64(1) << qint64(1) << qint64(1);
    QTest::newRow("limits above the size") << qint64(1000) << qint64(1000) << qint64(100) << qint64(20);
}

void TestIdxReader::finishDataset_limits()
{
    QFETCH(qint64, limit);
    QFETCH(qint64, testLimit);
    QFETCH(qint64, expectedTrain);
    QFETCH(qint64, expectedTest);
    kd::DatasetOptions o;
    o.limit = limit;
    o.testLimit = testLimit;
    const auto raw = syntheticRaw(100);
    const auto b = kd::finishDataset(raw, o, 42);
    QCOMPARE(b.train.size(), expectedTrain);
    QCOMPARE(b.test.size(), expectedTest);
    QCOMPARE(b.val.size(), 0);
    QCOMPARE(b.train.images.sizes().vec(), (std::vector<std::int64_t>{expectedTrain, 1, 4, 4}));
    // Kept as read (uint8), normalised to float32 per batch.
    QCOMPARE(b.train.images.scalar_type(), torch::kUInt8);
    QCOMPARE(b.train.normalised().scalar_type(), torch::kFloat32);
    // Without a split the limit keeps the first images, in file order.
    QVERIFY(torch::equal(b.train.labels, raw.trainLabels.narrow(0, 0, expectedTrain)));
    QVERIFY(torch::equal(b.test.labels, raw.testLabels.narrow(0, 0, expectedTest)));
    QCOMPARE(b.shape.toString(), std::string("1x4x4"));
    QCOMPARE(b.numClasses, 100);
}

void TestIdxReader::finishDataset_valSplitPartitionsTraining()
{
    kd::DatasetOptions o;
    o.limit = 50;
    o.valSplit = 0.2;
    o.normalize = false;
    const auto raw = syntheticRaw(100);
    const auto b = kd::finishDataset(raw, o, 7);
    QCOMPARE(b.val.size(), 10);
    QCOMPARE(b.train.size(), 40);
    QCOMPARE(b.test.size(), 20);
    QVERIFY(b.summary().find("train 40, val 10, test 20") != std::string::npos);

    // Labels are image indices: together the splits hold each of the first 50 exactly once,
    // and every image still carries its own label.
    std::vector<std::int64_t> all = toVector(b.train.labels);
    const auto val = toVector(b.val.labels);
    all.insert(all.end(), val.begin(), val.end());
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> expected(50);
    std::iota(expected.begin(), expected.end(), 0);
    QCOMPARE(all, expected);
    const auto rawFloat = raw.trainImages.to(torch::kFloat32) / 255.0;
    const auto valImages = b.val.normalised(), trainImages = b.train.normalised();
    for (std::int64_t i = 0; i < b.val.size(); ++i)
        QVERIFY(torch::allclose(valImages[i], rawFloat[val[std::size_t(i)]]));
    const auto tr = toVector(b.train.labels);
    for (std::int64_t i = 0; i < b.train.size(); ++i)
        QVERIFY(torch::allclose(trainImages[i], rawFloat[tr[std::size_t(i)]]));
    // Held-out images are a shuffled choice, not simply the first or last 10.
    QVERIFY(!std::is_sorted(val.begin(), val.end()) || val.front() != 0 || val.back() != 9);
}

void TestIdxReader::finishDataset_valSplitIsSeeded()
{
    kd::DatasetOptions o;
    o.valSplit = 0.25;
    const auto raw = syntheticRaw(200);
    const auto a = kd::finishDataset(raw, o, 42);
    const auto b = kd::finishDataset(raw, o, 42);
    const auto c = kd::finishDataset(raw, o, 43);
    QCOMPARE(a.val.size(), 50);
    QCOMPARE(toVector(a.val.labels), toVector(b.val.labels));
    QCOMPARE(toVector(a.train.labels), toVector(b.train.labels));
    QVERIFY(torch::equal(a.val.images, b.val.images));
    QVERIFY(toVector(a.val.labels) != toVector(c.val.labels));
}

void TestIdxReader::finishDataset_valSplitTooSmall()
{
    kd::DatasetOptions o;
    o.limit = 1;
    o.valSplit = 0.5;
    KD_VERIFY_ERROR(kd::finishDataset(syntheticRaw(100), o, 1), "val_split", "0 validation");
    o.limit = 2; // 1 train, 1 val: fine
    QCOMPARE(kd::finishDataset(syntheticRaw(100), o, 1).val.size(), 1);
}

void TestIdxReader::finishDataset_normalisation()
{
    const auto raw = syntheticRaw(300, 1, 8, 8);
    kd::DatasetOptions o;
    o.normalize = true;
    const auto b = kd::finishDataset(raw, o, 1);
    const auto mean = b.train.normalised().mean().item<double>();
    const auto stddev = b.train.normalised().std().item<double>();
    QVERIFY2(std::abs(mean) < 1e-4, qPrintable(QString::number(mean)));
    QVERIFY2(std::abs(stddev - 1.0) < 1e-3, qPrintable(QString::number(stddev)));
    // Uniform bytes: mean ~0.5, std ~0.29 of the [0, 1] range.
    QCOMPARE(int(b.mean.size()), 1);
    QVERIFY(std::abs(b.mean[0] - 0.5) < 0.02);
    QVERIFY(std::abs(b.stddev[0] - 0.289) < 0.02);
    // The test split uses the training statistics.
    const auto rawTest = raw.testImages.to(torch::kFloat32) / 255.0;
    QVERIFY(torch::allclose(b.test.normalised(), (rawTest - b.mean[0]) / b.stddev[0], 1e-5, 1e-5));

    o.normalize = false;
    const auto u = kd::finishDataset(raw, o, 1);
    QCOMPARE(u.mean, std::vector<float>{0.f});
    QCOMPARE(u.stddev, std::vector<float>{1.f});
    QVERIFY(torch::allclose(u.train.normalised(), raw.trainImages.to(torch::kFloat32) / 255.0));
    QVERIFY(u.train.normalised().min().item<double>() >= 0.0);
    QVERIFY(u.train.normalised().max().item<double>() <= 1.0);
}

void TestIdxReader::finishDataset_uint8PathEqualsFloatPath()
{
    // The images stay uint8 (a quarter of float32's memory) and every read normalises them:
    // rows(), select() and normalised() give bit for bit what normalising the whole set in
    // float32 up front gives, with the statistics of the float64 computation over the file.
    auto raw = syntheticRaw(257, 3, 6, 5);
    raw.trainImages.select(1, 1).div_(3, "floor");
    const auto b = kd::finishDataset(raw, kd::DatasetOptions{}, 3);
    QCOMPARE(b.train.images.scalar_type(), torch::kUInt8);
    QVERIFY(torch::equal(b.train.images, raw.trainImages));
    const auto f = raw.trainImages.to(torch::kFloat64).div(255.0).transpose(0, 1).reshape({3, -1});
    const auto m = f.mean(1), sd = f.std(1);
    for (int c = 0; c < 3; ++c) {
        QCOMPARE(b.mean[std::size_t(c)], float(m[c].item<double>()));
        QCOMPARE(b.stddev[std::size_t(c)], float(sd[c].item<double>()));
    }
    const auto mean = torch::tensor(b.mean).view({1, 3, 1, 1}), stddev = torch::tensor(b.stddev).view({1, 3, 1, 1});
    const auto upFront = raw.trainImages.to(torch::kFloat32).div_(255.0).sub_(mean).div_(stddev);
    QVERIFY(torch::equal(b.train.normalised(), upFront));
    QVERIFY(torch::equal(b.train.rows(100, 57), upFront.narrow(0, 100, 57)));
    const auto index = torch::tensor(std::vector<std::int64_t>{256, 0, 17, 17}, torch::kInt64);
    QVERIFY(torch::equal(b.train.select(index), upFront.index_select(0, index)));
    // A float set (no statistics) reads as it is.
    kd::TensorDataset plain;
    plain.images = torch::randn({4, 1, 2, 2});
    plain.labels = torch::zeros({4}, torch::kInt64);
    QVERIFY(torch::equal(plain.rows(1, 2), plain.images.narrow(0, 1, 2)));
}

void TestIdxReader::finishDataset_statisticsIgnoreLimit()
{
    // Statistics come from the whole training file, so a quick run with `limit` normalises
    // exactly like the full run.
    const auto raw = syntheticRaw(300);
    kd::DatasetOptions full, quick;
    quick.limit = 10;
    const auto a = kd::finishDataset(raw, full, 1);
    const auto b = kd::finishDataset(raw, quick, 1);
    QCOMPARE(a.mean, b.mean);
    QCOMPARE(a.stddev, b.stddev);
    QVERIFY(torch::equal(a.train.images.narrow(0, 0, 10), b.train.images));
}

void TestIdxReader::finishDataset_perChannelAndKnownStatistics()
{
    // Three channels with different ranges: each is normalised on its own.
    auto raw = syntheticRaw(100, 3, 5, 5);
    raw.trainImages.select(1, 0).div_(4, "floor");           // 0..63
    raw.trainImages.select(1, 2).div_(2, "floor").add_(128); // 128..255
    const auto b = kd::finishDataset(raw, kd::DatasetOptions{}, 1);
    QCOMPARE(int(b.mean.size()), 3);
    QVERIFY(b.mean[0] < b.mean[1] && b.mean[1] < b.mean[2]);
    const auto perChannel = b.train.normalised().transpose(0, 1).reshape({3, -1});
    for (int ch = 0; ch < 3; ++ch) {
        QVERIFY(std::abs(perChannel[ch].mean().item<double>()) < 1e-4);
        QVERIFY(std::abs(perChannel[ch].std().item<double>() - 1.0) < 1e-3);
    }

    // Known statistics are used as given.
    auto known = syntheticRaw(10);
    known.trainImages.fill_(255);
    known.mean = {0.5f};
    known.stddev = {0.25f};
    const auto k = kd::finishDataset(known, kd::DatasetOptions{}, 1);
    QCOMPARE(k.mean, std::vector<float>{0.5f});
    QVERIFY(torch::allclose(k.train.normalised(), torch::full(k.train.images.sizes(), 2.0)));
}

// ---------------------------------------------------------------------------------------
// shuffling

void TestIdxReader::shuffledIndices_isPermutation_data()
{
    QTest::addColumn<qint64>("n");
    QTest::addColumn<quint64>("seed");
    QTest::addColumn<qint64>("epoch");
    QTest::newRow("empty") << qint64(0) << quint64(1) << qint64(0);
    QTest::newRow("one") << qint64(1) << quint64(1) << qint64(0);
    QTest::newRow("two") << qint64(2) << quint64(5) << qint64(3);
    QTest::newRow("1000, epoch 1") << qint64(1000) << quint64(42) << qint64(1);
    QTest::newRow("1000, epoch -1 (split)") << qint64(1000) << quint64(42) << qint64(-1);
    QTest::newRow("seed above 2^32") << qint64(777) << quint64(0x123456789abcdefull) << qint64(9);
}

void TestIdxReader::shuffledIndices_isPermutation()
{
    QFETCH(qint64, n);
    QFETCH(quint64, seed);
    QFETCH(qint64, epoch);
    auto idx = kd::shuffledIndices(n, seed, epoch);
    QCOMPARE(qint64(idx.size()), n);
    const bool identity = std::is_sorted(idx.begin(), idx.end());
    std::sort(idx.begin(), idx.end());
    for (std::int64_t i = 0; i < n; ++i)
        QCOMPARE(idx[std::size_t(i)], i);
    if (n >= 100)
        QVERIFY2(!identity, "a large permutation should not be the identity");
}

void TestIdxReader::shuffledIndices_deterministicPerSeedAndEpoch()
{
    const auto a = kd::shuffledIndices(1000, 42, 1);
    QCOMPARE(kd::shuffledIndices(1000, 42, 1), a);
    QVERIFY(kd::shuffledIndices(1000, 42, 2) != a);
    QVERIFY(kd::shuffledIndices(1000, 43, 1) != a);
    // The high half of a 64-bit seed counts too.
    QVERIFY(kd::shuffledIndices(1000, 42 + (std::uint64_t(1) << 32), 1) != a);
    QVERIFY(kd::shuffledIndices(1000, 42, 1 + (std::int64_t(1) << 32)) != a);
    QVERIFY(kd::shuffledIndices(-5, 1, 1).empty());
}

// ---------------------------------------------------------------------------------------
// the real dataset

void TestIdxReader::realFashionMnist()
{
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!QFileInfo::exists(QString::fromStdString(dir)))
        QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    kd::DatasetRegistry registry("dataset");
    kd::registerBuiltinDatasets(registry);
    QCOMPARE(registry.get("fashion-mnist").probe(dir), std::string());

    kd::DatasetOptions o; // name fashion-mnist, default path
    o.limit = 1000;
    const auto b = kd::loadDataset(registry, o, 42);
    QVERIFY(b);
    QCOMPARE(b->shape.toString(), std::string("1x28x28"));
    QCOMPARE(b->numClasses, 10);
    QCOMPARE(int(b->classNames.size()), 10);
    QCOMPARE(b->classNames[0], std::string("T-shirt/top"));
    QCOMPARE(b->classNames[9], std::string("Ankle boot"));
    QCOMPARE(b->train.size(), 1000);
    QCOMPARE(b->val.size(), 0);
    QCOMPARE(b->test.size(), 10000);
    QCOMPARE(b->train.images.sizes().vec(), (std::vector<std::int64_t>{1000, 1, 28, 28}));
    QCOMPARE(b->test.images.sizes().vec(), (std::vector<std::int64_t>{10000, 1, 28, 28}));
    for (const auto *labels : {&b->train.labels, &b->test.labels}) {
        QCOMPARE(labels->scalar_type(), torch::kInt64);
        QCOMPARE(labels->min().item<std::int64_t>(), 0);
        QCOMPARE(labels->max().item<std::int64_t>(), 9);
    }
    // The test set is balanced: 1000 images per class.
    QVERIFY(torch::equal(torch::bincount(b->test.labels), torch::full({10}, 1000, torch::kInt64)));
    // Published Fashion-MNIST training statistics: mean 0.2860, std 0.3530.
    QCOMPARE(int(b->mean.size()), 1);
    QVERIFY2(std::abs(b->mean[0] - 0.2860) < 1e-3, qPrintable(QString::number(b->mean[0])));
    QVERIFY2(std::abs(b->stddev[0] - 0.3530) < 1e-3, qPrintable(QString::number(b->stddev[0])));
}

void TestIdxReader::datasetWithoutDefaultPath()
{
    kd::DatasetRegistry registry("dataset");
    kd::registerBuiltinDatasets(registry);
    kd::DatasetOptions o;
    o.name = "idx"; // any IDX folder: there is no default location
    KD_VERIFY_ERROR(kd::loadDataset(registry, o, 1), "\"idx\"", "dataset.path");

    // With a path the same entry loads a folder.
    const auto dir = freshDir();
    writeFolder(dir, FolderSpec{});
    o.path = dir.toStdString();
    o.valSplit = 0.25;
    const auto b = kd::loadDataset(registry, o, 1);
    QCOMPARE(b->train.size(), 9);
    QCOMPARE(b->val.size(), 3);
    QCOMPARE(b->numClasses, 10);
}

QTEST_APPLESS_MAIN(TestIdxReader)
#include "test_idx_reader.moc"
