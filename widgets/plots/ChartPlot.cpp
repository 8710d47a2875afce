#include "ChartPlotEntries.h"

#include "plots/PlotStyle.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace kd::ui {

using ChartData::xArray;

namespace {

constexpr double MaxWeight = 0.999;

} // namespace

ChartPlot::ChartPlot(QWidget *parent) : QCustomPlot(parent), m_placeholder(new QCPItemText(this))
{
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setNoAntialiasingOnDrag(true);
    setPlottingHint(QCP::phFastPolylines, true);
    setMinimumSize(320, 220);
    // Bands at the bottom, the faint raw series above them, the lines on top.
    addLayer(QStringLiteral("bands"), layer(QStringLiteral("main")), limBelow);
    addLayer(QStringLiteral("raw"), layer(QStringLiteral("main")), limBelow);

    m_placeholder->setPositionAlignment(Qt::AlignCenter);
    m_placeholder->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_placeholder->position->setCoords(0.5, 0.5);
    m_placeholder->setColor(QColor(0x80, 0x80, 0x80));
    m_placeholder->setClipToAxisRect(false);
    m_placeholder->setText(tr("No series to show."));

    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    legend->setVisible(false);
    legend->setFont(small);
    legend->setIconSize(QSize(26, 10));
    legend->setRowSpacing(0);
    legend->setFillOrder(QCPLayoutGrid::foRowsFirst);
    legend->setWrap(10);
    legend->setBrush(QColor(255, 255, 255, 215));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    legend->setSelectableParts(QCPLegend::spNone);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    m_replotTimer.setSingleShot(true);
    connect(&m_replotTimer, &QTimer::timeout, this, [this] { replot(rpQueuedReplot); });
    connect(this, &QCustomPlot::beforeReplot, this, [this] { refreshDrawnData(); });
    connect(this, &QCustomPlot::afterReplot, this, [this] {
        m_sinceReplot.restart();
        m_laidOutViewport = viewport();
    });
    connect(this, &QCustomPlot::legendClick, this, &ChartPlot::onLegendClick);
    applyAxisStyle();
    resetView();
}

ChartPlot::~ChartPlot() = default;

ChartPlot::Entry *ChartPlot::findEntry(const QString &key) const
{
    for (const auto &e : m_entries)
        if (e->s.key() == key)
            return e.get();
    return nullptr;
}

ChartPlot::BandEntry *ChartPlot::findBand(const QString &key) const
{
    for (const auto &b : m_bands)
        if (b->b.key() == key)
            return b.get();
    return nullptr;
}

QColor ChartPlot::colorFor(const QString &runId)
{
    auto it = m_runColors.constFind(runId);
    if (it == m_runColors.constEnd())
        it = m_runColors.insert(runId, int(m_runColors.size()));
    return PlotStyle::runColor(it.value());
}

bool ChartPlot::shown(const Entry &e) const
{
    return e.s.name == m_metric;
}

bool ChartPlot::addSeries(const ChartSeries &series, QString *error)
{
    ChartSeries s = series;
    ChartData::deriveTimes(s.x, s.y.size());
    if (!ChartData::checkPoints(s.x, s.y.size(), nullptr, s.key(), error))
        return false;

    Entry *e = findEntry(s.key());
    if (!e) {
        m_entries.push_back(std::make_unique<Entry>());
        e = m_entries.back().get();
        e->line = addGraph();
        e->raw = addGraph();
        e->raw->setLayer(QStringLiteral("raw"));
        e->raw->removeFromLegend();
    }
    const QColor color = colorFor(s.runId);
    QPen pen(color, LinePenWidth, PlotStyle::roleLineStyle(s.role));
    e->line->setPen(pen);
    e->line->setName(s.legendLabel());
    QColor faint = color;
    faint.setAlpha(70);
    e->raw->setPen(QPen(faint, 1.0));
    e->s = std::move(s);
    e->extent = ChartData::Extent{};
    e->extent.add(e->s.y);
    e->smoothedWeight = -1;
    ++e->version;

    emitMetricNamesIfChanged();
    chooseAutomaticMetric();
    updateLegend();
    followData();
    requestReplot();
    return true;
}

