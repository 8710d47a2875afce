#include "MetricsChart.h"

#include "plots/ChartPlot.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QSignalBlocker>
#include <QSlider>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>

namespace kd::ui {

namespace {

/// The slider works in thousandths: 0 … 999 is a weight of 0 … 0.999.
constexpr int SliderSteps = 1000;

} // namespace

MetricsChart::MetricsChart(QWidget *parent)
    : QWidget(parent),
      m_plot(new ChartPlot(this)),
      m_metricBox(new QComboBox(this)),
      m_axisBox(new QComboBox(this)),
      m_logX(new QCheckBox(tr("log x"), this)),
      m_logY(new QCheckBox(tr("log y"), this)),
      m_smoothing(new QSlider(Qt::Horizontal, this)),
      m_smoothingValue(new QLabel(this)),
      m_reset(new QToolButton(this)),
      m_export(new QToolButton(this)),
      m_bar(new QHBoxLayout)
{
    m_plot->setObjectName(QStringLiteral("chartPlot"));
    m_metricBox->setObjectName(QStringLiteral("metricBox"));
    m_metricBox->setToolTip(tr("The logged series to show (every run and role that has it)."));
    m_metricBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_metricBox->setMinimumContentsLength(8);

    m_axisBox->setObjectName(QStringLiteral("xAxisBox"));
    for (ChartXAxis axis : {ChartXAxis::Step, ChartXAxis::Epoch, ChartXAxis::WallTime, ChartXAxis::RelativeTime})
        m_axisBox->addItem(chartXAxisName(axis), int(axis));
    m_axisBox->setToolTip(tr("Horizontal axis: optimiser step, epoch, clock time or time since the run started."));

    m_logX->setObjectName(QStringLiteral("logX"));
    m_logY->setObjectName(QStringLiteral("logY"));
    m_smoothing->setObjectName(QStringLiteral("smoothing"));
    m_smoothing->setRange(0, SliderSteps - 1);
    m_smoothing->setMinimumWidth(110);
    m_smoothing->setToolTip(tr("Smoothing: TensorBoard's debiased exponential moving average.\n"
                               "The raw series stays drawn faintly beneath."));
    m_smoothingValue->setMinimumWidth(m_smoothingValue->fontMetrics().horizontalAdvance(QStringLiteral("0.000")));

    m_reset->setObjectName(QStringLiteral("resetView"));
    m_reset->setText(tr("Reset"));
    m_reset->setToolTip(tr("Fit the view to the data and follow new points again (or double-click the chart)."));
    m_export->setObjectName(QStringLiteral("export"));
    m_export->setText(tr("Export"));
    m_export->setPopupMode(QToolButton::InstantPopup);
    auto *menu = new QMenu(m_export);
    menu->addAction(tr("PNG image…"), this, [this] { exportWithDialog(tr("PNG image (*.png)"), QStringLiteral("png")); });
    menu->addAction(tr("SVG drawing…"), this, [this] { exportWithDialog(tr("SVG drawing (*.svg)"), QStringLiteral("svg")); });
    menu->addAction(tr("PDF document…"), this, [this] { exportWithDialog(tr("PDF document (*.pdf)"), QStringLiteral("pdf")); });
    menu->addSeparator();
    menu->addAction(tr("Shown series as CSV…"), this, [this] { exportWithDialog(tr("CSV table (*.csv)"), QStringLiteral("csv")); });
    m_export->setMenu(menu);

    auto *bar = m_bar;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(new QLabel(tr("Series"), this));
    bar->addWidget(m_metricBox);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("x"), this));
    bar->addWidget(m_axisBox);
    bar->addWidget(m_logX);
    bar->addWidget(m_logY);
    bar->addSpacing(8);
    bar->addWidget(new QLabel(tr("Smoothing"), this));
    bar->addWidget(m_smoothing, 1);
    bar->addWidget(m_smoothingValue);
    bar->addWidget(m_reset);
    bar->addWidget(m_export);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_plot, 1);

    connect(m_metricBox, &QComboBox::currentTextChanged, this, [this](const QString &name) {
        if (!name.isEmpty())
            m_plot->setMetric(name);
    });
    connect(m_axisBox, &QComboBox::currentIndexChanged, this, [this](int) {
        m_plot->setXAxisKind(ChartXAxis(m_axisBox->currentData().toInt()));
    });
    connect(m_logX, &QCheckBox::toggled, m_plot, &ChartPlot::setLogX);
    connect(m_logY, &QCheckBox::toggled, m_plot, &ChartPlot::setLogY);
    connect(m_smoothing, &QSlider::valueChanged, this, [this](int v) { m_plot->setSmoothing(v / double(SliderSteps)); });
    connect(m_reset, &QToolButton::clicked, m_plot, &ChartPlot::resetView);
    connect(m_plot, &ChartPlot::metricNamesChanged, this, &MetricsChart::rebuildMetricBox);
    connect(m_plot, &ChartPlot::viewOptionsChanged, this, &MetricsChart::syncControls);
    syncControls();
}

