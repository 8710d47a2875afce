#include "QueueingObserver.h"

namespace kd::ui {

void QueueingObserver::onLog(Level level, const std::string &text)
{
    m_queue.push(LogEvent{text, level == Level::Warning});
}

void QueueingObserver::onStageStarted(const std::string &role, int stageIndex, int stageCount)
{
    m_queue.push(StageEvent{role, stageIndex, stageCount});
}

void QueueingObserver::onMetric(const kd::MetricRecord &record)
{
    m_queue.push(record);
}

void QueueingObserver::onProgress(const kd::ProgressInfo &progress)
{
    m_queue.push(progress);
}

void QueueingObserver::onFinished(const kd::RunSummary &summary)
{
    // The worker reports the summary that Experiment::run() returns; here we only keep the
    // run directory so that a run that throws afterwards can still say where it wrote.
    m_lastRunDir = summary.runDir;
}

} // namespace kd::ui
