#include "methods/online/MultiBranchMethod.h"

#include "core/Error.h"
#include "data/Dataset.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

#include <cmath>

namespace kd {

std::vector<ParamSpec> multiBranchParams(int branches, const std::string &split, double rampupFraction,
                                         const std::string &rampupSource, int deployBranch)
{
    return {
        ParamSpec::integer("branches", branches, 2, 16, "number of branches sharing the trunk"),
        ParamSpec::choice("split", split, {"stem", "stage1", "stage2", "stage3", "stage4", "stage5"},
                          "the last part the branches share (the trunk ends after it); \"stem\" shares only the stem"),
        ParamSpec::integer("deploy_branch", deployBranch, 0, 16,
                           "the branch saved as the run's student (student.pt; 0: the last branch); every branch is "
                           "also saved alone"),
        ParamSpec::number("rampup_fraction", rampupFraction, 0.0, 1.0,
                          "length of the sigmoid ramp-up exp(-5(1-e/E)^2) of the distillation weight, as a fraction of "
                          "the epochs (0: full weight from the start); " + rampupSource),
    };
}

MultiBranchMethod::MultiBranchMethod(const nlohmann::json &p)
    : m_rampupFraction(p.at("rampup_fraction").get<double>())
{
    m_layout.branches = p.at("branches").get<int>();
    m_layout.split = BranchLayout::parseSplit(p.at("split").get<std::string>());
    const int deploy = p.at("deploy_branch").get<int>();
    m_layout.deployed = deploy == 0 ? m_layout.branches - 1 : deploy - 1;
    if (m_layout.deployed >= m_layout.branches)
        throw Error("deploy_branch " + std::to_string(m_layout.deployed + 1) + " is not one of the "
                    + std::to_string(m_layout.branches) + " branches; set deploy_branch to 1.."
                    + std::to_string(m_layout.branches) + ", or 0 for the last branch");
}

std::vector<std::string> MultiBranchMethod::studentFeatures() const
{
    std::vector<std::string> names{"trunk"};
    for (int b = 1; b <= m_layout.branches; ++b)
        names.push_back("branch" + std::to_string(b) + ".logits");
    return names;
}

std::vector<torch::Tensor> MultiBranchMethod::branchLogits(const Features &s) const
{
    std::vector<torch::Tensor> out;
    for (int b = 1; b <= m_layout.branches; ++b)
        out.push_back(s.get("branch" + std::to_string(b) + ".logits"));
    return out;
}

std::vector<torch::Tensor> MultiBranchMethod::testOutputs(FeatureNet &model, const torch::Tensor &x)
{
    const auto f = model.forwardFeatures(x);
    std::vector<torch::Tensor> outputs = branchLogits(f);
    for (auto &g : groupOutputs(f))
        outputs.push_back(g.second);
    return outputs;
}

double MultiBranchMethod::rampup(const StepContext &ctx) const
{
    return sigmoidRampup(double(ctx.epoch - 1), m_rampupFraction * double(ctx.epochs));
}

std::vector<std::string> MultiBranchMethod::extraMetrics() const
{
    std::vector<std::string> names;
    for (int b = 1; b <= m_layout.branches; ++b)
        names.push_back("branch" + std::to_string(b) + "_acc");
    for (const auto &g : groupOutputNames())
        names.push_back(g + "_acc");
    return names;
}

double MultiBranchMethod::evaluateExtra(const std::string &name, FeatureNet &model, const TensorDataset &set,
                                        const torch::Device &device, int batchSize)
{
    // The trainer asks for the metrics in extraMetrics() order after every epoch: the first
    // call measures them all in one pass, the others read that pass.
    if (name == extraMetrics().front() || !m_cache.count(name)) {
        m_cache.clear();
        const auto names = extraMetrics();
        std::vector<std::int64_t> correct(names.size(), 0);
        const auto n = set.size();
        if (n == 0)
            return NAN;
        const bool wasTraining = model.is_training();
        auto extra = trainableModule();
        const bool extraTraining = extra && extra->is_training();
        model.eval();
        if (extra)
            extra->eval();
        {
            torch::NoGradGuard noGrad;
            for (std::int64_t i = 0; i < n; i += batchSize) {
                const auto len = std::min<std::int64_t>(batchSize, n - i);
                const auto x = set.rows(i, len).to(device);
                const auto y = set.labels.narrow(0, i, len).to(device);
                const auto outputs = testOutputs(model, x);
                for (std::size_t k = 0; k < outputs.size() && k < names.size(); ++k)
                    correct[k] += outputs[k].argmax(1).eq(y).sum().item<std::int64_t>();
            }
        }
        model.train(wasTraining);
        if (extra)
            extra->train(extraTraining);
        for (std::size_t k = 0; k < names.size(); ++k)
            m_cache[names[k]] = double(correct[k]) / double(n);
    }
    const auto it = m_cache.find(name);
    return it == m_cache.end() ? NAN : it->second;
}

} // namespace kd
