#include "TeacherSource.h"

namespace kd {

bool TeacherSource::buildCache(const TensorDataset &set, const torch::Device &device, int batchSize,
                               std::int64_t maxBytes, const std::vector<std::string> &names)
{
    m_cache.clear();
    if (!m_model || set.size() == 0 || names.empty())
        return false;
    torch::NoGradGuard noGrad;
    // The cache must equal what the frozen teacher gives live: eval mode (BN running
    // statistics, no dropout). The caller's mode is restored afterwards.
    const bool wasTraining = m_model->is_training();
    m_model->eval();
    struct RestoreMode {
        FeatureNet *model;
        bool training;
        ~RestoreMode() { model->train(training); }
    } restore{m_model, wasTraining};
    const auto n = set.size();
    std::vector<std::vector<torch::Tensor>> parts(names.size());
    std::int64_t bytes = 0;
    for (std::int64_t i = 0; i < n; i += batchSize) {
        const auto len = std::min<std::int64_t>(batchSize, n - i);
        const auto x = set.rows(i, len).to(device);
        // Logits alone: part by part, without holding every stage's maps of the batch.
        Features f;
        if (names.size() == 1 && names[0] == "logits")
            f.add("logits", m_model->forwardLogits(x));
        else
            f = m_model->forwardFeatures(x);
        for (std::size_t k = 0; k < names.size(); ++k) {
            const auto &t = f.get(names[k]);
            bytes += t.numel() * std::int64_t(t.element_size());
            parts[k].push_back(t);
        }
        // Every cached feature has one row per image, so the first batch gives the bytes per
        // image exactly. (Scaling it by n / len in integers under-counts whenever the last
        // batch is partial, e.g. 1500 images in batches of 1000 were counted as 1000.)
        if (i == 0 && bytes / std::max<std::int64_t>(1, len) * n > maxBytes)
            return false;
    }
    for (std::size_t k = 0; k < names.size(); ++k)
        m_cache.emplace_back(names[k], torch::cat(parts[k], 0));
    return true;
}

std::int64_t TeacherSource::cacheBytes() const
{
    std::int64_t bytes = 0;
    for (const auto &kv : m_cache)
        bytes += kv.second.numel() * std::int64_t(kv.second.element_size());
    return bytes;
}

Features TeacherSource::features(const Batch &batch, const torch::Tensor &imagesOnDevice) const
{
    if (!m_cache.empty()) {
        Features f;
        for (const auto &kv : m_cache)
            f.add(kv.first, kv.second.index_select(
                                0, batch.indices.to(batch.indices.options().device(kv.second.device()),
                                                    /*non_blocking=*/batch.indices.is_pinned())));
        return f;
    }
    torch::NoGradGuard noGrad;
    return m_model->forwardFeatures(imagesOnDevice);
}

} // namespace kd
