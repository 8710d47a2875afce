#include "Vgg.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

Vgg::Vgg(const InputShape &input, int numClasses, const std::vector<std::vector<int>> &blocks,
         const ActivationOptions &activation)
{
    if (blocks.size() != 5)
        throw Error("a VGG configuration needs five blocks of conv widths; got " + std::to_string(blocks.size()));
    requireInputSize(input, 8, "vgg");
    m_poolBeforeLastBlock = input.height >= 64 && input.width >= 64;
    std::int64_t c = input.channels;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        if (blocks[b].empty())
            throw Error("every VGG block needs at least one conv layer");
        // Sequential indices as in PyTorch: conv, bn, relu, conv, bn, relu, ..., conv, bn.
        nn::ModuleList list;
        Block block;
        for (std::size_t j = 0; j < blocks[b].size(); ++j) {
            const int v = blocks[b][j];
            block.convs.push_back(conv3x3(c, v, 1, /*bias=*/true));
            block.bns.push_back(nn::BatchNorm2d(v));
            list->push_back(block.convs.back());
            list->push_back(block.bns.back());
            block.acts.emplace_back(activation);
            if (j + 1 < blocks[b].size())
                list->push_back(block.acts.back().module());
            c = v;
        }
        register_module("block" + std::to_string(b), list);
        if (!block.acts.back().isRelu())
            register_module("act" + std::to_string(b), block.acts.back().module());
        m_blocks.push_back(std::move(block));
    }
    m_classifier = register_module("classifier", Linear(c, numClasses));
    initConvBnKaiming(*this);
    initLinearNormal(*this, 0.01);
}

torch::Tensor Vgg::forwardPart(int part, const torch::Tensor &x, Features &f)
{
    if (part == 0)
        return x;
    if (part == headPart()) {
        return classify(m_classifier, globalAvgPool(x), f);
    }
    const std::size_t b = std::size_t(part - 1);
    auto h = x;
    if (b > 0 && (b < 4 || m_poolBeforeLastBlock))
        h = torch::max_pool2d(h, 2);
    auto &block = m_blocks.at(b);
    for (std::size_t j = 0; j < block.convs.size(); ++j) {
        h = block.bns[j](block.convs[j](h));
        if (j + 1 < block.convs.size())
            block.acts[j].apply_(h); // fresh BN output; BN's backward does not need it
    }
    auto post = block.acts.back()(h);
    addStage(f, part, std::move(h), post);
    return post;
}

std::vector<std::string> Vgg::partModules(int part) const
{
    if (part == 0)
        return {};
    if (part == headPart())
        return {"classifier"};
    const auto b = std::to_string(part - 1);
    return {"block" + b, "act" + b};
}

} // namespace kd
