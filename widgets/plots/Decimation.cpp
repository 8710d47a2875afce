#include "Decimation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kd::ui::Decimation {

namespace {

constexpr std::size_t None = std::numeric_limits<std::size_t>::max();

/// x of the left edge of pixel column c (c = pixels gives the right edge of the range).
double columnEdge(const View &v, double lo, double hi, int c)
{
    const double t = double(c) / double(v.pixels);
    if (v.logX)
        return std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo)));
    return lo + t * (hi - lo);
}

} // namespace

std::vector<std::size_t> minMaxIndices(const std::vector<double> &x, const std::vector<double> &y,
                                       const View &view)
{
    std::vector<std::size_t> out;
    const std::size_t n = std::min(x.size(), y.size());
    if (n == 0)
        return out;
    View v = view;
    v.pixels = std::max(1, v.pixels);
    double lo = std::min(v.lower, v.upper), hi = std::max(v.lower, v.upper);
    if (v.logX) {
        if (!(hi > 0))
            return out;
        if (!(lo > 0))
            lo = hi * 1e-12; // a log axis never shows x <= 0; keep the columns finite
    }

    const double *xs = x.data();
    const std::size_t first = std::size_t(std::lower_bound(xs, xs + n, lo) - xs);
    const std::size_t last = std::size_t(std::upper_bound(xs + first, xs + n, hi) - xs);

    // The neighbours just outside the view, so the line runs to the axis edges.
    if (first > 0 && (!v.logX || xs[first - 1] > 0))
        out.push_back(first - 1);

    const std::size_t visible = last - first;
    if (visible <= 4 * std::size_t(v.pixels)) {
        for (std::size_t i = first; i < last; ++i)
            out.push_back(i);
    } else {
        out.reserve(4 * std::size_t(v.pixels) + 2);
        std::size_t begin = first;
        for (int c = 0; c < v.pixels && begin < last; ++c) {
            // Columns follow from the sorted x by binary search: no division per point.
            const std::size_t end = c + 1 == v.pixels
                ? last
                : std::size_t(std::lower_bound(xs + begin, xs + last, columnEdge(v, lo, hi, c + 1)) - xs);
            if (end == begin)
                continue;
            std::size_t iMin = None, iMax = None, iGap = None;
            double yMin = std::numeric_limits<double>::infinity();
            double yMax = -std::numeric_limits<double>::infinity();
            for (std::size_t i = begin; i < end; ++i) {
                const double value = y[i];
                if (!std::isfinite(value)) {
                    if (iGap == None)
                        iGap = i;
                    continue;
                }
                if (value < yMin) {
                    yMin = value;
                    iMin = i;
                }
                if (value > yMax) {
                    yMax = value;
                    iMax = i;
                }
            }
            std::size_t keep[5] = {begin, iMin, iMax, iGap, end - 1};
            std::sort(keep, keep + 5);
            for (std::size_t k = 0; k < 5; ++k) {
                if (keep[k] != None && (k == 0 || keep[k] != keep[k - 1]))
                    out.push_back(keep[k]);
            }
            begin = end;
        }
    }

    if (last < n)
        out.push_back(last);
    return out;
}

void decimate(const std::vector<double> &x, const std::vector<double> &y, const View &view,
              std::vector<double> &outX, std::vector<double> &outY)
{
    outX.clear();
    outY.clear();
    const std::vector<std::size_t> keep = minMaxIndices(x, y, view);
    outX.reserve(keep.size());
    outY.reserve(keep.size());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i : keep) {
        if (view.logX && !(x[i] > 0))
            continue;
        const double value = y[i];
        const bool drawable = std::isfinite(value) && (!view.logY || value > 0);
        outX.push_back(x[i]);
        outY.push_back(drawable ? value : nan);
    }
}

} // namespace kd::ui::Decimation
