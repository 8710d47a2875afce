#include "ArchitectureRegistry.h"

#include "Architectures.h"

namespace kd {

static std::string shapeText(const torch::Tensor &t)
{
    std::string s;
    for (int64_t i = 1; i < t.dim(); ++i)
        s += (s.empty() ? "" : "x") + std::to_string(t.size(i));
    return s;
}

void registerBuiltinArchitectures(ArchitectureRegistry &registry)
{
    registry.add("mlp",
                 {"Multi-layer perceptron: flatten, hidden Linear+ReLU layers, Linear classifier",
                  {ParamSpec::intList("hidden", {128}, 1, 65536,
                                      "sizes of the hidden layers, input to output"),
                   ParamSpec::number("dropout", 0.0, 0.0, 0.9,
                                     "dropout probability after each hidden layer (training only)")},
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      return std::make_shared<Mlp>(in, classes, o.at("hidden").get<std::vector<int>>(),
                                                   o.at("dropout").get<double>());
                  }});
    registry.add("lenet5",
                 {"LeNet-5 (LeCun 1998): two 5x5 conv+pool stages, 120-84 fully connected",
                  {},
                  [](const nlohmann::json &, const InputShape &in, int classes) {
                      return std::make_shared<LeNet5>(in, classes);
                  }});
    registry.add("cnn_small",
                 {"Small CNN: conv32+pool, conv64+pool (3x3, BN, ReLU), fc128",
                  {ParamSpec::integer("width", 32, 4, 1024, "channels of the first conv block; the second has twice as many")},
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      const int w = o.at("width").get<int>();
                      return std::make_shared<PlainCnn>(in, classes,
                                                        std::vector<PlainCnn::Block>{{w, true}, {2 * w, true}}, 128);
                  }});
    registry.add("cnn_large",
                 {"Larger CNN: conv32, conv64+pool, conv128+pool (3x3, BN, ReLU), fc256",
                  {ParamSpec::integer("width", 32, 4, 1024, "channels of the first conv block; later blocks double it")},
                  [](const nlohmann::json &o, const InputShape &in, int classes) {
                      const int w = o.at("width").get<int>();
                      return std::make_shared<PlainCnn>(
                          in, classes, std::vector<PlainCnn::Block>{{w, false}, {2 * w, true}, {4 * w, true}}, 256);
                  }});
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
    const auto f = net->forwardFeatures(torch::zeros({1, input.channels, input.height, input.width}));
    for (const auto &kv : f.items())
        info.features.emplace_back(kv.first, shapeText(kv.second));
    return info;
}

} // namespace kd
