#include "Registries.h"

#include "project/ProjectConfig.h"
#include "training/StagePlan.h"

#include <filesystem>

namespace kd {

Registries Registries::builtin()
{
    Registries r;
    registerBuiltinArchitectures(r.architectures);
    registerBuiltinMethods(r.methods);
    registerBuiltinDatasets(r.datasets);
    return r;
}

static void resolveModel(const ArchitectureRegistry &archs, ModelSpec &m, const std::string &role)
{
    if (!archs.contains(m.arch))
        throw Error(role + ".arch: unknown architecture \"" + m.arch + "\"; valid architectures: "
                    + archs.joinedNames());
    m.archOptions = resolveParams(archs.get(m.arch).params, m.archOptions, role + ".arch_options");
}

Project Registries::resolve(const Project &project) const
{
    // A Project built in code (the GUI's editors) gets every check a project file gets:
    // ranges, allowed words and cross-field rules such as nesterov with adam.
    Project p = Project::fromJson(project.toJson());
    if (!datasets.contains(p.dataset.name))
        throw Error("dataset.name: unknown dataset \"" + p.dataset.name + "\"; valid datasets: "
                    + datasets.joinedNames());
    if (!methods.contains(p.method.name))
        throw Error("method.name: unknown method \"" + p.method.name + "\"; valid methods: "
                    + methods.joinedNames());
    const auto &method = methods.get(p.method.name);
    p.method.params = resolveParams(method.params, p.method.params, "method");
    resolveModel(architectures, p.student, "student");
    if (method.needsTeacherWith(p.method.params) || !p.teacher.checkpoint.empty())
        resolveModel(architectures, p.teacher, "teacher");
    else if (architectures.contains(p.teacher.arch))
        p.teacher.archOptions = resolveParams(architectures.get(p.teacher.arch).params,
                                              p.teacher.archOptions, "teacher.arch_options");
    if (!p.teacher.checkpoint.empty()) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(p.teacher.checkpoint, ec))
            throw Error("teacher.checkpoint: file not found: " + p.teacher.checkpoint
                        + " (leave it empty to train the teacher)");
    }
    for (std::size_t i = 0; i < p.assistants.size(); ++i)
        resolveModel(architectures, p.assistants[i], "assistants[" + std::to_string(i) + "]");
    for (std::size_t i = 0; i < p.teachers.size(); ++i) {
        const std::string where = "teachers[" + std::to_string(i) + "]";
        resolveModel(architectures, p.teachers[i], where);
        std::error_code ec;
        if (!p.teachers[i].checkpoint.empty() && !std::filesystem::is_regular_file(p.teachers[i].checkpoint, ec))
            throw Error(where + ".checkpoint: file not found: " + p.teachers[i].checkpoint
                        + " (leave it empty to train this teacher)");
    }
    for (std::size_t i = 0; i < p.peers.size(); ++i)
        resolveModel(architectures, p.peers[i], "peers[" + std::to_string(i) + "]");
    if (p.hasProxy && !datasets.contains(p.proxy.name))
        throw Error("proxy.name: unknown dataset \"" + p.proxy.name + "\"; valid datasets: " + datasets.joinedNames());
    // The stage structure: refuses combinations such as takd without assistants.
    planStages(p, methods);
    return p;
}

} // namespace kd
