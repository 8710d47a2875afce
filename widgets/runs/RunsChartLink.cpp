#include "RunsChartLink.h"

#include "plots/ChartSeries.h"
#include "plots/MetricsChart.h"
#include "runs/RunsBrowser.h"

#include <cmath>

namespace kd::ui {

namespace {

/// Columns that step rows log too: their epoch-row values are a second series.
bool alsoLoggedPerStep(const QString &column)
{
    return column.startsWith(QLatin1String("loss")) || column == QLatin1String("lr")
        || column == QLatin1String("img_per_s");
}

std::vector<double> toStd(const QVector<double> &v)
{
    return std::vector<double>(v.begin(), v.end());
}

} // namespace

RunsChartLink::RunsChartLink(RunsBrowser *browser, MetricsChart *chart, QObject *parent)
    : QObject(parent)
    , m_chart(chart)
{
    connect(browser, &RunsBrowser::runsSelected, this, &RunsChartLink::selectionChanged);
    connect(browser, &RunsBrowser::seriesUpdated, this, &RunsChartLink::seriesUpdated);
}

ChartSeries RunsChartLink::toChartSeries(const RunSeries &s)
{
    ChartSeries c;
    c.name = s.kind == QLatin1String("epoch") && alsoLoggedPerStep(s.column) ? QStringLiteral("epoch_") + s.column
                                                                             : s.column;
    c.runId = s.runDir;
    c.runLabel = s.runName;
    c.role = s.role;
    c.x.step = toStd(s.step);
    c.x.epoch = toStd(s.epoch);
    // metrics.csv's wall_s counts from the run's start: the relative time axis.
    c.x.relativeTime = toStd(s.wallSeconds);
    c.y = toStd(s.y);
    return c;
}

void RunsChartLink::selectionChanged(const QStringList &dirs)
{
    m_selected = QSet<QString>(dirs.begin(), dirs.end());
    for (auto it = m_keysByRun.begin(); it != m_keysByRun.end();) {
        if (m_selected.contains(it.key())) {
            ++it;
            continue;
        }
        for (const auto &key : it.value())
            m_chart->removeSeries(key);
        it = m_keysByRun.erase(it);
    }
}

void RunsChartLink::seriesUpdated(const QString &runDir, const QVector<RunSeries> &series)
{
    if (!m_selected.contains(runDir))
        return;
    auto &keys = m_keysByRun[runDir];
    for (const auto &s : series) {
        const auto c = toChartSeries(s);
        if (m_chart->addSeries(c))
            keys.insert(c.key());
    }
}

} // namespace kd::ui
