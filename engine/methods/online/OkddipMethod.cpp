#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"
#include "models/Layers.h"

#include <torch/torch.h>

#include <sstream>

namespace kd {

namespace {

/// OKDDip's shared attention projections (resnet_GL.py: `query_weight`, `key_weight`,
/// Linear(C, C / factor, bias=False) with torch's default initialisation), applied to every
/// peer's pooled last feature.
struct OkddipAttentionImpl : torch::nn::Module {
    OkddipAttentionImpl(std::int64_t channels, std::int64_t dim)
    {
        query = register_module("query", torch::nn::Linear(torch::nn::LinearOptions(channels, dim).bias(false)));
        key = register_module("key", torch::nn::Linear(torch::nn::LinearOptions(channels, dim).bias(false)));
    }
    /// `pooled`: P tensors B × C → attention B × P × P.
    torch::Tensor forward(const std::vector<torch::Tensor> &pooled)
    {
        const auto x = torch::stack(pooled, 1); // B × P × C
        return okddipAttention(query(x), key(x));
    }
    torch::nn::Linear query{nullptr}, key{nullptr};
};
TORCH_MODULE(OkddipAttention);

/// "okddip": Online Knowledge Distillation with Diverse Peers (Chen, Mei, Wang, Feng & Chen,
/// AAAI 2020; authors' code DefangChen/OKDDip, train_GL.py `train`, models/model_cifar/
/// resnet_GL.py, utils.py `KL_Loss`). One network, a shared trunk (ResNet: up to the second of
/// three stages) and N branches (the authors: 4). The first N − 1 are peers: each peer's target
/// is its own attention-weighted mix of all peers' logits (two-level distillation, level one),
/// so peers keep diverse targets; the last branch, the group leader, learns from the peers'
/// mean (level two) and is the deliverable. The loss is
///   Σ_b CE(z_b) + w(e) · [Σ_i KL(Σ_j a_ij z_j → z_i) + KL(mean_i z_i → z_leader)]
/// with the KL at T = 3 (T², target + 1e-7, gradient reaching the targets as in the authors'
/// code) and w(e) the sigmoid ramp-up over 80 of 300 epochs.
class OkddipMethod : public MultiBranchMethod {
public:
    explicit OkddipMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
        , m_factor(p.at("projection_factor").get<int>())
    {
        if (m_layout.branches < 3)
            throw Error("okddip needs at least two peers and a group leader: set branches to 3 or more (the authors "
                        "use 4)");
    }
    std::vector<std::string> termNames() const override { return {"ce", "kl", "leader_kl", "kl_weight"}; }
    std::vector<std::string> studentFeatures() const override
    {
        auto names = MultiBranchMethod::studentFeatures();
        for (int b = 1; b < m_layout.branches; ++b)
            names.push_back(headInput(b));
        return names;
    }
    void setup(const MethodSetup &setup) override
    {
        const auto &shape = setup.studentShape(headInput(1));
        if (shape.empty())
            throw Error("okddip attends over the peers' pooled last features, but this architecture's head has none");
        m_channels = shape.front();
        m_dim = std::max<std::int64_t>(1, m_channels / m_factor);
        m_attention = OkddipAttention(m_channels, m_dim);
        m_attention->to(setup.device);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_attention.ptr(); }
    std::vector<std::string> setupNotes() const override
    {
        std::ostringstream os;
        os << "okddip: " << m_layout.branches - 1 << " peers and a group leader after "
           << BranchLayout::splitName(m_layout.split) << ", attention projections " << m_channels << " → " << m_dim
           << ", KL at T " << m_temperature << "; branch " << m_layout.deployed + 1 << " is the student";
        if (m_layout.deployed != m_layout.branches - 1)
            os << " (the authors deploy the leader, branch " << m_layout.branches << ")";
        return {os.str()};
    }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!m_attention)
            throw Error("method \"okddip\" was not set up (setup() builds its attention projections)");
        const auto t = okddipLoss(branchLogits(s), attention(s), labels, m_temperature);
        const double w = m_weight * rampup(ctx);
        const auto weight = torch::full({}, w, t.kl.options());
        return {t.ce + w * (t.kl + t.leaderKl),
                {{"ce", t.ce}, {"kl", t.kl}, {"leader_kl", t.leaderKl}, {"kl_weight", weight}}};
    }

protected:
    std::vector<std::string> groupOutputNames() const override { return {"ensemble"}; }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        auto z = branchLogits(s);
        z.pop_back();
        return {{"ensemble", meanLogits(z)}};
    }

private:
    static std::string headInput(int b) { return "branch" + std::to_string(b) + ".head_input"; }
    torch::Tensor attention(const Features &s)
    {
        std::vector<torch::Tensor> pooled;
        for (int b = 1; b < m_layout.branches; ++b) {
            const auto &f = s.get(headInput(b));
            pooled.push_back(f.dim() == 4 ? globalAvgPool(f) : f);
        }
        return m_attention->forward(pooled);
    }

    double m_temperature, m_weight;
    int m_factor;
    std::int64_t m_channels = 0, m_dim = 0;
    OkddipAttention m_attention{nullptr};
};

} // namespace

void registerOkddipMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(4, "stage2", 80.0 / 300.0, "the authors ramp up over 80 of 300 epochs", 0);
    params.insert(params.begin(),
                  {ParamSpec::number("temperature", 3.0, 0.05, 100.0, "temperature T of every KL term (authors: 3)"),
                   ParamSpec::number("weight", 1.0, 0.0, 100.0,
                                     "weight of the KL terms after the ramp-up (authors' alpha: 1)"),
                   ParamSpec::integer("projection_factor", 8, 1, 1024,
                                      "the attention's query and key project the C-channel pooled feature to "
                                      "C / factor values (authors: 8)")});
    registry.add("okddip", MethodEntry{"Online KD with Diverse Peers (Chen et al. 2020): attention-weighted peer "
                                       "targets, and a group leader that learns from the peers' mean",
                                       false, std::move(params),
                                       [](const nlohmann::json &p) { return std::make_unique<OkddipMethod>(p); }});
}

} // namespace kd
