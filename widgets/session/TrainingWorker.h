#pragma once

#include <project/ProjectConfig.h>

#include <QObject>

#include <atomic>
#include <memory>
#include <string>

namespace kd {
struct Registries;
}

namespace kd::ui {

class EventQueue;

/// Lives on the session's training thread and runs one experiment at a time. Everything
/// it reports goes through the EventQueue, ending with exactly one FinishedEvent or
/// FailedEvent per run; no exception leaves run().
class TrainingWorker : public QObject {
    Q_OBJECT

public:
    TrainingWorker(const kd::Registries &registries, std::shared_ptr<EventQueue> queue,
                   const std::atomic<bool> &stop);

    /// Blocks until the experiment ends; call it on the training thread.
    void run(const kd::Project &project, const std::string &runDir);
    /// Continues the run in `runDir` from its newest checkpoint (kd::Experiment::resume()).
    void resume(const std::string &runDir);

private:
    template<typename F>
    void guarded(F &&body);

    const kd::Registries &m_registries;
    std::shared_ptr<EventQueue> m_queue;
    const std::atomic<bool> &m_stop;
    /// The training thread's priority is lowered once, on its first run.
    bool m_priorityLowered = false;
    bool m_priorityFailed = false;
    std::string m_priorityNote;
};

} // namespace kd::ui
