#include "ChoiceChange.h"

#include "project/ProjectConfig.h"
#include "project/Registries.h"

#include <algorithm>

namespace kd {

static bool declares(const std::vector<ParamSpec> &specs, const std::string &key)
{
    return std::any_of(specs.begin(), specs.end(), [&](const ParamSpec &s) { return s.key == key; });
}

std::vector<std::string> dropStaleOptions(nlohmann::json &values, const std::vector<ParamSpec> &previous,
                                          const std::vector<ParamSpec> &next, const std::string &where,
                                          const std::string &kind, const std::string &previousName,
                                          const std::string &nextName,
                                          const std::function<bool(const std::string &key)> &isExplicit)
{
    std::vector<std::string> notes;
    if (!values.is_object())
        return notes;
    std::vector<std::string> stale;
    for (auto it = values.begin(); it != values.end(); ++it) {
        const auto &key = it.key();
        if (!declares(previous, key) || (isExplicit && isExplicit(key)))
            continue;
        // Only options that belonged to the previous choice go: a key neither choice knows is a
        // mistake the user should hear about, and an explicit one is what the user asked for.
        const auto spec = std::find_if(next.begin(), next.end(), [&](const ParamSpec &s) { return s.key == key; });
        if (spec == next.end())
            stale.push_back(key);
        else if (it.value() != spec->defaultValue)
            // A shared name may mean something else to the new choice (kd's alpha is not dkd's):
            // say that the value carried over.
            notes.push_back(where + "." + key + " = " + it.value().dump() + " kept: " + kind + " \"" + nextName
                            + "\" has this option too (its default: " + spec->defaultValue.dump() + ")");
    }
    for (const auto &key : stale) {
        notes.push_back(where + "." + key + " = " + values.at(key).dump() + " dropped: an option of " + kind + " \""
                        + previousName + "\", not of \"" + nextName + "\"");
        values.erase(key);
    }
    return notes;
}

namespace {

std::string assignmentPath(const std::string &assignment)
{
    return assignment.substr(0, assignment.find('='));
}

/// A string member of doc[section], or `fallback` when it is absent or not a string.
std::string nameAt(const nlohmann::json &doc, const std::string &section, const std::string &key,
                   const std::string &fallback)
{
    if (!doc.is_object() || !doc.contains(section) || !doc.at(section).is_object())
        return fallback;
    const auto &s = doc.at(section);
    return s.contains(key) && s.at(key).is_string() ? s.at(key).get<std::string>() : fallback;
}

} // namespace

std::vector<std::string> applyOverrides(nlohmann::json &doc, const std::vector<std::string> &assignments,
                                        const Registries &registries)
{
    const Project defaults;
    struct Choice {
        std::string section;  // "teacher", "student", "method"
        std::string key;      // "arch" or "name"
        std::string options;  // path of the options: "teacher.arch_options" or "method"
        std::string fallback; // the project's default choice when the file names none
        std::string before;
    };
    std::vector<Choice> choices{{"teacher", "arch", "teacher.arch_options", defaults.teacher.arch, {}},
                                {"student", "arch", "student.arch_options", defaults.student.arch, {}},
                                {"method", "name", "method", defaults.method.name, {}}};
    for (auto &c : choices)
        c.before = nameAt(doc, c.section, c.key, c.fallback);

    std::vector<std::string> paths;
    for (const auto &a : assignments) {
        applyOverride(doc, a);
        paths.push_back(assignmentPath(a));
    }

    std::vector<std::string> notes;
    for (const auto &c : choices) {
        const std::string after = nameAt(doc, c.section, c.key, c.fallback);
        if (after == c.before)
            continue;
        const bool arch = c.key == "arch";
        const std::vector<ParamSpec> *previous = nullptr, *next = nullptr;
        if (arch && registries.architectures.contains(c.before) && registries.architectures.contains(after)) {
            previous = &registries.architectures.get(c.before).params;
            next = &registries.architectures.get(after).params;
        } else if (!arch && registries.methods.contains(c.before) && registries.methods.contains(after)) {
            previous = &registries.methods.get(c.before).params;
            next = &registries.methods.get(after).params;
        }
        if (!previous)
            continue; // an unknown name: resolve() reports it
        auto &section = doc[c.section];
        nlohmann::json *values = arch ? (section.contains("arch_options") ? &section["arch_options"] : nullptr)
                                      : &section;
        if (!values)
            continue;
        auto isExplicit = [&](const std::string &key) {
            const std::string full = c.options + "." + key;
            return std::any_of(paths.begin(), paths.end(), [&](const std::string &p) {
                return p == full || full.compare(0, p.size() + 1, p + ".") == 0;
            });
        };
        // "method.name" is the choice itself; no method declares it, so it is never dropped.
        for (auto &n : dropStaleOptions(*values, *previous, *next, c.options, arch ? "architecture" : "method",
                                        c.before, after, isExplicit))
            notes.push_back(std::move(n));
    }
    return notes;
}

} // namespace kd
