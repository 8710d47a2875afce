#pragma once

#include "session/MetaTypes.h"

#include <project/ProjectConfig.h>
#include <project/Registries.h>

#include <QObject>
#include <QString>
#include <QThread>
#include <QTimer>
#include <QVector>

#include <atomic>
#include <memory>

namespace kd::ui {

class EventQueue;
class TrainingWorker;

/// The one mediator between widgets and the engine. Owns a training thread with a worker
/// object on it; the engine reports into a locked queue on that thread and a ~30 Hz timer
/// on the GUI thread drains it, so widgets receive coalesced batches as ordinary signals
/// on the GUI thread. Stopping is an atomic flag the engine checks every batch.
/// Destroying the session mid-run stops the run and waits for the thread: RAII teardown.
class TrainingSession : public QObject {
    Q_OBJECT

public:
    explicit TrainingSession(QObject *parent = nullptr);
    explicit TrainingSession(kd::Registries registries, QObject *parent = nullptr);
    ~TrainingSession() override;

    const kd::Registries &registries() const { return m_registries; }
    bool isRunning() const { return m_running; }
    bool isStopRequested() const { return m_stop.load(); }

    /// Starts running `project` on the training thread. `runDir` empty: the engine picks
    /// <output_dir>/<name>-<timestamp>. Returns false (and does nothing) while a run is
    /// in progress; every other problem arrives later as failed().
    bool start(const kd::Project &project, const QString &runDir = QString());
    /// Continues the stopped, interrupted or failed run in `runDir` in place (kdw resume).
    /// Returns false while a run is in progress; other problems arrive as failed().
    bool resume(const QString &runDir);

    /// Milliseconds between queue drains (default 33, about 30 Hz).
    void setDrainInterval(int milliseconds);

public Q_SLOTS:
    /// Asks the run to end after the current batch; finished() follows with status "stopped".
    void stop();

Q_SIGNALS:
    void runningChanged(bool running);
    void stageStarted(const QString &role, int stageIndex, int stageCount);
    void metricsArrived(const QVector<kd::MetricRecord> &records);
    void logMessage(const QString &text, bool warning);
    void progressChanged(const kd::ProgressInfo &progress);
    void finished(const kd::RunSummary &summary);
    /// `runDir`: the failed run's directory (status "failed"), empty when the failure came
    /// before it existed.
    void failed(const QString &message, const QString &runDir);

private:
    template<typename F>
    bool launch(F &&work);
    void drain();
    void setRunning(bool running);

    const kd::Registries m_registries; // read-only once built, so both threads may use it
    std::atomic<bool> m_stop{false};
    std::shared_ptr<EventQueue> m_queue;
    QThread m_thread;
    TrainingWorker *m_worker = nullptr; // lives on m_thread, deleted when it finishes
    QTimer m_drainTimer;
    bool m_running = false;
};

} // namespace kd::ui
