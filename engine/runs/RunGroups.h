#pragma once

// Comparing runs: config diffs and seed groups (runs whose resolved configs differ only in
// `seed`), with the statistics that say whether a difference is real. No Qt, no torch.

#include "runs/RunReader.h"
#include "stats/Statistics.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace kd {

/// One dotted config key whose value differs between the compared configs. `values[i]` is the
/// compact JSON text of config i's value, or empty when config i lacks the key.
struct ConfigDiffRow {
    std::string key; ///< e.g. "method.temperature", "student.train.lr"
    std::vector<std::string> values;
};
/// Leaf keys (objects flattened with dots; arrays compared whole) that differ, sorted by key.
/// Keys that name the run rather than its set-up ("name", "output_dir") are left out.
std::vector<ConfigDiffRow> diffConfigs(const std::vector<nlohmann::json> &configs);

/// The config with the keys that do not change results removed (seed, name, output_dir,
/// threads, device, eval_batch_size, log_every...), dumped canonically: runs with equal keys
/// are repetitions of one setting.
std::string settingKey(const nlohmann::json &config, bool ignoreSeed = true);

/// A group of runs of one setting over seeds. `members` index the runs given to groupBySeed.
struct SeedGroup {
    std::string key; ///< settingKey() of the members; empty for a damaged run kept alone
    std::vector<std::size_t> members;
    std::vector<std::int64_t> seeds;
    SampleSummary teacherAcc, studentAcc, scratchAcc, kdGain;
    /// Student vs its scratch twins within the group (Welch, 95 %).
    WelchResult studentVsScratch;
};
/// Groups runs (Damaged runs and runs without a config stay alone) in first-appearance order.
std::vector<SeedGroup> groupBySeed(const std::vector<RunInfo> &runs);

/// Student accuracy of group a minus group b, Welch 95 %.
WelchResult compareGroups(const SeedGroup &a, const SeedGroup &b, const std::vector<RunInfo> &runs);

} // namespace kd
