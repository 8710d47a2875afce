#pragma once

#include "data/BatchLoader.h"
#include "models/FeatureNet.h"

#include <string>
#include <vector>

namespace kd {

/// Where a stage gets its teacher's outputs: live forwards of a frozen model, or — for
/// logit-only methods when the teacher's input is not augmented — a cache of the teacher's
/// logits for every training image, computed once and reused every epoch. The teacher may be
/// a TeacherGroup (several teachers seen as one); the cache then holds the features the
/// method reads, e.g. the ensemble's averaged logits or each member's "<role>.logits".
class TeacherSource {
public:
    TeacherSource() = default;
    explicit TeacherSource(FeatureNet *model) : m_model(model) {}

    bool active() const { return m_model != nullptr; }
    bool cached() const { return !m_cache.empty(); }
    /// The live teacher model, or null when outputs come from the cache.
    FeatureNet *model() const { return cached() ? nullptr : m_model; }
    /// The teacher model itself, also when training reads its outputs from the cache: for
    /// forwards outside training (the epoch-end analysis needs its features).
    FeatureNet *liveModel() const { return m_model; }

    /// Computes the cache of the features `names` (each one row per image) over `set` (eval
    /// mode, no grad). Returns false, caching nothing, when it would exceed `maxBytes`.
    bool buildCache(const TensorDataset &set, const torch::Device &device, int batchSize, std::int64_t maxBytes,
                    const std::vector<std::string> &names = {"logits"});
    std::int64_t cacheBytes() const;

    /// Teacher features for a batch: cached rows looked up by row index, or a live forward
    /// under NoGradGuard (teacher features never carry gradient).
    Features features(const Batch &batch, const torch::Tensor &imagesOnDevice) const;

private:
    FeatureNet *m_model = nullptr;
    std::vector<std::pair<std::string, torch::Tensor>> m_cache;
};

} // namespace kd
