#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"
#include "models/Layers.h"

#include <torch/torch.h>

#include <sstream>

namespace kd {

namespace {

/// PCL's peer ensemble teacher: one linear classifier on the concatenated pooled features of
/// all peers (the reproduction's `en_fc`, Linear(m · d, classes), torch's default
/// initialisation).
struct PclEnsembleHeadImpl : torch::nn::Module {
    PclEnsembleHeadImpl(std::int64_t features, std::int64_t classes)
    {
        fc = register_module("ensemble_fc", torch::nn::Linear(features, classes));
    }
    torch::Tensor forward(const std::vector<torch::Tensor> &pooled) { return fc(torch::cat(pooled, 1)); }
    torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(PclEnsembleHead);

/// "pcl": Peer Collaborative Learning for Online Knowledge Distillation (Wu & Gong, AAAI
/// 2021). No author code is public; this follows the paper, with the details the public
/// reproduction (shaoeric/Peer-Collaborative-Learning-for-Online-Knowledge-Distillation)
/// settles where the paper is silent. One network: a shared trunk (ResNet: up to the second of
/// three stages) and m peers (3), each peer on its own augmented view of the batch (its own
/// random crop and flip; the trunk runs once per view). A peer ensemble teacher — a linear
/// classifier on the concatenated pooled features of all peers — and, for every peer, a
/// temporal mean network (the exponential moving average of the whole network's weights,
/// decay min(1 − 1/(t+1), 0.999), Mean Teacher's) run in train mode on the same views. The loss
///   CE(z_e) + Σ_i CE(z_i) + w(e) · Σ_i [KL_T(z_e → z_i) + 1/(m−1) Σ_{j≠i} KL_T(m_j → z_i)]
/// with T = 3 (T², batch mean), every target detached, and w(e) the sigmoid ramp-up
/// exp(−5(1 − e/80)²) over 80 of 300 epochs — the paper's, not the reproduction's
/// `compute_rampup_weight`, which divides the epoch by lambd = 1 instead of 80 and so drops the
/// weight to almost nothing after the first epoch until epoch 80. The deliverable is peer 1's
/// temporal mean (the paper deploys a temporal mean peer); its accuracy is the run's test
/// accuracy, and <role>.pt and the branch files hold the temporal mean's weights.
class PclMethod : public MultiBranchMethod {
public:
    explicit PclMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
        , m_decay(p.at("ema_decay").get<double>())
    {
    }
    std::vector<std::string> termNames() const override
    {
        return {"ce", "ensemble_ce", "peer_ensemble_kl", "peer_mean_kl", "kl_weight"};
    }
    std::vector<std::string> studentFeatures() const override
    {
        auto names = MultiBranchMethod::studentFeatures();
        for (int b = 1; b <= m_layout.branches; ++b)
            names.push_back(pooledName(b));
        return names;
    }
    int inputViews() const override { return m_layout.branches; }

    void setup(const MethodSetup &setup) override
    {
        const auto &shape = setup.studentShape(pooledName(1));
        std::int64_t d = 1;
        for (auto v : shape)
            d *= v;
        if (shape.empty() || d <= 0)
            throw Error("pcl's ensemble teacher reads every peer's pooled features (pre_logits), but this "
                        "architecture gives none");
        m_featureDim = shape.size() == 3 ? shape.front() : d; // a map is pooled; anything else flattened
        m_head = PclEnsembleHead(m_featureDim * m_layout.branches, setup.numClasses);
        m_head->to(setup.device);
        if (!setup.newStudent)
            throw std::logic_error("pcl needs MethodSetup::newStudent to build its temporal mean network");
        m_mean = std::dynamic_pointer_cast<MultiBranchNet>(setup.newStudent());
        if (!m_mean || m_mean->layout().branches != m_layout.branches)
            throw std::logic_error("pcl's temporal mean must be a multi-branch network of the student's layout");
        for (auto &q : m_mean->parameters())
            q.set_requires_grad(false);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_head.ptr(); }
    std::shared_ptr<FeatureNet> deliveredModel() override { return m_mean; }
    std::vector<std::string> setupNotes() const override
    {
        std::ostringstream os;
        os << "pcl: " << m_layout.branches << " peers after " << BranchLayout::splitName(m_layout.split)
           << ", each on its own augmented view; peer ensemble head " << m_featureDim * m_layout.branches << " → "
           << (m_head ? m_head->fc->options.out_features() : 0) << "; temporal mean networks with decay " << m_decay
           << "; KL at T " << m_temperature << "; the temporal mean of branch " << m_layout.deployed + 1
           << " is the student";
        return {os.str()};
    }

    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!m_head || !m_mean)
            throw Error("method \"pcl\" was not set up (setup() builds its ensemble head and temporal mean)");
        const auto z = branchLogits(s);
        std::vector<torch::Tensor> meanLogits;
        {
            // The temporal means see the peers' own views, in train mode as the reproduction
            // runs them (their BatchNorm statistics are their own), without gradient.
            torch::NoGradGuard noGrad;
            m_mean->train();
            const auto mf = ctx.views ? m_mean->forwardViews(*ctx.views) : m_mean->forwardFeatures(ctx.inputs);
            meanLogits = branchLogits(mf);
        }
        const auto t = pclLoss(z, ensembleLogits(s), meanLogits, labels, m_temperature);
        const double w = m_weight * rampup(ctx);
        const auto weight = torch::full({}, w, t.pe.options());
        return {t.ensembleCe + t.ce + w * (t.pe + t.pm),
                {{"ce", t.ce},
                 {"ensemble_ce", t.ensembleCe},
                 {"peer_ensemble_kl", t.pe},
                 {"peer_mean_kl", t.pm},
                 {"kl_weight", weight}}};
    }

