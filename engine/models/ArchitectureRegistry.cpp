#include "ArchitectureRegistry.h"

#include "models/Architectures.h"
#include "models/Activation.h"
#include "models/Layers.h"

#include <algorithm>

namespace kd {

static std::string shapeText(const torch::Tensor &t)
{
    std::string s;
    for (int64_t i = 1; i < t.dim(); ++i)
        s += (s.empty() ? "" : "x") + std::to_string(t.size(i));
    return s;
}

namespace {

/// `specific` followed by the activation options every architecture has.
std::vector<ParamSpec> withActivation(std::vector<ParamSpec> specific)
{
    for (auto &p : activationParams())
        specific.push_back(std::move(p));
    return specific;
}

ActivationOptions activationOf(const nlohmann::json &options)
{
    return ActivationOptions::fromParams(options);
}

/// `filters` (stem, stage1..3) with the stages' channels times `fraction`, truncated as the
/// BOC-KD authors' int(c · (N − j) / N), at least 1; the stem's unchanged.
std::array<std::int64_t, 4> scaledStages(std::array<std::int64_t, 4> filters, double fraction)
{
    for (std::size_t i = 1; i < filters.size(); ++i)
        filters[i] = std::max<std::int64_t>(1, std::int64_t(double(filters[i]) * fraction));
    return filters;
}

void addResNet(ArchitectureRegistry &registry, const std::string &name, int depth,
               const std::array<std::int64_t, 4> &filters, const std::string &description)
{
    registry.add(name, {description,
                        withActivation({ParamSpec::number(
                            "width_fraction", 1.0, 0.01, 1.0,
                            "the stages' channels times this fraction, truncated (at least 1), the stem's kept: "
                            "the narrower students of student_ensemble (BOC-KD); 1 is the architecture as named")}),
                        [depth, filters](const nlohmann::json &o, const InputShape &in, int classes) {
                            return std::make_shared<ResNet>(in, classes, depth,
                                                            scaledStages(filters, o.at("width_fraction").get<double>()),
                                                            activationOf(o));
                        }});
}

void addWideResNet(ArchitectureRegistry &registry, int depth, int widen, const std::string &description)
{
    registry.add("wrn_" + std::to_string(depth) + "_" + std::to_string(widen),
                 {description,
                  withActivation({}),
                  [depth, widen](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<WideResNet>(in, classes, depth, widen, activationOf(o));
                  }});
}

void addVgg(ArchitectureRegistry &registry, const std::string &name, std::vector<std::vector<int>> blocks,
            const std::string &description)
{
    registry.add(name, {description,
                        withActivation({}),
                        [blocks](const nlohmann::json &o, const InputShape &in, int classes) {
                            return std::make_shared<Vgg>(in, classes, blocks, activationOf(o));
                        }});
}

/// The CIFAR model zoo of RepDistiller / mdistiller, under the names used there.
void registerCifarZoo(ArchitectureRegistry &registry)
{
    const std::array<std::int64_t, 4> narrow{16, 16, 32, 64}, wide{32, 64, 128, 256};
    addResNet(registry, "resnet8", 8, narrow, "CIFAR ResNet-8: 3x3 stem, 3 stages x 1 basic block, 16/32/64 channels");
    addResNet(registry, "resnet14", 14, narrow, "CIFAR ResNet-14: 3x3 stem, 3 stages x 2 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet20", 20, narrow, "CIFAR ResNet-20 (He 2016): 3 stages x 3 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet32", 32, narrow, "CIFAR ResNet-32 (He 2016): 3 stages x 5 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet44", 44, narrow, "CIFAR ResNet-44 (He 2016): 3 stages x 7 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet56", 56, narrow, "CIFAR ResNet-56 (He 2016): 3 stages x 9 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet110", 110, narrow, "CIFAR ResNet-110 (He 2016): 3 stages x 18 basic blocks, 16/32/64 channels");
    addResNet(registry, "resnet8x4", 8, wide, "RepDistiller ResNet-8x4: 32-channel stem, 3 stages x 1 basic block, 64/128/256 channels");
    addResNet(registry, "resnet32x4", 32, wide, "RepDistiller ResNet-32x4: 32-channel stem, 3 stages x 5 basic blocks, 64/128/256 channels");
    addWideResNet(registry, 16, 1, "Wide ResNet-16-1: pre-activation, 3 stages x 2 blocks, 16/32/64 channels");
    addWideResNet(registry, 16, 2, "Wide ResNet-16-2: pre-activation, 3 stages x 2 blocks, 32/64/128 channels");
    addWideResNet(registry, 40, 1, "Wide ResNet-40-1: pre-activation, 3 stages x 6 blocks, 16/32/64 channels");
    addWideResNet(registry, 40, 2, "Wide ResNet-40-2: pre-activation, 3 stages x 6 blocks, 32/64/128 channels");
    addWideResNet(registry, 28, 4, "Wide ResNet-28-4: pre-activation, 3 stages x 4 blocks, 64/128/256 channels");
    addVgg(registry, "vgg8", {{64}, {128}, {256}, {512}, {512}},
           "CIFAR VGG-8 with BN (RepDistiller vgg8_bn): 5 conv blocks 64-128-256-512-512, one Linear");
    addVgg(registry, "vgg11", {{64}, {128}, {256, 256}, {512, 512}, {512, 512}},
           "CIFAR VGG-11 with BN (RepDistiller vgg11_bn): 8 convs in 5 blocks, one Linear");
    addVgg(registry, "vgg13", {{64, 64}, {128, 128}, {256, 256}, {512, 512}, {512, 512}},
           "CIFAR VGG-13 with BN (RepDistiller vgg13_bn): 10 convs in 5 blocks, one Linear");
    addVgg(registry, "vgg16", {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}},
           "CIFAR VGG-16 with BN (RepDistiller vgg16_bn): 13 convs in 5 blocks, one Linear");
    registry.add("mobilenetv2",
                 {"CIFAR MobileNetV2 (RepDistiller mobile_half at the defaults): inverted residuals, 1280-d head",
                  withActivation({ParamSpec::number("width", 0.5, 0.25, 2.0,
                                                    "width multiplier of every layer but the 1280-channel head (0.5: mobile_half)"),
                                  ParamSpec::integer("expansion", 6, 1, 8, "expansion ratio t of the inverted residual blocks")}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<MobileNetV2>(in, classes, o.at("expansion").get<int>(),
                                                           o.at("width").get<double>(), activationOf(o));
                  }});
    registry.add("shufflenetv2",
                 {"CIFAR ShuffleNetV2 (RepDistiller ShuffleV2): 1x1 stem, 3 stages of 3/7/3 shuffle units",
                  withActivation({ParamSpec::choice("size", "1.0", {"0.5", "1.0", "1.5", "2.0"},
                                                    "net size: stage widths 48/96/192, 116/232/464, 176/352/704 or 224/488/976")}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<ShuffleNetV2>(in, classes, std::stod(o.at("size").get<std::string>()),
                                                            activationOf(o));
                  }});
}

} // namespace

