#pragma once

#include "session/MetaTypes.h"

#include <QWidget>

class QLabel;
class QProgressBar;

namespace kd::ui {

/// Where the run is: a line of text (role, stage, epoch, step, throughput, ETA) above a
/// progress bar over the whole experiment.
class ProgressPanel : public QWidget {
    Q_OBJECT

public:
    explicit ProgressPanel(QWidget *parent = nullptr);

    QString text() const;
    int percent() const;

    /// "student · stage 2/3 · epoch 1/5 · step 40/469 · 2,310 img/s · ETA 1:05 · cpu (2 threads)"
    static QString describe(const kd::ProgressInfo &progress);
    /// "1:05", "1:02:03"; "–" when unknown.
    static QString formatDuration(double seconds);

public Q_SLOTS:
    void setProgress(const kd::ProgressInfo &progress);
    void setStage(const QString &role, int stageIndex, int stageCount);
    /// Shows a final message and fills the bar when `complete`.
    void setDone(const QString &message, bool complete);
    void reset();

private:
    QLabel *m_label;
    QProgressBar *m_bar;
};

} // namespace kd::ui
