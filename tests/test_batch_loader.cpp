// The training data path after loading: the prefetching BatchLoader (order, coverage,
// determinism, teardown, failures), augmentBatch (random crop with padding, horizontal flip)
// and the teacher-output cache, down to an end-to-end check that a cached teacher trains the
// student exactly like a live one.

#include "models/Architectures.h"
#include "data/BatchLoader.h"
#include "data/Dataset.h"
#include "core/Error.h"
#include "training/Experiment.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/TeacherSource.h"
#include "core/TorchFwd.h"

#include <QtTest>

#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>

namespace {

/// `n` random images (uniform in [1, 2), so never equal to a pad value) with labels 1000 + row.
std::shared_ptr<kd::TensorDataset> makeSet(std::int64_t n, std::int64_t c = 1, std::int64_t h = 5,
                                           std::int64_t w = 6, std::uint64_t seed = 1)
{
    torch::manual_seed(seed);
    auto set = std::make_shared<kd::TensorDataset>();
    set->images = torch::rand({n, c, h, w}) + 1.0;
    set->labels = torch::arange(n, torch::kInt64) + 1000;
    return set;
}

std::vector<std::int64_t> toVector(const torch::Tensor &t)
{
    const auto c = t.to(torch::kInt64).contiguous();
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
}

/// Every batch of a loader, in order.
std::vector<kd::Batch> drain(kd::BatchLoader &loader)
{
    std::vector<kd::Batch> out;
    kd::Batch b;
    while (loader.next(b))
        out.push_back(b);
    return out;
}

/// `image` (C×H×W) padded by p with `value[c]` per channel.
torch::Tensor padded(const torch::Tensor &image, int p, const std::vector<float> &value)
{
    const auto c = image.size(0), h = image.size(1), w = image.size(2);
    auto out = torch::empty({c, h + 2 * p, w + 2 * p});
    for (std::int64_t ch = 0; ch < c; ++ch)
        out[ch].fill_(value.empty() ? 0.f : value[std::size_t(ch)]);
    out.narrow(1, p, h).narrow(2, p, w).copy_(image);
    return out;
}

/// The crop offsets (dy, dx) of the padded input (optionally mirrored) that give `output`.
std::vector<std::pair<int, int>> cropOffsets(const torch::Tensor &input, const torch::Tensor &output, int p,
                                             const std::vector<float> &value, bool mirrored)
{
    const auto h = input.size(1), w = input.size(2);
    const auto pad = padded(input, p, value);
    std::vector<std::pair<int, int>> found;
    for (int dy = 0; dy <= 2 * p; ++dy)
        for (int dx = 0; dx <= 2 * p; ++dx) {
            auto crop = pad.narrow(1, dy, h).narrow(2, dx, w);
            if (mirrored)
                crop = crop.flip({2});
            if (torch::equal(crop, output))
                found.emplace_back(dy, dx);
        }
    return found;
}

/// Runs `f` on a detached thread; true when it returned within `limit`. A deadlocked `f`
/// is left behind (it owns what it uses), so the test fails instead of hanging.
bool finishesWithin(std::function<void()> f, std::chrono::milliseconds limit)
{
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    std::thread([f = std::move(f), done] {
        f();
        done->set_value();
    }).detach();
    return future.wait_for(limit) == std::future_status::ready;
}

/// Records what an experiment reports.
class Recorder : public kd::ExperimentObserver {
public:
    std::vector<std::string> logs;
    std::vector<kd::MetricRecord> metrics;
    void onLog(Level, const std::string &text) override { logs.push_back(text); }
    void onMetric(const kd::MetricRecord &r) override { metrics.push_back(r); }

