#include "JsonReader.h"

#include "core/Error.h"

#include <cmath>

namespace kd {

static const nlohmann::json &nullJson()
{
    static const nlohmann::json n;
    return n;
}

JsonReader::JsonReader(const nlohmann::json &object, std::string path)
    : m_object(object)
    , m_path(std::move(path))
{
    if (!m_object.is_null() && !m_object.is_object())
        throw Error((m_path.empty() ? std::string("the project") : m_path)
                    + " must be a JSON object, got " + m_object.dump());
}

bool JsonReader::has(const std::string &key) const
{
    return m_object.is_object() && m_object.contains(key);
}

std::string JsonReader::path(const std::string &key) const
{
    return m_path.empty() ? key : m_path + "." + key;
}

const nlohmann::json &JsonReader::value(const std::string &key)
{
    m_used.insert(key);
    return has(key) ? m_object.at(key) : nullJson();
}

std::string JsonReader::string(const std::string &key, const std::string &def,
                               const std::vector<std::string> &choices)
{
    const auto &v = value(key);
    if (v.is_null())
        return def;
    if (!v.is_string())
        throw Error(path(key) + " must be a string, got " + v.dump());
    auto s = v.get<std::string>();
    if (!choices.empty()) {
        for (const auto &c : choices)
            if (c == s)
                return s;
        std::string valid;
        for (const auto &c : choices)
            valid += (valid.empty() ? "" : ", ") + c;
        throw Error(path(key) + " = \"" + s + "\" is not valid; use one of: " + valid);
    }
    return s;
}

long long JsonReader::integer(const std::string &key, long long def, long long lo, long long hi)
{
    const auto &v = value(key);
    if (v.is_null())
        return def;
    if (!v.is_number_integer())
        throw Error(path(key) + " must be an integer, got " + v.dump());
    auto i = v.get<long long>();
    if (i < lo || i > hi)
        throw Error(path(key) + " = " + std::to_string(i) + " is out of range; use an integer in ["
                    + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return i;
}

double JsonReader::number(const std::string &key, double def, double lo, double hi)
{
    const auto &v = value(key);
    if (v.is_null())
        return def;
    if (!v.is_number())
        throw Error(path(key) + " must be a number, got " + v.dump());
    auto d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        throw Error(path(key) + " = " + v.dump() + " is out of range; use a number in ["
                    + nlohmann::json(lo).dump() + ", " + nlohmann::json(hi).dump() + "]");
    return d;
}

bool JsonReader::boolean(const std::string &key, bool def)
{
    const auto &v = value(key);
    if (v.is_null())
        return def;
    if (!v.is_boolean())
        throw Error(path(key) + " must be true or false, got " + v.dump());
    return v.get<bool>();
}

const nlohmann::json &JsonReader::section(const std::string &key)
{
    return value(key);
}

void JsonReader::finish() const
{
    if (!m_object.is_object())
        return;
    for (auto it = m_object.begin(); it != m_object.end(); ++it) {
        if (!m_used.count(it.key())) {
            std::string valid;
            for (const auto &k : m_used)
                valid += (valid.empty() ? "" : ", ") + k;
            throw Error("unknown key " + path(it.key()) + "; valid keys here: " + valid);
        }
    }
}

} // namespace kd
