#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/CrdNegativeSampler.h"
#include "methods/FeatureLosses.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <sstream>

namespace kd {

namespace {

/// MCL-OKD's trainable parts and state (mcl/criterion.py `MCL_Loss`, mcl/memory.py
/// `ContrastMemory`): one embedding head per branch (Linear(rep, d), then L2 normalisation —
/// `Embed`) and one memory bank per branch, a row of d values per training image, uniform in
/// ±1/√(d/3) at the start. The banks are buffers: checkpointed with the module, never in the
/// optimiser.
struct MclStateImpl : torch::nn::Module {
    MclStateImpl(int branches, std::int64_t repDim, std::int64_t dim, std::int64_t nData)
    {
        const double stdv = 1.0 / std::sqrt(double(dim) / 3.0);
        for (int b = 0; b < branches; ++b) {
            embeds.push_back(register_module("embed" + std::to_string(b + 1), torch::nn::Linear(repDim, dim)));
            memories.push_back(
                register_buffer("memory" + std::to_string(b + 1), torch::rand({nData, dim}) * (2 * stdv) - stdv));
        }
    }
    torch::Tensor embed(std::size_t b, const torch::Tensor &x)
    {
        return l2Normalize(embeds[b]->forward(x.reshape({x.size(0), -1})));
    }
    std::vector<torch::nn::Linear> embeds;
    std::vector<torch::Tensor> memories;
};
TORCH_MODULE(MclState);

/// "mcl": Multi-View Contrastive Learning for Online KD (Yang, An & Xu, ICASSP 2021; authors'
/// code winycg/MCL-OKD, main_cifar_mcl_okd.py `train`, mcl/criterion.py, mcl/memory.py,
/// models/mcl_okd_resnet.py). One network, a shared trunk (ResNet: the first of three stages)
/// and N branches (the authors: 4). Every branch's pooled feature is embedded (its own head)
/// and contrasted against every other branch's memory bank — the positive is the same image's
/// row, K negatives are rows of images of other classes — and the last branch learns from the
/// ensemble's logits:
///   γ·Σ_b CE(z_b) + α·KL_T(z̄ → z_N) + β·Σ_{i≠j} NCE(e_j vs bank_i)
/// with γ = α = 1, β = 0.025, T = 3, the NCE CRD's (T_nce = 0.1, Z renormalised every batch)
/// and the banks updated as CRD's (momentum 0.5). No ramp-up.
class MclMethod : public MultiBranchMethod {
public:
    explicit MclMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_ceWeight(p.at("ce_weight").get<double>())
        , m_klWeight(p.at("weight").get<double>())
        , m_beta(p.at("beta").get<double>())
        , m_dim(p.at("feat_dim").get<int>())
        , m_k(p.at("nce_k").get<int>())
        , m_t(p.at("nce_t").get<double>())
        , m_momentum(p.at("nce_momentum").get<double>())
    {
    }
    std::vector<std::string> termNames() const override { return {"ce", "kl", "contrast", "kl_weight"}; }
    std::vector<std::string> studentFeatures() const override
    {
        auto names = MultiBranchMethod::studentFeatures();
        for (int b = 1; b <= m_layout.branches; ++b)
            names.push_back(preLogits(b));
        return names;
    }
    void setup(const MethodSetup &setup) override
    {
        std::int64_t rep = 1;
        for (auto d : setup.studentShape(preLogits(1)))
            rep *= d;
        m_negatives.emplace("mcl", setup.trainLabels, setup.trainSize, m_k);
        m_nData = setup.trainSize;
        m_notes.clear();
        std::ostringstream os;
        os << "mcl: " << m_layout.branches << " branches after " << BranchLayout::splitName(m_layout.split)
           << ", embeddings " << rep << " → " << m_dim << " with a memory bank of " << m_nData << " rows each, "
           << m_negatives->k() << " negatives per anchor; branch " << m_layout.deployed + 1 << " is the student";
        m_notes.push_back(os.str());
        if (!m_negatives->note().empty())
            m_notes.push_back(m_negatives->note());
        m_state = MclState(m_layout.branches, rep, m_dim, m_nData);
        m_state->to(setup.device);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_state.ptr(); }
    std::vector<std::string> setupNotes() const override { return m_notes; }
    void saveState(torch::serialize::OutputArchive &archive) override { m_negatives->save(archive); }
    void loadState(torch::serialize::InputArchive &archive) override { m_negatives->load(archive); }

    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!m_state)
            throw Error("method \"mcl\" was not set up (setup() builds its embedding heads and memory banks)");
        const auto z = branchLogits(s);
        const auto n = z.front().size(0);
        const auto [anchors, idx] = m_negatives->rows(ctx.indices, n, m_state->memories.front().device());
        std::vector<torch::Tensor> emb;
        for (int b = 1; b <= m_layout.branches; ++b)
            emb.push_back(m_state->embed(std::size_t(b - 1), s.get(preLogits(b))));
        const auto t = mclLoss(z, mclScores(m_state->memories, emb, idx, m_t, m_nData), labels, m_temperature, m_nData);
        {
            torch::NoGradGuard noGrad;
            for (std::size_t b = 0; b < emb.size(); ++b)
                m_state->memories[b].index_copy_(0, anchors,
                                                 crdUpdatedRows(m_state->memories[b], emb[b], anchors, m_momentum));
        }
        const double w = m_klWeight * rampup(ctx);
        const auto weight = torch::full({}, w, t.kl.options());
        return {m_ceWeight * t.ce + w * t.kl + m_beta * t.contrast,
                {{"ce", t.ce}, {"kl", t.kl}, {"contrast", t.contrast}, {"kl_weight", weight}}};
    }

protected:
    std::vector<std::string> groupOutputNames() const override { return {"ensemble"}; }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        return {{"ensemble", meanLogits(branchLogits(s))}};
    }