    std::vector<double> stepLosses(const std::string &role) const
    {
        std::vector<double> out;
        for (const auto &m : metrics)
            if (m.role == role && m.kind == kd::MetricRecord::Kind::Step)
                out.push_back(m.loss("loss"));
        return out;
    }
    std::string logLine(const std::string &needle) const
    {
        for (const auto &l : logs)
            if (l.find(needle) != std::string::npos)
                return l;
        return {};
    }
};

const char *kFashion = "/usr/share/datasets/fashion-mnist";

} // namespace

class TestBatchLoader : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // BatchLoader
    void loader_coversShuffledOrder_data();
    void loader_coversShuffledOrder();
    void loader_deterministicPerSeedAndEpoch();
    void loader_augmentsEachRow();
    void loader_viewsAreIndependentAugmentations();
    void loader_destroyedMidEpochReturnsPromptly_data();
    void loader_destroyedMidEpochReturnsPromptly();
    void loader_rethrowsProducerFailure();

    // augmentBatch
    void augment_disabledReturnsInput();
    void augment_cropIsShiftedPaddedInput();
    void augment_flipMirrorsChosenImages();
    void augment_cropAndFlip();
    void augment_seeded();
    void augment_rejectsPadValueOfOtherChannelCount();

    // teacher cache
    void teacherCache_equalsLiveEvalForwards_data();
    void teacherCache_equalsLiveEvalForwards();
    void teacherCache_refusesWhenTooLarge_data();
    void teacherCache_refusesWhenTooLarge();
    void teacherCache_experimentTrainsLikeLiveTeacher();
};

// ---------------------------------------------------------------------------------------
// BatchLoader

void TestBatchLoader::loader_coversShuffledOrder_data()
{
    QTest::addColumn<qint64>("n");
    QTest::addColumn<int>("batch");
    QTest::addColumn<qint64>("steps");
    QTest::addColumn<int>("prefetch");
    QTest::addColumn<bool>("channelsLast");
    // The trainer runs max(1, n / batch) steps: the last partial batch is dropped unless it
    // is the only one.
    QTest::newRow("trainer: drop the last partial batch") << qint64(100) << 16 << qint64(100 / 16) << 3 << false;
    QTest::newRow("keep the last partial batch") << qint64(100) << 16 << qint64(7) << 3 << false;
    QTest::newRow("trainer: fewer images than a batch") << qint64(10) << 16 << qint64(1) << 3 << false;
    QTest::newRow("exact multiple, prefetch 1") << qint64(96) << 16 << qint64(6) << 1 << false;
    QTest::newRow("batch 1, prefetch 0 (means 1)") << qint64(5) << 1 << qint64(5) << 0 << false;
    QTest::newRow("fewer steps than the epoch") << qint64(100) << 10 << qint64(3) << 2 << false;
    QTest::newRow("channels last") << qint64(50) << 8 << qint64(50 / 8) << 3 << true;
}

void TestBatchLoader::loader_coversShuffledOrder()
{
    QFETCH(qint64, n);
    QFETCH(int, batch);
    QFETCH(qint64, steps);
    QFETCH(int, prefetch);
    QFETCH(bool, channelsLast);
    const auto set = makeSet(n, 3, 4, 5);
    const std::uint64_t seed = 77;
    const int epoch = 2;
    kd::BatchLoader loader(*set, seed, epoch, batch, steps, kd::Augmentation{}, channelsLast, prefetch);
    const auto batches = drain(loader);
    QCOMPARE(qint64(batches.size()), steps);
    kd::Batch extra;
    QVERIFY(!loader.next(extra)); // stays at the end
    QVERIFY(!loader.next(extra));

    const auto order = kd::shuffledIndices(n, seed, epoch);
    std::vector<std::int64_t> seen;
    for (std::size_t s = 0; s < batches.size(); ++s) {
        const auto &b = batches[s];
        const auto expectedLen = std::min<std::int64_t>(batch, n - std::int64_t(s) * batch);
        QCOMPARE(b.indices.size(0), expectedLen);
        QCOMPARE(b.labels.size(0), expectedLen);
        QCOMPARE(b.images.sizes().vec(), (std::vector<std::int64_t>{expectedLen, 3, 4, 5}));
        QCOMPARE(b.indices.scalar_type(), torch::kInt64);
        // The rows of the dataset at those indices, unchanged (no augmentation).
        QVERIFY(torch::equal(b.images, set->select(b.indices)));
        QVERIFY(torch::equal(b.labels, set->labels.index_select(0, b.indices)));
        QCOMPARE(b.images.is_contiguous(torch::MemoryFormat::ChannelsLast), channelsLast);
        const auto idx = toVector(b.indices);
        seen.insert(seen.end(), idx.begin(), idx.end());
    }
    // In the epoch's shuffled order, from its start.
    QCOMPARE(seen, std::vector<std::int64_t>(order.begin(), order.begin() + std::ptrdiff_t(seen.size())));
    QCOMPARE(std::int64_t(seen.size()), std::min<std::int64_t>(n, steps * batch));
}

