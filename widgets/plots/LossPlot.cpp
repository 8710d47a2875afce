#include "LossPlot.h"

#include "plots/PlotStyle.h"

#include <algorithm>
#include <cmath>

namespace kd::ui {

LossPlot::LossPlot(QWidget *parent) : RunPlot(parent)
{
    xAxis->setLabel(tr("optimiser step"));
    yAxis->setLabel(tr("training loss"));
    setToolTip(tr("Training loss of each model, averaged over the logged steps.\n"
                  "Solid: the total loss that is optimised; dashed: its terms (e.g. ce, kd).\n"
                  "Drag to pan, wheel to zoom, double-click to follow the run again."));
    setPlaceholderText(tr("The training loss of each model appears here as it trains."));
    resetRanges();
}

void LossPlot::addRecords(const QVector<kd::MetricRecord> &records)
{
    static const Qt::PenStyle termStyles[] = {Qt::DashLine, Qt::DotLine, Qt::DashDotLine,
                                              Qt::DashDotDotLine};
    bool added = false;
    for (const auto &r : records) {
        if (r.kind != kd::MetricRecord::Kind::Step)
            continue;
        const QString role = QString::fromStdString(r.role);
        for (std::size_t i = 0; i < r.losses.size(); ++i) {
            const double value = r.losses[i].second;
            if (!std::isfinite(value))
                continue;
            // A single term that is the whole loss (plain cross-entropy) would only draw a
            // second curve on top of the first.
            const double total = r.losses.front().second;
            if (i == 1 && r.losses.size() == 2 && std::abs(value - total) <= 1e-9 * std::max(1.0, std::abs(total)))
                continue;
            const QString term = QString::fromStdString(r.losses[i].first);
            const QString key = role + QLatin1Char('/') + term;
            QCPGraph *g = series(key);
            if (!g) {
                QPen pen(PlotStyle::roleColor(role));
                pen.setWidthF(i == 0 ? 2.0 : 1.3);
                if (i > 0)
                    pen.setStyle(termStyles[(i - 1) % 4]);
                g = addSeries(key, PlotStyle::roleLabel(role) + QStringLiteral(" · ") + term, pen);
            }
            g->addData(double(r.step), value);
            added = true;
        }
    }
    if (added)
        dataAdded();
}

void LossPlot::resetRanges()
{
    xAxis->setRange(0, 100);
    yAxis->setRange(0, 2.5);
}

} // namespace kd::ui
