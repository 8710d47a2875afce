#include "MobileNetV2.h"

#include "core/Error.h"

#include <algorithm>

namespace kd {

namespace nn = torch::nn;

/// Inverted residual: 1×1 expand → BN → ReLU → depthwise 3×3 → BN → ReLU → 1×1 project → BN.
class MobileNetV2::Block : public nn::Module {
public:
    Block(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expansion,
          const ActivationOptions &activation)
        : m_residual(stride == 1 && in == out)
        , m_actExpand(activation)
        , m_actDepthwise(activation)
    {
        const std::int64_t hidden = in * expansion;
        m_expand = conv1x1(in, hidden);
        m_bnExpand = nn::BatchNorm2d(hidden);
        m_depthwise = depthwise3x3(hidden, stride);
        m_bnDepthwise = nn::BatchNorm2d(hidden);
        m_project = conv1x1(hidden, out);
        m_bnProject = nn::BatchNorm2d(out);
        // Sequential indices as in PyTorch: conv.0 .. conv.7 with ReLUs at 2 and 5.
        nn::Sequential conv;
        conv->push_back(m_expand);
        conv->push_back(m_bnExpand);
        conv->push_back(m_actExpand.anyModule());
        conv->push_back(m_depthwise);
        conv->push_back(m_bnDepthwise);
        conv->push_back(m_actDepthwise.anyModule());
        conv->push_back(m_project);
        conv->push_back(m_bnProject);
        register_module("conv", conv);
    }

    torch::Tensor forward(const torch::Tensor &x)
    {
        auto h = m_bnExpand(m_expand(x));
        m_actExpand.apply_(h); // fresh BN outputs; BN's backward does not need them
        h = m_bnDepthwise(m_depthwise(h));
        m_actDepthwise.apply_(h);
        h = m_bnProject(m_project(h));
        if (m_residual)
            h += x;
        return h;
    }

private:
    bool m_residual;
    Activation m_actExpand, m_actDepthwise;
    Conv2d m_expand{nullptr}, m_depthwise{nullptr}, m_project{nullptr};
    nn::BatchNorm2d m_bnExpand{nullptr}, m_bnDepthwise{nullptr}, m_bnProject{nullptr};
};

namespace {

struct GroupSetting {
    bool expand; // false: expansion 1 (the first group)
    int channels, blocks, stride;
};
constexpr GroupSetting kGroups[] = {{false, 16, 1, 1}, {true, 24, 2, 1}, {true, 32, 3, 2}, {true, 64, 4, 2},
                                    {true, 96, 3, 1},  {true, 160, 3, 2}, {true, 320, 1, 1}};
/// Groups after which a stage feature is taken (RepDistiller's f1..f4).
constexpr std::size_t kStageEnds[] = {1, 2, 4, 6};

} // namespace

MobileNetV2::MobileNetV2(const InputShape &input, int numClasses, int expansion, double widthMult,
                         const ActivationOptions &activation)
    : m_act1(activation)
    , m_act2(activation)
{
    if (expansion < 1 || !(widthMult > 0))
        throw Error("MobileNetV2 needs an expansion of at least 1 and a positive width multiplier");
    // int() truncation as in Python.
    auto scaled = [widthMult](int c) { return std::max<std::int64_t>(1, std::int64_t(c * widthMult)); };
    std::int64_t in = scaled(32);
    m_conv1 = conv3x3(input.channels, in, 2);
    m_bn1 = nn::BatchNorm2d(in);
    register_module("conv1", nn::Sequential(m_conv1, m_bn1, m_act1.anyModule()));
    nn::ModuleList groups;
    for (const auto &g : kGroups) {
        const std::int64_t out = scaled(g.channels);
        nn::ModuleList list;
        m_groups.emplace_back();
        for (int i = 0; i < g.blocks; ++i) {
            auto block = std::make_shared<Block>(in, out, i == 0 ? g.stride : 1, g.expand ? expansion : 1, activation);
            list->push_back(block);
            m_groups.back().push_back(block);
            in = out;
        }
        groups->push_back(list);
    }
    register_module("blocks", groups);
    const std::int64_t last = widthMult > 1.0 ? std::int64_t(1280 * widthMult) : 1280;
    m_conv2 = conv1x1(in, last);
    m_bn2 = nn::BatchNorm2d(last);
    register_module("conv2", nn::Sequential(m_conv2, m_bn2, m_act2.anyModule()));
    m_classifier = Linear(last, numClasses);
    register_module("classifier", nn::Sequential(m_classifier));
    initConvBnKaiming(*this);
    initLinearNormal(*this, 0.01);
}

torch::Tensor MobileNetV2::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return convBnAct(m_conv1, m_bn1, m_act1, x);
    if (part == headPart())
        return classify(m_classifier, globalAvgPool(convBnAct(m_conv2, m_bn2, m_act2, x)), f);
    const std::size_t first = part == 1 ? 0 : kStageEnds[part - 2] + 1;
    auto h = x;
    for (std::size_t g = first; g <= kStageEnds[part - 1]; ++g)
        for (const auto &block : m_groups[g])
            h = block->forward(h);
    addStage(f, part, h, h);
    return h;
}

std::vector<std::string> MobileNetV2::partModules(int part) const
{
    if (part == 0)
        return {"conv1"};
    if (part == headPart())
        return {"conv2", "classifier"};
    std::vector<std::string> paths;
    const std::size_t first = part == 1 ? 0 : kStageEnds[part - 2] + 1;
    for (std::size_t g = first; g <= kStageEnds[part - 1]; ++g)
        paths.push_back("blocks." + std::to_string(g));
    return paths;
}

} // namespace kd