void TestBatchLoader::loader_deterministicPerSeedAndEpoch()
{
    const auto set = makeSet(200, 2, 6, 6);
    kd::Augmentation aug;
    aug.cropPadding = 2;
    aug.horizontalFlip = true;
    aug.padValue = {-1.f, -2.f};
    auto run = [&](std::uint64_t seed, int epoch, int prefetch) {
        kd::BatchLoader loader(*set, seed, epoch, 32, 6, aug, false, prefetch);
        return drain(loader);
    };
    const auto a = run(5, 1, 3);
    const auto b = run(5, 1, 1); // other thread timing, same result
    QCOMPARE(a.size(), std::size_t(6));
    QCOMPARE(b.size(), a.size());
    for (std::size_t s = 0; s < a.size(); ++s) {
        QVERIFY(torch::equal(a[s].indices, b[s].indices));
        QVERIFY(torch::equal(a[s].images, b[s].images));
        QVERIFY(torch::equal(a[s].labels, b[s].labels));
    }
    // Another epoch or seed: another order.
    const auto otherEpoch = run(5, 2, 3);
    const auto otherSeed = run(6, 1, 3);
    QVERIFY(!torch::equal(otherEpoch[0].indices, a[0].indices));
    QVERIFY(!torch::equal(otherSeed[0].indices, a[0].indices));
}

void TestBatchLoader::loader_augmentsEachRow()
{
    // Each loaded image is a padded crop (maybe mirrored) of the dataset row it claims to be.
    const auto set = makeSet(64, 2, 5, 6);
    kd::Augmentation aug;
    aug.cropPadding = 1;
    aug.horizontalFlip = true;
    aug.padValue = {-1.f, -3.f};
    kd::BatchLoader loader(*set, 3, 0, 16, 4, aug);
    int changed = 0;
    for (const auto &b : drain(loader)) {
        const auto idx = toVector(b.indices);
        QVERIFY(torch::equal(b.labels, set->labels.index_select(0, b.indices)));
        for (std::size_t i = 0; i < idx.size(); ++i) {
            const auto in = set->images[idx[i]];
            const auto out = b.images[std::int64_t(i)];
            const auto plain = cropOffsets(in, out, 1, aug.padValue, false);
            const auto mirror = cropOffsets(in, out, 1, aug.padValue, true);
            QVERIFY2(!plain.empty() || !mirror.empty(), qPrintable(QString("row %1").arg(idx[i])));
            changed += !torch::equal(in, out);
        }
    }
    QVERIFY2(changed > 48, qPrintable(QString("only %1 of 64 images augmented").arg(changed)));
}

