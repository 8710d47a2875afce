#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"

namespace kd {

namespace {

/// Hinton KD against an averaged ensemble. The teacher the trainer hands in is a
/// TeacherGroup in Average mode whose "logits" are T·log((1/N)·Σ softmax(z_i/T)) at this
/// method's T, so KD at T against them is KD against the mean of the teachers' softened
/// probabilities: (1 − α)·CE + α·T²·KL(p̄^T ‖ p_s^T). Those logits are what the cache holds.
class EnsembleMethod : public DistillationMethod {
public:
    explicit EnsembleMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &) override
    {
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto kd = hintonKdLoss(s.logits(), t->logits(), m_temperature);
        return {(1.0 - m_alpha) * ce + m_alpha * kd, {{"ce", ce}, {"kd", kd}}};
    }

private:
    double m_temperature;
    double m_alpha;
};

} // namespace

void registerEnsembleMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                          "softmax temperature T at which the teachers' probabilities are averaged and the student "
                          "is distilled"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the distillation term; 1-alpha weighs the cross-entropy on labels")};
    registry.add("ensemble",
                 {"Averaged ensemble KD: Hinton KD against the mean of the teachers' softened probabilities at T "
                  "(project key \"teachers\", at least 2)",
                  true, std::move(params),
                  [](const nlohmann::json &p) { return std::make_unique<EnsembleMethod>(p); }});
}

} // namespace kd
