#pragma once

// Internal to ChartPlot: what it keeps per series and per band. Shared by ChartPlot.cpp (data
// and legend) and ChartPlotDrawing.cpp (decimation, smoothing, axes and view).

#include "plots/ChartData.h"
#include "plots/ChartPlot.h"
#include "plots/Smoothing.h"

#include <cmath>
#include <vector>

namespace kd::ui {

/// Line width of a series' curve. Measured (bench_charts, 4 series × 1,000,000 noisy points,
/// 1280 px): Qt's raster engine strokes a wide dashed or dotted polyline ~100× slower than a
/// 1 px one (1.6 s against 12 ms a replot), so a curve drawn with more points than
/// DensePoints (a dense zigzag, where the width is invisible anyway) is drawn 1 px wide.
constexpr double LinePenWidth = 1.8;
constexpr double DenseLinePenWidth = 1.0;
constexpr int DensePoints = 2000;

/// What the drawn data was computed for, so an unchanged view is not decimated again.
struct DrawnFor {
    double lower = NAN, upper = NAN;
    int pixels = -1;
    bool logX = false, logY = false;
    ChartXAxis axis = ChartXAxis::Step;
    double weight = -1;
    quint64 version = 0;

    bool operator==(const DrawnFor &o) const
    {
        return lower == o.lower && upper == o.upper && pixels == o.pixels && logX == o.logX
            && logY == o.logY && axis == o.axis && weight == o.weight && version == o.version;
    }
};

struct ChartPlot::Entry {
    ChartSeries s;
    bool visible = true;
    QCPGraph *line = nullptr;
    QCPGraph *raw = nullptr;
    ChartData::Extent extent;
    quint64 version = 0;
    DrawnFor drawn;
    // Smoothing of s.y for `smoothedWeight` (< 0: not computed).
    std::vector<double> smoothed;
    double smoothedWeight = -1;
    bool smoothedConstant = false;
    Smoothing::EmaState ema;
};

struct ChartPlot::BandEntry {
    ChartBand b;
    bool visible = true;
    QCPGraph *lower = nullptr;
    QCPGraph *upper = nullptr;
    ChartData::Extent extent;
    DrawnFor drawn;
    std::vector<double> smoothedLower, smoothedUpper;
    double smoothedWeight = -1;
};

} // namespace kd::ui
