#include "TeacherSource.h"

namespace kd {

bool TeacherSource::buildCache(const TensorDataset &set, const torch::Device &device, int batchSize,
                               std::int64_t maxBytes)
{
    if (!m_model || set.size() == 0)
        return false;
    torch::NoGradGuard noGrad;
    m_model->eval();
    const auto n = set.size();
    std::vector<torch::Tensor> parts;
    std::int64_t bytes = 0;
    for (std::int64_t i = 0; i < n; i += batchSize) {
        const auto len = std::min<std::int64_t>(batchSize, n - i);
        auto logits = m_model->forwardFeatures(set.images.narrow(0, i, len).to(device)).logits();
        bytes += logits.numel() * std::int64_t(logits.element_size());
        if (i == 0 && bytes * (n / std::max<std::int64_t>(1, len)) > maxBytes)
            return false;
        parts.push_back(logits);
    }
    m_cache = torch::cat(parts, 0);
    return true;
}

std::int64_t TeacherSource::cacheBytes() const
{
    return m_cache.defined() ? m_cache.numel() * std::int64_t(m_cache.element_size()) : 0;
}

Features TeacherSource::features(const Batch &batch, const torch::Tensor &imagesOnDevice) const
{
    if (m_cache.defined()) {
        Features f;
        f.add("logits", m_cache.index_select(0, batch.indices.to(m_cache.device())));
        return f;
    }
    torch::NoGradGuard noGrad;
    return m_model->forwardFeatures(imagesOnDevice);
}

} // namespace kd
