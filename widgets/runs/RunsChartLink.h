#pragma once

#include "plots/ChartSeries.h"
#include "runs/RunSeries.h"
#include "runs/RunsBrowser.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QStringList>

namespace kd::ui {

class MetricsChart;

/// Overlays the runs selected in a RunsBrowser in a MetricsChart: every logged series of each
/// selected run (one colour per run, line style per role), kept up to date while a run grows,
/// removed when its run is deselected. Epoch rows' loss terms, lr and img_per_s are named
/// "epoch_<column>" so they do not replace the step series of the same column.
///
/// A selected seed group (grouped view) is drawn as one curve per series, the mean over its
/// members point by point, inside a band of ± one sample sd (or min–max, setBandKind()),
/// instead of one curve per member; it grows as its members do.
class RunsChartLink : public QObject {
    Q_OBJECT

public:
    RunsChartLink(RunsBrowser *browser, MetricsChart *chart, QObject *parent = nullptr);

    /// The chart series for one run's series (what seriesUpdated() feeds the chart).
    static ChartSeries toChartSeries(const RunSeries &series);

    /// How a seed group's spread is drawn (default mean ± sd); redraws selected groups.
    void setBandKind(ChartBand::Kind kind);
    ChartBand::Kind bandKind() const { return m_bandKind; }

private:
    void selectionChanged(const QStringList &dirs);
    void seriesUpdated(const QString &runDir, const QVector<RunSeries> &series);
    void drawRun(const QString &dir);
    void drawGroup(const SelectedGroup &group);
    /// Removes what `owner` (a run directory or a group id) drew that is not in the given keys.
    void keepOnly(const QString &owner, const QSet<QString> &series, const QSet<QString> &bands);

    RunsBrowser *m_browser;
    MetricsChart *m_chart;
    ChartBand::Kind m_bandKind = ChartBand::Kind::MeanSd;
    QSet<QString> m_selected;
    QVector<SelectedGroup> m_groups;
    QHash<QString, int> m_groupOf;                 ///< member run directory → index in m_groups
    QHash<QString, QVector<RunSeries>> m_series;   ///< the latest series of each selected run
    QHash<QString, QSet<QString>> m_seriesKeys;    ///< chart series drawn, by owner
    QHash<QString, QSet<QString>> m_bandKeys;      ///< chart bands drawn, by owner
    QHash<QString, SelectedGroup> m_drawnGroups;   ///< each group as it was last drawn
};

} // namespace kd::ui
