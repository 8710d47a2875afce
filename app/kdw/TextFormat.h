#pragma once

// Number and duration texts that the kdw commands print.

#include <cstdint>
#include <string>

namespace kd::cli {

/// "42s", "3m07s", "1h05m"; `missing` for a non-finite or negative duration.
std::string formatDuration(double seconds, const char *missing = "--");
/// "950", "101.77k", "11.17M", "1.20G".
std::string humanCount(std::int64_t n);

} // namespace kd::cli
