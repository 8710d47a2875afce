#include "Architectures.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

bool Features::has(const std::string &name) const
{
    for (const auto &kv : m_items)
        if (kv.first == name)
            return true;
    return false;
}

const torch::Tensor &Features::get(const std::string &name) const
{
    for (const auto &kv : m_items)
        if (kv.first == name)
            return kv.second;
    std::string names;
    for (const auto &kv : m_items)
        names += (names.empty() ? "" : ", ") + kv.first;
    throw Error("the model has no feature \"" + name + "\"; it provides: " + names);
}

void Features::insertBefore(const std::string &anchor, std::string name, torch::Tensor t)
{
    for (auto it = m_items.begin(); it != m_items.end(); ++it)
        if (it->first == anchor) {
            m_items.emplace(it, std::move(name), std::move(t));
            return;
        }
    add(std::move(name), std::move(t));
}

Features FeatureNet::forwardFeatures(const torch::Tensor &x)
{
    if (stageCount() == 0)
        throw Error("this model defines neither forwardFeatures() nor its parts");
    Features f;
    auto h = x;
    for (int part = 0; part <= headPart(); ++part)
        h = forwardPart(part, h, f);
    return f;
}

torch::Tensor FeatureNet::forwardLogits(const torch::Tensor &x)
{
    if (stageCount() == 0)
        return forwardFeatures(x).logits();
    auto h = x;
    for (int part = 0; part <= headPart(); ++part) {
        Features f; // this part's named features, released with it
        h = forwardPart(part, h, f);
    }
    return h;
}

torch::Tensor FeatureNet::forwardPart(int, const torch::Tensor &, Features &)
{
    throw Error("this model cannot be run part by part (it has no stages to split)");
}

std::vector<std::string> FeatureNet::partModules(int) const
{
    throw Error("this model cannot be split into parts (it has no stages)");
}

int partOfTensor(const FeatureNet &net, const std::string &name)
{
    int best = -1;
    std::size_t bestLength = 0;
    for (int part = 0; part <= net.headPart(); ++part)
        for (const auto &path : net.partModules(part))
            if (name.size() > path.size() && name.compare(0, path.size(), path) == 0 && name[path.size()] == '.'
                && path.size() > bestLength) {
                best = part;
                bestLength = path.size();
            }
    return best;
}

std::int64_t FeatureNet::parameterCount() const
{
    std::int64_t n = 0;
    for (const auto &p : parameters())
        n += p.numel();
    return n;
}

// ---------------------------------------------------------------------------------------

Mlp::Mlp(const InputShape &input, int numClasses, const std::vector<int> &hidden, double dropout,
         const ActivationOptions &activation)
    : m_dropout(dropout)
{
    std::int64_t in = input.channels * input.height * input.width;
    for (std::size_t i = 0; i < hidden.size(); ++i) {
        m_hidden.push_back(register_module("fc" + std::to_string(i + 1), Linear(in, hidden[i])));
        m_acts.emplace_back(activation, *this, "act" + std::to_string(i + 1));
        in = hidden[i];
    }
    m_head = register_module("head", Linear(in, numClasses));
}

torch::Tensor Mlp::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return x.flatten(1);
    if (part == headPart())
        return classify(m_head, x, f);
    const auto i = std::size_t(part - 1);
    auto pre = m_hidden.at(i)(x);
    auto h = m_acts[i](pre);
    if (m_dropout > 0)
        h = torch::dropout(h, m_dropout, is_training());
    addStage(f, part, std::move(pre), h);
    return h;
}

std::vector<std::string> Mlp::partModules(int part) const
{
    if (part == 0)
        return {};
    if (part == headPart())
        return {"head"};
    return {"fc" + std::to_string(part), "act" + std::to_string(part)};
}

// ---------------------------------------------------------------------------------------

