#include "WideResNet.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

/// Pre-activation basic block. Where the width changes the shortcut is a 1×1 conv of the
/// activated input; otherwise it is the raw input.
class WideResNet::Block : public nn::Module {
public:
    Block(std::int64_t in, std::int64_t out, std::int64_t stride, const ActivationOptions &activation)
        : m_equalInOut(in == out)
    {
        bn1 = register_module("bn1", nn::BatchNorm2d(in));
        m_conv1 = register_module("conv1", conv3x3(in, out, stride));
        m_bn2 = register_module("bn2", nn::BatchNorm2d(out));
        m_conv2 = register_module("conv2", conv3x3(out, out));
        if (!m_equalInOut)
            m_shortcut = register_module("convShortcut", conv1x1(in, out, stride));
        act1 = Activation(activation, *this, "act1");
        m_act2 = Activation(activation, *this, "act2");
    }

    torch::Tensor forward(const torch::Tensor &x)
    {
        auto a = bn1(x);
        act1.apply_(a); // fresh BN output; BN's backward does not need it
        return forwardActivated(x, a);
    }

    /// The block given a = act1(bn1(x)) already computed (by the caller, who also exposes
    /// bn1(x) as a feature).
    torch::Tensor forwardActivated(const torch::Tensor &x, const torch::Tensor &a)
    {
        auto out = m_bn2(m_conv1(a));
        m_act2.apply_(out);
        out = m_conv2(out);
        out += m_equalInOut ? x : m_shortcut(a);
        return out;
    }

    nn::BatchNorm2d bn1{nullptr};
    Activation act1;

private:
    Activation m_act2;
    bool m_equalInOut;
    Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_shortcut{nullptr};
    nn::BatchNorm2d m_bn2{nullptr};
};

WideResNet::WideResNet(const InputShape &input, int numClasses, int depth, int widenFactor,
                       const ActivationOptions &activation)
{
    if (depth < 10 || (depth - 4) % 6 != 0)
        throw Error("a Wide ResNet's depth must be 6n+4 (10, 16, 28, 40...); got " + std::to_string(depth));
    if (widenFactor < 1)
        throw Error("a Wide ResNet's widening factor must be at least 1; got " + std::to_string(widenFactor));
    const int n = (depth - 4) / 6;
    const std::int64_t channels[4] = {16, 16 * widenFactor, 32 * widenFactor, 64 * widenFactor};
    m_conv1 = register_module("conv1", conv3x3(input.channels, channels[0]));
    for (int s = 0; s < 3; ++s) {
        nn::ModuleList layer;
        m_stages.emplace_back();
        for (int i = 0; i < n; ++i) {
            auto block = std::make_shared<Block>(i == 0 ? channels[s] : channels[s + 1], channels[s + 1],
                                                 (s > 0 && i == 0) ? 2 : 1, activation);
            layer->push_back(block);
            m_stages.back().push_back(block);
        }
        // PyTorch's NetworkBlock wraps the blocks in a Sequential called "layer".
        auto group = std::make_shared<nn::Module>();
        group->register_module("layer", layer);
        register_module("block" + std::to_string(s + 1), group);
    }
    m_bn1 = register_module("bn1", nn::BatchNorm2d(channels[3]));
    m_act = Activation(activation, *this, "act");
    m_fc = register_module("fc", Linear(channels[3], numClasses));
    initConvBnKaiming(*this);
    initLinearZeroBias(*this);
}

torch::Tensor WideResNet::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return m_conv1(x);
    const std::string previous = "stage" + std::to_string(part - 1);
    if (part == headPart()) {
        auto pre = m_bn1(x);
        f.insertBefore(previous, previous + "_pre", pre);
        return classify(m_fc, globalAvgPool(m_act(pre)), f);
    }
    const auto &blocks = m_stages.at(std::size_t(part - 1));
    auto h = x;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (part > 1 && i == 0) {
            // The first block of stages 2 and 3 changes the width, so it activates its input;
            // that BN output is the previous stage's "_pre" feature.
            auto pre = blocks[0]->bn1(h);
            f.insertBefore(previous, previous + "_pre", pre);
            h = blocks[0]->forwardActivated(h, blocks[0]->act1(pre));
        } else {
            h = blocks[i]->forward(h);
        }
    }
    f.add("stage" + std::to_string(part), h);
    return h;
}

std::vector<std::string> WideResNet::partModules(int part) const
{
    if (part == 0)
        return {"conv1"};
    if (part == headPart())
        return {"bn1", "act", "fc"};
    return {"block" + std::to_string(part)};
}

} // namespace kd
