#pragma once

#include "project/ParamSpec.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace kd {

struct Registries;

/// What happens to a set of options when the choice they belong to (an architecture, a
/// method) changes: keys that the new choice declares stay (the new choice checks their
/// values), keys that only the previous choice declared are dropped, one note each, and keys
/// that neither declares stay so that validation still reports them as unknown. The same rule
/// serves `kdw run --set` and the GUI's architecture and method pickers.
///
/// `values`: the options (a JSON object; anything else is left alone). `where`: their path in
/// the project ("student.arch_options", "method"), used in the notes. `isExplicit(key)`: keys
/// the user gave together with the new choice; they are never dropped, so a wrong one is still
/// an error. Returns the notes, e.g. `student.arch_options.hidden = [128] dropped: an option
/// of architecture "mlp", not of "resnet8"`, and one for each carried-over value that differs
/// from the new choice's default (a shared name may mean something else there).
std::vector<std::string> dropStaleOptions(nlohmann::json &values, const std::vector<ParamSpec> &previous,
                                          const std::vector<ParamSpec> &next, const std::string &where,
                                          const std::string &kind, const std::string &previousName,
                                          const std::string &nextName,
                                          const std::function<bool(const std::string &key)> &isExplicit = {});

/// Applies `dotted.path=value` assignments (applyOverride()) to a project document, in order.
/// Where they change `teacher.arch`, `student.arch` or `method.name`, options of the previous
/// choice that the new one does not declare are dropped (dropStaleOptions()) unless an
/// assignment gives them (the key itself or an object above it). Unknown names are left for
/// Registries::resolve() to report. Returns one note per dropped option.
std::vector<std::string> applyOverrides(nlohmann::json &doc, const std::vector<std::string> &assignments,
                                        const Registries &registries);

} // namespace kd
