#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <memory>
#include <vector>

namespace kd {

/// MobileNetV2 (Sandler et al. 2018) in the CIFAR form of RepDistiller's models/mobilenetv2.py
/// (from "Knowledge Distillation via Route Constrained Optimization"); RepDistiller's and
/// mdistiller's "MobileNetV2" student is mobile_half: expansion 6, width 0.5. Stem:
/// conv3×3 stride 2 → BN → ReLU; seven groups of inverted residual blocks (t, c, n, s):
/// (1,16,1,1) (t,24,2,1) (t,32,3,2) (t,64,4,2) (t,96,3,1) (t,160,3,2) (t,320,1,1), each block
/// 1×1 expand → BN → ReLU → depthwise 3×3 → BN → ReLU → 1×1 project → BN (+ input when the
/// shape is kept; the expand conv is present even at t = 1, as in RepDistiller); then
/// conv1×1 to 1280 → BN → ReLU, global average pooling, Linear.
///
/// Features: stage1..stage4 are the outputs of groups 2, 3, 5 and 7 (RepDistiller's f1..f4).
/// Blocks end in a linear bottleneck with no activation, so stageK_pre is the same tensor as
/// stageK (RepDistiller's preact features are its plain features here too). pre_logits; logits.
/// With LMA the activations take the ReLUs' places in the Sequentials (conv1.2, blocks.G.I.conv.2
/// and .conv.5, conv2.2).
class MobileNetV2 : public FeatureNet {
public:
    MobileNetV2(const InputShape &input, int numClasses, int expansion = 6, double widthMult = 0.5,
                const ActivationOptions &activation = {});
    int stageCount() const override { return 4; }
    /// Part 0 is conv1; stage K the groups up to RepDistiller's f<K>; the head conv2, pooling
    /// and the classifier.
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    class Block;
    Conv2d m_conv1{nullptr}, m_conv2{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr};
    Activation m_act1, m_act2;
    std::vector<std::vector<std::shared_ptr<Block>>> m_groups;
    Linear m_classifier{nullptr};
};

} // namespace kd
