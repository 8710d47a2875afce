#pragma once

// Building blocks shared by every architecture in the registry. LibTorch has no forward
// hooks, so multiply-accumulate (MAC) counting lives in the two layer types that do the
// arithmetic: kd::Conv2d and kd::Linear add to a thread-local counter while a MacCounting
// scope is alive on the calling thread. Outside such a scope the cost is one thread-local
// pointer test per layer call.

#include "models/FeatureNet.h"
#include "models/InputShape.h"
#include "core/TorchFwd.h"

#include <cstdint>
#include <string>

namespace kd {

namespace detail {
/// The counter of the innermost MacCounting scope on this thread; null when not counting.
inline thread_local std::int64_t *macCounter = nullptr;
} // namespace detail

/// RAII scope: while alive, kd::Conv2d and kd::Linear forwards run on this thread add their
/// multiply-accumulates (for the whole batch) to macs(). BatchNorm, activations, pooling and
/// additions are not counted. Scopes nest; the inner one counts alone until it ends.
class MacCounting {
public:
    MacCounting() noexcept : m_previous(detail::macCounter) { detail::macCounter = &m_macs; }
    ~MacCounting() { detail::macCounter = m_previous; }
    MacCounting(const MacCounting &) = delete;
    MacCounting &operator=(const MacCounting &) = delete;

    std::int64_t macs() const noexcept { return m_macs; }

private:
    std::int64_t m_macs = 0;
    std::int64_t *m_previous;
};

/// torch::nn::Conv2d that reports its MACs (out.numel() × in/groups × kh × kw) to an active
/// MacCounting scope. Parameter names ("weight", "bias") are torch's.
class Conv2dImpl : public torch::nn::Conv2dImpl {
public:
    using torch::nn::Conv2dImpl::Conv2dImpl;
    torch::Tensor forward(const torch::Tensor &input);
};
TORCH_MODULE(Conv2d);

/// torch::nn::Linear that reports its MACs (out.numel() × in_features) to an active
/// MacCounting scope.
class LinearImpl : public torch::nn::LinearImpl {
public:
    using torch::nn::LinearImpl::LinearImpl;
    torch::Tensor forward(const torch::Tensor &input);
};
TORCH_MODULE(Linear);

/// 3×3 convolution, padding 1, no bias (a BatchNorm follows).
Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride = 1, bool bias = false);
/// 1×1 convolution, no bias.
Conv2d conv1x1(std::int64_t in, std::int64_t out, std::int64_t stride = 1);
/// Depthwise 3×3 convolution (groups = channels), padding 1, no bias.
Conv2d depthwise3x3(std::int64_t channels, std::int64_t stride = 1);

/// Global average pooling to a (N, C) vector: what RepDistiller's fixed AvgPool2d does at
/// 32×32, and an adaptive pool at any other input size.
inline torch::Tensor globalAvgPool(const torch::Tensor &x) { return x.mean({2, 3}); }

/// The head's last step in every architecture: the classifier on `preLogits`, adding
/// "pre_logits" and "logits" to `f`; returns the logits.
torch::Tensor classify(Linear &classifier, torch::Tensor preLogits, Features &f);

/// Adds "stage<k>_pre" then "stage<k>".
void addStage(Features &f, int k, torch::Tensor pre, torch::Tensor post);

/// Kaiming-normal (fan_out, ReLU gain) for every convolution under `module` and zero conv
/// biases, BatchNorm weight 1 / bias 0: the initialisation of the RepDistiller CIFAR models.
void initConvBnKaiming(torch::nn::Module &module);
/// Every Linear under `module`: weight ~ N(0, std²) and zero bias.
void initLinearNormal(torch::nn::Module &module, double std);
/// Every Linear under `module`: zero bias (weights keep torch's default initialisation).
void initLinearZeroBias(torch::nn::Module &module);

/// Throws kd::Error naming `arch` unless the input is at least minSize×minSize.
void requireInputSize(const InputShape &input, std::int64_t minSize, const std::string &arch);

} // namespace kd
