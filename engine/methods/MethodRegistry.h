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
};

using MethodRegistry = Registry<MethodEntry>;

void registerBuiltinMethods(MethodRegistry &registry);

} // namespace kd
