#pragma once

#include "core/TorchFwd.h"

#include <string>
#include <utility>
#include <vector>

namespace kd {

/// The named outputs of one forward pass, in network order: "stage1".."stageN",
/// "pre_logits", "logits". LibTorch has no forward hooks, so every architecture returns
/// the features KD methods may need.
class Features {
public:
    Features() { m_items.reserve(12); }
    void add(std::string name, torch::Tensor t) { m_items.emplace_back(std::move(name), std::move(t)); }
    bool has(const std::string &name) const;
    const torch::Tensor &get(const std::string &name) const; ///< throws kd::Error listing names
    const torch::Tensor &logits() const { return get("logits"); }
    const std::vector<std::pair<std::string, torch::Tensor>> &items() const { return m_items; }

private:
    std::vector<std::pair<std::string, torch::Tensor>> m_items;
};

/// Base of every architecture in the registry.
class FeatureNet : public torch::nn::Module {
public:
    virtual Features forwardFeatures(const torch::Tensor &x) = 0;
    torch::Tensor forward(const torch::Tensor &x) { return forwardFeatures(x).logits(); }
    std::int64_t parameterCount() const;
};

} // namespace kd
