// The project parser with --set overrides: JSON text (section 1) and one override per line
// (section 2) through parseJsonText, applyOverrides, Project::fromJson, the registries'
// resolve() and planStages() — what `kdw run PROJECT --set ...` does before training.
#include "FuzzSupport.h"

#include "project/ChoiceChange.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/StagePlan.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static const kd::Registries registries = kd::Registries::builtin();
    const auto parts = kd::fuzz::sections(data, size, 2);
    std::vector<std::string> overrides;
    std::istringstream lines(parts[1]);
    for (std::string line; std::getline(lines, line) && overrides.size() < 16;)
        if (!line.empty())
            overrides.push_back(line);
    kd::fuzz::expectOnlyKdErrors([&] {
        auto json = kd::parseJsonText(parts[0], "fuzz.json");
        kd::applyOverrides(json, overrides, registries);
        const auto project = registries.resolve(kd::Project::fromJson(json));
        kd::planStages(project, registries.methods);
        // The resolved project must read back as itself.
        if (kd::Project::fromJson(project.toJson()).toJson() != project.toJson())
            std::abort();
    });
    return 0;
}
