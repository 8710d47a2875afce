#pragma once

// Reading run directories: the one engine-side reader (no Qt, no torch) that the runs browser,
// `kdw compare` and resume share. Reading never changes a run. A damaged or half-written run
// is reported as such (state + problem), never thrown for: readers must survive anything on
// disk, including a run that another process is still writing.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kd {

/// What a run directory says about itself.
enum class RunState {
    Completed,   ///< summary.json status "completed"
    Stopped,     ///< status "stopped" (user asked)
    Failed,      ///< status "failed" (the error is in `problem`)
    Running,     ///< being written now (status "running" by a live process)
    Interrupted, ///< status "running" but its process is gone, or no summary and stale files
    Damaged,     ///< unreadable config.json / summary.json; `problem` says what and why
};
const char *runStateName(RunState s); ///< "completed", "stopped", ... (lower case)

/// The table row of one run: identity, set-up and results. Missing numbers are NaN.
struct RunInfo {
    std::string dir;   ///< absolute, normalised path of the run directory
    std::string name;  ///< directory name
    RunState state = RunState::Damaged;
    std::string problem; ///< empty, or why the run is damaged/failed/partial (one sentence)
    std::int64_t startedUnix = 0;  ///< seconds since the epoch (config.json mtime when not recorded)
    nlohmann::json config;  ///< resolved project (config.json), null when unreadable
    nlohmann::json summary; ///< summary.json, null when absent or unreadable

    /// teacherArch: the teacher's architecture ("a+b" for a teachers list), empty when the
    /// method uses no teacher (ce, online and multi-branch methods).
    std::string dataset, teacherArch, studentArch, method;
    nlohmann::json methodParams = nlohmann::json::object(); ///< config["method"] without "name"
    std::int64_t seed = -1;
    double teacherAcc = NAN, studentAcc = NAN, scratchAcc = NAN; ///< final test accuracy
    double kdGain = NAN;           ///< student − scratch
    std::int64_t studentParams = -1;
    double trainSeconds = NAN;     ///< all roles together
    std::uintmax_t metricsBytes = 0; ///< size of metrics.csv when read
    /// Stopped, failed or interrupted with checkpoints to continue from (`kdw resume`).
    bool resumable = false;
};

/// Reads one run directory. Never throws for a damaged run (state Damaged + problem); throws
/// kd::Error only when `dir` is not a directory at all.
RunInfo readRunInfo(const std::string &dir);

/// Run directories at or below `folder` (a directory holding config.json is a run; its own
/// sub-directories are not searched). Sorted by path. Missing folder: empty list.
std::vector<std::string> findRunDirectories(const std::string &folder, int maxDepth = 3);

/// metrics.csv as columns. One block per (model role, kind) in first-appearance order; every
/// block has one vector per header column (NaN for empty cells), all of equal length.
struct MetricBlock {
    std::string role;
    std::string kind; ///< "step" or "epoch"
    std::map<std::string, std::vector<double>> columns; ///< "epoch", "step", "wall_s", "loss", ...
    std::size_t rows() const;
    const std::vector<double> *column(const std::string &name) const; ///< null when absent
};

struct RunMetrics {
    std::vector<std::string> header; ///< metrics.csv header, as written
    std::vector<MetricBlock> blocks;
    std::vector<std::string> problems; ///< e.g. "line 17: 9 cells, header has 12 (skipped)"
    const MetricBlock *find(const std::string &role, const std::string &kind) const;
};

/// Follows a metrics.csv that may still be growing: each poll() reads only the bytes appended
/// since the previous one and keeps a torn last line for the next poll. A repeated header line
/// with more columns extends every block (earlier rows NaN); a file that shrank or was replaced
/// is read again from the start. Not thread-safe; use one per thread.
class MetricsFollower {
public:
    explicit MetricsFollower(std::string metricsCsvPath);
    /// Reads what was appended; returns true when rows arrived (or the metrics were reset
    /// because the file was replaced). Never throws.
    bool poll();
    const RunMetrics &metrics() const { return m_metrics; }
    std::uintmax_t offset() const { return m_offset; }

private:
    void reset();
    bool consume(const char *begin, const char *end); ///< one complete line; true for a row
    void setHeader(std::vector<std::string> header);
    std::size_t blockIndex(std::string_view role, std::string_view kind);
    void rebuildSlots();
    void addProblem(std::string text);

    std::string m_path;
    std::uintmax_t m_offset = 0;
    std::string m_partial;
    RunMetrics m_metrics;
    std::uint64_t m_fileId = 0, m_deviceId = 0; ///< inode and device of the file being read
    std::size_t m_lineNo = 0;                  ///< lines consumed so far (1-based in problems)
    int m_roleCol = -1, m_kindCol = -1;
    /// Per block: the column vector of each header cell (null for role/kind), and the columns
    /// a later header dropped (padded with NaN so all stay equally long).
    std::vector<std::vector<std::vector<double> *>> m_slots;
    std::vector<std::vector<std::vector<double> *>> m_orphans;
    std::size_t m_lastBlock = 0;
    std::size_t m_unlistedProblems = 0;
};

/// Reads a whole metrics.csv once (a MetricsFollower polled once).
RunMetrics readMetrics(const std::string &runDir);

} // namespace kd
