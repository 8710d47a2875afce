#include "RunGroups.h"

#include <map>
#include <set>

namespace kd {

namespace {

/// Leaves of `j` by dotted key: objects are descended, everything else (arrays included) is
/// one value.
void flatten(const nlohmann::json &j, const std::string &prefix, std::map<std::string, std::string> &out)
{
    if (j.is_object() && !j.empty()) {
        for (const auto &kv : j.items())
            flatten(kv.value(), prefix.empty() ? kv.key() : prefix + "." + kv.key(), out);
        return;
    }
    if (!prefix.empty())
        out[prefix] = j.dump();
}

/// Top-level keys that say where or how fast a run goes, not what it computes.
const char *const kNonSettingKeys[] = {"name", "output_dir", "threads", "device", "eval_batch_size",
                                       "teacher_cache", "teacher_cache_max_mb", "memory_format"};

void dropLogEvery(nlohmann::json &model)
{
    if (model.is_object() && model.contains("train") && model["train"].is_object())
        model["train"].erase("log_every");
}

std::vector<double> collect(const SeedGroup &g, const std::vector<RunInfo> &runs, double RunInfo::*field)
{
    std::vector<double> v;
    for (auto i : g.members)
        if (i < runs.size())
            v.push_back(runs[i].*field);
    return v;
}

} // namespace

std::vector<ConfigDiffRow> diffConfigs(const std::vector<nlohmann::json> &configs)
{
    std::vector<std::map<std::string, std::string>> flat(configs.size());
    std::set<std::string> keys;
    for (std::size_t i = 0; i < configs.size(); ++i) {
        if (configs[i].is_object())
            flatten(configs[i], "", flat[i]);
        for (const auto &kv : flat[i])
            keys.insert(kv.first);
    }
    std::vector<ConfigDiffRow> rows;
    for (const auto &key : keys) {
        if (key == "name" || key == "output_dir")
            continue;
        ConfigDiffRow row;
        row.key = key;
        bool differs = false;
        for (std::size_t i = 0; i < flat.size(); ++i) {
            const auto it = flat[i].find(key);
            row.values.push_back(it == flat[i].end() ? std::string() : it->second);
            if (i > 0 && row.values[i] != row.values[0])
                differs = true;
        }
        if (differs)
            rows.push_back(std::move(row));
    }
    return rows;
}

std::string settingKey(const nlohmann::json &config, bool ignoreSeed)
{
    if (!config.is_object())
        return config.dump();
    nlohmann::json c = config;
    for (const char *k : kNonSettingKeys)
        c.erase(k);
    if (ignoreSeed)
        c.erase("seed");
    for (const char *role : {"teacher", "student"})
        if (c.contains(role))
            dropLogEvery(c[role]);
    for (const char *list : {"assistants", "teachers"})
        if (c.contains(list) && c[list].is_array())
            for (auto &m : c[list])
                dropLogEvery(m);
    // nlohmann's objects are sorted maps, so dump() is canonical.
    return c.dump();
}

std::vector<SeedGroup> groupBySeed(const std::vector<RunInfo> &runs)
{
    std::vector<SeedGroup> groups;
    std::map<std::string, std::size_t> byKey;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto &r = runs[i];
        const bool alone = r.state == RunState::Damaged || !r.config.is_object();
        const std::string key = alone ? "\x01" + r.dir : settingKey(r.config, true);
        auto it = byKey.find(key);
        if (it == byKey.end()) {
            it = byKey.emplace(key, groups.size()).first;
            groups.emplace_back();
            groups.back().key = alone ? std::string() : key;
        }
        auto &g = groups[it->second];
        g.members.push_back(i);
        g.seeds.push_back(r.seed);
    }
    for (auto &g : groups) {
        g.teacherAcc = summarize(collect(g, runs, &RunInfo::teacherAcc));
        g.studentAcc = summarize(collect(g, runs, &RunInfo::studentAcc));
        g.scratchAcc = summarize(collect(g, runs, &RunInfo::scratchAcc));
        g.kdGain = summarize(collect(g, runs, &RunInfo::kdGain));
        g.studentVsScratch = welchTest(collect(g, runs, &RunInfo::studentAcc), collect(g, runs, &RunInfo::scratchAcc));
    }
    return groups;
}

WelchResult compareGroups(const SeedGroup &a, const SeedGroup &b, const std::vector<RunInfo> &runs)
{
    return welchTest(collect(a, runs, &RunInfo::studentAcc), collect(b, runs, &RunInfo::studentAcc));
}

} // namespace kd
