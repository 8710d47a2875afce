#include "TrainingSession.h"

#include "session/EventQueue.h"
#include "session/TrainingWorker.h"

namespace kd::ui {

namespace {

template<class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
template<class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

QString toQString(const std::string &s)
{
    return QString::fromStdString(s);
}

} // namespace

TrainingSession::TrainingSession(QObject *parent)
    : TrainingSession(kd::Registries::builtin(), parent)
{
}

TrainingSession::TrainingSession(kd::Registries registries, QObject *parent)
    : QObject(parent), m_registries(std::move(registries)), m_queue(std::make_shared<EventQueue>())
{
    registerMetaTypes();
    m_worker = new TrainingWorker(m_registries, m_queue, m_stop);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.setObjectName(QStringLiteral("kd-training"));
    m_thread.start();

    m_drainTimer.setInterval(33);
    connect(&m_drainTimer, &QTimer::timeout, this, &TrainingSession::drain);
}

TrainingSession::~TrainingSession()
{
    // The worker may be deep inside Experiment::run(); the flag ends it after the current
    // batch, then the thread's event loop sees quit(). Nothing is emitted from here on.
    m_stop = true;
    m_drainTimer.stop();
    m_thread.quit();
    m_thread.wait();
}

template<typename F>
bool TrainingSession::launch(F &&work)
{
    if (m_running)
        return false;
    m_stop = false;
    m_queue->clear();
    setRunning(true);
    QMetaObject::invokeMethod(m_worker, std::forward<F>(work), Qt::QueuedConnection);
    m_drainTimer.start();
    return true;
}

bool TrainingSession::start(const kd::Project &project, const QString &runDir)
{
    return launch([worker = m_worker, project, dir = runDir.toStdString()] { worker->run(project, dir); });
}

bool TrainingSession::resume(const QString &runDir)
{
    return launch([worker = m_worker, dir = runDir.toStdString()] { worker->resume(dir); });
}

void TrainingSession::setDrainInterval(int milliseconds)
{
    m_drainTimer.setInterval(milliseconds);
}

void TrainingSession::stop()
{
    if (!m_running || m_stop.exchange(true))
        return;
    Q_EMIT logMessage(tr("Stop requested: the current stage ends after this batch."), false);
}

void TrainingSession::setRunning(bool running)
{
    if (m_running == running)
        return;
    m_running = running;
    Q_EMIT runningChanged(running);
}

void TrainingSession::drain()
{
    std::vector<SessionEvent> events = m_queue->takeAll();
    if (events.empty())
        return;

    // Consecutive metric records travel as one batch so plots replot once per drain; any
    // other event first flushes the batch, keeping the engine's order.
    QVector<kd::MetricRecord> batch;
    auto flush = [&] {
        if (!batch.isEmpty()) {
            Q_EMIT metricsArrived(batch);
            batch.clear();
        }
    };
    bool ended = false;
    for (auto &event : events) {
        if (ended)
            break; // nothing can follow the end of a run; ignore stragglers defensively
        std::visit(Overloaded{
                       [&](kd::MetricRecord &r) { batch.push_back(std::move(r)); },
                       [&](LogEvent &e) {
                           flush();
                           Q_EMIT logMessage(toQString(e.text), e.warning);
                       },
                       [&](StageEvent &e) {
                           flush();
                           Q_EMIT stageStarted(toQString(e.role), e.stageIndex, e.stageCount);
                       },
                       [&](kd::ProgressInfo &p) {
                           flush();
                           Q_EMIT progressChanged(p);
                       },
                       [&](FinishedEvent &e) {
                           flush();
                           ended = true;
                           m_drainTimer.stop();
                           setRunning(false);
                           Q_EMIT finished(e.summary);
                       },
                       [&](FailedEvent &e) {
                           flush();
                           ended = true;
                           m_drainTimer.stop();
                           setRunning(false);
                           QString message = toQString(e.message);
                           if (!e.runDir.empty())
                               Q_EMIT logMessage(tr("Run directory (status \"failed\"): %1")
                                                     .arg(toQString(e.runDir)),
                                                 true);
                           Q_EMIT failed(message, toQString(e.runDir));
                       },
                   },
                   event);
    }
    flush();
}

} // namespace kd::ui
