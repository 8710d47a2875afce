#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/Schedule.h"

namespace kd {

namespace {

/// One link of the teacher-assistant chain: Hinton KD as the authors' train.py
/// (TrainManager.train) computes it,
///   (1 − λ)·CE + λ·T²·KLDivLoss()(log_softmax(z_s/T), softmax(z_t/T)),
/// where nn.KLDivLoss()'s default reduction (PyTorch 1.0, "mean") averages over batch ×
/// classes: the batchmean KL divided by C. kl_reduction "batchmean" drops the 1/C (= kd).
class TakdMethod : public DistillationMethod {
public:
    explicit TakdMethod(const nlohmann::json &p)
        : m_temperature(ScheduledValue::fromParams(p, "temperature"))
        , m_alpha(ScheduledValue::fromParams(p, "alpha"))
        , m_meanOverClasses(p.at("kl_reduction").get<std::string>() == "mean")
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        const double alpha = m_alpha.at(ctx);
        const auto ce = crossEntropyLoss(s.logits(), labels);
        auto kd = hintonKdLoss(s.logits(), t->logits(), m_temperature.at(ctx));
        if (m_meanOverClasses)
            kd = kd / double(s.logits().size(1));
        return {(1.0 - alpha) * ce + alpha * kd, {{"ce", ce}, {"kd", kd}}};
    }

private:
    ScheduledValue m_temperature;
    ScheduledValue m_alpha;
    bool m_meanOverClasses;
};

} // namespace

/// Teacher-assistant KD (Mirzadeh et al., AAAI 2020). The chain teacher → assistant1 → … →
/// student is the experiment's stage plan (StagePlan.cpp); every link is the loss above, with
/// kd's parameters and schedules plus kl_reduction.
void registerTakdMethod(MethodRegistry &registry)
{
    if (!registry.contains("kd"))
        throw Error("register method \"kd\" before \"takd\": each link of the chain shares kd's parameters");
    auto params = registry.get("kd").params;
    for (auto &s : params)
        if (s.key == "temperature") {
            // The authors search T in {1, 2, 5, 10, 15, 20} (search_space.json); 5 is the member
            // nearest kd's 4.
            s.defaultValue = 5.0;
            s.help = "softmax temperature T (the start value when scheduled); the authors tune it over "
                     "{1, 2, 5, 10, 15, 20} per teacher/student pair";
        } else if (s.key == "alpha") {
            s.help = "lambda, the weight of the distillation term (the start value when scheduled); the authors "
                     "tune it over 0.05..1 in steps of 0.05; 1-lambda weighs the cross-entropy";
        }
    params.push_back(ParamSpec::choice("kl_reduction", "mean", {"mean", "batchmean"},
                                       "mean: the KL averaged over batch x classes, as the authors' nn.KLDivLoss() "
                                       "(their T and lambda assume it); batchmean: over the batch only, C times "
                                       "larger, as kd"));
    registry.add("takd", {"Teacher-assistant KD (Mirzadeh et al. 2020): a chain teacher -> assistants -> student "
                          "(project key \"assistants\"), each link KD as the authors' train.py (KL mean over "
                          "batch x classes by default)",
                          true, std::move(params),
                          [](const nlohmann::json &p) { return std::make_unique<TakdMethod>(p); }});
}

} // namespace kd
