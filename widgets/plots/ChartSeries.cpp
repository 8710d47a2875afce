#include "ChartSeries.h"

#include "plots/PlotStyle.h"

#include <QCoreApplication>

#include <algorithm>
#include <limits>

namespace kd::ui {

QString chartXAxisName(ChartXAxis axis)
{
    switch (axis) {
    case ChartXAxis::Step:
        return QCoreApplication::translate("MetricsChart", "step");
    case ChartXAxis::Epoch:
        return QCoreApplication::translate("MetricsChart", "epoch");
    case ChartXAxis::WallTime:
        return QCoreApplication::translate("MetricsChart", "wall time");
    case ChartXAxis::RelativeTime:
        return QCoreApplication::translate("MetricsChart", "relative time");
    }
    return {};
}

std::vector<double> ChartXValues::values(ChartXAxis axis) const
{
    switch (axis) {
    case ChartXAxis::Step:
        return step;
    case ChartXAxis::Epoch:
        return epoch;
    case ChartXAxis::WallTime:
        if (!wallTime.empty() || !std::isfinite(startUnix))
            return wallTime;
        {
            std::vector<double> out(relativeTime);
            for (double &v : out)
                v += startUnix;
            return out;
        }
    case ChartXAxis::RelativeTime:
        if (!relativeTime.empty() || wallTime.empty())
            return relativeTime;
        {
            std::vector<double> out(wallTime);
            const double start = std::isfinite(startUnix) ? startUnix : wallTime.front();
            for (double &v : out)
                v -= start;
            return out;
        }
    }
    return {};
}

QString ChartSeries::legendLabel() const
{
    const QString run = runLabel.isEmpty() ? runId : runLabel;
    QString label = run.isEmpty() ? PlotStyle::roleLabel(role)
                                  : run + QStringLiteral(" · ") + PlotStyle::roleLabel(role);
    return label;
}

ChartBand seedBand(const std::vector<ChartSeries> &members, ChartBand::Kind kind,
                   const QString &groupId, const QString &label, ChartSeries *mean)
{
    ChartBand band;
    band.kind = kind;
    band.groupId = groupId;
    band.label = label;
    if (members.empty())
        return band;
    const ChartSeries &head = members.front();
    band.name = head.name;
    band.role = head.role;
    std::size_t n = head.y.size();
    for (const ChartSeries &m : members)
        n = std::min(n, m.y.size());

    auto truncated = [n](const std::vector<double> &v) {
        return v.size() >= n ? std::vector<double>(v.begin(), v.begin() + std::ptrdiff_t(n)) : std::vector<double>{};
    };
    band.x.step = truncated(head.x.step);
    band.x.epoch = truncated(head.x.epoch);
    band.x.wallTime = truncated(head.x.wallTime);
    band.x.relativeTime = truncated(head.x.relativeTime);
    band.x.startUnix = head.x.startUnix;
    band.lower.resize(n);
    band.upper.resize(n);
    std::vector<double> centre(n);

    const double nan = std::numeric_limits<double>::quiet_NaN();
    for (std::size_t i = 0; i < n; ++i) {
        double sum = 0, lo = std::numeric_limits<double>::infinity(), hi = -lo;
        std::size_t count = 0;
        for (const ChartSeries &m : members) {
            const double v = m.y[i];
            if (!std::isfinite(v))
                continue;
            sum += v;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            ++count;
        }
        if (count == 0) {
            band.lower[i] = band.upper[i] = centre[i] = nan;
            continue;
        }
        const double mu = sum / double(count);
        centre[i] = mu;
        if (kind == ChartBand::Kind::MinMax) {
            band.lower[i] = lo;
            band.upper[i] = hi;
            continue;
        }
        double ss = 0;
        for (const ChartSeries &m : members) {
            const double v = m.y[i];
            if (std::isfinite(v))
                ss += (v - mu) * (v - mu);
        }
        const double sd = count > 1 ? std::sqrt(ss / double(count - 1)) : 0.0;
        band.lower[i] = mu - sd;
        band.upper[i] = mu + sd;
    }
    if (mean) {
        *mean = ChartSeries{};
        mean->name = head.name;
        mean->runId = groupId;
        mean->runLabel = label;
        mean->role = head.role;
        mean->x = band.x;
        mean->y = std::move(centre);
    }
    return band;
}

} // namespace kd::ui
