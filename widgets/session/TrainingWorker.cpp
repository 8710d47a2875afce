#include "TrainingWorker.h"

#include "session/EventQueue.h"
#include "session/QueueingObserver.h"

#include <core/Error.h>
#include <core/Priority.h>
#include <training/Experiment.h>
#include <project/Registries.h>

#include <exception>

namespace kd::ui {

TrainingWorker::TrainingWorker(const kd::Registries &registries, std::shared_ptr<EventQueue> queue,
                               const std::atomic<bool> &stop)
    : m_registries(registries), m_queue(std::move(queue)), m_stop(stop)
{
}

template<typename F>
void TrainingWorker::guarded(F &&body)
{
    QueueingObserver observer(*m_queue);
    // Training shares the cores with the window: at background priority the GUI thread gets
    // the CPU first and stays fluid, and training loses nothing while the window is idle.
    // Before the thread's first torch operation, so torch's pool inherits it.
    if (!m_priorityLowered) {
        m_priorityLowered = true;
        const auto why = kd::lowerTrainingPriority(/*keepMainThread=*/true);
        m_priorityFailed = !why.empty();
        m_priorityNote = why.empty() ? "training at background CPU priority (nice " + std::to_string(kd::currentThreadNice())
                                           + "), so the window stays responsive"
                                     : why;
    }
    observer.onLog(m_priorityFailed ? kd::ExperimentObserver::Level::Warning : kd::ExperimentObserver::Level::Info,
                   m_priorityNote);
    try {
        m_queue->push(FinishedEvent{body(observer)});
    } catch (const kd::Error &e) {
        m_queue->push(FailedEvent{e.what(), observer.lastRunDir()});
    } catch (const std::exception &e) {
        m_queue->push(FailedEvent{std::string("internal error: ") + e.what(), observer.lastRunDir()});
    } catch (...) {
        m_queue->push(FailedEvent{"internal error of an unknown kind", observer.lastRunDir()});
    }
}

void TrainingWorker::run(const kd::Project &project, const std::string &runDir)
{
    guarded([&](QueueingObserver &observer) {
        kd::Experiment experiment(project, m_registries);
        return experiment.run(observer, m_stop, runDir);
    });
}

void TrainingWorker::resume(const std::string &runDir)
{
    guarded([&](QueueingObserver &observer) {
        kd::Experiment experiment(kd::resumableProject(runDir), m_registries);
        return experiment.resume(observer, m_stop, runDir);
    });
}

} // namespace kd::ui
