#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <memory>
#include <vector>

namespace kd {

/// Wide ResNet (Zagoruyko & Komodakis 2016) as defined by RepDistiller's models/wrn.py:
/// 3×3 conv stem (16 channels, no BN), three stages of pre-activation blocks
/// (BN → ReLU → conv3×3 → BN → ReLU → conv3×3, 1×1 conv shortcut where the width changes) with
/// 16k, 32k, 64k channels, stride 2 at stages 2 and 3, then BN → ReLU → global average
/// pooling → Linear. depth = 6n + 4 gives n blocks per stage; k is the widening factor.
///
/// Features, as RepDistiller's feats / preact feats: stageK is the stage's residual sum
/// (a pre-activation network has no ReLU at the end of a stage); stageK_pre is that sum
/// after the BatchNorm that precedes the next ReLU (the next stage's first bn1, or the
/// final bn1), i.e. the input of the stage's final activation. pre_logits; logits.
/// Parameter names follow the PyTorch model (conv1, block1.layer.0.bn1, ..., bn1, fc). With LMA
/// each block's activations are "blockS.layer.I.act1" (after bn1) and "...act2" (after bn2),
/// the final one "act".
class WideResNet : public FeatureNet {
public:
    WideResNet(const InputShape &input, int numClasses, int depth, int widenFactor,
               const ActivationOptions &activation = {});
    int stageCount() const override { return int(m_stages.size()); }
    /// Stage K's "_pre" feature is computed by the part after it (the next stage's first bn1
    /// or the final bn1), which inserts it before "stageK"; in a multi-branch split it is the
    /// branch's.
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    class Block;
    Conv2d m_conv1{nullptr};
    std::vector<std::vector<std::shared_ptr<Block>>> m_stages;
    torch::nn::BatchNorm2d m_bn1{nullptr};
    Activation m_act;
    Linear m_fc{nullptr};
};

} // namespace kd