bool MetricsChart::addSeries(const ChartSeries &series, QString *error)
{
    return m_plot->addSeries(series, error);
}

bool MetricsChart::appendPoints(const QString &key, const ChartPoints &points, QString *error)
{
    return m_plot->appendPoints(key, points, error);
}

bool MetricsChart::removeSeries(const QString &key)
{
    return m_plot->removeSeries(key);
}

bool MetricsChart::addBand(const ChartBand &band, QString *error)
{
    return m_plot->addBand(band, error);
}

bool MetricsChart::removeBand(const QString &key)
{
    return m_plot->removeBand(key);
}

void MetricsChart::addControl(QWidget *control)
{
    control->setParent(this);
    m_bar->insertWidget(m_bar->indexOf(m_reset), control);
}

void MetricsChart::clear()
{
    m_plot->clearAll();
}

void MetricsChart::setMetric(const QString &name)
{
    m_plot->setMetric(name);
}

void MetricsChart::setXAxis(ChartXAxis axis)
{
    m_plot->setXAxisKind(axis);
}

void MetricsChart::setSmoothing(double weight)
{
    m_plot->setSmoothing(weight);
}

void MetricsChart::rebuildMetricBox()
{
    const QSignalBlocker block(m_metricBox);
    m_metricBox->clear();
    m_metricBox->addItems(m_plot->metricNames());
    m_metricBox->setCurrentText(m_plot->metric());
}

void MetricsChart::syncControls()
{
    {
        const QSignalBlocker b1(m_metricBox), b2(m_axisBox), b3(m_logX), b4(m_logY), b5(m_smoothing);
        m_metricBox->setCurrentText(m_plot->metric());
        m_axisBox->setCurrentIndex(m_axisBox->findData(int(m_plot->xAxisKind())));
        m_logX->setChecked(m_plot->logX());
        m_logY->setChecked(m_plot->logY());
        m_smoothing->setValue(int(std::lround(m_plot->smoothing() * SliderSteps)));
    }
    // Clock times on a log axis mean nothing.
    m_logX->setEnabled(m_plot->xAxisKind() != ChartXAxis::WallTime || m_plot->logX());
    m_smoothingValue->setText(QString::number(m_plot->smoothing(), 'f', 3));
}

bool MetricsChart::exportImage(const QString &path, int width, int height, QString *error)
{
    ChartExport::Format format;
    if (!ChartExport::formatForPath(path, &format)) {
        if (error)
            *error = tr("cannot tell the image format of %1; name it .png, .svg or .pdf").arg(path);
        return false;
    }
    return ChartExport::saveImage(m_plot, path, format, width, height, error);
}

bool MetricsChart::exportCsv(const QString &path, QString *error)
{
    return ChartExport::saveCsv(m_plot->shownSeries(), m_plot->xAxisKind(), path, error);
}

void MetricsChart::exportWithDialog(const QString &filter, const QString &suffix)
{
    QString name = m_plot->metric().isEmpty() ? QStringLiteral("chart") : m_plot->metric();
    QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), name + QLatin1Char('.') + suffix, filter);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += QLatin1Char('.') + suffix;
    QString error;
    const bool ok = suffix == QLatin1String("csv") ? exportCsv(path, &error) : exportImage(path, 0, 0, &error);
    if (!ok)
        QMessageBox::warning(this, tr("Export chart"), error);
}

} // namespace kd::ui
