#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <memory>
#include <vector>

namespace kd {

/// ShuffleNetV2 (Ma et al. 2018) in the CIFAR form of RepDistiller's models/ShuffleNetv2.py
/// (RepDistiller's ShuffleV2 is net size 1.0): 1×1 conv stem (24 channels) → BN → ReLU, no
/// max pooling; three stages, each a stride-2 down block followed by 3, 7, 3 basic blocks
/// (channel split, 1×1 → BN → ReLU → depthwise 3×3 → BN → 1×1 → BN → ReLU on one half,
/// concatenation, channel shuffle with 2 groups); then 1×1 conv → BN → ReLU, global average
/// pooling, Linear. `netSize` picks the widths: 0.5 → 48/96/192/1024, 1.0 → 116/232/464/1024,
/// 1.5 → 176/352/704/1024, 2.0 → 224/488/976/2048.
///
/// Features: stageK (the stage's output) and stageK_pre (its last block's output before the
/// final ReLU, in the same shuffled channel order, so stageK = relu(stageK_pre); RepDistiller
/// returns the same values unshuffled), K = 1..3; pre_logits; logits.
/// With LMA every ReLU becomes an Lma named after the BN it follows ("act1" stem, "act2" head,
/// "layerS.0.act2/act3/act5" in down blocks, "layerS.I.act1/act3" in basic blocks). The
/// passed-through half of a basic block is not re-activated, so with LMA stageK differs from
/// stageK_pre on the transformed half only (stageK_pre is still the input of the stage's final
/// activation).
class ShuffleNetV2 : public FeatureNet {
public:
    ShuffleNetV2(const InputShape &input, int numClasses, double netSize = 1.0,
                 const ActivationOptions &activation = {});
    int stageCount() const override { return int(m_stages.size()); }
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    class DownBlock;
    class BasicBlock;
    struct Stage {
        std::shared_ptr<DownBlock> down;
        std::vector<std::shared_ptr<BasicBlock>> blocks;
    };
    Conv2d m_conv1{nullptr}, m_conv2{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr};
    Activation m_act1, m_act2;
    std::vector<Stage> m_stages;
    Linear m_linear{nullptr};
};

} // namespace kd
