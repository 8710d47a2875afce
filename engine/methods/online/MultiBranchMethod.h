#pragma once

#include "methods/DistillationMethod.h"
#include "models/MultiBranchNet.h"
#include "project/ParamSpec.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kd {

/// The parameters every multi-branch method has: `branches`, `split` (the last shared part:
/// "stem" or "stageK") and `deploy_branch` (1-based; the branch saved as the run's student),
/// with the method's own defaults, then `rampup_fraction` (the sigmoid ramp-up's length as a
/// fraction of the stage's epochs). `deploy_branch` 0 means the last branch (the default of
/// methods whose authors deploy a leader branch).
std::vector<ParamSpec> multiBranchParams(int branches, const std::string &split, double rampupFraction,
                                         const std::string &rampupSource, int deployBranch = 1);

/// Base of the online methods that train one MultiBranchNet: reads the layout parameters,
/// gives each branch's logits, and reports at every epoch the test accuracy of every branch
/// ("branchB_acc") and of the method's group outputs ("ensemble_acc", ...), all from one pass
/// over the test set.
class MultiBranchMethod : public DistillationMethod {
public:
    explicit MultiBranchMethod(const nlohmann::json &params);

    bool needsTeacher() const override { return false; }
    std::vector<std::string> studentFeatures() const override;
    const BranchLayout *branchLayout() const override { return &m_layout; }
    std::vector<std::string> extraMetrics() const override;
    double evaluateExtra(const std::string &name, FeatureNet &model, const struct TensorDataset &set,
                         const torch::Device &device, int batchSize) override;

protected:
    /// "branch1.logits".."branchN.logits" of `s`.
    std::vector<torch::Tensor> branchLogits(const Features &s) const;
    /// The method's outputs besides the branches, by name (e.g. {"ensemble", gated logits}),
    /// computed in eval mode for the test accuracies; empty by default.
    virtual std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) { return {}; }
    virtual std::vector<std::string> groupOutputNames() const { return {}; }
    /// The logits whose test accuracies extraMetrics() names, in its order, for the test
    /// images `x` (`model` in eval mode, no gradient): each branch's, then groupOutputs().
    virtual std::vector<torch::Tensor> testOutputs(FeatureNet &model, const torch::Tensor &x);
    /// The distillation weight's ramp-up factor at this step (sigmoidRampup over
    /// rampup_fraction × the stage's epochs, by 0-based epoch as the authors count).
    double rampup(const StepContext &ctx) const;

    BranchLayout m_layout;
    double m_rampupFraction;

private:
    std::map<std::string, double> m_cache; ///< this epoch's accuracies, filled by the first metric's call
};

} // namespace kd
