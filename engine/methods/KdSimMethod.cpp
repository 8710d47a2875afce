#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/ControlLosses.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"

#include <sstream>

namespace kd {

namespace {

/// The teacher's logit layer: the last Linear module mapping pre_logits [D] to the C logits.
/// Checked against the batch (logits = pre_logits·Wᵀ + b), so an architecture whose logits
/// come from anything else is refused rather than misread.
torch::Tensor logitLayerWeights(FeatureNet &teacher, const Features &features)
{
    const auto &pre = features.get("pre_logits");
    const auto &logits = features.logits();
    if (pre.dim() != 2)
        throw Error("kd_sim reads the teacher's logit-layer weights, but its pre_logits are not a vector per image");
    torch::nn::LinearImpl *head = nullptr;
    for (const auto &m : teacher.modules(/*include_self=*/false))
        if (auto *lin = m->as<torch::nn::Linear>())
            if (lin->weight.size(0) == logits.size(1) && lin->weight.size(1) == pre.size(1))
                head = lin;
    if (head) {
        torch::NoGradGuard noGrad;
        auto expect = pre.matmul(head->weight.t());
        if (head->bias.defined())
            expect = expect + head->bias;
        const double scale = logits.abs().max().item<double>() + 1.0;
        if ((expect - logits).abs().max().item<double>() <= 1e-3 * scale)
            return head->weight.detach().clone();
    }
    std::ostringstream os;
    os << "kd_sim needs a teacher whose logits are a linear layer of its pre_logits (" << pre.size(1) << " -> "
       << logits.size(1) << "); this teacher's are not; use kd_pt or ls for this teacher";
    throw Error(os.str());
}

/// Control "kd_sim" (Tang et al. 2020, KD-sim): KD from a target built from class
/// relationships alone, the cosine similarities of the teacher's logit-layer weights,
///   S[y] = softmax_{c ≠ y}(cos(w_y, w_c)/τ),  q = (1 − ρ)·onehot(y) + ρ·S[y],
///   loss = (1 − α)·CE + α·T²·KL(q ‖ softmax(z_s/T)),
/// with ρ matched as in "ls". Every example of a class gets the same target: domain knowledge
/// without instance-level knowledge.
class KdSimMethod : public DistillationMethod {
public:
    explicit KdSimMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
        , m_tau(p.at("similarity_temperature").get<double>())
        , m_epsilon(p.at("epsilon").get<double>())
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd_sim"}; }
    // pre_logits too: the weights are checked against them, and a method that reads more than
    // logits gets the live teacher (StepContext::teacher), not the logit cache.
    std::vector<std::string> teacherFeatures() const override { return {"pre_logits", "logits"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        const auto &z = s.logits();
        if (!m_shapes.defined()) {
            if (!ctx.teacher)
                throw Error("kd_sim needs the teacher model itself (its logit-layer weights), not cached outputs");
            m_shapes = weightSimilarityShapes(logitLayerWeights(*ctx.teacher, *t), m_tau).to(z.device());
        }
        const auto rho = m_epsilon > 0.0 ? torch::tensor(m_epsilon, z.options().dtype(torch::kFloat64))
                                         : meanNonTargetMass(t->logits(), labels, m_temperature);
        const auto q = similarityTargets(m_shapes, labels.to(z.device()), rho);
        const auto ce = crossEntropyLoss(z, labels);
        const auto kd = softTargetKdLoss(z, q, m_temperature);
        return {(1.0 - m_alpha) * ce + m_alpha * kd, {{"ce", ce}, {"kd_sim", kd}}};
    }

private:
    double m_temperature;
    double m_alpha;
    double m_tau;
    double m_epsilon;
    torch::Tensor m_shapes; // [C, C], from the frozen teacher at the first step
};

} // namespace

void registerKdSimMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                          "T of the student's softmax and of the teacher's measured non-target mass (use the kd run's T)"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the distillation term (use the kd run's alpha); 1-alpha weighs the cross-entropy"),
        ParamSpec::number("similarity_temperature", 0.25, 0.001, 100.0,
                          "tau: how sharply the other classes' share follows the cosine similarity of their "
                          "logit-layer weights (smaller: more on the most similar classes)"),
        ParamSpec::number("epsilon", 0.0, 0.0, 0.999,
                          "0: the other classes' total mass matched to KD (the teacher's mean non-target mass at T on "
                          "each batch); > 0: this fixed mass"),
    };
    registry.add("kd_sim", {"Control (Tang et al. 2020, KD-sim): KD with a per-class target from the similarity of "
                            "the teacher's logit-layer weights - keeps class relationships, removes instance-level "
                            "knowledge",
                            true, std::move(params),
                            [](const nlohmann::json &p) { return std::make_unique<KdSimMethod>(p); }});
}

} // namespace kd
