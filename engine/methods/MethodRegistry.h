#pragma once

#include "project/ParamSpec.h"
#include "project/Registry.h"

#include <functional>
#include <memory>

namespace kd {

class DistillationMethod;

/// A KD method known by name, with its hyperparameters (defaults, ranges, help text).
struct MethodEntry {
    std::string description;
    bool needsTeacher = true;
    std::vector<ParamSpec> params;
    std::function<std::unique_ptr<DistillationMethod>(const nlohmann::json &params)> create;
    /// An online method: the project's `peers` train together as one cohort, each learning
    /// from the others' outputs of the same step (StepContext::cohort); no teacher.
    bool online = false;
    /// A teacher → student method whose parameters can make it an online one (IE-KD's mutual
    /// form, `mutual`: true): true for the (resolved) parameters that train a cohort. Null:
    /// `online` alone decides.
    std::function<bool(const nlohmann::json &params)> onlineWhen;

    bool isOnline(const nlohmann::json &params) const { return online || (onlineWhen && onlineWhen(params)); }
    bool needsTeacherWith(const nlohmann::json &params) const { return needsTeacher && !isOnline(params); }
};

using MethodRegistry = Registry<MethodEntry>;

void registerBuiltinMethods(MethodRegistry &registry);

} // namespace kd
