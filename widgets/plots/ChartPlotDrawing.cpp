// ChartPlot's drawing side: the data handed to QCustomPlot before each replot (decimated for
// the view, smoothed when asked), the axes' scales and tickers, and fitting the view.

#include "ChartPlotEntries.h"

#include "plots/Decimation.h"

#include <algorithm>
#include <cmath>

namespace kd::ui {

using ChartData::xArray;

namespace {

/// At most one data-driven replot per this many milliseconds (~30 Hz).
constexpr int MinFrameMs = 33;

void setDrawn(QCPGraph *graph, const std::vector<double> &x, const std::vector<double> &y,
              const Decimation::View &view)
{
    thread_local std::vector<double> bx, by;
    Decimation::decimate(x, y, view, bx, by);
    QVector<QCPGraphData> data(qsizetype(bx.size()));
    for (std::size_t i = 0; i < bx.size(); ++i)
        data[qsizetype(i)] = QCPGraphData(bx[i], by[i]);
    graph->data()->set(data, true);
}

/// A series' top curve: LinePenWidth, or DenseLinePenWidth when drawn with many points.
void fitLineWidth(QCPGraph *line)
{
    QPen pen = line->pen();
    const double width = line->data()->size() > DensePoints ? DenseLinePenWidth : LinePenWidth;
    if (pen.widthF() != width) {
        pen.setWidthF(width);
        line->setPen(pen);
    }
}

void updateRange(bool &any, double &lo, double &hi, double a, double b)
{
    lo = any ? std::min(lo, a) : a;
    hi = any ? std::max(hi, b) : b;
    any = true;
}

} // namespace

void ChartPlot::applyAxisStyle()
{
    xAxis->setLabel(chartXAxisName(m_axis));
    yAxis->setLabel(m_metric);
    if (m_logX) {
        xAxis->setScaleType(QCPAxis::stLogarithmic);
        xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    } else {
        xAxis->setScaleType(QCPAxis::stLinear);
        if (m_axis == ChartXAxis::WallTime) {
            QSharedPointer<QCPAxisTickerDateTime> ticker(new QCPAxisTickerDateTime);
            ticker->setDateTimeFormat(QStringLiteral("HH:mm:ss\nMMM d"));
            xAxis->setTicker(ticker);
        } else if (m_axis == ChartXAxis::RelativeTime) {
            QSharedPointer<QCPAxisTickerTime> ticker(new QCPAxisTickerTime);
            ticker->setTimeFormat(QStringLiteral("%h:%m:%s"));
            xAxis->setTicker(ticker);
        } else {
            xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        }
    }
    yAxis->setScaleType(m_logY ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (m_logY)
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
}

void ChartPlot::recomputeSmoothing(Entry &e)
{
    const std::vector<double> &y = e.s.y;
    e.ema = Smoothing::EmaState{};
    e.smoothedConstant = Smoothing::isConstant(y);
    if (e.smoothedConstant) {
        e.smoothed = y;
    } else {
        e.smoothed.resize(y.size());
        for (std::size_t i = 0; i < y.size(); ++i)
            e.smoothed[i] = Smoothing::emaStep(e.ema, y[i], m_weight);
    }
    e.smoothedWeight = m_weight;
}

void ChartPlot::refreshDrawnData(int pixels)
{
    // The axis rect is laid out during the replot, after this runs: after a resize, lay it
    // out first so the decimation uses the width the points will be drawn at.
    if (pixels <= 0 && viewport() != m_laidOutViewport) {
        updateLayout();
        m_laidOutViewport = viewport();
    }
    if (pixels > 0)
        m_laidOutViewport = QRect(); // an export lays the plot out at its own size
    const int px = pixels > 0 ? pixels : std::max(1, axisRect()->width());
    Decimation::View view;
    view.lower = xAxis->range().lower;
    view.upper = xAxis->range().upper;
    view.pixels = px;
    view.logX = m_logX;
    view.logY = m_logY;
    DrawnFor now;
    now.lower = view.lower;
    now.upper = view.upper;
    now.pixels = px;
    now.logX = m_logX;
    now.logY = m_logY;
    now.axis = m_axis;
    now.weight = m_weight;

    for (const auto &e : m_entries) {
        if (!shown(*e) || !e->visible)
            continue; // invisible graphs keep stale data and are redrawn when shown again
        now.version = e->version;
        if (e->drawn == now)
            continue;
        const std::vector<double> &x = xArray(e->s.x, m_axis);
        if (m_weight > 0) {
            if (e->smoothedWeight != m_weight)
                recomputeSmoothing(*e);
            setDrawn(e->line, x, e->smoothed, view);
            setDrawn(e->raw, x, e->s.y, view);
        } else {
            setDrawn(e->line, x, e->s.y, view);
            e->raw->data()->clear();
        }
        fitLineWidth(e->line);
        e->drawn = now;
    }
    for (const auto &b : m_bands) {
        if (b->b.name != m_metric || !b->visible)
            continue;
        now.version = 0;
        if (b->drawn == now)
            continue;
        const std::vector<double> &x = xArray(b->b.x, m_axis);
        if (m_weight > 0) {
            if (b->smoothedWeight != m_weight) {
                b->smoothedLower = Smoothing::debiasedEma(b->b.lower, m_weight);
                b->smoothedUpper = Smoothing::debiasedEma(b->b.upper, m_weight);
                b->smoothedWeight = m_weight;
            }
            setDrawn(b->lower, x, b->smoothedLower, view);
            setDrawn(b->upper, x, b->smoothedUpper, view);
        } else {
            setDrawn(b->lower, x, b->b.lower, view);
            setDrawn(b->upper, x, b->b.upper, view);
        }
        b->drawn = now;
    }
}

void ChartPlot::requestReplot()
{
    if (m_replotTimer.isActive())
        return;
    const qint64 since = m_sinceReplot.isValid() ? m_sinceReplot.elapsed() : MinFrameMs;
    m_replotTimer.start(int(std::clamp<qint64>(MinFrameMs - since, 0, MinFrameMs)));
}

void ChartPlot::followData()
{
    if (!m_follow)
        return;
    bool anyX = false, anyY = false;
    double xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    auto addY = [&](const ChartData::Extent &ext) {
        const double lo = m_logY ? ext.minPositive : ext.min;
        if (std::isfinite(lo) && std::isfinite(ext.max) && ext.max >= lo)
            updateRange(anyY, ylo, yhi, lo, ext.max);
    };
    for (const auto &e : m_entries) {
        if (!shown(*e) || !e->visible)
            continue;
        double lo, hi;
        if (ChartData::xExtent(xArray(e->s.x, m_axis), m_logX, lo, hi)) {
            updateRange(anyX, xlo, xhi, lo, hi);
            addY(e->extent);
        }
    }
    for (const auto &b : m_bands) {
        if (b->b.name != m_metric || !b->visible)
            continue;
        double lo, hi;
        if (ChartData::xExtent(xArray(b->b.x, m_axis), m_logX, lo, hi)) {
            updateRange(anyX, xlo, xhi, lo, hi);
            addY(b->extent);
        }
    }
    if (!anyX) {
        xlo = m_logX ? 1 : 0;
        xhi = m_logX ? 1000 : 100;
    } else if (xhi <= xlo) {
        xlo = m_logX ? xlo / 2 : xlo - 0.5;
        xhi = m_logX ? xhi * 2 : xhi + 0.5;
    }
    if (!anyY) {
        ylo = m_logY ? 0.01 : 0;
        yhi = m_logY ? 10 : 1;
    } else if (m_logY) {
        // A little air on a log axis is a factor, not an offset.
        const double span = yhi > ylo ? std::log10(yhi / ylo) : 1.0;
        const double f = std::pow(10.0, 0.05 * span);
        ylo /= f;
        yhi *= f;
    } else {
        const double pad = yhi > ylo ? 0.05 * (yhi - ylo) : std::max(0.05 * std::abs(yhi), 0.5);
        ylo -= pad;
        yhi += pad;
    }
    xAxis->setRange(xlo, xhi);
    yAxis->setRange(ylo, yhi);
}

void ChartPlot::resetView()
{
    m_follow = true;
    followData();
    requestReplot();
}

} // namespace kd::ui
