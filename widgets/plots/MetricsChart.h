#pragma once

#include "plots/ChartExport.h"
#include "plots/ChartSeries.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QHBoxLayout;
class QLabel;
class QSlider;
class QToolButton;

namespace kd::ui {

class ChartPlot;

/// A reusable chart of logged metrics, TensorBoard-style: a control bar (which series, which
/// x axis, log x / log y, smoothing slider 0–0.999, reset view, export) over a ChartPlot.
/// Series of many runs and roles are overlaid: one colour per run, line style by role
/// (teacher dotted, student solid, student_scratch dashed). Drag pans, the wheel zooms, a
/// double-click resets the view; a click on a legend entry hides or shows that series.
class MetricsChart : public QWidget {
    Q_OBJECT

public:
    explicit MetricsChart(QWidget *parent = nullptr);

    ChartPlot *plot() const { return m_plot; }

    /// See ChartPlot: add or replace a series / band, append to a live series, remove.
    bool addSeries(const ChartSeries &series, QString *error = nullptr);
    bool appendPoints(const QString &key, const ChartPoints &points, QString *error = nullptr);
    bool removeSeries(const QString &key);
    bool addBand(const ChartBand &band, QString *error = nullptr);
    bool removeBand(const QString &key);
    void clear();

    /// Chooses the series (metric name) shown, as the combobox does.
    void setMetric(const QString &name);
    void setXAxis(ChartXAxis axis);
    void setSmoothing(double weight);
    /// Puts a caller's control (e.g. the comparison's band choice) in the bar, before Reset.
    void addControl(QWidget *control);

    /// Saves the chart as PNG, SVG or PDF, chosen by the file's suffix.
    bool exportImage(const QString &path, int width = 0, int height = 0, QString *error = nullptr);
    /// Saves the raw points of the series shown now (the legend entries that are on) as CSV.
    bool exportCsv(const QString &path, QString *error = nullptr);

private:
    void rebuildMetricBox();
    void syncControls();
    void exportWithDialog(const QString &filter, const QString &suffix);

    ChartPlot *m_plot;
    QComboBox *m_metricBox;
    QComboBox *m_axisBox;
    QCheckBox *m_logX;
    QCheckBox *m_logY;
    QSlider *m_smoothing;
    QLabel *m_smoothingValue;
    QToolButton *m_reset;
    QToolButton *m_export;
    QHBoxLayout *m_bar;
};

} // namespace kd::ui
