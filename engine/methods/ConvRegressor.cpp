#include "ConvRegressor.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

ConvRegressorImpl::ConvRegressorImpl(const std::vector<std::int64_t> &s, const std::vector<std::int64_t> &t, bool relu)
    : m_relu(relu)
{
    if (s.size() == 1 && t.size() == 1) {
        m_kind = Kind::Linear;
        m_linear = register_module("linear", nn::Linear(s[0], t[0]));
        return;
    }
    if (s.size() != 3 || t.size() != 3)
        throw Error("the FitNet regressor maps a map [C, H, W] onto a map or a vector [D] onto a vector");
    const auto cs = s[0], hs = s[1], ws = s[2], ct = t[0], ht = t[1], wt = t[2];
    if (hs == 2 * ht && ws == 2 * wt) {
        m_kind = Kind::StridedConv;
        m_conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cs, ct, 3).stride(2).padding(1).bias(false)));
    } else if (2 * hs == ht && 2 * ws == wt) {
        m_kind = Kind::TransposedConv;
        m_deconv = register_module("conv", nn::ConvTranspose2d(nn::ConvTranspose2dOptions(cs, ct, 4).stride(2).padding(1).bias(false)));
    } else if (hs >= ht && ws >= wt) {
        m_kind = Kind::ValidConv;
        m_conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cs, ct, {1 + hs - ht, 1 + ws - wt}).bias(false)));
    } else {
        m_kind = Kind::PooledTeacher;
        m_conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(cs, ct, 1).bias(false)));
    }
    m_bn = register_module("bn", nn::BatchNorm2d(ct));
}

torch::Tensor ConvRegressorImpl::forward(const torch::Tensor &x)
{
    torch::Tensor y;
    if (m_linear)
        y = m_linear->forward(x.reshape({x.size(0), -1}));
    else
        y = m_bn->forward(m_deconv ? m_deconv->forward(x) : m_conv->forward(x));
    return m_relu ? torch::relu(y) : y;
}

} // namespace kd