bool ChartPlot::removeSeries(const QString &key)
{
    auto it = std::find_if(m_entries.begin(), m_entries.end(),
                           [&](const auto &e) { return e->s.key() == key; });
    if (it == m_entries.end())
        return false;
    removeGraph((*it)->line);
    removeGraph((*it)->raw);
    m_entries.erase(it);
    emitMetricNamesIfChanged();
    if (!m_metricNames.contains(m_metric)) {
        m_metricChosen = false; // the chosen metric is gone: choose again
        chooseAutomaticMetric();
    }
    updateLegend();
    followData();
    requestReplot();
    return true;
}

bool ChartPlot::appendPoints(const QString &key, const ChartPoints &points, QString *error)
{
    Entry *e = findEntry(key);
    if (!e) {
        if (error)
            *error = QStringLiteral("no series %1 to append to; add it first").arg(key);
        return false;
    }
    if (points.y.empty())
        return true;
    ChartXValues x = points.x;
    if (!std::isfinite(x.startUnix))
        x.startUnix = e->s.x.startUnix;
    ChartData::deriveTimes(x, points.y.size());
    // A series added without points takes the arrays of its first points.
    const bool empty = e->s.y.empty();
    if (!ChartData::checkPoints(x, points.y.size(), empty ? nullptr : &e->s.x, key, error))
        return false;
    auto append = [](std::vector<double> &to, const std::vector<double> &from) {
        to.insert(to.end(), from.begin(), from.end());
    };
    const std::size_t from = e->s.y.size();
    if (empty)
        e->s.x.startUnix = x.startUnix;
    append(e->s.x.step, x.step);
    append(e->s.x.epoch, x.epoch);
    append(e->s.x.wallTime, x.wallTime);
    append(e->s.x.relativeTime, x.relativeTime);
    append(e->s.y, points.y);
    e->extent.add(e->s.y, from);
    ++e->version;

    // Continue the smoothing where it stopped instead of recomputing the whole series.
    if (e->smoothedWeight >= 0) {
        if (e->smoothedConstant) {
            const double first = e->s.y.front();
            const bool still = std::all_of(e->s.y.begin() + std::ptrdiff_t(from), e->s.y.end(),
                                           [first](double v) { return v == first; });
            if (still)
                append(e->smoothed, points.y);
            else
                e->smoothedWeight = -1; // the whole series is smoothed again when drawn
        } else {
            for (double v : points.y)
                e->smoothed.push_back(Smoothing::emaStep(e->ema, v, e->smoothedWeight));
        }
    }
    if (shown(*e))
        followData();
    requestReplot();
    return true;
}

bool ChartPlot::addBand(const ChartBand &band, QString *error)
{
    ChartBand b = band;
    ChartData::deriveTimes(b.x, b.lower.size());
    if (b.lower.size() != b.upper.size()) {
        if (error)
            *error = QStringLiteral("band %1: %2 lower and %3 upper values; give one of each per point")
                         .arg(b.key()).arg(b.lower.size()).arg(b.upper.size());
        return false;
    }
    if (!ChartData::checkPoints(b.x, b.lower.size(), nullptr, b.key(), error))
        return false;
    BandEntry *e = findBand(b.key());
    if (!e) {
        m_bands.push_back(std::make_unique<BandEntry>());
        e = m_bands.back().get();
        e->lower = addGraph();
        e->upper = addGraph();
        e->lower->setLayer(QStringLiteral("bands"));
        e->upper->setLayer(QStringLiteral("bands"));
        e->lower->removeFromLegend();
        e->upper->setChannelFillGraph(e->lower);
    }
    QColor edge = colorFor(b.groupId);
    QColor fill = edge;
    edge.setAlpha(90);
    fill.setAlpha(45);
    e->lower->setPen(QPen(edge, 0.8));
    e->upper->setPen(QPen(edge, 0.8));
    e->upper->setBrush(fill);
    e->upper->setName(b.label.isEmpty() ? b.groupId : b.label);
    e->b = std::move(b);
    e->extent = ChartData::Extent{};
    e->extent.add(e->b.lower);
    e->extent.add(e->b.upper);
    e->smoothedWeight = -1;
    e->drawn = DrawnFor{};
    updateLegend();
    followData();
    requestReplot();
    return true;
}

