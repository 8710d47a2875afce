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
    /// Adds `name` just before the feature `anchor`, or last when there is none (a part that
    /// completes an earlier stage's feature keeps the network order).
    void insertBefore(const std::string &anchor, std::string name, torch::Tensor t);
    bool has(const std::string &name) const;
    const torch::Tensor &get(const std::string &name) const; ///< throws kd::Error listing names
    const torch::Tensor &logits() const { return get("logits"); }
    const std::vector<std::pair<std::string, torch::Tensor>> &items() const { return m_items; }

private:
    std::vector<std::pair<std::string, torch::Tensor>> m_items;
};

/// Base of every architecture in the registry.
///
/// Every zoo architecture is a chain of parts that a multi-branch network (MultiBranchNet)
/// can split: part 0 the stem (possibly empty), part k = 1..stageCount() the stage whose
/// output is the feature "stageK", and part stageCount() + 1 the head (pooling, classifier:
/// "pre_logits", "logits"). forwardFeatures() runs the parts in order, so the whole network
/// and its split form compute the same thing by construction.
class FeatureNet : public torch::nn::Module {
public:
    virtual Features forwardFeatures(const torch::Tensor &x);
    torch::Tensor forward(const torch::Tensor &x) { return forwardFeatures(x).logits(); }
    /// forwardFeatures(x).logits(), computed part by part with each part's named features
    /// dropped once the next part has read its output: for evaluation, where holding every
    /// stage's maps of a 1,000-image batch would set the run's peak memory.
    virtual torch::Tensor forwardLogits(const torch::Tensor &x);
    std::int64_t parameterCount() const;

    /// Stages of the network (0: it cannot be split into parts).
    virtual int stageCount() const { return 0; }
    int headPart() const { return stageCount() + 1; }
    /// Runs part `part` on `h` (the input for part 0, else the previous part's output),
    /// adding the part's named features to `f`; returns the part's output (the logits for
    /// the head).
    virtual torch::Tensor forwardPart(int part, const torch::Tensor &h, Features &f);
    /// Paths of the submodules ("layer1", "blocks.3") that hold part `part`'s parameters and
    /// buffers; together the parts cover every parameter and buffer exactly once. A path may
    /// name a module that exists only with some options (an LMA activation).
    virtual std::vector<std::string> partModules(int part) const;
};

/// The part (FeatureNet::forwardPart) that owns the parameter or buffer `name` of `net`, by
/// its module path; -1 when no part claims it.
int partOfTensor(const FeatureNet &net, const std::string &name);

} // namespace kd
