#include "MethodRegistry.h"

#include "DistillationMethod.h"
#include "Error.h"
#include "KdLosses.h"

namespace kd {

static const std::vector<std::int64_t> &shapeIn(const FeatureShapes &shapes, const std::string &name,
                                               const char *model)
{
    for (const auto &kv : shapes)
        if (kv.first == name)
            return kv.second;
    std::string names;
    for (const auto &kv : shapes)
        names += (names.empty() ? "" : ", ") + kv.first;
    throw Error(std::string("the ") + model + " has no feature \"" + name + "\"; it provides: " + names);
}

const std::vector<std::int64_t> &MethodSetup::studentShape(const std::string &name) const
{
    return shapeIn(student, name, "student");
}

const std::vector<std::int64_t> &MethodSetup::teacherShape(const std::string &name) const
{
    return shapeIn(teacher, name, "teacher");
}

namespace {

/// Plain supervised training: cross-entropy against the labels. The "from scratch" baseline.
class CrossEntropyMethod : public DistillationMethod {
public:
    bool needsTeacher() const override { return false; }
    std::vector<std::string> termNames() const override { return {"ce"}; }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels,
                      const StepContext &) override
    {
        auto ce = crossEntropyLoss(s.logits(), labels);
        return {ce, {{"ce", ce}}};
    }
};

/// Hinton KD: (1 − α)·CE + α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)).
class HintonKdMethod : public DistillationMethod {
public:
    explicit HintonKdMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"ce", "kd"}; }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &) override
    {
        auto ce = crossEntropyLoss(s.logits(), labels);
        auto kd = hintonKdLoss(s.logits(), t->logits(), m_temperature);
        return {(1.0 - m_alpha) * ce + m_alpha * kd, {{"ce", ce}, {"kd", kd}}};
    }

private:
    double m_temperature;
    double m_alpha;
};

} // namespace

void registerBuiltinMethods(MethodRegistry &registry)
{
    registry.add("ce", {"No distillation: cross-entropy on the labels (a student trained from scratch)",
                        false,
                        {},
                        [](const nlohmann::json &) { return std::make_unique<CrossEntropyMethod>(); }});
    registry.add("kd", {"Hinton KD (2015): (1-alpha)*CE + alpha*T^2*KL(teacher_T || student_T)",
                        true,
                        {ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                                           "softmax temperature T: higher values expose more of the "
                                           "teacher's dark knowledge (typical 2-8)"),
                         ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                                           "weight of the distillation term; 1-alpha weighs the "
                                           "cross-entropy on labels")},
                        [](const nlohmann::json &p) { return std::make_unique<HintonKdMethod>(p); }});
}

} // namespace kd
