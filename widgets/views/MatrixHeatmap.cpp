#include "views/MatrixHeatmap.h"

#include <algorithm>
#include <cmath>

namespace kd::ui {

MatrixHeatmap::MatrixHeatmap(QWidget *parent)
    : QCustomPlot(parent)
{
    setMinimumSize(260, 220);
    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    plotLayout()->addElement(0, 0, m_title);
    m_map = new QCPColorMap(xAxis, yAxis);
    m_scale = new QCPColorScale(this);
    plotLayout()->addElement(1, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_map->setColorScale(m_scale);
    // Viridis (perceptually uniform, readable in grey); this QCustomPlot has no preset for it.
    QCPColorGradient viridis;
    viridis.clearColorStops();
    viridis.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
    viridis.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
    viridis.setColorStopAt(0.5, QColor(0x21, 0x91, 0x8c));
    viridis.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
    viridis.setColorStopAt(1.0, QColor(0xfd, 0xe7, 0x25));
    viridis.setNanHandling(QCPColorGradient::nhTransparent);
    m_map->setGradient(viridis);
    m_map->setInterpolate(false);
    auto *group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    yAxis->setRangeReversed(true); // row 0 on top, as a matrix is read
    xAxis->grid()->setVisible(false);
    yAxis->grid()->setVisible(false);
    m_message = new QCPItemText(this);
    m_message->position->setType(QCPItemPosition::ptAxisRectRatio);
    m_message->position->setCoords(0.5, 0.5);
    m_message->setVisible(false);
}

void MatrixHeatmap::setTitle(const QString &title)
{
    m_title->setText(title);
    replot(rpQueuedReplot);
}

QString MatrixHeatmap::title() const { return m_title->text(); }

void MatrixHeatmap::setAxisLabels(const QString &rows, const QString &columns)
{
    yAxis->setLabel(rows);
    xAxis->setLabel(columns);
}

void MatrixHeatmap::showMessage(const QString &message)
{
    setMatrix({}, {}, {}, 0.0, 1.0, 2);
    m_message->setText(message);
    m_message->setVisible(true);
    replot(rpQueuedReplot);
}

QString MatrixHeatmap::cellText(int row, int column) const
{
    if (row < 0 || column < 0 || row >= m_rows || column >= m_columns)
        return {};
    return m_texts.value(row * m_columns + column);
}

void MatrixHeatmap::setMatrix(const std::vector<std::vector<double>> &values, const QStringList &rowNames,
                              const QStringList &columnNames, double low, double high, int decimals)
{
    for (auto *label : m_labels)
        removeItem(label);
    m_labels.clear();
    m_texts.clear();
    m_message->setVisible(false);
    m_rows = int(values.size());
    m_columns = m_rows ? int(values.front().size()) : 0;
    m_map->data()->setSize(std::max(1, m_columns), std::max(1, m_rows));
    m_map->data()->setRange(QCPRange(0, std::max(0, m_columns - 1)), QCPRange(0, std::max(0, m_rows - 1)));
    m_map->data()->fill(std::nan(""));
    m_map->setVisible(m_rows > 0 && m_columns > 0);

    auto ticks = [](const QStringList &names, int n) {
        QSharedPointer<QCPAxisTickerText> t(new QCPAxisTickerText);
        for (int i = 0; i < n; ++i)
            t->addTick(i, names.value(i, QString::number(i)));
        return t;
    };
    xAxis->setTicker(ticks(columnNames, m_columns));
    yAxis->setTicker(ticks(rowNames, m_rows));
    xAxis->setTickLabelRotation(m_columns > 6 ? 45 : 0);

    // Annotations in white on dark cells and black on light ones (viridis is dark at the low end).
    const double lo = std::isnan(low) ? 0.0 : low;
    double hi = high;
    if (std::isnan(hi)) {
        hi = lo;
        for (const auto &row : values)
            for (double v : row)
                if (std::isfinite(v))
                    hi = std::max(hi, v);
        if (hi <= lo)
            hi = lo + 1.0;
    }
    for (int r = 0; r < m_rows; ++r)
        for (int c = 0; c < m_columns; ++c) {
            const double v = c < int(values[r].size()) ? values[r][c] : std::nan("");
            m_map->data()->setCell(c, r, v);
            const QString text = std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("–");
            m_texts << text;
            if (m_rows * m_columns > 400)
                continue; // too small to read; the colours speak
            auto *label = new QCPItemText(this);
            label->position->setCoords(c, r);
            label->setText(text);
            const bool dark = !std::isfinite(v) || (v - lo) / (hi - lo) < 0.6;
            label->setColor(dark ? Qt::white : Qt::black);
            label->setFont(QFont(font().family(), m_rows * m_columns > 64 ? 7 : 9));
            m_labels.push_back(label);
        }
    m_map->setDataRange(QCPRange(lo, hi));
    xAxis->setRange(-0.5, std::max(0, m_columns) - 0.5);
    yAxis->setRange(-0.5, std::max(0, m_rows) - 0.5);
    replot(rpQueuedReplot);
}

} // namespace kd::ui
