#pragma once

#include "FeatureNet.h"
#include "InputShape.h"

#include <vector>

namespace kd {

/// Fully connected network: flatten → [Linear → ReLU] × hidden → Linear.
/// Features: stage1..stageK (each hidden activation), pre_logits, logits.
class Mlp : public FeatureNet {
public:
    Mlp(const InputShape &input, int numClasses, const std::vector<int> &hidden, double dropout);
    Features forwardFeatures(const torch::Tensor &x) override;

private:
    std::vector<torch::nn::Linear> m_hidden;
    torch::nn::Linear m_head{nullptr};
    double m_dropout;
};

/// LeNet-5 (LeCun et al. 1998) with ReLU and max pooling; 28×28 inputs are padded by 2 in
/// the first convolution so the classic 32×32 geometry results.
class LeNet5 : public FeatureNet {
public:
    LeNet5(const InputShape &input, int numClasses);
    Features forwardFeatures(const torch::Tensor &x) override;

private:
    torch::nn::Conv2d m_conv1{nullptr}, m_conv2{nullptr};
    torch::nn::Linear m_fc1{nullptr}, m_fc2{nullptr}, m_fc3{nullptr};
};

/// A plain CNN: a list of conv blocks (3×3 conv → BN → ReLU, optional 2×2 max pool), then
/// flatten → Linear(hidden) → ReLU → Linear(classes). `cnn_small` and `cnn_large` are two
/// configurations of it. Features: stage1..stageN (each block's output), pre_logits, logits.
class PlainCnn : public FeatureNet {
public:
    struct Block {
        int channels;
        bool pool;
    };
    PlainCnn(const InputShape &input, int numClasses, const std::vector<Block> &blocks, int hidden);
    Features forwardFeatures(const torch::Tensor &x) override;

private:
    std::vector<torch::nn::Sequential> m_blocks;
    torch::nn::Linear m_fc{nullptr}, m_head{nullptr};
};

} // namespace kd
