#include "BatchLoader.h"

#include "core/Error.h"

#include <random>

namespace kd {

torch::Tensor augmentBatch(const torch::Tensor &images, const Augmentation &aug, std::uint64_t seed)
{
    if (!aug.enabled())
        return images;
    std::mt19937_64 rng(seed);
    const auto n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
    if (!aug.padValue.empty() && std::int64_t(aug.padValue.size()) != c)
        throw Error("augmentation pad value has " + std::to_string(aug.padValue.size())
                    + " channels but the images have " + std::to_string(c)
                    + " (internal error: the pad value must come from this dataset's statistics)");
    torch::Tensor out = images;
    if (aug.cropPadding > 0) {
        const int p = aug.cropPadding;
        auto padded = torch::empty({n, c, h + 2 * p, w + 2 * p}, images.options());
        for (std::int64_t ch = 0; ch < c; ++ch)
            padded.select(1, ch).fill_(aug.padValue.empty() ? 0.f : aug.padValue[std::size_t(ch)]);
        padded.narrow(2, p, h).narrow(3, p, w).copy_(images);
        out = torch::empty_like(images);
        std::uniform_int_distribution<int> off(0, 2 * p);
        for (std::int64_t i = 0; i < n; ++i) {
            const int dy = off(rng), dx = off(rng);
            out[i].copy_(padded[i].narrow(1, dy, h).narrow(2, dx, w));
        }
    }
    if (aug.horizontalFlip) {
        std::vector<std::int64_t> flip;
        std::bernoulli_distribution coin(0.5);
        for (std::int64_t i = 0; i < n; ++i)
            if (coin(rng))
                flip.push_back(i);
        if (!flip.empty()) {
            if (out.data_ptr() == images.data_ptr())
                out = images.clone();
            auto idx = torch::tensor(flip, torch::kInt64);
            out.index_copy_(0, idx, out.index_select(0, idx).flip({3}));
        }
    }
    return out;
}

BatchLoader::BatchLoader(const TensorDataset &set, std::uint64_t seed, int epoch, int batchSize,
                         std::int64_t steps, Augmentation augmentation, bool channelsLast, int prefetch,
                         std::int64_t firstStep, bool pinMemory)
    : m_set(set)
    , m_seed(seed)
    , m_epoch(epoch)
    , m_batchSize(batchSize)
    , m_steps(steps)
    , m_firstStep(std::max<std::int64_t>(0, firstStep))
    , m_aug(std::move(augmentation))
    , m_channelsLast(channelsLast)
    , m_pinMemory(pinMemory)
    , m_capacity(std::size_t(std::max(1, prefetch)))
{
    m_thread = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_cancel = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable())
        m_thread.join();
}

void BatchLoader::produce()
{
    try {
        // Gathering 128 rows is tiny: keep this thread off the intra-op pool.
        torch::NoGradGuard noGrad;
        const auto n = m_set.size();
        const auto order = torch::tensor(shuffledIndices(n, m_seed, m_epoch), torch::kInt64);
        for (std::int64_t s = m_firstStep; s < m_steps; ++s) {
            const auto len = std::min<std::int64_t>(m_batchSize, n - s * m_batchSize);
            Batch b;
            b.indices = order.narrow(0, s * m_batchSize, len);
            const auto raw = m_set.select(b.indices);
            b.labels = m_set.labels.index_select(0, b.indices);
            // Augmentation parameters depend on (seed, epoch, step) only; view v > 0 offsets
            // the seed, so view 0 is what a single-view run draws.
            const std::uint64_t stepSeed =
                m_seed * 0x9E3779B97F4A7C15ULL + std::uint64_t(m_epoch) * 1000003ULL + std::uint64_t(s);
            b.images = augmentBatch(raw, m_aug, stepSeed);
            for (int v = 1; v < m_aug.views; ++v)
                b.views.push_back(augmentBatch(raw, m_aug, stepSeed ^ (std::uint64_t(v) * 0xD1B54A32D192ED03ULL)));
            if (m_channelsLast) {
                b.images = b.images.contiguous(torch::MemoryFormat::ChannelsLast);
                for (auto &view : b.views)
                    view = view.contiguous(torch::MemoryFormat::ChannelsLast);
            }
            if (m_pinMemory) {
                b.images = b.images.pin_memory();
                b.labels = b.labels.pin_memory();
                b.indices = b.indices.pin_memory();
                for (auto &view : b.views)
                    view = view.pin_memory();
            }
            std::unique_lock<std::mutex> lock(m_mutex);
            m_cv.wait(lock, [this] { return m_cancel || m_queue.size() < m_capacity; });
            if (m_cancel)
                return;
            m_queue.push_back(std::move(b));
            ++m_produced;
            lock.unlock();
            m_cv.notify_all();
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_error = std::current_exception();
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_done = true;
    }
    m_cv.notify_all();
}

bool BatchLoader::next(Batch &batch)
{
    std::unique_lock<std::mutex> lock(m_mutex);
    m_cv.wait(lock, [this] { return !m_queue.empty() || m_done; });
    if (m_queue.empty()) {
        if (m_error)
            std::rethrow_exception(m_error);
        return false;
    }
    batch = std::move(m_queue.front());
    m_queue.pop_front();
    ++m_consumed;
    lock.unlock();
    m_cv.notify_all();
    return true;
}

} // namespace kd