void TestBatchLoader::loader_viewsAreIndependentAugmentations()
{
    // Three views: the first is what a one-view loader gives, every view is a padded crop (maybe
    // mirrored) of the same rows, the views differ from each other, and they repeat per seed.
    const auto set = makeSet(64, 2, 5, 6);
    kd::Augmentation aug;
    aug.cropPadding = 1;
    aug.horizontalFlip = true;
    aug.padValue = {-1.f, -3.f};
    kd::BatchLoader single(*set, 3, 0, 16, 4, aug);
    const auto one = drain(single);
    aug.views = 3;
    kd::BatchLoader loader(*set, 3, 0, 16, 4, aug);
    const auto three = drain(loader);
    kd::BatchLoader again(*set, 3, 0, 16, 4, aug);
    const auto repeat = drain(again);
    QCOMPARE(three.size(), one.size());
    int differ = 0;
    for (std::size_t k = 0; k < three.size(); ++k) {
        const auto &b = three[k];
        QVERIFY(torch::equal(b.images, one[k].images));
        QCOMPARE(int(b.views.size()), 2);
        const auto idx = toVector(b.indices);
        for (const auto &v : b.views) {
            for (std::size_t i = 0; i < idx.size(); ++i) {
                const auto in = set->images[idx[i]];
                const auto out = v[std::int64_t(i)];
                QVERIFY(!cropOffsets(in, out, 1, aug.padValue, false).empty()
                        || !cropOffsets(in, out, 1, aug.padValue, true).empty());
                differ += !torch::equal(out, b.images[std::int64_t(i)]);
            }
        }
        QVERIFY(!torch::equal(b.views[0], b.views[1]));
        for (std::size_t v = 0; v < b.views.size(); ++v)
            QVERIFY(torch::equal(b.views[v], repeat[k].views[v]));
    }
    QVERIFY2(differ > 96, qPrintable(QString("only %1 of 128 view images differ from view 1").arg(differ)));
    // Without augmentation every view is the batch itself.
    kd::Augmentation plain;
    plain.views = 2;
    kd::BatchLoader unaugmented(*set, 3, 0, 16, 4, plain);
    for (const auto &b : drain(unaugmented))
        QVERIFY(b.views.size() == 1 && torch::equal(b.views[0], b.images));
}

void TestBatchLoader::loader_destroyedMidEpochReturnsPromptly_data()
{
    QTest::addColumn<int>("consume");
    QTest::addColumn<int>("prefetch");
    QTest::newRow("after 1 batch, prefetch 3") << 1 << 3;
    QTest::newRow("after 1 batch, prefetch 1") << 1 << 1;
    QTest::newRow("before any batch") << 0 << 3;
    QTest::newRow("after 10 batches") << 10 << 2;
}

void TestBatchLoader::loader_destroyedMidEpochReturnsPromptly()
{
    QFETCH(int, consume);
    QFETCH(int, prefetch);
    // 2500 batches: the loader thread is blocked on its full queue when the owner goes away.
    const auto set = makeSet(20000, 1, 8, 8);
    kd::Augmentation aug;
    aug.cropPadding = 2;
    auto loader = std::make_shared<kd::BatchLoader>(*set, 1, 0, 8, 2500, aug, false, prefetch);
    kd::Batch b;
    for (int i = 0; i < consume; ++i)
        QVERIFY(loader->next(b));
    std::this_thread::sleep_for(std::chrono::milliseconds(50)); // the producer fills the queue and blocks
    const auto t0 = std::chrono::steady_clock::now();
    const bool finished = finishesWithin([loader = std::move(loader), set]() mutable { loader.reset(); },
                                         std::chrono::seconds(10));
    QVERIFY2(finished, "destroying the loader mid-epoch deadlocked");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    QVERIFY2(seconds < 2.0, qPrintable(QString("teardown took %1 s").arg(seconds)));
}

