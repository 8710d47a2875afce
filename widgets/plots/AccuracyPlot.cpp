#include "AccuracyPlot.h"

#include "plots/PlotStyle.h"

#include <algorithm>
#include <cmath>

namespace kd::ui {

AccuracyPlot::AccuracyPlot(QWidget *parent) : RunPlot(parent)
{
    xAxis->setLabel(tr("epoch"));
    yAxis->setLabel(tr("accuracy (%)"));
    QSharedPointer<QCPAxisTickerFixed> ticker(new QCPAxisTickerFixed);
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    xAxis->setTicker(ticker);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    setToolTip(tr("Accuracy after each epoch.\n"
                  "Solid with markers: test set; dashed: training set; dotted: validation set.\n"
                  "Drag to pan, wheel to zoom, double-click to follow the run again."));
    setPlaceholderText(tr("Accuracies appear here after each epoch."));
    resetRanges();
}

void AccuracyPlot::addRecords(const QVector<kd::MetricRecord> &records)
{
    bool added = false;
    for (const auto &r : records) {
        if (r.kind != kd::MetricRecord::Kind::Epoch)
            continue;
        const QString role = QString::fromStdString(r.role);
        if (std::isfinite(r.trainAcc)) {
            addPoint(role, tr("train"), Qt::DashLine, r.epoch, r.trainAcc);
            added = true;
        }
        if (std::isfinite(r.valAcc)) {
            addPoint(role, tr("val"), Qt::DotLine, r.epoch, r.valAcc);
            added = true;
        }
        if (std::isfinite(r.testAcc)) {
            addPoint(role, tr("test"), Qt::SolidLine, r.epoch, r.testAcc);
            added = true;
        }
        // The method's own test-set accuracies (a multi-branch network's every branch and
        // ensemble, "branch2_acc", "ensemble_acc"; ARD's "robust_acc"): thin dash-dot lines
        // in shades of the role's colour.
        int shade = 0;
        for (const auto &[name, value] : r.extra) {
            const QString n = QString::fromStdString(name);
            if (!n.endsWith(QLatin1String("_acc")) || !std::isfinite(value))
                continue;
            addPoint(role, n.chopped(4) + tr(" (test)"), Qt::DashDotLine, r.epoch, value, shade++);
            added = true;
        }
    }
    if (added)
        dataAdded();
}

void AccuracyPlot::addPoint(const QString &role, const QString &split, Qt::PenStyle style,
                            int epoch, double accuracy, int shade)
{
    const QString key = role + QLatin1Char('/') + split;
    QCPGraph *g = series(key);
    if (!g) {
        // shade 0, 1, 2, ...: the role's colour, then alternately darker and lighter.
        QColor colour = PlotStyle::roleColor(role);
        if (shade > 0)
            colour = shade % 2 ? colour.darker(100 + 30 * ((shade + 1) / 2)) : colour.lighter(100 + 30 * (shade / 2));
        QPen pen(colour);
        pen.setStyle(style);
        pen.setWidthF(style == Qt::SolidLine ? 2.0 : style == Qt::DashDotLine ? 1.2 : 1.4);
        g = addSeries(key, PlotStyle::roleLabel(role) + QStringLiteral(" · ") + split, pen);
        // Markers keep a one-epoch run visible (a single point draws no line).
        const auto shape = style == Qt::SolidLine    ? QCPScatterStyle::ssDisc
                           : style == Qt::DashDotLine ? QCPScatterStyle::ssTriangle
                                                      : QCPScatterStyle::ssCircle;
        g->setScatterStyle(QCPScatterStyle(shape, colour, style == Qt::DashDotLine ? 5 : 6));
    }
    // The engine reports accuracies as fractions in [0, 1].
    g->addData(double(epoch), 100.0 * accuracy);
}

void AccuracyPlot::fitToData()
{
    bool found = false;
    QCPRange keys = QCPRange(0, 1), values = QCPRange(0, 100);
    for (int i = 0; i < graphCount(); ++i) {
        bool ok = false;
        const QCPRange k = graph(i)->getKeyRange(ok);
        if (!ok)
            continue;
        const QCPRange v = graph(i)->getValueRange(ok);
        keys = found ? QCPRange(std::min(keys.lower, k.lower), std::max(keys.upper, k.upper)) : k;
        values = found ? QCPRange(std::min(values.lower, v.lower), std::max(values.upper, v.upper)) : v;
        found = true;
    }
    if (!found)
        return resetRanges();
    xAxis->setRange(std::min(0.5, keys.lower - 0.5), std::max(keys.upper + 0.5, 2.0));
    // Keep 100 % in view and leave room below the lowest curve for the legend.
    const double span = std::max(100.0 - values.lower, 10.0);
    yAxis->setRange(std::max(0.0, values.lower - 0.6 * span), 100.0 + 0.02 * span);
}

void AccuracyPlot::resetRanges()
{
    xAxis->setRange(0.5, 5.5);
    yAxis->setRange(0, 100);
}

} // namespace kd::ui
