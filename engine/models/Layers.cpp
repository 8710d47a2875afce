#include "Layers.h"

#include "core/Error.h"

namespace kd {

namespace nn = torch::nn;

torch::Tensor Conv2dImpl::forward(const torch::Tensor &input)
{
    auto out = nn::Conv2dImpl::forward(input);
    if (std::int64_t *counter = detail::macCounter) {
        // weight: (out, in / groups, kh, kw); every output element costs one MAC per weight
        // of its filter.
        *counter += out.numel() * weight.size(1) * weight.size(2) * weight.size(3);
    }
    return out;
}

torch::Tensor LinearImpl::forward(const torch::Tensor &input)
{
    auto out = nn::LinearImpl::forward(input);
    if (std::int64_t *counter = detail::macCounter)
        *counter += out.numel() * weight.size(1);
    return out;
}

Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride, bool bias)
{
    return Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(bias));
}

Conv2d conv1x1(std::int64_t in, std::int64_t out, std::int64_t stride)
{
    return Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

Conv2d depthwise3x3(std::int64_t channels, std::int64_t stride)
{
    return Conv2d(nn::Conv2dOptions(channels, channels, 3).stride(stride).padding(1).groups(channels).bias(false));
}

torch::Tensor classify(Linear &classifier, torch::Tensor preLogits, Features &f)
{
    auto logits = classifier(preLogits);
    f.add("pre_logits", std::move(preLogits));
    f.add("logits", logits);
    return logits;
}

void addStage(Features &f, int k, torch::Tensor pre, torch::Tensor post)
{
    const std::string name = "stage" + std::to_string(k);
    f.add(name + "_pre", std::move(pre));
    f.add(name, std::move(post));
}

void initConvBnKaiming(torch::nn::Module &module)
{
    torch::NoGradGuard noGrad;
    for (const auto &m : module.modules(/*include_self=*/false)) {
        if (auto *conv = m->as<nn::Conv2dImpl>()) {
            nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
            if (conv->bias.defined())
                conv->bias.zero_();
        } else if (auto *bn = m->as<nn::BatchNorm2dImpl>()) {
            bn->weight.fill_(1.0);
            bn->bias.zero_();
        }
    }
}

void initLinearNormal(torch::nn::Module &module, double std)
{
    torch::NoGradGuard noGrad;
    for (const auto &m : module.modules(/*include_self=*/false))
        if (auto *fc = m->as<nn::LinearImpl>()) {
            fc->weight.normal_(0.0, std);
            if (fc->bias.defined())
                fc->bias.zero_();
        }
}

void initLinearZeroBias(torch::nn::Module &module)
{
    torch::NoGradGuard noGrad;
    for (const auto &m : module.modules(/*include_self=*/false))
        if (auto *fc = m->as<nn::LinearImpl>(); fc && fc->bias.defined())
            fc->bias.zero_();
}

void requireInputSize(const InputShape &input, std::int64_t minSize, const std::string &arch)
{
    if (input.height < minSize || input.width < minSize)
        throw Error(arch + " needs inputs of at least " + std::to_string(minSize) + "x" + std::to_string(minSize)
                    + " pixels; got " + input.toString() + ". Choose a smaller architecture or resize the images");
}

} // namespace kd