void TestBatchLoader::loader_rethrowsProducerFailure()
{
    // 10 images but 20 labels: the dataset claims 20 rows, so gathering a row >= 10 fails on
    // the loader thread. Batches before that one arrive; then next() rethrows the failure.
    auto set = makeSet(10, 1, 3, 3);
    set->labels = torch::arange(20, torch::kInt64);
    // A seed whose order starts with a few good rows, so some batches arrive before the failure.
    std::uint64_t seed = 0;
    std::vector<std::int64_t> order;
    std::ptrdiff_t firstBad = 0;
    for (; firstBad < 3; ++seed) {
        order = kd::shuffledIndices(20, seed, 0);
        firstBad = std::find_if(order.begin(), order.end(), [](std::int64_t i) { return i >= 10; }) - order.begin();
    }
    --seed;
    kd::BatchLoader loader(*set, seed, 0, 1, 20, kd::Augmentation{});
    kd::Batch b;
    for (std::ptrdiff_t s = 0; s < firstBad; ++s) {
        QVERIFY(loader.next(b));
        QCOMPARE(b.indices.item<std::int64_t>(), order[std::size_t(s)]);
    }
    QVERIFY_THROWS_EXCEPTION(std::exception, loader.next(b));
    // A failed loader keeps failing; it never reports a clean end of the epoch.
    QVERIFY_THROWS_EXCEPTION(std::exception, loader.next(b));

    // A failure in the very first batch: nothing is delivered.
    kd::BatchLoader whole(*set, seed, 0, 20, 1, kd::Augmentation{});
    QVERIFY_THROWS_EXCEPTION(std::exception, whole.next(b));
}

// ---------------------------------------------------------------------------------------
// augmentBatch

void TestBatchLoader::augment_disabledReturnsInput()
{
    const auto images = makeSet(8, 3, 4, 4)->images;
    kd::Augmentation off;
    off.padValue = {1.f, 2.f, 3.f}; // a pad value alone enables nothing
    QVERIFY(!off.enabled());
    const auto out = kd::augmentBatch(images, off, 1);
    QVERIFY(torch::equal(out, images));
    QCOMPARE(out.data_ptr(), images.data_ptr());
}

void TestBatchLoader::augment_rejectsPadValueOfOtherChannelCount()
{
    const auto images = makeSet(4, 1, 4, 4)->images;
    kd::Augmentation aug;
    aug.cropPadding = 1;
    aug.padValue = {0.f, 0.f, 0.f}; // three channels for greyscale images
    try {
        kd::augmentBatch(images, aug, 1);
        QFAIL("a pad value for 3 channels was used on 1-channel images");
    } catch (const kd::Error &e) {
        QVERIFY2(QString(e.what()).contains("3 channels") && QString(e.what()).contains("have 1"), e.what());
    }
}

void TestBatchLoader::augment_cropIsShiftedPaddedInput()
{
    // Non-square images (5×6) so a swap of x and y would show.
    const auto images = makeSet(64, 2, 5, 6)->images;
    const auto before = images.clone();
    kd::Augmentation aug;
    aug.cropPadding = 2;
    aug.padValue = {-1.f, -3.f};
    const auto out = kd::augmentBatch(images, aug, 42);
    QVERIFY(torch::equal(images, before)); // the input is not modified
    QCOMPARE(out.sizes().vec(), images.sizes().vec());
    std::set<std::pair<int, int>> offsets;
    for (std::int64_t i = 0; i < 64; ++i) {
        const auto found = cropOffsets(images[i], out[i], 2, aug.padValue, false);
        QVERIFY2(found.size() == 1, qPrintable(QString("image %1 matches %2 crops").arg(i).arg(found.size())));
        offsets.insert(found.front());
    }
    // Offsets are drawn from all 25: 64 draws hit most of them.
    QVERIFY2(offsets.size() >= 15, qPrintable(QString("%1 distinct offsets").arg(offsets.size())));
    // Padding uses each channel's own value.
    QVERIFY(out.select(1, 0).eq(-1.f).any().item<bool>());
    QVERIFY(out.select(1, 1).eq(-3.f).any().item<bool>());
    QVERIFY(!out.select(1, 0).eq(-3.f).any().item<bool>());
    QVERIFY(!out.select(1, 1).eq(-1.f).any().item<bool>());

    // Without pad values the border is zero.
    kd::Augmentation zero;
    zero.cropPadding = 1;
    const auto z = kd::augmentBatch(images, zero, 42);
    for (std::int64_t i = 0; i < 64; ++i)
        QVERIFY(!cropOffsets(images[i], z[i], 1, {}, false).empty());
    QVERIFY(z.eq(0.f).any().item<bool>());
}

