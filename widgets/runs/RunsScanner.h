#pragma once

#include "runs/RunSeries.h"

#include <runs/RunReader.h>

#include <QObject>
#include <QStringList>
#include <QTimer>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kd::ui {

/// The runs browser's reader: lives on its own thread (moved there by RunsBrowser) and does
/// all file reading, so the GUI thread never waits on a disk. Only values leave it: lists of
/// kd::RunInfo and RunSeries. Run directories are re-read only when their files changed
/// (size or time), except live ones, whose state depends on the clock.
class RunsScanner : public QObject {
    Q_OBJECT

public:
    explicit RunsScanner(QObject *parent = nullptr);
    ~RunsScanner() override;

public Q_SLOTS:
    /// Lists the runs under `folders` plus the explicit `runDirs`; emits scanned().
    void scan(const QStringList &folders, const QStringList &runDirs);
    /// Follows these runs' metrics.csv (others are dropped); newly followed runs report their
    /// series at once.
    void follow(const QStringList &runDirs);
    /// Reads what followed runs appended; emits seriesUpdated() for each that grew.
    void pollSeries();
    /// Starts the low-rate series poll on this object's thread (ms between polls).
    void startPolling(int intervalMs);

Q_SIGNALS:
    void scanned(const std::vector<kd::RunInfo> &runs);
    /// Every series of one run (replacing what was sent for it before).
    void seriesUpdated(const QString &runDir, const QVector<kd::ui::RunSeries> &series);

private:
    struct Cached {
        std::string stamp;
        kd::RunInfo info;
    };
    struct Followed {
        std::unique_ptr<kd::MetricsFollower> follower;
        bool sent = false;
    };
    QVector<RunSeries> seriesOf(const QString &dir, const kd::RunMetrics &metrics) const;

    std::map<std::string, Cached> m_cache;
    std::map<QString, Followed> m_followed;
    QTimer *m_pollTimer = nullptr;
};

} // namespace kd::ui
