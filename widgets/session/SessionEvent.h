#pragma once

#include <runs/Metrics.h>

#include <string>
#include <variant>

namespace kd::ui {

/// What the training thread hands to the GUI thread: plain values only (never tensors or
/// pointers into engine state), queued in order by EventQueue.
struct LogEvent {
    std::string text;
    bool warning = false;
};

struct StageEvent {
    std::string role;
    int stageIndex = 0;
    int stageCount = 1;
};

struct FinishedEvent {
    kd::RunSummary summary;
};

struct FailedEvent {
    std::string message;
    std::string runDir; ///< empty when the failure came before the run directory existed
};

using SessionEvent =
    std::variant<LogEvent, StageEvent, kd::MetricRecord, kd::ProgressInfo, FinishedEvent, FailedEvent>;

} // namespace kd::ui