void TestBatchLoader::augment_flipMirrorsChosenImages()
{
    const auto images = makeSet(1000, 3, 4, 5)->images;
    const auto before = images.clone();
    kd::Augmentation aug;
    aug.horizontalFlip = true;
    const auto out = kd::augmentBatch(images, aug, 7);
    QVERIFY(torch::equal(images, before)); // the input is not modified
    int flipped = 0;
    for (std::int64_t i = 0; i < 1000; ++i) {
        const bool same = torch::equal(out[i], images[i]);
        const bool mirror = torch::equal(out[i], images[i].flip({2})); // left-right, not up-down
        QVERIFY2(same != mirror, qPrintable(QString("image %1").arg(i)));
        flipped += mirror;
    }
    QVERIFY2(flipped > 430 && flipped < 570, qPrintable(QString("%1 of 1000 flipped").arg(flipped)));
}

void TestBatchLoader::augment_cropAndFlip()
{
    const auto images = makeSet(200, 1, 6, 7)->images;
    kd::Augmentation aug;
    aug.cropPadding = 1;
    aug.horizontalFlip = true;
    aug.padValue = {-0.5f};
    const auto out = kd::augmentBatch(images, aug, 3);
    int mirrored = 0;
    for (std::int64_t i = 0; i < 200; ++i) {
        const auto plain = cropOffsets(images[i], out[i], 1, aug.padValue, false);
        const auto mirror = cropOffsets(images[i], out[i], 1, aug.padValue, true);
        QVERIFY2(plain.size() + mirror.size() == 1, qPrintable(QString("image %1").arg(i)));
        mirrored += !mirror.empty();
    }
    QVERIFY2(mirrored > 60 && mirrored < 140, qPrintable(QString("%1 of 200 mirrored").arg(mirrored)));
}

void TestBatchLoader::augment_seeded()
{
    const auto images = makeSet(64, 2, 6, 6)->images;
    kd::Augmentation aug;
    aug.cropPadding = 2;
    aug.horizontalFlip = true;
    aug.padValue = {0.f, 0.f};
    const auto a = kd::augmentBatch(images, aug, 11);
    QVERIFY(torch::equal(a, kd::augmentBatch(images, aug, 11)));
    QVERIFY(!torch::equal(a, kd::augmentBatch(images, aug, 12)));
    QVERIFY(!torch::equal(a, images));
}

// ---------------------------------------------------------------------------------------
// teacher cache

void TestBatchLoader::teacherCache_equalsLiveEvalForwards_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("cacheBatch");
    QTest::newRow("cnn, batch 32 (partial last)") << "cnn" << 32;
    QTest::newRow("cnn, one batch") << "cnn" << 1000;
    QTest::newRow("mlp with dropout, batch 7") << "mlp" << 7;
}