void registerBuiltinArchitectures(ArchitectureRegistry &registry)
{
    registry.add("mlp",
                 {"Multi-layer perceptron: flatten, hidden Linear+ReLU layers, Linear classifier",
                  withActivation({ParamSpec::intList("hidden", {128}, 1, 65536,
                                                     "sizes of the hidden layers, input to output"),
                                  ParamSpec::number("dropout", 0.0, 0.0, 0.9,
                                                    "dropout probability after each hidden layer (training only)")}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<Mlp>(in, classes, o.at("hidden").get<std::vector<int>>(),
                                                   o.at("dropout").get<double>(), activationOf(o));
                  }});
    registry.add("lenet5",
                 {"LeNet-5 (LeCun 1998): two 5x5 conv+pool stages, 120-84 fully connected",
                  withActivation({}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<LeNet5>(in, classes, activationOf(o));
                  }});
    registry.add("cnn_small",
                 {"Small CNN: conv32+pool, conv64+pool (3x3, BN, ReLU), fc128",
                  withActivation({ParamSpec::integer("width", 32, 4, 1024,
                                                     "channels of the first conv block; the second has twice as many")}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      const int w = o.at("width").get<int>();
                      return std::make_shared<PlainCnn>(in, classes,
                                                        std::vector<PlainCnn::Block>{{w, true}, {2 * w, true}}, 128,
                                                        activationOf(o));
                  }});
    registry.add("cnn_large",
                 {"Larger CNN: conv32, conv64+pool, conv128+pool (3x3, BN, ReLU), fc256",
                  withActivation({ParamSpec::integer("width", 32, 4, 1024,
                                                     "channels of the first conv block; later blocks double it")}),
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      const int w = o.at("width").get<int>();
                      return std::make_shared<PlainCnn>(
                          in, classes, std::vector<PlainCnn::Block>{{w, false}, {2 * w, true}, {4 * w, true}}, 256,
                          activationOf(o));
                  }});
    registerCifarZoo(registry);
}

ArchitectureInfo describeArchitecture(const ArchitectureRegistry &registry, const std::string &name,
                                      const nlohmann::json &options, const InputShape &input,
                                      int numClasses)
{
    const auto &entry = registry.get(name);
    const auto resolved = resolveParams(entry.params, options, name);
    auto net = entry.create(resolved, input, numClasses);
    ArchitectureInfo info;
    info.params = net->parameterCount();
    torch::NoGradGuard noGrad;
    net->eval();
    MacCounting counting;
    const auto f = net->forwardFeatures(torch::zeros({1, input.channels, input.height, input.width}));
    info.macs = counting.macs();
    for (const auto &kv : f.items())
        info.features.emplace_back(kv.first, shapeText(kv.second));
    return info;
}

} // namespace kd
