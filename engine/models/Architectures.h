#pragma once

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "models/Activation.h"
#include "models/Layers.h"
#include "models/MobileNetV2.h"
#include "models/ResNet.h"
#include "models/ShuffleNetV2.h"
#include "models/Vgg.h"
#include "models/WideResNet.h"

#include <vector>

namespace kd {

/// Fully connected network: flatten → [Linear → ReLU] × hidden → Linear.
/// Features: stageK_pre (hidden layer K before its ReLU), stageK (after ReLU and dropout),
/// pre_logits, logits. Every architecture takes an ActivationOptions last (ReLU by default);
/// with LMA each ReLU becomes its own Lma module ("act1".. here).
class Mlp : public FeatureNet {
public:
    Mlp(const InputShape &input, int numClasses, const std::vector<int> &hidden, double dropout,
        const ActivationOptions &activation = {});
    /// The stem flattens; stage K is hidden layer K.
    int stageCount() const override { return int(m_hidden.size()); }
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    std::vector<Linear> m_hidden;
    std::vector<Activation> m_acts;
    Linear m_head{nullptr};
    double m_dropout;
};

/// LeNet-5 (LeCun et al. 1998) with ReLU and max pooling; 28×28 inputs are padded by 2 in
/// the first convolution so the classic 32×32 geometry results.
/// Features: stage1_pre, stage1, stage2_pre, stage2 (each conv stage after pooling, before
/// and after its ReLU — max pooling and ReLU commute), pre_logits (fc2 after ReLU), logits.
class LeNet5 : public FeatureNet {
public:
    LeNet5(const InputShape &input, int numClasses, const ActivationOptions &activation = {});
    /// Empty stem, two conv stages, the fully connected layers as the head.
    int stageCount() const override { return 2; }
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    Conv2d m_conv1{nullptr}, m_conv2{nullptr};
    Linear m_fc1{nullptr}, m_fc2{nullptr}, m_fc3{nullptr};
    Activation m_act1, m_act2, m_act3, m_act4; // conv1, conv2, fc1, fc2
};

/// A plain CNN: a list of conv blocks (3×3 conv → BN → ReLU, optional 2×2 max pool), then
/// flatten → Linear(hidden) → ReLU → Linear(classes). `cnn_small` and `cnn_large` are two
/// configurations of it. Features: stageK_pre (block K's BN output, max-pooled where the
/// block pools), stageK (after its ReLU), pre_logits, logits.
class PlainCnn : public FeatureNet {
public:
    struct Block {
        int channels;
        bool pool;
    };
    PlainCnn(const InputShape &input, int numClasses, const std::vector<Block> &blocks, int hidden,
             const ActivationOptions &activation = {});
    /// Empty stem, one stage per conv block, the fully connected layers as the head.
    int stageCount() const override { return int(m_blocks.size()); }
    torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f) override;
    std::vector<std::string> partModules(int part) const override;

private:
    struct ConvBlock {
        Conv2d conv{nullptr};
        torch::nn::BatchNorm2d bn{nullptr};
        Activation act;
        bool pool = false;
    };
    std::vector<ConvBlock> m_blocks;
    Linear m_fc{nullptr}, m_head{nullptr};
    Activation m_fcAct;
};

} // namespace kd
