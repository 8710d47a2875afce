#pragma once

// Internal helpers of the metrics chart (ChartPlot): which stored array an x axis reads,
// deriving the time arrays, checking x arrays, and value extents. No widgets.

#include "plots/ChartSeries.h"

#include <QString>

#include <cmath>
#include <limits>
#include <vector>

namespace kd::ui::ChartData {

/// The stored x array of `axis` (after deriveTimes, every derivable axis has one).
const std::vector<double> &xArray(const ChartXValues &x, ChartXAxis axis);

/// Fills the derivable time arrays (ChartXValues' rules) for `n` points, and takes the run's
/// start from the first wall time when it is not given.
void deriveTimes(ChartXValues &x, std::size_t n);

/// Checks the x arrays of `n` points: each empty (unknown) or `n` finite values in ascending
/// order. For points appended to `existing` (null for a new series) they must also have
/// exactly the arrays the series has and not go back before its last values. On failure
/// `error` names the series, the axis and the point.
bool checkPoints(const ChartXValues &x, std::size_t n, const ChartXValues *existing, const QString &key,
                 QString *error);

/// Extents of the finite values: min, max and the least value > 0 (for a log axis).
struct Extent {
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double minPositive = std::numeric_limits<double>::infinity();

    /// Widens the extent by v[from...].
    void add(const std::vector<double> &v, std::size_t from = 0);
};

/// The x extent of a sorted array, [first, last], or from the first value > 0 on a log axis.
bool xExtent(const std::vector<double> &x, bool log, double &lo, double &hi);

} // namespace kd::ui::ChartData
