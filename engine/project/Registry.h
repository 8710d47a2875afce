#pragma once

#include "core/Error.h"

#include <map>
#include <string>
#include <vector>

namespace kd {

/// Name → entry map shared by the architecture, method and dataset registries.
/// Entries are added by explicit calls (no static self-registration); a duplicate name is
/// an error and an unknown name lists the valid ones.
template<typename Entry>
class Registry {
public:
    explicit Registry(std::string kind) : m_kind(std::move(kind)) {}

    void add(const std::string &name, Entry entry)
    {
        if (name.empty())
            throw Error("cannot register a " + m_kind + " with an empty name");
        if (m_entries.count(name))
            throw Error("duplicate " + m_kind + " \"" + name + "\": an entry of that name is already registered");
        m_entries.emplace(name, std::move(entry));
    }

    bool contains(const std::string &name) const { return m_entries.count(name) != 0; }

    const Entry &get(const std::string &name) const
    {
        auto it = m_entries.find(name);
        if (it == m_entries.end())
            throw Error("unknown " + m_kind + " \"" + name + "\"; valid " + m_kind + "s: " + joinedNames());
        return it->second;
    }

    std::vector<std::string> names() const
    {
        std::vector<std::string> out;
        for (const auto &kv : m_entries)
            out.push_back(kv.first);
        return out;
    }

    std::string joinedNames() const
    {
        std::string s;
        for (const auto &kv : m_entries)
            s += (s.empty() ? "" : ", ") + kv.first;
        return s;
    }

    const std::string &kind() const { return m_kind; }

private:
    std::string m_kind;
    std::map<std::string, Entry> m_entries;
};

} // namespace kd
