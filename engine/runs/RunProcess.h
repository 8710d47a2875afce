#pragma once

// Which process writes a run: the facts RunStore records in summary.json ("pid", "host",
// "pid_start", "started_at") and the checks RunReader makes on them. No Qt, no torch; POSIX.

#include <cstdint>
#include <string>

namespace kd {

/// This process's id.
std::int64_t currentProcessId();
/// This machine's host name ("" when it cannot be read).
std::string currentHostName();
/// When process `pid` started, in clock ticks since boot (/proc/PID/stat field 22), or -1
/// when unknown. Together with the pid it names one process even after its id is reused.
std::int64_t processStartTicks(std::int64_t pid);
/// Whether process `pid` of this host is alive; when `startTicks` ≥ 0 it must also have
/// started then (a reused id is a different process).
bool processAlive(std::int64_t pid, std::int64_t startTicks = -1);

/// Now as ISO 8601 UTC, e.g. "2026-12-01T20:41:07Z".
std::string isoUtcNow();
/// Seconds since the epoch of an ISO 8601 UTC time as isoUtcNow() writes it; -1 when the text
/// is not one.
std::int64_t parseIsoUtc(const std::string &text);

} // namespace kd
