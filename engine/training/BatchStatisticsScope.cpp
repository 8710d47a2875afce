#include "BatchStatisticsScope.h"

namespace kd {

namespace {

/// When `m` is an `Impl` BatchNorm layer: points `momentum` and `tracked` at its momentum option
/// and batch counter (owned by the layer) and returns true.
template <typename Impl>
bool partsIf(const std::shared_ptr<torch::nn::Module> &m, BatchNormMomentum **momentum, torch::Tensor **tracked)
{
    auto bn = std::dynamic_pointer_cast<Impl>(m);
    if (!bn)
        return false;
    *momentum = &bn->options.momentum();
    *tracked = &bn->num_batches_tracked;
    return true;
}

bool batchNormParts(const std::shared_ptr<torch::nn::Module> &m, BatchNormMomentum **momentum,
                    torch::Tensor **tracked)
{
    return partsIf<torch::nn::BatchNorm1dImpl>(m, momentum, tracked)
        || partsIf<torch::nn::BatchNorm2dImpl>(m, momentum, tracked)
        || partsIf<torch::nn::BatchNorm3dImpl>(m, momentum, tracked);
}

} // namespace

BatchStatisticsScope::BatchStatisticsScope(torch::nn::Module &model)
{
    for (const auto &m : model.modules(/*include_self=*/false)) {
        BatchNormMomentum *momentum = nullptr;
        torch::Tensor *tracked = nullptr;
        if (!batchNormParts(m, &momentum, &tracked))
            continue;
        m_saved.push_back({m, m->is_training(), *momentum,
                           tracked->defined() ? tracked->clone() : torch::Tensor()});
        *momentum = 0.0; // a value, not "none": none would average cumulatively and move the statistics
        m->train(true);
    }
}

BatchStatisticsScope::~BatchStatisticsScope()
{
    torch::NoGradGuard noGrad;
    for (auto &s : m_saved) {
        BatchNormMomentum *momentum = nullptr;
        torch::Tensor *tracked = nullptr;
        batchNormParts(s.layer, &momentum, &tracked);
        *momentum = s.momentum;
        if (s.batchesTracked.defined() && tracked->defined())
            tracked->copy_(s.batchesTracked);
        s.layer->train(s.training);
    }
}

} // namespace kd
