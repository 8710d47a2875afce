#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/CrdNegativeSampler.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

#include <cmath>
#include <optional>

namespace kd {

namespace {

/// CRD's trainable parts and state (RepDistiller `CRDLoss` + `ContrastMemory`): Linear
/// embedding heads for student and teacher, and one memory bank per side with a row of
/// L2-normalised embeddings per training image. The banks and the normalisers Z are buffers:
/// they move with the module, but the optimiser never sees them.
class CrdStateImpl : public torch::nn::Module {
public:
    CrdStateImpl(std::int64_t studentDim, std::int64_t teacherDim, std::int64_t embedDim, std::int64_t nData)
    {
        embedStudent = register_module("embed_s", torch::nn::Linear(studentDim, embedDim));
        embedTeacher = register_module("embed_t", torch::nn::Linear(teacherDim, embedDim));
        const double stdv = 1.0 / std::sqrt(double(embedDim) / 3.0);
        memoryStudent = register_buffer("memory_s", torch::rand({nData, embedDim}) * (2 * stdv) - stdv);
        memoryTeacher = register_buffer("memory_t", torch::rand({nData, embedDim}) * (2 * stdv) - stdv);
        z = register_buffer("z", torch::full({2}, -1.0, torch::kFloat64));
    }
    torch::nn::Linear embedStudent{nullptr}, embedTeacher{nullptr};
    torch::Tensor memoryStudent, memoryTeacher, z;
};
TORCH_MODULE(CrdState);

/// Contrastive representation distillation (Tian et al., ICLR 2020): β·(NCE_s + NCE_t), where
/// each anchor's positive is the other model's bank row of the same image and K negatives
/// are bank rows of K distinct images of other classes (RepDistiller's "exact" mode, drawn
/// without replacement); without training labels (proxy data), of K distinct other images.
class CrdMethod : public FeatureKdMethod {
public:
    explicit CrdMethod(const nlohmann::json &p)
        : FeatureKdMethod("crd", p)
        , m_dim(p.at("feat_dim").get<int>())
        , m_k(p.at("nce_k").get<int>())
        , m_t(p.at("nce_t").get<double>())
        , m_momentum(p.at("nce_momentum").get<double>())
    {
        m_terms = {{"crd", p.at("beta").get<double>()}};
    }

    std::vector<std::string> setupNotes() const override { return m_notes; }

protected:
    void setupPairs(const MethodSetup &setup) override
    {
        if (m_pairs.size() != 1)
            throw Error("method \"crd\" distils one feature pair (it keeps a memory bank per side); "
                        "student_features and teacher_features must each name one feature, e.g. pre_logits");
        auto numel = [](const std::vector<std::int64_t> &s) {
            std::int64_t n = 1;
            for (auto d : s)
                n *= d;
            return n;
        };
        m_negatives.emplace("crd", setup.trainLabels, setup.trainSize, m_k);
        m_nData = setup.trainSize;
        m_notes.clear();
        if (!m_negatives->note().empty())
            m_notes.push_back(m_negatives->note());
        m_state = module().register_module(
            "crd", CrdState(numel(m_pairs[0].studentShape), numel(m_pairs[0].teacherShape), m_dim, m_nData));
    }
    /// The memory banks are buffers of trainableModule(); the sampler's pools are its own.
    void saveState(torch::serialize::OutputArchive &archive) override { m_negatives->save(archive); }
    void loadState(torch::serialize::InputArchive &archive) override { m_negatives->load(archive); }

    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &ctx) override
    {
        const auto &fs = s.get(m_pairs[0].student);
        const auto &ft = t.get(m_pairs[0].teacher);
        const auto n = fs.size(0);
        const auto [anchors, idx] = m_negatives->rows(ctx.indices, n, m_state->memoryStudent.device());
        const auto embS = l2Normalize(m_state->embedStudent->forward(fs.reshape({n, -1})));
        const auto embT = l2Normalize(m_state->embedTeacher->forward(ft.reshape({n, -1})));

        auto z = m_state->z.to(torch::kCPU);
        const auto scores = crdScores(embS, embT, m_state->memoryStudent, m_state->memoryTeacher, idx, m_t,
                                      z[0].item<double>(), z[1].item<double>(), m_nData);
        const auto loss = crdContrastLoss(scores.student, m_nData) + crdContrastLoss(scores.teacher, m_nData);
        {
            torch::NoGradGuard noGrad;
            m_state->z.copy_(torch::tensor({scores.zStudent, scores.zTeacher}, torch::kFloat64));
            m_state->memoryStudent.index_copy_(0, anchors, crdUpdatedRows(m_state->memoryStudent, embS, anchors, m_momentum));
            m_state->memoryTeacher.index_copy_(0, anchors, crdUpdatedRows(m_state->memoryTeacher, embT, anchors, m_momentum));
        }
        return {loss};
    }

private:
    int m_dim;
    std::int64_t m_k;
    double m_t, m_momentum;
    std::int64_t m_nData = 0;
    std::optional<BankNegatives> m_negatives;
    std::vector<std::string> m_notes;
    CrdState m_state{nullptr};
};

} // namespace

void registerCrdMethod(MethodRegistry &registry)
{
    registry.add(
        "crd",
        {"Contrastive representation distillation (Tian et al. ICLR 2020): CE + beta * NCE contrast between student "
         "and teacher embeddings with memory banks of the whole training set",
         true,
         featureMethodParams("pre_logits", "pre_logits", "that are embedded and contrasted (one of each)",
                             {ParamSpec::number("beta", 0.8, 0.0, 1000.0, "weight of the contrastive loss (RepDistiller: 0.8)"),
                              ParamSpec::integer("feat_dim", 128, 2, 4096, "dimension of the embedding heads (RepDistiller: 128)"),
                              ParamSpec::integer("nce_k", 16384, 1, 1000000,
                                                 "negatives per anchor, distinct images of other classes (RepDistiller: "
                                                 "16384); capped, with a logged note, to the images outside the largest "
                                                 "class"),
                              ParamSpec::number("nce_t", 0.07, 0.001, 10.0, "temperature of the contrastive scores (RepDistiller: 0.07)"),
                              ParamSpec::number("nce_momentum", 0.5, 0.0, 1.0,
                                                "momentum of the memory-bank update (RepDistiller: 0.5)")}),
         [](const nlohmann::json &p) { return std::make_unique<CrdMethod>(p); }});
}

} // namespace kd