void TestBatchLoader::teacherCache_equalsLiveEvalForwards()
{
    QFETCH(QString, arch);
    QFETCH(int, cacheBatch);
    torch::manual_seed(3);
    std::shared_ptr<kd::FeatureNet> model;
    if (arch == "cnn")
        model = std::make_shared<kd::PlainCnn>(kd::InputShape{1, 8, 8}, 5,
                                               std::vector<kd::PlainCnn::Block>{{4, true}, {8, true}}, 16);
    else
        model = std::make_shared<kd::Mlp>(kd::InputShape{1, 8, 8}, 5, std::vector<int>{16}, 0.5);
    const auto set = makeSet(100, 1, 8, 8, 5);
    torch::Tensor trainMode; // what the model gives in train mode (BN batch statistics, dropout)
    {
        // Move the BN running statistics away from their initial values, so eval mode and
        // train mode give different outputs. (Train-mode forwards update them: done first.)
        torch::NoGradGuard noGrad;
        model->train();
        for (int i = 0; i < 5; ++i)
            model->forwardFeatures(set->images.narrow(0, 0, 50) * 3.0);
        trainMode = model->forwardFeatures(set->images).logits();
    }
    // The model is left in train mode: the cache must use eval mode whatever the caller left.

    kd::TeacherSource source(model.get());
    QVERIFY(source.active());
    QVERIFY(!source.cached());
    QCOMPARE(source.model(), model.get());
    QCOMPARE(source.cacheBytes(), std::int64_t(0));
    QVERIFY(source.buildCache(*set, torch::kCPU, cacheBatch, std::int64_t(1) << 30));
    QVERIFY(source.cached());
    QVERIFY(source.model() == nullptr); // nothing runs the teacher live any more
    QCOMPARE(source.cacheBytes(), std::int64_t(100 * 5 * sizeof(float)));
    QVERIFY(model->is_training()); // the caller's mode is restored

    model->eval();
    kd::BatchLoader loader(*set, 1, 0, 16, 7, kd::Augmentation{}); // 6 × 16 + 4
    int batches = 0;
    for (const auto &b : drain(loader)) {
        ++batches;
        const auto f = source.features(b, b.images);
        QVERIFY(f.has("logits"));
        const auto &cached = f.logits();
        QCOMPARE(cached.sizes().vec(), (std::vector<std::int64_t>{b.indices.size(0), 5}));
        QVERIFY(!cached.requires_grad());
        torch::NoGradGuard noGrad;
        const auto live = model->forwardFeatures(set->images.index_select(0, b.indices)).logits();
        QVERIFY2(torch::allclose(cached, live, 1e-5, 1e-5),
                 qPrintable(QString("max difference %1").arg((cached - live).abs().max().item<double>())));
        // ... and not what the train-mode model gives (BN batch statistics / dropout).
        QVERIFY(!torch::allclose(cached, trainMode.index_select(0, b.indices), 1e-3, 1e-3));
    }
    QCOMPARE(batches, 7);
}

void TestBatchLoader::teacherCache_refusesWhenTooLarge_data()
{
    QTest::addColumn<int>("cacheBatch");
    QTest::addColumn<qint64>("maxBytes");
    QTest::addColumn<bool>("accepted");
    const qint64 exact = 100 * 5 * 4; // 100 rows × 5 float logits
    for (int batch : {32, 64, 100, 7, 1000}) {
        QTest::addRow("batch %d, exact size", batch) << batch << exact << true;
        QTest::addRow("batch %d, one byte short", batch) << batch << exact - 1 << false;
        QTest::addRow("batch %d, zero", batch) << batch << qint64(0) << false;
    }
}

void TestBatchLoader::teacherCache_refusesWhenTooLarge()
{
    QFETCH(int, cacheBatch);
    QFETCH(qint64, maxBytes);
    QFETCH(bool, accepted);
    torch::manual_seed(3);
    kd::Mlp model({1, 8, 8}, 5, {16}, 0.0);
    model.eval();
    const auto set = makeSet(100, 1, 8, 8, 5);
    kd::TeacherSource source(&model);
    QCOMPARE(source.buildCache(*set, torch::kCPU, cacheBatch, maxBytes), accepted);
    QCOMPARE(source.cached(), accepted);
    QCOMPARE(source.cacheBytes(), accepted ? std::int64_t(2000) : std::int64_t(0));
    if (accepted)
        return;
    // Refused: the teacher runs live, with all its features and no gradient.
    QCOMPARE(source.model(), &model);
    kd::BatchLoader loader(*set, 1, 0, 10, 1, kd::Augmentation{});
    kd::Batch b;
    QVERIFY(loader.next(b));
    const auto f = source.features(b, b.images);
    QVERIFY(f.has("pre_logits"));
    QVERIFY(!f.logits().requires_grad());
    torch::NoGradGuard noGrad;
    QVERIFY(torch::allclose(f.logits(), model.forwardFeatures(b.images).logits()));
}

