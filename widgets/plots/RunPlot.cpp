#include "RunPlot.h"

#include <algorithm>

namespace kd::ui {

RunPlot::RunPlot(QWidget *parent) : QCustomPlot(parent), m_placeholder(new QCPItemText(this))
{
    m_placeholder->setPositionAlignment(Qt::AlignCenter);
    m_placeholder->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_placeholder->position->setCoords(0.5, 0.5);
    m_placeholder->setColor(QColor(0x80, 0x80, 0x80));
    m_placeholder->setClipToAxisRect(false);
    setNoAntialiasingOnDrag(true);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setMinimumSize(280, 200);

    QFont small = font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    legend->setVisible(false); // shown with the first series: an empty legend is a stray box
    legend->setFont(small);
    legend->setIconSize(QSize(26, 10));
    legend->setRowSpacing(0);
    // Many roles and terms (multi-teacher runs) continue in a second column, not off the plot.
    legend->setFillOrder(QCPLayoutGrid::foRowsFirst);
    legend->setWrap(8);
    legend->setBrush(QColor(255, 255, 255, 215));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
}

int RunPlot::pointCount() const
{
    int n = 0;
    for (int i = 0; i < graphCount(); ++i)
        n += graph(i)->dataCount();
    return n;
}

QStringList RunPlot::seriesNames() const
{
    QStringList names;
    for (int i = 0; i < graphCount(); ++i)
        names << graph(i)->name();
    return names;
}

void RunPlot::clear()
{
    clearGraphs();
    m_series.clear();
    legend->setVisible(false);
    m_placeholder->setVisible(true);
    m_follow = true;
    resetRanges();
    replot(rpQueuedReplot);
}

void RunPlot::setPlaceholderText(const QString &text)
{
    m_placeholder->setText(text);
    replot(rpQueuedReplot);
}

QCPGraph *RunPlot::addSeries(const QString &key, const QString &name, const QPen &pen)
{
    QCPGraph *g = addGraph();
    g->setName(name);
    g->setPen(pen);
    g->setAdaptiveSampling(true);
    m_series.insert(key, g);
    legend->setVisible(true);
    m_placeholder->setVisible(false);
    return g;
}

void RunPlot::dataAdded()
{
    if (m_follow)
        fitToData();
    replot(rpQueuedReplot);
}

void RunPlot::fitToData()
{
    rescaleAxes();
    // A little air above and below, so no curve runs along an axis.
    const QCPRange y = yAxis->range();
    const double pad = std::max(0.06 * y.size(), 1e-6);
    yAxis->setRange(y.lower - pad, y.upper + pad);
}

void RunPlot::mousePressEvent(QMouseEvent *event)
{
    m_follow = false;
    QCustomPlot::mousePressEvent(event);
}

void RunPlot::wheelEvent(QWheelEvent *event)
{
    m_follow = false;
    QCustomPlot::wheelEvent(event);
}

void RunPlot::mouseDoubleClickEvent(QMouseEvent *event)
{
    m_follow = true;
    dataAdded();
    QCustomPlot::mouseDoubleClickEvent(event);
}

} // namespace kd::ui
