#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace kd {

/// Reads one JSON object strictly: every key taken is remembered, and finish() rejects any
/// key nobody asked for, naming its full dotted path. Range checks name the path too.
class JsonReader {
public:
    JsonReader(const nlohmann::json &object, std::string path);

    bool has(const std::string &key) const;
    std::string path(const std::string &key) const;

    std::string string(const std::string &key, const std::string &def,
                       const std::vector<std::string> &choices = {});
    long long integer(const std::string &key, long long def, long long lo, long long hi);
    double number(const std::string &key, double def, double lo, double hi);
    bool boolean(const std::string &key, bool def);
    /// The raw value (object or null) for a nested section; marks the key as used.
    const nlohmann::json &section(const std::string &key);

    /// Throws kd::Error for the first key that was never read.
    void finish() const;

private:
    const nlohmann::json &value(const std::string &key);

    const nlohmann::json &m_object;
    std::string m_path;
    std::set<std::string> m_used;
};

} // namespace kd
