#include "ParamSpec.h"

#include "core/Error.h"

#include <cmath>
#include <sstream>

namespace kd {

ParamSpec ParamSpec::number(std::string key, double def, double lo, double hi, std::string help)
{
    return {std::move(key), Type::Number, def, lo, hi, std::move(help), {}};
}

ParamSpec ParamSpec::integer(std::string key, long long def, long long lo, long long hi,
                             std::string help)
{
    return {std::move(key), Type::Integer, def, double(lo), double(hi), std::move(help), {}};
}

ParamSpec ParamSpec::boolean(std::string key, bool def, std::string help)
{
    return {std::move(key), Type::Bool, def, 0, 1, std::move(help), {}};
}

ParamSpec ParamSpec::choice(std::string key, std::string def, std::vector<std::string> choices,
                            std::string help)
{
    return {std::move(key), Type::String, def, 0, 0, std::move(help), std::move(choices)};
}

ParamSpec ParamSpec::intList(std::string key, std::vector<int> def, long long lo, long long hi,
                             std::string help)
{
    return {std::move(key), Type::IntList, def, double(lo), double(hi), std::move(help), {}};
}

ParamSpec ParamSpec::features(std::string key, std::string def, Hint hint, std::string help)
{
    ParamSpec s{std::move(key), Type::String, std::move(def), 0, 0, std::move(help), {}};
    s.hint = hint;
    return s;
}

static std::string formatNumber(double v)
{
    std::ostringstream os;
    os << v;
    return os.str();
}

std::string describeRange(const ParamSpec &spec)
{
    switch (spec.type) {
    case ParamSpec::Type::Number:
        return "a number in [" + formatNumber(spec.minValue) + ", " + formatNumber(spec.maxValue) + "]";
    case ParamSpec::Type::Integer:
        return "an integer in [" + formatNumber(spec.minValue) + ", " + formatNumber(spec.maxValue) + "]";
    case ParamSpec::Type::Bool:
        return "true or false";
    case ParamSpec::Type::IntList:
        return "a list of integers in [" + formatNumber(spec.minValue) + ", "
            + formatNumber(spec.maxValue) + "]";
    case ParamSpec::Type::String: {
        if (spec.choices.empty())
            return "a string";
        std::string s = "one of";
        for (const auto &c : spec.choices)
            s += " \"" + c + "\"";
        return s;
    }
    }
    return {};
}

static bool inRange(const ParamSpec &s, double v)
{
    return std::isfinite(v) && v >= s.minValue && v <= s.maxValue;
}

static void checkValue(const ParamSpec &spec, const nlohmann::json &v, const std::string &path)
{
    auto fail = [&] {
        throw Error(path + " = " + v.dump() + " is invalid: expected " + describeRange(spec)
                    + " (" + spec.help + ")");
    };
    switch (spec.type) {
    case ParamSpec::Type::Number:
        if (!v.is_number() || !inRange(spec, v.get<double>()))
            fail();
        break;
    case ParamSpec::Type::Integer:
        if (!v.is_number_integer() || !inRange(spec, double(v.get<long long>())))
            fail();
        break;
    case ParamSpec::Type::Bool:
        if (!v.is_boolean())
            fail();
        break;
    case ParamSpec::Type::String:
        if (!v.is_string())
            fail();
        if (!spec.choices.empty()) {
            bool ok = false;
            for (const auto &c : spec.choices)
                ok = ok || c == v.get<std::string>();
            if (!ok)
                fail();
        }
        break;
    case ParamSpec::Type::IntList:
        if (!v.is_array() || v.empty())
            fail();
        for (const auto &e : v)
            if (!e.is_number_integer() || !inRange(spec, double(e.get<long long>())))
                fail();
        break;
    }
}

nlohmann::json resolveParams(const std::vector<ParamSpec> &specs, const nlohmann::json &values,
                             const std::string &where)
{
    if (!values.is_null() && !values.is_object())
        throw Error(where + " must be a JSON object, got " + values.dump());
    nlohmann::json out = nlohmann::json::object();
    if (values.is_object()) {
        for (auto it = values.begin(); it != values.end(); ++it) {
            bool known = false;
            for (const auto &s : specs)
                known = known || s.key == it.key();
            if (!known) {
                std::string valid;
                for (const auto &s : specs)
                    valid += (valid.empty() ? "" : ", ") + s.key;
                throw Error("unknown key " + where + "." + it.key() + "; valid keys here: "
                            + (valid.empty() ? std::string("(none)") : valid));
            }
        }
    }
    for (const auto &s : specs) {
        if (values.is_object() && values.contains(s.key)) {
            checkValue(s, values.at(s.key), where + "." + s.key);
            out[s.key] = values.at(s.key);
        } else {
            out[s.key] = s.defaultValue;
        }
    }
    return out;
}

} // namespace kd
