#include "ShuffleNetV2.h"

#include "core/Error.h"

#include <cmath>

namespace kd {

namespace nn = torch::nn;

namespace {

/// shuffle(cat(a, b)) with two groups — channel 2j is a[j], 2j+1 is b[j] — in one copy.
torch::Tensor interleave(const torch::Tensor &a, const torch::Tensor &b)
{
    return torch::stack({a, b}, 2).flatten(1, 2);
}

} // namespace

/// Stride-2 unit: both branches see the whole input and halve the resolution.
class ShuffleNetV2::DownBlock : public nn::Module {
public:
    DownBlock(std::int64_t in, std::int64_t out, const ActivationOptions &activation)
    {
        const std::int64_t mid = out / 2;
        // left: depthwise 3×3 s2 → BN → 1×1 → BN → ReLU
        m_conv1 = register_module("conv1", depthwise3x3(in, 2));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(in));
        m_conv2 = register_module("conv2", conv1x1(in, mid));
        m_bn2 = register_module("bn2", nn::BatchNorm2d(mid));
        // right: 1×1 → BN → ReLU → depthwise 3×3 s2 → BN → 1×1 → BN → ReLU
        m_conv3 = register_module("conv3", conv1x1(in, mid));
        m_bn3 = register_module("bn3", nn::BatchNorm2d(mid));
        m_conv4 = register_module("conv4", depthwise3x3(mid, 2));
        m_bn4 = register_module("bn4", nn::BatchNorm2d(mid));
        m_conv5 = register_module("conv5", conv1x1(mid, mid));
        m_bn5 = register_module("bn5", nn::BatchNorm2d(mid));
        m_act2 = Activation(activation, *this, "act2");
        m_act3 = Activation(activation, *this, "act3");
        m_act5 = Activation(activation, *this, "act5");
    }

    torch::Tensor forward(const torch::Tensor &x)
    {
        auto left = m_bn2(m_conv2(m_bn1(m_conv1(x))));
        m_act2.apply_(left); // fresh BN outputs; BN's backward does not need them
        auto right = m_bn3(m_conv3(x));
        m_act3.apply_(right);
        right = m_bn5(m_conv5(m_bn4(m_conv4(right))));
        m_act5.apply_(right);
        return interleave(left, right);
    }

private:
    Activation m_act2, m_act3, m_act5;
    Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_conv3{nullptr}, m_conv4{nullptr}, m_conv5{nullptr};
    nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr}, m_bn3{nullptr}, m_bn4{nullptr}, m_bn5{nullptr};
};

/// Stride-1 unit: the first half of the channels passes through, the second is transformed.
class ShuffleNetV2::BasicBlock : public nn::Module {
public:
    BasicBlock(std::int64_t channels, const ActivationOptions &activation) : m_half(channels / 2)
    {
        m_conv1 = register_module("conv1", conv1x1(m_half, m_half));
        m_bn1 = register_module("bn1", nn::BatchNorm2d(m_half));
        m_conv2 = register_module("conv2", depthwise3x3(m_half));
        m_bn2 = register_module("bn2", nn::BatchNorm2d(m_half));
        m_conv3 = register_module("conv3", conv1x1(m_half, m_half));
        m_bn3 = register_module("bn3", nn::BatchNorm2d(m_half));
        m_act1 = Activation(activation, *this, "act1");
        m_act3 = Activation(activation, *this, "act3");
    }

    torch::Tensor forward(const torch::Tensor &x)
    {
        auto b = branch(x);
        m_act3.apply_(b);
        return interleave(x.narrow(1, 0, m_half), b);
    }

    /// {output before the final activation, output}. With ReLU the passed-through half comes
    /// from ReLU outputs (every block ends in one), so output = relu(pre), computed as such.
    std::pair<torch::Tensor, torch::Tensor> forwardPrePost(const torch::Tensor &x)
    {
        const auto kept = x.narrow(1, 0, m_half);
        const auto b = branch(x);
        auto pre = interleave(kept, b);
        auto post = m_act3.isRelu() ? torch::relu(pre) : interleave(kept, m_act3(b));
        return {std::move(pre), std::move(post)};
    }

private:
    torch::Tensor branch(const torch::Tensor &x)
    {
        auto h = m_bn1(m_conv1(x.narrow(1, m_half, x.size(1) - m_half)));
        m_act1.apply_(h);
        return m_bn3(m_conv3(m_bn2(m_conv2(h))));
    }

    std::int64_t m_half;
    Activation m_act1, m_act3;
    Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_conv3{nullptr};
    nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr}, m_bn3{nullptr};
};

ShuffleNetV2::ShuffleNetV2(const InputShape &input, int numClasses, double netSize,
                           const ActivationOptions &activation)
{
    struct Config {
        double size;
        std::int64_t channels[4];
    };
    static constexpr Config kConfigs[] = {
        {0.5, {48, 96, 192, 1024}}, {1.0, {116, 232, 464, 1024}}, {1.5, {176, 352, 704, 1024}}, {2.0, {224, 488, 976, 2048}}};
    const Config *config = nullptr;
    for (const auto &c : kConfigs)
        if (std::abs(c.size - netSize) < 1e-9)
            config = &c;
    if (!config)
        throw Error("ShuffleNetV2 net size must be 0.5, 1.0, 1.5 or 2.0; got " + std::to_string(netSize));
    static constexpr int kBlocks[3] = {3, 7, 3};

    m_conv1 = register_module("conv1", Conv2d(nn::Conv2dOptions(input.channels, 24, 1).bias(false)));
    m_bn1 = register_module("bn1", nn::BatchNorm2d(24));
    m_act1 = Activation(activation, *this, "act1");
    std::int64_t in = 24;
    for (int s = 0; s < 3; ++s) {
        const std::int64_t out = config->channels[s];
        nn::ModuleList layer;
        Stage stage;
        stage.down = std::make_shared<DownBlock>(in, out, activation);
        layer->push_back(stage.down);
        for (int i = 0; i < kBlocks[s]; ++i) {
            stage.blocks.push_back(std::make_shared<BasicBlock>(out, activation));
            layer->push_back(stage.blocks.back());
        }
        register_module("layer" + std::to_string(s + 1), layer);
        m_stages.push_back(std::move(stage));
        in = out;
    }
    m_conv2 = register_module("conv2", conv1x1(in, config->channels[3]));
    m_bn2 = register_module("bn2", nn::BatchNorm2d(config->channels[3]));
    m_linear = register_module("linear", Linear(config->channels[3], numClasses));
    m_act2 = Activation(activation, *this, "act2");
    // RepDistiller keeps PyTorch's default initialisation for this model.
}

torch::Tensor ShuffleNetV2::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return convBnAct(m_conv1, m_bn1, m_act1, x);
    if (part == headPart())
        return classify(m_linear, globalAvgPool(convBnAct(m_conv2, m_bn2, m_act2, x)), f);
    const auto &stage = m_stages.at(std::size_t(part - 1));
    auto h = stage.down->forward(x);
    for (std::size_t i = 0; i + 1 < stage.blocks.size(); ++i)
        h = stage.blocks[i]->forward(h);
    auto [pre, post] = stage.blocks.back()->forwardPrePost(h);
    addStage(f, part, std::move(pre), post);
    return post;
}

std::vector<std::string> ShuffleNetV2::partModules(int part) const
{
    if (part == 0)
        return {"conv1", "bn1", "act1"};
    if (part == headPart())
        return {"conv2", "bn2", "act2", "linear"};
    return {"layer" + std::to_string(part)};
}

} // namespace kd
