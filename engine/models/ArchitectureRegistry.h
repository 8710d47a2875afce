#pragma once

#include "models/InputShape.h"
#include "project/ParamSpec.h"
#include "project/Registry.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace kd {

class FeatureNet;

/// An architecture known by name. The factory receives options already resolved against
/// `params` (every key present, ranges checked).
struct ArchitectureEntry {
    std::string description;
    std::vector<ParamSpec> params;
    std::function<std::shared_ptr<FeatureNet>(const nlohmann::json &options, const InputShape &input,
                                              int numClasses)>
        create;
};

using ArchitectureRegistry = Registry<ArchitectureEntry>;

void registerBuiltinArchitectures(ArchitectureRegistry &registry);

/// Facts about one configured architecture, computed by building it on the CPU.
struct ArchitectureInfo {
    std::int64_t params = 0;
    /// Multiply-accumulates of one forward pass of one image: convolutions and Linear layers
    /// (BatchNorm, activations, pooling and additions are not counted).
    std::int64_t macs = 0;
    std::vector<std::pair<std::string, std::string>> features; ///< name → shape "CxHxW" or "D"
};

ArchitectureInfo describeArchitecture(const ArchitectureRegistry &registry, const std::string &name,
                                      const nlohmann::json &options, const InputShape &input,
                                      int numClasses);

} // namespace kd
