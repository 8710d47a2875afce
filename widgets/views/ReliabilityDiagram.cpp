#include "views/ReliabilityDiagram.h"

#include "plots/PlotStyle.h"

#include <cmath>

namespace kd::ui {

ReliabilityDiagram::ReliabilityDiagram(QWidget *parent)
    : QCustomPlot(parent)
{
    setMinimumSize(260, 220);
    plotLayout()->insertRow(0);
    m_title = new QCPTextElement(this, tr("Reliability"), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
    plotLayout()->addElement(0, 0, m_title);
    m_bars = new QCPBars(xAxis, yAxis);
    m_diagonal = addGraph();
    m_diagonal->setPen(QPen(Qt::gray, 1, Qt::DashLine));
    m_diagonal->setName(tr("perfect calibration"));
    m_diagonal->setData({0.0, 1.0}, {0.0, 1.0});
    m_teacher = addGraph();
    m_teacher->setLineStyle(QCPGraph::lsLine);
    m_teacher->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    xAxis->setLabel(tr("confidence"));
    yAxis->setLabel(tr("accuracy"));
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
    legend->setVisible(true);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
}

QString ReliabilityDiagram::title() const { return m_title->text(); }

int ReliabilityDiagram::barCount() const { return m_bars->data()->size(); }

void ReliabilityDiagram::setCalibration(const kd::Calibration &model, const QString &modelName,
                                        const kd::Calibration &teacher, const QString &teacherName)
{
    const QColor colour = PlotStyle::roleColor(modelName);
    m_bars->setBrush(QColor(colour.red(), colour.green(), colour.blue(), 150));
    m_bars->setPen(QPen(colour.darker(130)));
    m_bars->setName(tr("%1 accuracy").arg(PlotStyle::roleLabel(modelName)));
    m_bars->data()->clear();
    for (const auto &b : model.bins)
        if (b.count > 0 && std::isfinite(b.accuracy)) {
            m_bars->setWidth(b.upper - b.lower);
            m_bars->addData((b.lower + b.upper) / 2, b.accuracy);
        }
    m_teacher->data()->clear();
    m_teacher->setVisible(!teacher.bins.empty());
    m_teacher->removeFromLegend();
    if (!teacher.bins.empty()) {
        m_teacher->setPen(QPen(PlotStyle::roleColor(teacherName), 1.5));
        m_teacher->setName(tr("%1 (ECE %2)").arg(PlotStyle::roleLabel(teacherName)).arg(teacher.ece, 0, 'f', 3));
        m_teacher->addToLegend();
        for (const auto &b : teacher.bins)
            if (b.count > 0 && std::isfinite(b.accuracy) && std::isfinite(b.meanConfidence))
                m_teacher->addData(b.meanConfidence, b.accuracy);
    }
    m_title->setText(std::isfinite(model.ece)
                         ? tr("Reliability of %1, ECE = %2").arg(PlotStyle::roleLabel(modelName)).arg(model.ece, 0, 'f', 4)
                         : tr("Reliability of %1, ECE unknown").arg(PlotStyle::roleLabel(modelName)));
    replot(rpQueuedReplot);
}

} // namespace kd::ui