private:
    static std::string preLogits(int b) { return "branch" + std::to_string(b) + ".pre_logits"; }

    double m_temperature, m_ceWeight, m_klWeight, m_beta;
    int m_dim;
    std::int64_t m_k;
    double m_t, m_momentum;
    std::int64_t m_nData = 0;
    std::optional<BankNegatives> m_negatives;
    std::vector<std::string> m_notes;
    MclState m_state{nullptr};
};

} // namespace

void registerMclMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(4, "stage1", 0.0, "the authors use none", 0);
    params.insert(
        params.begin(),
        {ParamSpec::number("temperature", 3.0, 0.05, 100.0, "temperature T of the ensemble → last-branch KL (authors: 3)"),
         ParamSpec::number("ce_weight", 1.0, 0.0, 100.0, "weight γ of the branches' cross-entropy (authors: 1)"),
         ParamSpec::number("weight", 1.0, 0.0, 100.0, "weight α of the KL term (authors: 1)"),
         ParamSpec::number("beta", 0.025, 0.0, 1000.0, "weight β of the contrastive terms (authors: 0.025)"),
         ParamSpec::integer("feat_dim", 128, 2, 4096, "dimension of the embedding heads (authors: 128)"),
         ParamSpec::integer("nce_k", 16384, 1, 1000000,
                            "negatives per anchor, distinct images of other classes (authors: 16384); capped, with a "
                            "logged note, to the images outside the largest class"),
         ParamSpec::number("nce_t", 0.1, 0.001, 10.0, "temperature of the contrastive scores (authors: 0.1)"),
         ParamSpec::number("nce_momentum", 0.5, 0.0, 1.0, "momentum of the memory-bank update (authors: 0.5)")});
    registry.add("mcl", MethodEntry{"Multi-view Contrastive Learning OKD (Yang et al. 2021): branches contrast their "
                                    "embeddings against each other's memory banks; the last learns from the ensemble",
                                    false, std::move(params),
                                    [](const nlohmann::json &p) { return std::make_unique<MclMethod>(p); }});
}

} // namespace kd
