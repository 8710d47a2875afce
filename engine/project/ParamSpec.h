#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace kd {

/// Declares one hyperparameter of an architecture or a KD method: its key in the project
/// file, type, default, allowed range and a one-line help text (shown as GUI tooltips and
/// by `kdw list`). Validation and GUI editors are generated from these declarations.
struct ParamSpec {
    enum class Type { Number, Integer, Bool, String, IntList };

    std::string key;
    Type type = Type::Number;
    nlohmann::json defaultValue;
    double minValue = 0.0;
    double maxValue = 0.0;
    std::string help;
    std::vector<std::string> choices; ///< for Type::String: allowed values (empty: any)
    /// What a free string names, so editors can offer the values that exist: feature names
    /// of the student or the teacher (a comma-separated list, "all" or "last").
    enum class Hint { None, StudentFeatures, TeacherFeatures };
    Hint hint = Hint::None;

    static ParamSpec number(std::string key, double def, double lo, double hi, std::string help);
    static ParamSpec integer(std::string key, long long def, long long lo, long long hi,
                             std::string help);
    static ParamSpec boolean(std::string key, bool def, std::string help);
    static ParamSpec choice(std::string key, std::string def, std::vector<std::string> choices,
                            std::string help);
    static ParamSpec intList(std::string key, std::vector<int> def, long long lo, long long hi,
                             std::string help);
    /// A free-string parameter naming student or teacher features.
    static ParamSpec features(std::string key, std::string def, Hint hint, std::string help);
};

/// Checks `values` (a JSON object) against `specs`: unknown keys, wrong types and
/// out-of-range values throw kd::Error naming `where` + key. Returns the object with every
/// declared key present (defaults filled in).
nlohmann::json resolveParams(const std::vector<ParamSpec> &specs, const nlohmann::json &values,
                             const std::string &where);

/// Human-readable type and range, e.g. "number in [0, 1]".
std::string describeRange(const ParamSpec &spec);

} // namespace kd
