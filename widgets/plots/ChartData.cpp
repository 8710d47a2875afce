#include "ChartData.h"

#include <algorithm>

namespace kd::ui::ChartData {

namespace {

/// An x array is usable when empty (unknown) or as long as y, finite and ascending, and,
/// for appended points, not before the last stored value.
bool checkX(const std::vector<double> &v, std::size_t n, ChartXAxis axis, double after,
            const QString &key, QString *error)
{
    auto fail = [&](const QString &why) {
        if (error)
            *error = QStringLiteral("series %1: the %2 values %3; give one ascending value per point")
                         .arg(key, chartXAxisName(axis), why);
        return false;
    };
    if (v.empty())
        return true;
    if (v.size() != n)
        return fail(QStringLiteral("are %1 for %2 points").arg(v.size()).arg(n));
    double previous = after;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!std::isfinite(v[i]))
            return fail(QStringLiteral("are not finite at point %1").arg(i));
        if (v[i] < previous)
            return fail(QStringLiteral("go back at point %1 (%2 after %3)").arg(i).arg(v[i]).arg(previous));
        previous = v[i];
    }
    return true;
}

} // namespace

const std::vector<double> &xArray(const ChartXValues &x, ChartXAxis axis)
{
    switch (axis) {
    case ChartXAxis::Step:
        return x.step;
    case ChartXAxis::Epoch:
        return x.epoch;
    case ChartXAxis::WallTime:
        return x.wallTime;
    case ChartXAxis::RelativeTime:
        return x.relativeTime;
    }
    return x.step;
}

void deriveTimes(ChartXValues &x, std::size_t n)
{
    if (!std::isfinite(x.startUnix) && !x.wallTime.empty())
        x.startUnix = x.wallTime.front();
    if (x.relativeTime.empty() && x.wallTime.size() == n && n > 0)
        x.relativeTime = x.values(ChartXAxis::RelativeTime);
    if (x.wallTime.empty() && x.relativeTime.size() == n && n > 0 && std::isfinite(x.startUnix))
        x.wallTime = x.values(ChartXAxis::WallTime);
}

bool checkPoints(const ChartXValues &x, std::size_t n, const ChartXValues *existing, const QString &key,
                 QString *error)
{
    for (ChartXAxis axis : {ChartXAxis::Step, ChartXAxis::Epoch, ChartXAxis::WallTime, ChartXAxis::RelativeTime}) {
        const std::vector<double> &v = xArray(x, axis);
        double after = -std::numeric_limits<double>::infinity();
        if (existing) {
            const std::vector<double> &old = xArray(*existing, axis);
            if (!old.empty() && v.empty()) {
                if (error)
                    *error = QStringLiteral("series %1: the appended points have no %2 values, but the series has")
                                 .arg(key, chartXAxisName(axis));
                return false;
            }
            if (old.empty() && !v.empty()) {
                if (error)
                    *error = QStringLiteral("series %1: the appended points have %2 values, but the earlier points have none")
                                 .arg(key, chartXAxisName(axis));
                return false;
            }
            if (!old.empty())
                after = old.back();
        }
        if (!checkX(v, n, axis, after, key, error))
            return false;
    }
    return true;
}

void Extent::add(const std::vector<double> &v, std::size_t from)
{
    for (std::size_t i = from; i < v.size(); ++i) {
        const double y = v[i];
        if (!std::isfinite(y))
            continue;
        min = std::min(min, y);
        max = std::max(max, y);
        if (y > 0)
            minPositive = std::min(minPositive, y);
    }
}

/// The visible x extent of a sorted array: [first, last], or [first > 0, last] on a log axis.
bool xExtent(const std::vector<double> &x, bool log, double &lo, double &hi)
{
    if (x.empty())
        return false;
    auto it = log ? std::upper_bound(x.begin(), x.end(), 0.0) : x.begin();
    if (it == x.end())
        return false;
    lo = *it;
    hi = x.back();
    return true;
}

} // namespace kd::ui::ChartData
