#pragma once

#include "session/EventQueue.h"

#include <runs/Metrics.h>

namespace kd::ui {

/// Experiment observer that runs on the training thread: copies each event into the
/// EventQueue and returns at once. It never touches a QObject.
class QueueingObserver : public kd::ExperimentObserver {
public:
    explicit QueueingObserver(EventQueue &queue) : m_queue(queue) {}

    void onLog(Level level, const std::string &text) override;
    void onStageStarted(const std::string &role, int stageIndex, int stageCount) override;
    void onMetric(const kd::MetricRecord &record) override;
    void onProgress(const kd::ProgressInfo &progress) override;
    void onFinished(const kd::RunSummary &summary) override;

    /// Run directory of the last summary the engine reported (also for failed runs).
    const std::string &lastRunDir() const { return m_lastRunDir; }

private:
    EventQueue &m_queue;
    std::string m_lastRunDir; // touched only on the training thread
};

} // namespace kd::ui
