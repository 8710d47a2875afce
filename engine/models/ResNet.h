#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <array>
#include <memory>
#include <vector>

namespace kd {

/// CIFAR ResNet (He et al. 2016, §4.2) as defined by RepDistiller's models/resnet.py, which
/// mdistiller shares: 3×3 conv stem → BN → ReLU, three stages of basic blocks (two 3×3
/// convs with BN; 1×1 conv + BN projection where the shape changes), the second and third
/// stage starting with stride 2, global average pooling, Linear classifier.
/// depth = 6n + 2 gives n blocks per stage. `filters` = {stem, stage1, stage2, stage3}:
/// {16, 16, 32, 64} for resnet8..resnet110, {32, 64, 128, 256} for resnet8x4 / resnet32x4.
///
/// Features: stageK_pre (last block's residual sum before its ReLU, RepDistiller's preact),
/// stageK (after the ReLU), K = 1..3; pre_logits; logits.
/// Parameter names follow the PyTorch model (conv1, bn1, layer1.0.conv1, ..., fc). With LMA
/// (`activation`), the stem's activation is "act" and each block's are "layerS.I.act1" (inner)
/// and "layerS.I.act2" (after the residual sum).
class ResNet : public FeatureNet {
public:
    ResNet(const InputShape &input, int numClasses, int depth, const std::array<std::int64_t, 4> &filters,
           const ActivationOptions &activation = {});
    int stageCount() const override { return int(m_stages.size()); }
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    class Block;
    Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr};
    Activation m_act;
    std::vector<std::vector<std::shared_ptr<Block>>> m_stages;
    Linear m_fc{nullptr};
};

} // namespace kd
