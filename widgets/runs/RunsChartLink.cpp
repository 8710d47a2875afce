#include "RunsChartLink.h"

#include "plots/MetricsChart.h"
#include "plots/PlotStyle.h"

#include <map>
#include <tuple>

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
    , m_browser(browser)
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

void RunsChartLink::setBandKind(ChartBand::Kind kind)
{
    if (kind == m_bandKind)
        return;
    m_bandKind = kind;
    for (const SelectedGroup &g : m_groups)
        drawGroup(g);
}

void RunsChartLink::selectionChanged(const QStringList &dirs)
{
    m_selected = QSet<QString>(dirs.begin(), dirs.end());
    m_groups = m_browser->selectedGroups();
    m_groupOf.clear();
    QSet<QString> owners;
    for (int i = 0; i < m_groups.size(); ++i) {
        owners.insert(m_groups[i].id);
        for (const QString &dir : m_groups[i].dirs)
            m_groupOf.insert(dir, i);
    }
    for (const QString &dir : dirs) {
        if (!m_groupOf.contains(dir))
            owners.insert(dir);
    }
    for (auto it = m_series.begin(); it != m_series.end();)
        it = m_selected.contains(it.key()) ? std::next(it) : m_series.erase(it);

    // Whatever was drawn for an owner that is gone (a deselected run, a run now shown within
    // its group, a group no longer selected) leaves the chart.
    QSet<QString> drawn;
    for (auto it = m_seriesKeys.cbegin(); it != m_seriesKeys.cend(); ++it)
        drawn.insert(it.key());
    for (auto it = m_bandKeys.cbegin(); it != m_bandKeys.cend(); ++it)
        drawn.insert(it.key());
    for (const QString &owner : drawn) {
        if (!owners.contains(owner))
            keepOnly(owner, {}, {});
    }
    // Series already read and not drawn in this form yet are drawn at once (the browser
    // sends a run's series only when it is newly selected or grows); what is drawn already
    // stays as it is, so a selection change costs only what changed.
    for (const QString &dir : dirs) {
        if (!m_groupOf.contains(dir) && m_series.contains(dir) && !m_seriesKeys.contains(dir))
            drawRun(dir);
    }
    for (const SelectedGroup &g : m_groups) {
        if (!(m_drawnGroups.value(g.id) == g))
            drawGroup(g);
    }
}

void RunsChartLink::seriesUpdated(const QString &runDir, const QVector<RunSeries> &series)
{
    if (!m_selected.contains(runDir))
        return;
    m_series.insert(runDir, series);
    const auto group = m_groupOf.constFind(runDir);
    if (group != m_groupOf.cend())
        drawGroup(m_groups[*group]);
    else
        drawRun(runDir);
}

void RunsChartLink::drawRun(const QString &dir)
{
    QSet<QString> keys;
    for (const RunSeries &s : m_series.value(dir)) {
        const ChartSeries c = toChartSeries(s);
        if (m_chart->addSeries(c))
            keys.insert(c.key());
    }
    keepOnly(dir, keys, {});
}

void RunsChartLink::drawGroup(const SelectedGroup &group)
{
    // The members' series by (role, chart name), in the members' order.
    std::map<std::pair<QString, QString>, std::vector<ChartSeries>> byName;
    for (const QString &dir : group.dirs) {
        for (const RunSeries &s : m_series.value(dir)) {
            ChartSeries c = toChartSeries(s);
            byName[{c.role, c.name}].push_back(std::move(c));
        }
    }
    const QString spread = m_bandKind == ChartBand::Kind::MeanSd ? tr("± sd") : tr("min–max");
    QSet<QString> seriesKeys, bandKeys;
    for (const auto &[key, members] : byName) {
        ChartSeries mean;
        const ChartBand band = seedBand(members, m_bandKind, group.id,
                                        tr("%1 · %2, %3 of %4 runs, %5").arg(group.label, PlotStyle::roleLabel(key.first))
                                            .arg(members.size()).arg(group.dirs.size()).arg(spread),
                                        &mean);
        mean.runLabel = tr("%1 mean").arg(group.label);
        if (mean.y.empty())
            continue;
        if (m_chart->addSeries(mean))
            seriesKeys.insert(mean.key());
        if (m_chart->addBand(band))
            bandKeys.insert(band.key());
    }
    keepOnly(group.id, seriesKeys, bandKeys);
    m_drawnGroups.insert(group.id, group);
}

void RunsChartLink::keepOnly(const QString &owner, const QSet<QString> &series, const QSet<QString> &bands)
{
    auto prune = [&](QHash<QString, QSet<QString>> &drawn, const QSet<QString> &keep, bool isBand) {
        const QSet<QString> old = drawn.value(owner);
        for (const QString &key : old) {
            if (keep.contains(key))
                continue;
            if (isBand)
                m_chart->removeBand(key);
            else
                m_chart->removeSeries(key);
        }
        if (keep.isEmpty() && !isBand)
            m_drawnGroups.remove(owner);
        if (keep.isEmpty())
            drawn.remove(owner);
        else
            drawn.insert(owner, keep);
    };
    prune(m_seriesKeys, series, false);
    prune(m_bandKeys, bands, true);
}

} // namespace kd::ui
