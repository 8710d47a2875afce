#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/Schedule.h"

#include <algorithm>

namespace kd {

namespace {

/// Decoupled KD (Zhao et al., CVPR 2022), as mdistiller's DKD distiller:
///   ce_weight·CE + min(epoch / warmup_epochs, 1)·(α·TCKD + β·NCKD)
/// with `epoch` 1-based (the ramp reaches 1 at the end of the warm-up). T, α and β may follow
/// a schedule over training like the Hinton KD method's.
class DkdMethod : public DistillationMethod {
public:
    explicit DkdMethod(const nlohmann::json &p)
        : m_ceWeight(p.at("ce_weight").get<double>())
        , m_alpha(ScheduledValue::fromParams(p, "alpha"))
        , m_beta(ScheduledValue::fromParams(p, "beta"))
        , m_temperature(ScheduledValue::fromParams(p, "temperature"))
        , m_warmup(p.at("warmup_epochs").get<int>())
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "tckd", "nckd"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto dkd = dkdLoss(s.logits(), t->logits(), labels, m_temperature.at(ctx));
        const double ramp = m_warmup > 0 ? std::min(double(ctx.epoch) / double(m_warmup), 1.0) : 1.0;
        const auto total = m_ceWeight * ce + ramp * (m_alpha.at(ctx) * dkd.tckd + m_beta.at(ctx) * dkd.nckd);
        return {total, {{"ce", ce}, {"tckd", dkd.tckd}, {"nckd", dkd.nckd}}};
    }

private:
    double m_ceWeight;
    ScheduledValue m_alpha, m_beta, m_temperature;
    int m_warmup;
};

} // namespace

void registerDkdMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("alpha", 1.0, 0.0, 100.0,
                          "weight of TCKD, the KL between the binary target/non-target probabilities "
                          "(Zhao et al. 2022, mdistiller default 1)"),
        ParamSpec::number("beta", 8.0, 0.0, 100.0,
                          "weight of NCKD, the KL among the non-target classes (mdistiller: 8 on CIFAR-100; "
                          "larger for stronger teachers)"),
        ParamSpec::number("temperature", 4.0, 0.05, 100.0, "softmax temperature T of both parts (mdistiller 4)"),
        ParamSpec::integer("warmup_epochs", 20, 0, 100000,
                           "the DKD weight ramps linearly as min(epoch / N, 1) over the first N epochs "
                           "(mdistiller 20; 0 = no warm-up)"),
        ParamSpec::number("ce_weight", 1.0, 0.0, 1000.0, "weight of the cross-entropy on the labels")};
    for (auto &s : scheduleParams("alpha", {"constant", "linear", "cosine"}, 0.0, 0.0, 100.0, "the TCKD weight",
                                  "distillation-weight annealing as in Van Molle et al."))
        params.push_back(std::move(s));
    for (auto &s : scheduleParams("beta", {"constant", "linear", "cosine"}, 0.0, 0.0, 100.0, "the NCKD weight",
                                  "distillation-weight annealing as in Van Molle et al."))
        params.push_back(std::move(s));
    for (auto &s : scheduleParams("temperature", {"constant", "linear", "cosine", "exponential"}, 1.0, 0.05, 100.0,
                                  "the temperature", "a dynamic temperature as in KDAS-ReID"))
        params.push_back(std::move(s));
    registry.add("dkd", {"Decoupled KD (Zhao et al. CVPR 2022): CE + warm-up * (alpha*TCKD + beta*NCKD), target and "
                         "non-target parts of the KD loss weighted separately",
                         true, std::move(params),
                         [](const nlohmann::json &p) { return std::make_unique<DkdMethod>(p); }});
}

} // namespace kd