    /// The temporal mean follows the trained network's weights after every step (its
    /// BatchNorm statistics come from its own forwards in compute()).
    void afterStep(FeatureNet &model, const StepContext &ctx) override
    {
        if (!m_mean)
            return;
        const double a = temporalMeanDecay(ctx.step, m_decay);
        torch::NoGradGuard noGrad;
        const auto live = model.parameters();
        auto mean = m_mean->parameters();
        if (live.size() != mean.size())
            throw std::logic_error("pcl: the temporal mean and the trained network differ in their parameters");
        for (std::size_t k = 0; k < live.size(); ++k)
            mean[k].mul_(a).add_(live[k].detach(), 1.0 - a);
    }

    /// The temporal mean's weights and statistics, copied into the existing tensors on load
    /// (so they keep their device and memory format).
    void saveState(torch::serialize::OutputArchive &archive) override
    {
        if (!m_mean)
            return;
        const auto t = meanTensors();
        archive.write("temporal_mean_tensors", torch::full({1}, std::int64_t(t.size()), torch::kInt64));
        for (std::size_t k = 0; k < t.size(); ++k)
            archive.write("temporal_mean_" + std::to_string(k), t[k].detach().cpu(), true);
    }
    void loadState(torch::serialize::InputArchive &archive) override
    {
        if (!m_mean)
            return;
        auto t = meanTensors();
        torch::Tensor count;
        archive.read("temporal_mean_tensors", count);
        if (count.numel() != 1 || count.item<std::int64_t>() != std::int64_t(t.size()))
            throw Error("the checkpoint's pcl temporal mean has another network's tensors; it belongs to another run");
        torch::NoGradGuard noGrad;
        for (std::size_t k = 0; k < t.size(); ++k) {
            torch::Tensor v;
            archive.read("temporal_mean_" + std::to_string(k), v, true);
            if (v.sizes() != t[k].sizes())
                throw Error("the checkpoint's pcl temporal mean differs in shape from this network's; it belongs "
                            "to another run");
            t[k].copy_(v);
        }
    }

protected:
    std::vector<std::string> groupOutputNames() const override
    {
        std::vector<std::string> names{"ensemble"};
        for (int b = 1; b <= m_layout.branches; ++b)
            names.push_back("ema_branch" + std::to_string(b));
        return names;
    }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        return {{"ensemble", ensembleLogits(s)}};
    }
    /// The peers and the ensemble teacher, then every peer's temporal mean.
    std::vector<torch::Tensor> testOutputs(FeatureNet &model, const torch::Tensor &x) override
    {
        auto outputs = MultiBranchMethod::testOutputs(model, x);
        const bool wasTraining = m_mean->is_training();
        m_mean->eval();
        for (auto &z : branchLogits(m_mean->forwardFeatures(x)))
            outputs.push_back(z);
        m_mean->train(wasTraining);
        return outputs;
    }

private:
    static std::string pooledName(int b) { return "branch" + std::to_string(b) + ".pre_logits"; }
    torch::Tensor ensembleLogits(const Features &s)
    {
        std::vector<torch::Tensor> pooled;
        for (int b = 1; b <= m_layout.branches; ++b) {
            const auto &f = s.get(pooledName(b));
            pooled.push_back(f.dim() == 4 ? globalAvgPool(f) : f.flatten(1));
        }
        return m_head->forward(pooled);
    }
    std::vector<torch::Tensor> meanTensors() const
    {
        auto t = m_mean->parameters();
        for (const auto &b : m_mean->buffers())
            t.push_back(b);
        return t;
    }

    double m_temperature, m_weight, m_decay;
    std::int64_t m_featureDim = 0;
    PclEnsembleHead m_head{nullptr};
    std::shared_ptr<MultiBranchNet> m_mean;
};

} // namespace

void registerPclMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(3, "stage2", 80.0 / 300.0,
                                    "the paper ramps up over the first 80 of 300 epochs (the public reproduction's "
                                    "ramp-up divides by 1 instead of 80; not copied)",
                                    1);
    params.insert(params.begin(),
                  {ParamSpec::number("temperature", 3.0, 0.05, 100.0,
                                     "temperature T of the peer ensemble and peer mean KL terms (paper: 3)"),
                   ParamSpec::number("weight", 1.0, 0.0, 100.0,
                                     "weight of the two KL terms after the ramp-up (paper: 1)"),
                   ParamSpec::number("ema_decay", 0.999, 0.0, 1.0,
                                     "decay of the temporal mean networks, min(1 - 1/(step+1), decay) at every step "
                                     "(paper, after Mean Teacher: 0.999)")});
    registry.add("pcl", MethodEntry{"Peer Collaborative Learning (Wu & Gong 2021): peers on their own augmented views, "
                                    "a peer ensemble teacher and temporal mean peers; a temporal mean is delivered",
                                    false, std::move(params),
                                    [](const nlohmann::json &p) { return std::make_unique<PclMethod>(p); }});
}

} // namespace kd