bool ChartPlot::removeBand(const QString &key)
{
    auto it = std::find_if(m_bands.begin(), m_bands.end(), [&](const auto &b) { return b->b.key() == key; });
    if (it == m_bands.end())
        return false;
    removeGraph((*it)->upper);
    removeGraph((*it)->lower);
    m_bands.erase(it);
    updateLegend();
    requestReplot();
    return true;
}

void ChartPlot::clearAll()
{
    clearGraphs();
    m_entries.clear();
    m_bands.clear();
    m_runColors.clear();
    m_metric.clear();
    m_metricChosen = false;
    emitMetricNamesIfChanged();
    updateLegend();
    resetView();
}

QStringList ChartPlot::seriesKeys() const
{
    QStringList keys;
    for (const auto &e : m_entries)
        keys << e->s.key();
    return keys;
}

QStringList ChartPlot::bandKeys() const
{
    QStringList keys;
    for (const auto &b : m_bands)
        keys << b->b.key();
    return keys;
}

const ChartSeries *ChartPlot::series(const QString &key) const
{
    const Entry *e = findEntry(key);
    return e ? &e->s : nullptr;
}

const ChartBand *ChartPlot::band(const QString &key) const
{
    const BandEntry *b = findBand(key);
    return b ? &b->b : nullptr;
}

QStringList ChartPlot::metricNames() const
{
    return m_metricNames;
}

std::vector<const ChartSeries *> ChartPlot::shownSeries() const
{
    std::vector<const ChartSeries *> out;
    for (const auto &e : m_entries)
        if (shown(*e) && e->visible)
            out.push_back(&e->s);
    return out;
}

void ChartPlot::emitMetricNamesIfChanged()
{
    std::set<QString> names;
    for (const auto &e : m_entries)
        names.insert(e->s.name);
    QStringList list(names.begin(), names.end());
    if (list != m_metricNames) {
        m_metricNames = list;
        Q_EMIT metricNamesChanged();
    }
}

void ChartPlot::setMetric(const QString &name)
{
    m_metricChosen = !name.isEmpty();
    showMetric(name);
}

void ChartPlot::setPreferredMetrics(const QStringList &names)
{
    m_preferred = names;
    chooseAutomaticMetric();
}

void ChartPlot::chooseAutomaticMetric()
{
    if (m_metricChosen)
        return;
    for (const QString &name : m_preferred) {
        if (m_metricNames.contains(name)) {
            showMetric(name);
            return;
        }
    }
    if (!m_metricNames.contains(m_metric))
        showMetric(m_entries.empty() ? QString() : m_entries.front()->s.name);
}

void ChartPlot::showMetric(const QString &name)
{
    if (name == m_metric)
        return;
    m_metric = name;
    updateLegend();
    applyAxisStyle();
    resetView();
    Q_EMIT viewOptionsChanged();
}

void ChartPlot::setXAxisKind(ChartXAxis axis)
{
    if (axis == m_axis)
        return;
    m_axis = axis;
    applyAxisStyle();
    resetView();
    Q_EMIT viewOptionsChanged();
}

void ChartPlot::setLogX(bool on)
{
    if (on == m_logX)
        return;
    m_logX = on;
    applyAxisStyle();
    resetView();
    Q_EMIT viewOptionsChanged();
}

void ChartPlot::setLogY(bool on)
{
    if (on == m_logY)
        return;
    m_logY = on;
    applyAxisStyle();
    resetView();
    Q_EMIT viewOptionsChanged();
}

void ChartPlot::setSmoothing(double weight)
{
    const double w = std::min(Smoothing::clampWeight(weight), MaxWeight);
    if (w == m_weight)
        return;
    m_weight = w;
    applyVisibility(); // shows or hides the raw graphs
    requestReplot();
    Q_EMIT viewOptionsChanged();
}


