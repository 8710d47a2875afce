#include "ResNet.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

/// Basic block: conv3×3 → BN → ReLU → conv3×3 → BN, plus the (projected) input.
class ResNet::Block : public nn::Module {
public:
    Block(std::int64_t in, std::int64_t planes, std::int64_t stride, const ActivationOptions &activation)
    {
        m_conv1 = register_module("conv1", conv3x3(in, planes, stride));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(planes));
        m_conv2 = register_module("conv2", conv3x3(planes, planes));
        m_bn2 = register_module("bn2", nn::BatchNorm2d(planes));
        if (stride != 1 || in != planes) {
            m_downConv = conv1x1(in, planes, stride);
            m_downBn = nn::BatchNorm2d(planes);
            register_module("downsample", nn::Sequential(m_downConv, m_downBn));
        }
        m_act1 = Activation(activation, *this, "act1");
        act2 = Activation(activation, *this, "act2");
    }

    /// The block's output before its final ReLU.
    torch::Tensor forward(const torch::Tensor &x)
    {
        auto out = m_bn1(m_conv1(x));
        m_act1.apply_(out); // fresh BN output; BN's backward does not need it
        out = m_bn2(m_conv2(out));
        if (m_downConv)
            out += m_downBn(m_downConv(x));
        else
            out += x;
        return out;
    }

    /// The block's final activation, applied by the caller to forward()'s result.
    Activation act2;

private:
    Activation m_act1;
    Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_downConv{nullptr};
    nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr}, m_downBn{nullptr};
};

ResNet::ResNet(const InputShape &input, int numClasses, int depth, const std::array<std::int64_t, 4> &filters,
               const ActivationOptions &activation)
{
    if (depth < 8 || (depth - 2) % 6 != 0)
        throw Error("a CIFAR ResNet's depth must be 6n+2 (8, 14, 20, 32, 44, 56, 110...); got " + std::to_string(depth));
    const int n = (depth - 2) / 6;
    m_conv1 = register_module("conv1", conv3x3(input.channels, filters[0]));
    m_bn1 = register_module("bn1", nn::BatchNorm2d(filters[0]));
    m_act = Activation(activation, *this, "act");
    std::int64_t in = filters[0];
    for (int s = 0; s < 3; ++s) {
        nn::ModuleList layer;
        m_stages.emplace_back();
        for (int i = 0; i < n; ++i) {
            auto block = std::make_shared<Block>(in, filters[s + 1], (s > 0 && i == 0) ? 2 : 1, activation);
            layer->push_back(block);
            m_stages.back().push_back(block);
            in = filters[s + 1];
        }
        register_module("layer" + std::to_string(s + 1), layer);
    }
    m_fc = register_module("fc", Linear(in, numClasses));
    initConvBnKaiming(*this);
}

torch::Tensor ResNet::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return convBnAct(m_conv1, m_bn1, m_act, x);
    if (part == headPart())
        return classify(m_fc, globalAvgPool(x), f);
    const auto &blocks = m_stages.at(std::size_t(part - 1));
    auto h = x;
    for (std::size_t i = 0; i + 1 < blocks.size(); ++i) {
        h = blocks[i]->forward(h);
        blocks[i]->act2.apply_(h); // the pre-activation of an inner block is not exposed
    }
    auto pre = blocks.back()->forward(h);
    h = blocks.back()->act2(pre);
    addStage(f, part, std::move(pre), h);
    return h;
}

std::vector<std::string> ResNet::partModules(int part) const
{
    if (part == 0)
        return {"conv1", "bn1", "act"};
    if (part == headPart())
        return {"fc"};
    return {"layer" + std::to_string(part)};
}

} // namespace kd