void TestBatchLoader::teacherCache_experimentTrainsLikeLiveTeacher()
{
    if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
        QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const auto registries = kd::Registries::builtin();
    auto run = [&](const std::string &cache, bool flip, Recorder &rec) {
        const nlohmann::json j = {
            {"name", "cache-" + cache + (flip ? "-flip" : "")},
            {"seed", 5},
            {"threads", 1},
            {"output_dir", tmp.path().toStdString()},
            {"memory_format", "contiguous"},
            {"teacher_cache", cache},
            {"baseline", false},
            {"dataset",
             {{"name", "fashion-mnist"}, {"limit", 1024}, {"test_limit", 512}, {"augment", {{"horizontal_flip", flip}}}}},
            {"teacher",
             {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
              {"train", {{"epochs", 1}, {"batch_size", 128}, {"lr", 0.05}, {"log_every", 4}}}}},
            {"student",
             {{"arch", "mlp"}, {"arch_options", {{"hidden", {32}}}},
              {"train", {{"epochs", 2}, {"batch_size", 128}, {"lr", 0.05}, {"log_every", 1}}}}},
            {"method", {{"name", "kd"}, {"temperature", 4.0}, {"alpha", 0.9}}},
        };
        kd::Experiment exp(kd::Project::fromJson(j), registries);
        std::atomic<bool> stop{false};
        const auto summary = exp.run(rec, stop, tmp.filePath(QString::fromStdString(j["name"].get<std::string>())).toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    };
    Recorder cached, live, flipped;
    run("auto", false, cached);
    if (QTest::currentTestFailed())
        return;
    run("off", false, live);
    if (QTest::currentTestFailed())
        return;

    const auto used = cached.logLine("teacher cache:");
    QVERIFY2(used.find("reused every epoch") != std::string::npos, used.c_str());
    QVERIFY2(used.find("1024 x 10 logits") != std::string::npos, used.c_str());
    const auto off = live.logLine("teacher cache:");
    QVERIFY2(off.find("off") != std::string::npos, off.c_str());

    // The same teacher either way...
    QCOMPARE(cached.stepLosses("teacher"), live.stepLosses("teacher"));
    // ... and the student's every step agrees: 8 steps × 2 epochs, logged each step.
    const auto a = cached.stepLosses("student"), b = live.stepLosses("student");
    QCOMPARE(a.size(), std::size_t(16));
    QCOMPARE(b.size(), a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        QVERIFY2(std::abs(a[i] - b[i]) <= 1e-4 * std::abs(b[i]),
                 qPrintable(QString("step %1: cached %2, live %3").arg(i + 1).arg(a[i], 0, 'g', 10).arg(b[i], 0, 'g', 10)));
    // The losses move (a real training run, not constants).
    QVERIFY(std::abs(a.front() - a.back()) > 1e-3);

    // Augmented input: the teacher must see each epoch's augmented images, so no cache.
    run("auto", true, flipped);
    if (QTest::currentTestFailed())
        return;
    const auto notUsed = flipped.logLine("teacher cache:");
    QVERIFY2(notUsed.find("not used") != std::string::npos && notUsed.find("augmentation") != std::string::npos,
             notUsed.c_str());
    QCOMPARE(flipped.stepLosses("student").size(), std::size_t(16));
}

QTEST_APPLESS_MAIN(TestBatchLoader)
#include "test_batch_loader.moc"
