#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/Schedule.h"

namespace kd {

namespace {

/// Hinton KD: (1 − α)·CE + α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)), with T and α
/// optionally scheduled over training (dynamic temperature, distillation-weight annealing).
class HintonKdMethod : public DistillationMethod {
public:
    explicit HintonKdMethod(const nlohmann::json &p)
        : m_temperature(ScheduledValue::fromParams(p, "temperature"))
        , m_alpha(ScheduledValue::fromParams(p, "alpha"))
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        const double alpha = m_alpha.at(ctx);
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto kd = hintonKdLoss(s.logits(), t->logits(), m_temperature.at(ctx));
        return {(1.0 - alpha) * ce + alpha * kd, {{"ce", ce}, {"kd", kd}}};
    }

private:
    ScheduledValue m_temperature;
    ScheduledValue m_alpha;
};

} // namespace

void registerHintonKdMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                          "softmax temperature T (the start value when scheduled): higher values expose more of the "
                          "teacher's dark knowledge (typical 2-8; Hinton et al. 2015)"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the distillation term (the start value when scheduled); 1-alpha weighs the "
                          "cross-entropy on labels")};
    for (auto &s : scheduleParams("temperature", {"constant", "linear", "cosine", "exponential"}, 1.0, 0.05, 100.0,
                                  "the temperature", "a dynamic temperature as in KDAS-ReID"))
        params.push_back(std::move(s));
    for (auto &s : scheduleParams("alpha", {"constant", "linear", "cosine"}, 0.0, 0.0, 1.0, "the distillation weight",
                                  "annealing as in Van Molle et al.'s sensor-transition KD"))
        params.push_back(std::move(s));
    registry.add("kd", {"Hinton KD (2015): (1-alpha)*CE + alpha*T^2*KL(teacher_T || student_T); T and alpha "
                        "may follow a schedule",
                        true, std::move(params),
                        [](const nlohmann::json &p) { return std::make_unique<HintonKdMethod>(p); }});
}

} // namespace kd
