#include "TrainingWorker.h"

#include "session/EventQueue.h"
#include "session/QueueingObserver.h"

#include <core/Error.h>
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
