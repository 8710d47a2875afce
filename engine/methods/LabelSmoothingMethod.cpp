#include "methods/BuiltinMethods.h"

#include "methods/ControlLosses.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"

namespace kd {

namespace {

/// Control "ls" (universe knowledge only; Tang et al. 2020, Sec. 3.1): KD whose soft target
/// is label smoothing of matched strength,
///   q = (1 − ρ)·onehot(y) + ρ/(C − 1) on every other class,
///   loss = (1 − α)·CE + α·T²·KL(q ‖ softmax(z_s/T)),
/// with ρ the teacher's mean non-target mass at T on the batch (epsilon = 0) or a fixed
/// epsilon. Same ρ for every example and class: no class relationships, no per-example
/// difficulty; what remains of KD is its regularisation towards a softer target.
class LabelSmoothingMethod : public DistillationMethod {
public:
    explicit LabelSmoothingMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
        , m_epsilon(p.at("epsilon").get<double>())
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "ls"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &) override
    {
        const auto &z = s.logits();
        const auto rho = m_epsilon > 0.0 ? torch::tensor(m_epsilon, z.options().dtype(torch::kFloat64))
                                         : meanNonTargetMass(t->logits(), labels, m_temperature);
        const auto q = uniformSmoothingTargets(labels, z.size(1), rho);
        const auto ce = crossEntropyLoss(z, labels);
        const auto ls = softTargetKdLoss(z, q, m_temperature);
        return {(1.0 - m_alpha) * ce + m_alpha * ls, {{"ce", ce}, {"ls", ls}}};
    }

private:
    double m_temperature;
    double m_alpha;
    double m_epsilon;
};

} // namespace

void registerLabelSmoothingMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                          "T: the teacher's non-target mass is measured at T and the smoothed target is matched at T "
                          "(use the kd run's T)"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the smoothing term (use the kd run's alpha); 1-alpha weighs the cross-entropy"),
        ParamSpec::number("epsilon", 0.0, 0.0, 0.999,
                          "0: matched to KD - the teacher's mean probability outside the labelled class at T on each "
                          "batch; > 0: this fixed mass on the other classes"),
    };
    registry.add("ls", {"Control (Tang et al. 2020): KD with the teacher replaced by label smoothing of matched "
                        "strength - isolates KD's 'universe' knowledge (is the gain just label smoothing?)",
                        true, std::move(params),
                        [](const nlohmann::json &p) { return std::make_unique<LabelSmoothingMethod>(p); }});
}

} // namespace kd
