#pragma once

// Per-pixel min/max decimation of a line: for every pixel column of the visible x range keep
// the first, the lowest, the highest and the last point, in x order. A line through those
// points covers exactly the pixels the full line would, so a one-sample spike survives any
// zoom level, and the work per replot is bounded by the pixel count, not the series length
// (every point stays in memory; nothing is sampled away). No Qt.

#include <cstddef>
#include <vector>

namespace kd::ui::Decimation {

/// The visible part of the x axis and how it maps to pixel columns.
struct View {
    double lower = 0;   ///< visible x range
    double upper = 1;
    int pixels = 1;     ///< pixel columns across that range (the axis rect's width)
    bool logX = false;  ///< columns are equal steps of log(x); x <= 0 is not drawable
    bool logY = false;  ///< y <= 0 is not drawable on a log axis and becomes a gap
};

/// Indices (ascending) of the points to draw from the series (x sorted ascending, y the
/// same length). Kept: the last point before the visible range and the first after it (so
/// the line enters and leaves the view), and per pixel column first, min, max and last of
/// its finite points, plus the first non-finite point of the column so a gap stays a gap.
/// When the visible range holds at most 4 points per pixel the visible points are returned
/// as they are. At most 5 × pixels + 2 indices (4 × pixels + 2 when every y is finite).
std::vector<std::size_t> minMaxIndices(const std::vector<double> &x, const std::vector<double> &y,
                                       const View &view);

/// The decimated points as parallel arrays (cleared first). Non-finite y values and, on a
/// log y axis, values <= 0 come out as NaN, which plots draw as a gap.
void decimate(const std::vector<double> &x, const std::vector<double> &y, const View &view,
              std::vector<double> &outX, std::vector<double> &outY);

} // namespace kd::ui::Decimation
