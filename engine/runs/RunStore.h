#pragma once

#include "runs/Metrics.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kd {

class TfEventsWriter;

/// The run directory: config.json, metrics.csv (append-only, flushed per row),
/// summary.json (rewritten atomically), log.txt, checkpoints, and a TensorBoard event file
/// (events.out.tfevents.*: the same scalars, the hyperparameters and the final results).
/// summary.json exists from the start with status "running" and the writing process ("pid",
/// "host", "pid_start", "started_at", ISO 8601 UTC), kept in every later summary, so readers
/// can tell a live run from one whose process died (runs/RunReader.h).
class RunStore {
public:
    /// Creates `dir` (refusing an existing non-empty one) and writes config.json, the metrics
    /// header and a "running" summary.json.
    /// `lossColumns` fixes the metrics.csv loss columns: "loss" then every term name;
    /// `extraColumns` the methods' extra metrics (e.g. "robust_acc"), after img_per_s.
    RunStore(const std::string &dir, const nlohmann::json &config, std::vector<std::string> lossColumns,
             std::vector<std::string> extraColumns = {});

    /// Where the run's appended files stood at some moment (a checkpoint).
    struct FilePositions {
        std::uint64_t metricsBytes = 0;
        std::string eventsFile; ///< file name inside the run directory; empty: none
        std::uint64_t eventsBytes = 0;
    };
    /// Reopens an existing run directory to continue it (a resumed run): metrics.csv (whose
    /// header must be the one these columns give) and the event file are cut back to `at`,
    /// so the records after the checkpoint are written once; log.txt is appended to. The
    /// summary keeps the run's first "started_at". `config` replaces config.json if it differs.
    RunStore(const std::string &dir, const FilePositions &at, const nlohmann::json &config,
             std::vector<std::string> lossColumns, std::vector<std::string> extraColumns);
    ~RunStore();

    /// Throws kd::Error when `dir` (a run directory) is, or holds anywhere, a symbolic link or
    /// a special file: a run received from someone else must not make a resume write or
    /// read outside it.
    static void refuseLinks(const std::string &dir);

    /// Records in `dir`'s summary.json that its run died: status "running", written on this
    /// host by a process that no longer exists (a SIGKILL, a crash, a power cut) becomes
    /// status "interrupted" with the reason and "interrupted_detected_at". Rewritten
    /// atomically; nothing else in the directory changes. Runs that are live, finished,
    /// from another host, unreadable or holding links are left alone. True when marked.
    /// Never throws.
    static bool markIfInterrupted(const std::string &dir);
    /// markIfInterrupted() for every run directory directly inside `folder` (the output
    /// folder a new run opens); returns the directories marked.
    static std::vector<std::string> markInterruptedRuns(const std::string &folder);

    /// The positions now: every record written so far is flushed.
    FilePositions positions();

    const std::string &dir() const { return m_dir; }
    std::string path(const std::string &file) const;
    /// The event file's path; empty when it could not be created (training goes on without it).
    const std::string &eventsPath() const { return m_eventsPath; }

    void appendMetric(const MetricRecord &record);
    void appendLog(const std::string &line);
    void writeSummary(const RunSummary &summary);

    static nlohmann::json summaryToJson(const RunSummary &summary);
    /// One model's entry of summary.json's "models".
    static nlohmann::json roleToJson(const RoleSummary &role);

private:
    std::string metricsHeader() const;


    std::string m_dir;
    std::vector<std::string> m_lossColumns;
    std::vector<std::string> m_extraColumns;
    nlohmann::json m_process; ///< pid, host, pid_start, started_at: merged into every summary
    std::ofstream m_metrics;
    std::ofstream m_log;
    std::mutex m_mutex;
    // TensorBoard mirror of the run; a failure to write it is logged once and then it is
    // dropped, since it must never end a training run.
    std::unique_ptr<TfEventsWriter> m_events;
    std::string m_eventsPath;
    bool m_eventsEnded = false;
    bool m_logFailed = false;
    template <typename F>
    void writeEvents(F &&write);
};

} // namespace kd
