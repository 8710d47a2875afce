#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "methods/StageMethods.h"

#include <sstream>

namespace kd {

DmcNormalisation parseDmcNormalisation(const std::string &name)
{
    if (name == "class_mean")
        return DmcNormalisation::ClassMean;
    if (name == "batch_mean")
        return DmcNormalisation::BatchMean;
    if (name == "none")
        return DmcNormalisation::None;
    throw Error("method \"dmc\": target_normalisation = \"" + name
                + "\" is unknown; choose \"class_mean\" (the paper), \"batch_mean\" or \"none\"");
}

torch::Tensor dmcLoss(const torch::Tensor &studentLogits, const torch::Tensor &oldLogits,
                      const torch::Tensor &newLogits, DmcNormalisation normalisation)
{
    if (studentLogits.dim() != 2 || oldLogits.dim() != 2 || newLogits.dim() != 2
        || oldLogits.size(0) != studentLogits.size(0) || newLogits.size(0) != studentLogits.size(0)
        || oldLogits.size(1) + newLogits.size(1) != studentLogits.size(1)) {
        std::ostringstream os;
        os << "DMC needs student logits [N, C_old + C_new] and teacher logits [N, C_old], [N, C_new]; got student "
           << studentLogits.sizes() << ", old " << oldLogits.sizes() << ", new " << newLogits.sizes();
        throw Error(os.str());
    }
    torch::Tensor target;
    switch (normalisation) {
    case DmcNormalisation::ClassMean:
        target = torch::cat({oldLogits - oldLogits.mean(1, true), newLogits - newLogits.mean(1, true)}, 1);
        break;
    case DmcNormalisation::BatchMean: {
        const auto raw = torch::cat({oldLogits, newLogits}, 1);
        target = raw - raw.mean(0, true);
        break;
    }
    case DmcNormalisation::None:
        target = torch::cat({oldLogits, newLogits}, 1);
        break;
    }
    return (studentLogits - target.detach()).pow(2).mean();
}

namespace {

/// Deep Model Consolidation (Zhang et al., WACV 2020): the student over all classes regresses
/// its logits onto the concatenated, mean-subtracted logits of the old-class and the
/// new-class teachers on auxiliary images (labels unused). The stage plan (StagePlan.cpp)
/// trains teacher_old on classes [0, k) and teacher_new on [k, C).
class DmcMethod : public DistillationMethod {
public:
    explicit DmcMethod(const nlohmann::json &p)
        : m_normalisation(parseDmcNormalisation(p.at("target_normalisation").get<std::string>()))
    {
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override { return {"dd"}; }
    std::vector<std::string> teacherFeatures() const override { return {"teacher_old.logits", "teacher_new.logits"}; }
    void setup(const MethodSetup &setup) override
    {
        const auto c = setup.studentShape("logits").at(0);
        const auto o = setup.teacherShape("teacher_old.logits").at(0);
        const auto n = setup.teacherShape("teacher_new.logits").at(0);
        if (o + n != c)
            throw Error("method \"dmc\": the student has " + std::to_string(c) + " outputs but the teachers "
                        + std::to_string(o) + " + " + std::to_string(n) + "; they must add up");
    }
    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &, const StepContext &) override
    {
        const auto dd = dmcLoss(s.logits(), t->get("teacher_old.logits"), t->get("teacher_new.logits"), m_normalisation);
        return {dd, {{"dd", dd}}};
    }

private:
    DmcNormalisation m_normalisation;
};

} // namespace

void registerDmcMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::integer("old_classes", 0, 0, 100000,
                           "classes 0..k-1 are the old task (teacher_old), k..C-1 the new one (teacher_new); "
                           "0: half of the classes, rounded down"),
        ParamSpec::integer("aux_limit", 0, 0, 1000000000,
                           "auxiliary data for the student: the first N training images, labels unused (0: all)"),
        ParamSpec::choice("target_normalisation", "class_mean", {"class_mean", "batch_mean", "none"},
                          "regression target: class_mean (the paper's eq. 4: each teacher's logits minus their mean "
                          "over its own classes, per image), batch_mean (FACIL's re-implementation: minus the "
                          "batch mean of each output) or none")};
    registry.add("dmc", {"Deep Model Consolidation (Zhang et al. 2020): old-class and new-class teachers, student "
                         "regresses onto their concatenated mean-subtracted logits on unlabelled images (L2)",
                         true, std::move(params),
                         [](const nlohmann::json &p) { return std::make_unique<DmcMethod>(p); }});
}

} // namespace kd
