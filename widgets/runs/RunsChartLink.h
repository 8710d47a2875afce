#pragma once

#include "runs/RunSeries.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QStringList>

namespace kd::ui {

class MetricsChart;
class RunsBrowser;
struct ChartSeries;

/// Overlays the runs selected in a RunsBrowser in a MetricsChart: every logged series of each
/// selected run (one colour per run, line style per role), kept up to date while a run grows,
/// removed when its run is deselected. Epoch rows' loss terms, lr and img_per_s are named
/// "epoch_<column>" so they do not replace the step series of the same column.
class RunsChartLink : public QObject {
    Q_OBJECT

public:
    RunsChartLink(RunsBrowser *browser, MetricsChart *chart, QObject *parent = nullptr);

    /// The chart series for one run's series (what seriesUpdated() feeds the chart).
    static ChartSeries toChartSeries(const RunSeries &series);

private:
    void selectionChanged(const QStringList &dirs);
    void seriesUpdated(const QString &runDir, const QVector<RunSeries> &series);

    MetricsChart *m_chart;
    QSet<QString> m_selected;
    QHash<QString, QSet<QString>> m_keysByRun; ///< chart keys drawn for each run directory
};

} // namespace kd::ui
