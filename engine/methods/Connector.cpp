#include "Connector.h"

#include <cmath>

namespace kd {

ConnectorImpl::ConnectorImpl(std::int64_t inChannels, std::int64_t outChannels, bool spatial, bool batchNorm)
{
    if (spatial) {
        m_conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(inChannels, outChannels, 1).bias(false)));
        torch::NoGradGuard noGrad;
        m_conv->weight.normal_(0.0, std::sqrt(2.0 / double(outChannels)));
        if (batchNorm)
            m_bn2 = register_module("bn", torch::nn::BatchNorm2d(outChannels));
    } else {
        m_linear = register_module("linear", torch::nn::Linear(inChannels, outChannels));
        if (batchNorm)
            m_bn1 = register_module("bn", torch::nn::BatchNorm1d(outChannels));
    }
}

torch::Tensor ConnectorImpl::forward(const torch::Tensor &x)
{
    if (m_conv) {
        auto y = m_conv->forward(x);
        return m_bn2 ? m_bn2->forward(y) : y;
    }
    auto y = m_linear->forward(x.reshape({x.size(0), -1}));
    return m_bn1 ? m_bn1->forward(y) : y;
}

} // namespace kd
