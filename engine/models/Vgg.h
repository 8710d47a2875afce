#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <vector>

namespace kd {

/// CIFAR VGG with BatchNorm as RepDistiller's models/vgg.py (vgg8_bn ... vgg16_bn; its
/// model_dict names them vgg8 ... vgg16): five blocks of 3×3 conv (with bias) → BN → ReLU,
/// the last ReLU of each block taken out into the feature, 2×2 max pooling after blocks
/// 1-3 (and after block 4 for inputs of 64 pixels or more, as RepDistiller does at 64×64),
/// global average pooling, a single Linear(512, classes) — no fully connected layers.
/// `blocks` lists each block's conv widths, e.g. vgg13: {{64,64},{128,128},{256,256},{512,512},{512,512}}.
///
/// Features: stageK_pre (the block's last BN output), stageK (after its ReLU), K = 1..5;
/// pre_logits; logits. Parameter names follow the PyTorch model (block0.0, block0.1, ...,
/// classifier). With LMA the inner activations take the ReLUs' places in the blocks
/// ("block0.2", ...) and each block's final one is "act<b>" (b = 0..4).
class Vgg : public FeatureNet {
public:
    Vgg(const InputShape &input, int numClasses, const std::vector<std::vector<int>> &blocks,
        const ActivationOptions &activation = {});
    int stageCount() const override { return int(m_blocks.size()); }
    /// Part 0 (the stem) is empty; stage K is block K−1 with the max pooling before it.
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    struct Block {
        std::vector<Conv2d> convs;
        std::vector<torch::nn::BatchNorm2d> bns;
        std::vector<Activation> acts; ///< one per conv; the last is the block's final activation
    };
    std::vector<Block> m_blocks;
    bool m_poolBeforeLastBlock = false;
    Linear m_classifier{nullptr};
};

} // namespace kd
