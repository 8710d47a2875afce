#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

namespace kd {

namespace {

/// "dml": Deep Mutual Learning (Zhang, Xiang, Hospedales & Lu, CVPR 2018; authors' code
/// YingZhangDUT/Deep-Mutual-Learning, train_models.py `_tower_loss` and `kl_loss_compute`).
/// Every peer k of the cohort minimises
///   L_k = CE(z_k, y) + w · T² · reduce_{j ≠ k} KL(softmax(z_j/T) ‖ softmax(z_k/T)),
/// with the other peers' outputs of the same batch as fixed targets (the authors compute each
/// peer's gradients over its own variables only). The authors use T = 1 and w = 1; the paper
/// averages over the K − 1 others, their code sums (the same for two peers).
class DmlMethod : public DistillationMethod {
public:
    explicit DmlMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
        , m_reduction(p.at("peer_reduction").get<std::string>())
    {
    }
    bool needsTeacher() const override { return false; }
    std::vector<std::string> termNames() const override { return {"ce", "mutual_kl"}; }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!ctx.cohort)
            throw Error("method \"dml\" trains a cohort: list the peers in \"peers\" (docs/PROJECT_FORMAT.md)");
        std::vector<torch::Tensor> logits;
        for (const auto &f : *ctx.cohort)
            logits.push_back(f.logits());
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto kl = mutualKlLoss(logits, ctx.cohortIndex, m_temperature, m_reduction);
        return {ce + m_weight * kl, {{"ce", ce}, {"mutual_kl", kl}}};
    }

private:
    double m_temperature;
    double m_weight;
    std::string m_reduction;
};

} // namespace

void registerDmlMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 1.0, 0.05, 100.0,
                          "softmax temperature T of the mimicry KL (scaled by T^2); the authors use plain softmax, T = 1"),
        ParamSpec::number("weight", 1.0, 0.0, 100.0, "weight of the mimicry term against the cross-entropy (authors: 1)"),
        ParamSpec::choice("peer_reduction", "mean", {"mean", "sum"},
                          "how the KL terms to the other peers combine: mean (the paper, 1/(K-1)) or sum (the "
                          "authors' code)"),
    };
    MethodEntry e{"Deep Mutual Learning (Zhang et al. 2018): a cohort of peers trained together, each with "
                  "cross-entropy plus the KL to every other peer's prediction",
                  false, std::move(params), [](const nlohmann::json &p) { return std::make_unique<DmlMethod>(p); }};
    e.online = true;
    registry.add("dml", std::move(e));
}

} // namespace kd
