#include "methods/BuiltinMethods.h"

#include "methods/ControlLosses.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"

namespace kd {

namespace {

/// Control "kd_pt" (Tang et al. 2020, KD-pt): KD from a target that keeps only the teacher's
/// confidence on each example's label,
///   q_y = p_y,  q_c = (1 − p_y)/(C − 1) for c ≠ y,  p = softmax(z_t/T)       (non_target "uniform")
///   loss = (1 − α)·CE + α·T²·KL(q ‖ softmax(z_s/T)).
/// Each example keeps the teacher's confidence on its label (its difficulty: instance-level
/// knowledge, which rescales the per-example gradient); which other classes are similar
/// (domain knowledge) is gone. non_target "permuted" instead shuffles the teacher's non-target
/// probabilities per example (fresh each step), which also keeps their spread.
class KdPtMethod : public DistillationMethod {
public:
    explicit KdPtMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
        , m_permuted(p.at("non_target").get<std::string>() == "permuted")
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd_pt"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &) override
    {
        const auto &z = s.logits();
        torch::Tensor q;
        {
            torch::NoGradGuard noGrad;
            const auto p = torch::softmax(t->logits().detach() / m_temperature, 1);
            // The experiment's seeded generator: the shuffles repeat with the run's seed.
            q = m_permuted ? permutedTeacherTargets(p, labels, torch::rand(p.sizes(), p.options()))
                           : confidenceTargets(p, labels);
        }
        const auto ce = crossEntropyLoss(z, labels);
        const auto kd = softTargetKdLoss(z, q, m_temperature);
        return {(1.0 - m_alpha) * ce + m_alpha * kd, {{"ce", ce}, {"kd_pt", kd}}};
    }

private:
    double m_temperature;
    double m_alpha;
    bool m_permuted;
};

} // namespace

void registerKdPtMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0, "softmax temperature T (use the kd run's T)"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the distillation term (use the kd run's alpha); 1-alpha weighs the cross-entropy"),
        ParamSpec::choice("non_target", "uniform", {"uniform", "permuted"},
                          "uniform: the paper's KD-pt, 1 - p_y spread evenly over the other classes; permuted: the "
                          "teacher's non-target probabilities shuffled per example (keeps their spread)"),
    };
    registry.add("kd_pt", {"Control (Tang et al. 2020, KD-pt): KD from the teacher's probability on the label "
                           "only, the rest spread evenly - keeps instance-level knowledge (confidence), removes "
                           "class relationships",
                           true, std::move(params),
                           [](const nlohmann::json &p) { return std::make_unique<KdPtMethod>(p); }});
}

} // namespace kd