LeNet5::LeNet5(const InputShape &input, int numClasses, const ActivationOptions &activation)
{
    // 10x10 is the smallest input that leaves a 1x1 map after both conv+pool stages.
    requireInputSize(input, 10, "lenet5");
    const int pad = (input.height < 32 || input.width < 32) ? 2 : 0;
    m_conv1 = register_module("conv1", Conv2d(nn::Conv2dOptions(input.channels, 6, 5).padding(pad)));
    m_conv2 = register_module("conv2", Conv2d(nn::Conv2dOptions(6, 16, 5)));
    const auto h = ((input.height + 2 * pad - 4) / 2 - 4) / 2;
    const auto w = ((input.width + 2 * pad - 4) / 2 - 4) / 2;
    m_fc1 = register_module("fc1", Linear(16 * h * w, 120));
    m_fc2 = register_module("fc2", Linear(120, 84));
    m_fc3 = register_module("fc3", Linear(84, numClasses));
    m_act1 = Activation(activation, *this, "act1");
    m_act2 = Activation(activation, *this, "act2");
    m_act3 = Activation(activation, *this, "act3");
    m_act4 = Activation(activation, *this, "act4");
}

torch::Tensor LeNet5::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    // max_pool(relu(a)) == relu(max_pool(a)); pooling first exposes the pre-ReLU stage output
    // at the stage's shape and runs the ReLU on a quarter of the elements. (LMA, which need
    // not be monotone, is applied after the pooling too: the order is the model's definition.)
    if (part == 0)
        return x;
    if (part == 1 || part == 2) {
        auto pre = torch::max_pool2d(part == 1 ? m_conv1(x) : m_conv2(x), 2);
        auto h = (part == 1 ? m_act1 : m_act2)(pre);
        addStage(f, part, std::move(pre), h);
        return h;
    }
    auto h = m_fc1(x.flatten(1));
    m_act3.apply_(h);
    h = m_fc2(h);
    m_act4.apply_(h);
    return classify(m_fc3, h, f);
}

std::vector<std::string> LeNet5::partModules(int part) const
{
    if (part == 0)
        return {};
    if (part == 1)
        return {"conv1", "act1"};
    if (part == 2)
        return {"conv2", "act2"};
    return {"fc1", "act3", "fc2", "act4", "fc3"};
}

// ---------------------------------------------------------------------------------------

PlainCnn::PlainCnn(const InputShape &input, int numClasses, const std::vector<Block> &blocks, int hidden,
                   const ActivationOptions &activation)
{
    std::int64_t c = input.channels, h = input.height, w = input.width;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        ConvBlock b;
        b.conv = Conv2d(nn::Conv2dOptions(c, blocks[i].channels, 3).padding(1).bias(false));
        b.bn = nn::BatchNorm2d(blocks[i].channels);
        b.pool = blocks[i].pool;
        if (b.pool) {
            if (h < 2 || w < 2)
                throw Error("input " + input.toString() + " is too small for this CNN's pooling layers");
            h /= 2;
            w /= 2;
        }
        c = blocks[i].channels;
        // Registered as before (block<i>.0 = conv, block<i>.1 = BN) so checkpoints keep loading.
        register_module("block" + std::to_string(i + 1), nn::Sequential(b.conv, b.bn));
        b.act = Activation(activation, *this, "act" + std::to_string(i + 1));
        m_blocks.push_back(std::move(b));
    }
    m_fc = register_module("fc", Linear(c * h * w, hidden));
    m_head = register_module("head", Linear(hidden, numClasses));
    m_fcAct = Activation(activation, *this, "act_fc");
}

torch::Tensor PlainCnn::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return x;
    if (part == headPart()) {
        auto h = m_fc(x.flatten(1));
        m_fcAct.apply_(h);
        return classify(m_head, h, f);
    }
    auto &b = m_blocks.at(std::size_t(part - 1));
    auto pre = b.bn(b.conv(x));
    if (b.pool)
        pre = torch::max_pool2d(pre, 2); // commutes with the ReLU (see LeNet5)
    auto h = b.act(pre);
    addStage(f, part, std::move(pre), h);
    return h;
}

std::vector<std::string> PlainCnn::partModules(int part) const
{
    if (part == 0)
        return {};
    if (part == headPart())
        return {"fc", "act_fc", "head"};
    return {"block" + std::to_string(part), "act" + std::to_string(part)};
}

} // namespace kd
