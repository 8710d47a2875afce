#pragma once

// Internal to ChartPlot: what it keeps per series and per band. Shared by ChartPlot.cpp (data
// and legend) and ChartPlotDrawing.cpp (decimation, smoothing, axes and view).

#include "plots/ChartData.h"
#include "plots/ChartPlot.h"
#include "plots/Smoothing.h"

#include <cmath>
#include <vector>

namespace kd::ui {

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
