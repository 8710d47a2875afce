#include "methods/MethodRegistry.h"

#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "methods/KdLosses.h"
#include "methods/BuiltinMethods.h"

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

} // namespace

void registerBuiltinMethods(MethodRegistry &registry)
{
    registry.add("ce", {"No distillation: cross-entropy on the labels (a student trained from scratch)",
                        false,
                        {},
                        [](const nlohmann::json &) { return std::make_unique<CrossEntropyMethod>(); }});
    registerHintonKdMethod(registry);
    registerDkdMethod(registry);
    registerFitNetMethod(registry);
    registerAttentionTransferMethod(registry);
    registerSimilarityPreservingMethod(registry);
    registerRkdMethod(registry);
    registerPktMethod(registry);
    registerNstMethod(registry);
    registerVidMethod(registry);
    registerCrdMethod(registry);
    registerOfdMethod(registry);
    registerSrmMethod(registry);
    registerSrmLiteMethod(registry);
    registerLondonMethod(registry);
    registerIekdMethod(registry);
    registerTakdMethod(registry);
    registerEnsembleMethod(registry);
    registerRcMethod(registry);
    registerDmcMethod(registry);
    registerArdMethod(registry);
    registerLabelSmoothingMethod(registry);
    registerKdPtMethod(registry);
    registerKdSimMethod(registry);
    registerDmlMethod(registry);
    registerAfdMethod(registry);
    registerOneMethod(registry);
    registerFflMethod(registry);
    registerOkddipMethod(registry);
    registerPclMethod(registry);
    registerMclMethod(registry);
    registerStudentEnsembleMethod(registry);
}

} // namespace kd
