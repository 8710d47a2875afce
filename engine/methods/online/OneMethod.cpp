#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

namespace kd {

namespace {

/// ONE's gate: Linear(trunk channels → N) and BatchNorm1d(N) (ONE_ResNet's control_v1 and
/// bn_v1); the ReLU and softmax follow in gatedEnsemble().
struct OneGateImpl : torch::nn::Module {
    OneGateImpl(std::int64_t channels, std::int64_t branches)
    {
        linear = register_module("control_v1", torch::nn::Linear(channels, branches));
        bn = register_module("bn_v1", torch::nn::BatchNorm1d(branches));
    }
    torch::Tensor forward(const torch::Tensor &trunk)
    {
        const auto pooled = trunk.dim() == 4 ? trunk.mean({2, 3}) : trunk.flatten(1);
        return bn(linear(pooled));
    }
    torch::nn::Linear linear{nullptr};
    torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(OneGate);

/// "one": On-the-fly Native Ensemble (Lan, Zhu & Gong, NeurIPS 2018; authors' code
/// Lan1991Xu/ONE_NeurIPS2018, cifar_one.py `train`, models/cifar/resnet.py `ONE_ResNet`,
/// loss/kl_loss.py). One network: a shared trunk (ResNet: up to the second of three stages)
/// and N branches (the authors: 3); a gate on the pooled trunk weights the branch logits into
/// the ensemble teacher z_e = Σ_b g_b z_b. The loss is
///   Σ_b CE(z_b, y) + CE(z_e, y) + w(e) · Σ_b T² KL(softmax(z_e/T) ‖ softmax(z_b/T))
/// with T = 3, the ensemble read without gradient in the KL (the authors' target.data), and
/// w(e) the sigmoid ramp-up over the first 80 of 300 epochs. The gate learns only through
/// CE(z_e, y). The deliverable is one branch (the authors select on branch 1's accuracy).
class OneMethod : public MultiBranchMethod {
public:
    explicit OneMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
    {
    }
    std::vector<std::string> termNames() const override { return {"ce", "ensemble_ce", "kl", "kl_weight"}; }
    void setup(const MethodSetup &setup) override
    {
        const auto &shape = setup.studentShape("trunk");
        m_gate = OneGate(shape.at(0), m_layout.branches);
        m_gate->to(setup.device);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_gate.ptr(); }
    std::vector<std::string> setupNotes() const override
    {
        return {"one: " + std::to_string(m_layout.branches) + " branches after " + BranchLayout::splitName(m_layout.split)
                + ", gate on the trunk, KL at T " + std::to_string(m_temperature).substr(0, 4)
                + "; branch " + std::to_string(m_layout.deployed + 1) + " is the student"};
    }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!m_gate)
            throw Error("method \"one\" was not set up (setup() builds its gate)");
        const auto t = oneLoss(branchLogits(s), m_gate->forward(s.get("trunk")), labels, m_temperature);
        const double w = m_weight * rampup(ctx);
        const auto weight = torch::full({}, w, t.kl.options());
        return {t.ce + t.ensembleCe + w * t.kl,
                {{"ce", t.ce}, {"ensemble_ce", t.ensembleCe}, {"kl", t.kl}, {"kl_weight", weight}}};
    }

protected:
    std::vector<std::string> groupOutputNames() const override { return {"ensemble"}; }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        return {{"ensemble", gatedEnsemble(m_gate->forward(s.get("trunk")), branchLogits(s)).first}};
    }

private:
    double m_temperature, m_weight;
    OneGate m_gate{nullptr};
};

} // namespace

void registerOneMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(3, "stage2", 80.0 / 300.0, "the authors ramp up over 80 of 300 epochs");
    params.insert(params.begin(),
                  {ParamSpec::number("temperature", 3.0, 0.05, 100.0,
                                     "temperature T of the KL from the gated ensemble to each branch (authors: 3)"),
                   ParamSpec::number("weight", 1.0, 0.0, 100.0,
                                     "weight of the KL term after the ramp-up (authors: 1)")});
    registry.add("one", MethodEntry{"On-the-fly Native Ensemble (Lan et al. 2018): one network, a shared trunk and "
                                    "branches whose gated ensemble teaches every branch",
                                    false, std::move(params),
                                    [](const nlohmann::json &p) { return std::make_unique<OneMethod>(p); }});
}

} // namespace kd