void ChartPlot::styleLegendItem(QCPAbstractPlottable *plottable, bool visible)
{
    if (QCPPlottableLegendItem *item = legend->itemWithPlottable(plottable))
        item->setTextColor(visible ? QColor(Qt::black) : QColor(0xa8, 0xa8, 0xa8));
}

void ChartPlot::updateLegend()
{
    legend->clearItems();
    int items = 0;
    for (const auto &e : m_entries) {
        if (shown(*e)) {
            e->line->addToLegend();
            ++items;
        }
    }
    for (const auto &b : m_bands) {
        if (b->b.name == m_metric) {
            b->upper->addToLegend();
            ++items;
        }
    }
    legend->setVisible(items > 0);
    m_placeholder->setVisible(items == 0);
    applyVisibility();
}

void ChartPlot::applyVisibility()
{
    // Graph visibility and legend text only: the legend items stay (a legend click is being
    // handled on one of them when this runs).
    for (const auto &e : m_entries) {
        const bool inChart = shown(*e);
        e->line->setVisible(inChart && e->visible);
        e->raw->setVisible(inChart && e->visible && m_weight > 0);
        if (inChart)
            styleLegendItem(e->line, e->visible);
    }
    for (const auto &b : m_bands) {
        const bool inChart = b->b.name == m_metric;
        b->lower->setVisible(inChart && b->visible);
        b->upper->setVisible(inChart && b->visible);
        if (inChart)
            styleLegendItem(b->upper, b->visible);
    }
}

void ChartPlot::setSeriesVisible(const QString &key, bool visible)
{
    if (Entry *e = findEntry(key)) {
        if (e->visible == visible)
            return;
        e->visible = visible;
    } else if (BandEntry *b = findBand(key)) {
        if (b->visible == visible)
            return;
        b->visible = visible;
    } else {
        return;
    }
    applyVisibility();
    if (m_follow)
        followData();
    requestReplot();
    Q_EMIT seriesVisibilityChanged(key, visible);
}

bool ChartPlot::isSeriesVisible(const QString &key) const
{
    if (const Entry *e = findEntry(key))
        return e->visible;
    if (const BandEntry *b = findBand(key))
        return b->visible;
    return false;
}

void ChartPlot::onLegendClick(QCPLegend *, QCPAbstractLegendItem *item, QMouseEvent *)
{
    auto *plottableItem = qobject_cast<QCPPlottableLegendItem *>(item);
    if (!plottableItem)
        return;
    const QCPAbstractPlottable *p = plottableItem->plottable();
    for (const auto &e : m_entries)
        if (e->line == p)
            return setSeriesVisible(e->s.key(), !e->visible);
    for (const auto &b : m_bands)
        if (b->upper == p)
            return setSeriesVisible(b->b.key(), !b->visible);
}

QCPGraph *ChartPlot::lineGraph(const QString &key) const
{
    const Entry *e = findEntry(key);
    return e ? e->line : nullptr;
}

QCPGraph *ChartPlot::rawGraph(const QString &key) const
{
    const Entry *e = findEntry(key);
    return e ? e->raw : nullptr;
}

QCPGraph *ChartPlot::bandUpperGraph(const QString &key) const
{
    const BandEntry *b = findBand(key);
    return b ? b->upper : nullptr;
}

std::size_t ChartPlot::pointCount() const
{
    std::size_t n = 0;
    for (const auto &e : m_entries)
        n += e->s.y.size();
    return n;
}






void ChartPlot::mousePressEvent(QMouseEvent *event)
{
    // A click on the legend toggles a series; it is not the start of a pan.
    const bool onLegend = legend->visible() && legend->outerRect().contains(event->position().toPoint());
    if (!onLegend)
        m_follow = false;
    QCustomPlot::mousePressEvent(event);
}

void ChartPlot::wheelEvent(QWheelEvent *event)
{
    m_follow = false;
    QCustomPlot::wheelEvent(event);
}

void ChartPlot::mouseDoubleClickEvent(QMouseEvent *event)
{
    resetView();
    QCustomPlot::mouseDoubleClickEvent(event);
}

} // namespace kd::ui
