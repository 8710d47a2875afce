#pragma once

#include "plots/ChartSeries.h"
#include "plots/QCustomPlotInclude.h"
#include "plots/Smoothing.h"

#include <QElapsedTimer>
#include <QHash>
#include <QStringList>
#include <QTimer>

#include <memory>
#include <vector>

namespace kd::ui {

/// The plot of the metrics chart: series of many runs and roles (colour by run, line style
/// by role), one metric shown at a time, any x axis, log scales, TensorBoard smoothing drawn
/// over the faint raw series, seed-group bands, and legend entries that toggle a series.
///
/// Every point stays in memory; what QCustomPlot draws is recomputed before each replot by
/// per-pixel min/max decimation of the visible range (Decimation.h), so a million points per
/// series cost a few thousand drawn ones and no spike is lost. Data changes only request a
/// replot; requests are coalesced to at most one queued replot per ~33 ms.
class ChartPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit ChartPlot(QWidget *parent = nullptr);
    ~ChartPlot() override;

    /// Adds a series, or replaces the one with the same key (keeping its visibility). Returns
    /// false and leaves the chart unchanged when an x array is not sorted ascending or has
    /// a length other than y's (`error` says which).
    bool addSeries(const ChartSeries &series, QString *error = nullptr);
    bool removeSeries(const QString &key);
    /// Appends points to a live series: cheap (the smoothing continues incrementally, the
    /// extents are updated in O(points)); the view follows the data until the user pans or
    /// zooms. The points must carry the x arrays the series has, continuing them in order.
    bool appendPoints(const QString &key, const ChartPoints &points, QString *error = nullptr);
    bool addBand(const ChartBand &band, QString *error = nullptr);
    bool removeBand(const QString &key);
    /// Removes every series and band.
    void clearAll();

    QStringList seriesKeys() const;
    QStringList bandKeys() const;
    const ChartSeries *series(const QString &key) const;
    const ChartBand *band(const QString &key) const;
    /// The metric names of all series, sorted.
    QStringList metricNames() const;
    /// Series of the shown metric whose legend entry is on, in the order they were added.
    std::vector<const ChartSeries *> shownSeries() const;

    /// The metric shown (series of other names stay loaded but are not drawn). Choosing one
    /// ends the automatic choice below.
    void setMetric(const QString &name);
    /// Until the user (or setMetric) chooses, the chart shows the first of these names that
    /// any series has, else the first series' name. Default: test_acc, val_acc, train_acc,
    /// loss (what a user opens a comparison for, not e.g. img_per_s).
    void setPreferredMetrics(const QStringList &names);
    QStringList preferredMetrics() const { return m_preferred; }
    QString metric() const { return m_metric; }
    void setXAxisKind(ChartXAxis axis);
    ChartXAxis xAxisKind() const { return m_axis; }
    void setLogX(bool on);
    void setLogY(bool on);
    bool logX() const { return m_logX; }
    bool logY() const { return m_logY; }
    /// TensorBoard smoothing weight, clamped to [0, 0.999]; 0 draws the raw series only.
    void setSmoothing(double weight);
    double smoothing() const { return m_weight; }

    void setSeriesVisible(const QString &key, bool visible);
    bool isSeriesVisible(const QString &key) const;

    /// Fits both axes to the shown data and follows new data again.
    void resetView();
    bool following() const { return m_follow; }

    /// The graph drawn on top for a series (smoothed when smoothing is on) and its faint raw
    /// copy beneath (hidden when smoothing is off); null for an unknown key.
    QCPGraph *lineGraph(const QString &key) const;
    QCPGraph *rawGraph(const QString &key) const;
    /// The graphs of a band: the filled upper graph and its lower boundary.
    QCPGraph *bandUpperGraph(const QString &key) const;
    /// Total points held (not drawn) over all series.
    std::size_t pointCount() const;

    /// Recomputes the drawn (decimated) data for the current view; `pixels` overrides the
    /// axis rect width (for an export at another size).
    void refreshDrawnData(int pixels = 0);
    /// Asks for a queued replot, coalesced with other requests.
    void requestReplot();

Q_SIGNALS:
    /// The set of metric names changed (a series of a new name was added, or the last of one
    /// removed).
    void metricNamesChanged();
    void seriesVisibilityChanged(const QString &key, bool visible);
    /// The x axis, log scales, metric or smoothing changed.
    void viewOptionsChanged();

protected:
    void mousePressEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void mouseDoubleClickEvent(QMouseEvent *event) override;

private:
    struct Entry;
    struct BandEntry;

    Entry *findEntry(const QString &key) const;
    BandEntry *findBand(const QString &key) const;
    QColor colorFor(const QString &runId);
    void applyAxisStyle();
    void updateLegend();
    void applyVisibility();
    void styleLegendItem(QCPAbstractPlottable *plottable, bool visible);
    void recomputeSmoothing(Entry &e);
    void onLegendClick(QCPLegend *legend, QCPAbstractLegendItem *item, QMouseEvent *event);
    void followData();
    bool shown(const Entry &e) const;
    void emitMetricNamesIfChanged();
    void chooseAutomaticMetric();
    void showMetric(const QString &name);

    std::vector<std::unique_ptr<Entry>> m_entries;
    std::vector<std::unique_ptr<BandEntry>> m_bands;
    QHash<QString, int> m_runColors;
    QStringList m_metricNames;
    QString m_metric;
    QStringList m_preferred{QStringLiteral("test_acc"), QStringLiteral("val_acc"), QStringLiteral("train_acc"),
                            QStringLiteral("loss")};
    bool m_metricChosen = false; ///< the user chose m_metric: no automatic choice any more
    ChartXAxis m_axis = ChartXAxis::Step;
    bool m_logX = false, m_logY = false;
    double m_weight = 0;
    bool m_follow = true;
    QTimer m_replotTimer;
    QElapsedTimer m_sinceReplot;
    QRect m_laidOutViewport; ///< the viewport of the last layout, to tell when it is stale
    QCPItemText *m_placeholder;
};

} // namespace kd::ui
