#include "Architectures.h"

#include "Error.h"

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

std::int64_t FeatureNet::parameterCount() const
{
    std::int64_t n = 0;
    for (const auto &p : parameters())
        n += p.numel();
    return n;
}

// ---------------------------------------------------------------------------------------

Mlp::Mlp(const InputShape &input, int numClasses, const std::vector<int> &hidden, double dropout)
    : m_dropout(dropout)
{
    std::int64_t in = input.channels * input.height * input.width;
    for (std::size_t i = 0; i < hidden.size(); ++i) {
        m_hidden.push_back(register_module("fc" + std::to_string(i + 1), nn::Linear(in, hidden[i])));
        in = hidden[i];
    }
    m_head = register_module("head", nn::Linear(in, numClasses));
}

Features Mlp::forwardFeatures(const torch::Tensor &x)
{
    Features f;
    auto h = x.flatten(1);
    for (std::size_t i = 0; i < m_hidden.size(); ++i) {
        h = torch::relu(m_hidden[i]->forward(h));
        if (m_dropout > 0)
            h = torch::dropout(h, m_dropout, is_training());
        f.add("stage" + std::to_string(i + 1), h);
    }
    f.add("pre_logits", h);
    f.add("logits", m_head->forward(h));
    return f;
}

// ---------------------------------------------------------------------------------------

LeNet5::LeNet5(const InputShape &input, int numClasses)
{
    const int pad = (input.height < 32 || input.width < 32) ? 2 : 0;
    m_conv1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(input.channels, 6, 5).padding(pad)));
    m_conv2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(6, 16, 5)));
    const auto h = ((input.height + 2 * pad - 4) / 2 - 4) / 2;
    const auto w = ((input.width + 2 * pad - 4) / 2 - 4) / 2;
    if (h < 1 || w < 1)
        throw Error("lenet5 needs inputs of at least 28x28; got " + input.toString());
    m_fc1 = register_module("fc1", nn::Linear(16 * h * w, 120));
    m_fc2 = register_module("fc2", nn::Linear(120, 84));
    m_fc3 = register_module("fc3", nn::Linear(84, numClasses));
}

Features LeNet5::forwardFeatures(const torch::Tensor &x)
{
    Features f;
    auto h = torch::max_pool2d(torch::relu(m_conv1->forward(x)), 2);
    f.add("stage1", h);
    h = torch::max_pool2d(torch::relu(m_conv2->forward(h)), 2);
    f.add("stage2", h);
    h = torch::relu(m_fc1->forward(h.flatten(1)));
    h = torch::relu(m_fc2->forward(h));
    f.add("pre_logits", h);
    f.add("logits", m_fc3->forward(h));
    return f;
}

// ---------------------------------------------------------------------------------------

PlainCnn::PlainCnn(const InputShape &input, int numClasses, const std::vector<Block> &blocks, int hidden)
{
    std::int64_t c = input.channels, h = input.height, w = input.width;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        nn::Sequential s;
        s->push_back(nn::Conv2d(nn::Conv2dOptions(c, blocks[i].channels, 3).padding(1).bias(false)));
        s->push_back(nn::BatchNorm2d(blocks[i].channels));
        s->push_back(nn::ReLU());
        if (blocks[i].pool) {
            if (h < 2 || w < 2)
                throw Error("input " + input.toString() + " is too small for this CNN's pooling layers");
            s->push_back(nn::MaxPool2d(2));
            h /= 2;
            w /= 2;
        }
        c = blocks[i].channels;
        m_blocks.push_back(register_module("block" + std::to_string(i + 1), s));
    }
    m_fc = register_module("fc", nn::Linear(c * h * w, hidden));
    m_head = register_module("head", nn::Linear(hidden, numClasses));
}

Features PlainCnn::forwardFeatures(const torch::Tensor &x)
{
    Features f;
    auto h = x;
    for (std::size_t i = 0; i < m_blocks.size(); ++i) {
        h = m_blocks[i]->forward(h);
        f.add("stage" + std::to_string(i + 1), h);
    }
    h = torch::relu(m_fc->forward(h.flatten(1)));
    f.add("pre_logits", h);
    f.add("logits", m_head->forward(h));
    return f;
}

} // namespace kd
