#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "methods/KdLosses.h"
#include "methods/StageAwareMethod.h"
#include "methods/StageMethods.h"

#include <torch/autograd.h>

#include <cmath>

namespace kd {

PgdOptions PgdOptions::fromPixels(double epsilon, double stepSize, int steps, bool randomStart,
                                  const std::vector<float> &mean, const std::vector<float> &stddev,
                                  const torch::Device &device)
{
    if (mean.empty() || mean.size() != stddev.size())
        throw Error("PGD needs the per-channel mean and std of the data normalisation");
    const auto c = std::int64_t(mean.size());
    const auto m = torch::tensor(mean, torch::kFloat32).view({1, c, 1, 1});
    const auto s = torch::tensor(stddev, torch::kFloat32).view({1, c, 1, 1});
    PgdOptions o;
    o.epsilon = (epsilon / s).to(device);
    o.stepSize = (stepSize / s).to(device);
    o.lower = ((0.0 - m) / s).to(device);
    o.upper = ((1.0 - m) / s).to(device);
    o.steps = steps;
    o.randomStart = randomStart;
    return o;
}

torch::Tensor pgdAttack(FeatureNet &model, const torch::Tensor &images, const torch::Tensor &labels,
                        const PgdOptions &o)
{
    torch::AutoGradMode enableGrad(true);
    const auto x0 = images.detach();
    auto x = x0;
    if (o.randomStart)
        x = x0 + (torch::rand_like(x0) * 2.0 - 1.0) * o.epsilon;
    x = torch::minimum(torch::maximum(x, o.lower), o.upper).detach();
    for (int i = 0; i < o.steps; ++i) {
        x.requires_grad_(true);
        const auto loss = torch::nn::functional::cross_entropy(
            model.forwardFeatures(x).logits(), labels,
            torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
        const auto grad = torch::autograd::grad({loss}, {x})[0];
        x = x.detach() + o.stepSize * grad.sign();
        x = torch::minimum(torch::maximum(x, x0 - o.epsilon), x0 + o.epsilon);
        x = torch::minimum(torch::maximum(x, o.lower), o.upper);
    }
    return x.detach();
}

double robustAccuracy(FeatureNet &model, const TensorDataset &set, const torch::Device &device, int batchSize,
                      const PgdOptions &options, std::int64_t limit)
{
    const auto n = limit > 0 ? std::min(limit, set.size()) : set.size();
    if (n == 0)
        return NAN;
    const bool wasTraining = model.is_training();
    model.eval();
    std::int64_t robust = 0;
    for (std::int64_t i = 0; i < n; i += batchSize) {
        const auto len = std::min<std::int64_t>(batchSize, n - i);
        const auto x = set.rows(i, len).to(device);
        const auto y = set.labels.narrow(0, i, len).to(device);
        const auto adv = pgdAttack(model, x, y, options);
        torch::NoGradGuard noGrad;
        const auto clean = model.forwardFeatures(x).logits().argmax(1).eq(y);
        const auto attacked = model.forwardFeatures(adv).logits().argmax(1).eq(y);
        robust += clean.logical_and(attacked).sum().item<std::int64_t>();
    }
    model.train(wasTraining);
    return double(robust) / double(n);
}

namespace {

/// Adversarially Robust Distillation (Goldblum et al., AAAI 2020; the authors' main.py):
///   x_adv = PGD on CE(student(x), y) from a random start in the ε-ball (student in train mode)
///   loss  = α·T²·KL(p_t^T(x) ‖ p_s^T(x_adv)) / C + (1 − α)·CE(student(x), y)
/// (KL summed over classes and averaged over the batch, then divided by the C classes: the
/// authors' nn.KLDivLoss() mean; kl_reduction = batchmean drops the 1/C.) The teacher sees only clean images, so its cached logits serve. Logs "robust_acc" (PGD on
/// the test set, eval mode) beside the clean accuracy at every epoch.
class ArdMethod : public DistillationMethod, public StageAwareMethod {
public:
    explicit ArdMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
        , m_epsilon(p.at("epsilon").get<double>())
        , m_step(p.at("step_size").get<double>())
        , m_steps(p.at("steps").get<int>())
        , m_randomStart(p.at("random_start").get<bool>())
        , m_evalLimit(p.at("robust_eval_limit").get<std::int64_t>())
        , m_meanOverClasses(p.at("kl_reduction").get<std::string>() == "mean")
    {
    }
    void configureStage(const StageInfo &info) override
    {
        m_mean = info.mean;
        m_std = info.stddev;
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd"}; }
    void setup(const MethodSetup &setup) override { m_options = options(setup.device); }

    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        if (!ctx.student || !ctx.inputs.defined())
            throw Error("method \"ard\" needs the batch's inputs and the student (StepContext) to attack it");
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto adv = pgdAttack(*ctx.student, ctx.inputs, labels, optionsOn(ctx.inputs.device()));
        const auto advLogits = ctx.student->forwardFeatures(adv).logits();
        auto kd = hintonKdLoss(advLogits, t->logits(), m_temperature);
        if (m_meanOverClasses) // the authors' nn.KLDivLoss(): mean over batch x classes
            kd = kd / double(advLogits.size(1));
        return {m_alpha * kd + (1.0 - m_alpha) * ce, {{"ce", ce}, {"kd", kd}}};
    }

    std::vector<std::string> extraMetrics() const override { return {"robust_acc"}; }
    double evaluateExtra(const std::string &name, FeatureNet &model, const TensorDataset &set,
                         const torch::Device &device, int batchSize) override
    {
        if (name != "robust_acc")
            return NAN;
        return robustAccuracy(model, set, device, batchSize, optionsOn(device), m_evalLimit);
    }

private:
    PgdOptions options(const torch::Device &device) const
    {
        if (m_mean.empty())
            throw Error("method \"ard\" was not told the data normalisation (StageAwareMethod::configureStage)");
        return PgdOptions::fromPixels(m_epsilon, m_step, m_steps, m_randomStart, m_mean, m_std, device);
    }
    const PgdOptions &optionsOn(const torch::Device &device)
    {
        if (!m_options.epsilon.defined() || m_options.epsilon.device() != device)
            m_options = options(device);
        return m_options;
    }

    double m_temperature, m_alpha, m_epsilon, m_step;
    int m_steps;
    bool m_randomStart;
    std::int64_t m_evalLimit;
    bool m_meanOverClasses = true;
    std::vector<float> m_mean, m_std;
    PgdOptions m_options;
};

} // namespace

void registerArdMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 30.0, 0.05, 100.0, "softmax temperature T (the authors' default 30)"),
        ParamSpec::number("alpha", 1.0, 0.0, 1.0,
                          "weight of the adversarial KD term; 1-alpha weighs the clean cross-entropy (authors: 1)"),
        ParamSpec::number("epsilon", 8.0 / 255.0, 0.0, 1.0,
                          "L-infinity radius of the PGD attack in pixel units (images in [0, 1]); divided by the "
                          "dataset std per channel"),
        ParamSpec::number("step_size", 2.0 / 255.0, 0.0, 1.0, "PGD step in pixel units"),
        ParamSpec::integer("steps", 10, 0, 1000, "PGD iterations for training and for robust accuracy"),
        ParamSpec::boolean("random_start", true, "start PGD from a uniform point in the epsilon-ball"),
        ParamSpec::integer("robust_eval_limit", 1000, 0, 1000000000,
                           "robust accuracy is measured on the first N test images each epoch (0: all)"),
        ParamSpec::choice("kl_reduction", "mean", {"mean", "batchmean"},
                          "mean: the KL is averaged over batch x classes, as the authors' nn.KLDivLoss() (their T "
                          "and alpha assume it); batchmean: over the batch only, C times larger, as kd")};
    registry.add("ard", {"Adversarially Robust Distillation (Goldblum et al. 2020): KD from the teacher's clean "
                         "outputs to the student's PGD examples; logs robust_acc",
                         true, std::move(params),
                         [](const nlohmann::json &p) { return std::make_unique<ArdMethod>(p); }});
}

} // namespace kd
