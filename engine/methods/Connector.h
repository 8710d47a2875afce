#pragma once

#include "core/TorchFwd.h"

namespace kd {

/// Maps a student feature onto a teacher feature's channel count: a 1×1 convolution (no
/// bias) + BatchNorm for maps [N, C, H, W] (the FitNet regressor / OFD connector), a Linear
/// layer (+ BatchNorm1d when `batchNorm`) for vectors [N, D]. Spatial sizes are matched
/// outside it, by pooling (poolToCommonSize). Convolutions start Kaiming-normal (fan-out),
/// as OFD's `build_feature_connector`; BatchNorm at weight 1, bias 0.
class ConnectorImpl : public torch::nn::Module {
public:
    ConnectorImpl(std::int64_t inChannels, std::int64_t outChannels, bool spatial, bool batchNorm = true);
    torch::Tensor forward(const torch::Tensor &x);

private:
    torch::nn::Conv2d m_conv{nullptr};
    torch::nn::BatchNorm2d m_bn2{nullptr};
    torch::nn::Linear m_linear{nullptr};
    torch::nn::BatchNorm1d m_bn1{nullptr};
};
TORCH_MODULE(Connector);

} // namespace kd
