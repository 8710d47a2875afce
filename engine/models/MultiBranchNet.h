#pragma once

#include "models/FeatureNet.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kd {

/// Where a multi-branch network splits and how many branches it has (the online methods that
/// share a trunk: ONE, FFL, OKDDip, PCL, MCL, the student ensemble).
struct BranchLayout {
    int branches = 3;
    /// The last shared part: 0 the stem, K stage K (FeatureNet's parts).
    int split = 2;
    /// The branch delivered as the run's student (0-based).
    int deployed = 0;
    /// Branch b's architecture made with its stages' widths times widthFractions[b] (the
    /// architecture's `width_fraction` option; the trunk must not change with it); empty:
    /// every branch is the architecture as configured (the student ensemble narrows them).
    std::vector<double> widthFractions;

    /// "stem" → 0, "stageK" → K; throws kd::Error for anything else.
    static int parseSplit(const std::string &name);
    static std::string splitName(int split);
};

/// One zoo architecture made into a shared trunk and N branches: the parts up to and
/// including `layout.split` are computed once, the parts after it by every branch with its
/// own weights. Built from N instances of the architecture made one after another (so the
/// first branch, which also holds the trunk, starts from the weights a plain model made
/// from the same seed has); the trunk parts of the other instances are unregistered, so
/// parameters(), the optimiser, checkpoints and the parameter count hold the trunk once.
///
/// Features: the trunk's own ("stage1", ... up to the split) and "trunk" (its output); every
/// branch's as "branchB.<name>" (B = 1..N: "branch2.stage3", "branch2.logits"), with
/// "branchB.head_input", the tensor its head pools (the fusion input of FFL); and, without
/// prefix, the deployed branch's tail features, "pre_logits" and "logits", so evaluation,
/// views and feature methods see the deliverable as they see a plain network.
/// Module names: "branch1".."branchN", each the architecture's own names beneath.
class MultiBranchNet : public FeatureNet {
public:
    using Factory = std::function<std::shared_ptr<FeatureNet>()>;
    /// Makes branch b's instance (0-based): branches of different widths.
    using BranchFactory = std::function<std::shared_ptr<FeatureNet>(int branch)>;

    /// Throws kd::Error when the architecture cannot be split there (naming its stages), or
    /// when the branches' trunks differ in shape.
    MultiBranchNet(const BranchFactory &make, const BranchLayout &layout, const std::string &archName);
    MultiBranchNet(const Factory &make, const BranchLayout &layout, const std::string &archName);

    Features forwardFeatures(const torch::Tensor &x) override;
    torch::Tensor forwardLogits(const torch::Tensor &x) override { return forwardFeatures(x).logits(); }
    /// The branches on their own inputs: branch b (0-based) on views[b mod V], the trunk run
    /// once per view it feeds. "trunk" and the unprefixed features are those of the view the
    /// trunk's first run and the deployed branch see. forwardFeatures(x) is forwardViews({x}).
    Features forwardViews(const std::vector<torch::Tensor> &views);

    const BranchLayout &layout() const { return m_layout; }
    int branchCount() const { return m_layout.branches; }
    std::int64_t trunkParameters() const;
    /// Parameters of branch b's own part (0-based), without the trunk.
    std::int64_t tailParameters(int b) const;

    /// Branch b (0-based) as a standalone network of the architecture: `make(b)` with the
    /// trunk's weights and branch b's, on the CPU. It computes what branch b computes here.
    std::shared_ptr<FeatureNet> extractBranch(int b, const BranchFactory &make) const;
    std::shared_ptr<FeatureNet> extractBranch(int b, const Factory &make) const;

private:
    std::vector<std::shared_ptr<FeatureNet>> m_nets;
    BranchLayout m_layout;
};

} // namespace kd
