#pragma once

#include "plots/QCustomPlotInclude.h"

#include <QHash>
#include <QStringList>

namespace kd::ui {

/// Base of the live run plots: named series created on first use, a queued replot per
/// appended batch (never one per record), and auto-ranging that follows the run until the
/// user pans or zooms (a double-click follows again).
class RunPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit RunPlot(QWidget *parent = nullptr);

    /// Total number of plotted points over all series.
    int pointCount() const;
    /// Series names as shown in the legend, in creation order.
    QStringList seriesNames() const;
    /// Grey text in the middle of the plot while it has no data.
    void setPlaceholderText(const QString &text);

public Q_SLOTS:
    /// Removes every series, ready for a new run.
    void clear();

protected:
    QCPGraph *series(const QString &key) const { return m_series.value(key); }
    QCPGraph *addSeries(const QString &key, const QString &name, const QPen &pen);
    /// Call after appending a batch: re-fits the axes when following, queues one replot.
    void dataAdded();
    /// Fits the axes to the data; the default rescales both axes.
    virtual void fitToData();
    /// Axis ranges of an empty plot.
    virtual void resetRanges() = 0;

    void mousePressEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void mouseDoubleClickEvent(QMouseEvent *event) override;

private:
    QHash<QString, QCPGraph *> m_series;
    QCPItemText *m_placeholder;
    bool m_follow = true;
};

} // namespace kd::ui
