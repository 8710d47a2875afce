#include "views/ConfusionView.h"

#include "plots/PlotStyle.h"
#include "views/MatrixHeatmap.h"

#include <QHBoxLayout>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace kd::ui {

ConfusionView::ConfusionView(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    auto *vertical = new QSplitter(Qt::Vertical, this);
    auto *matrices = new QSplitter(Qt::Horizontal, vertical);
    m_student = new MatrixHeatmap(matrices);
    m_teacher = new MatrixHeatmap(matrices);
    for (auto *m : {m_student, m_teacher})
        m->setAxisLabels(tr("true class"), tr("predicted class"));
    m_gain = new QCustomPlot(vertical);
    m_gain->setMinimumHeight(160);
    m_gain->plotLayout()->insertRow(0);
    m_gainTitle = new QCPTextElement(m_gain, tr("Per-class KD gain"), QFont(font().family(), font().pointSize(), QFont::Bold));
    m_gain->plotLayout()->addElement(0, 0, m_gainTitle);
    m_gainBars = new QCPBars(m_gain->xAxis, m_gain->yAxis);
    m_gainBars->setWidth(0.7);
    m_gain->yAxis->setLabel(tr("acc. gain"));
    vertical->addWidget(matrices);
    vertical->addWidget(m_gain);
    vertical->setStretchFactor(0, 3);
    vertical->setStretchFactor(1, 1);
    layout->addWidget(vertical);
}

std::vector<double> ConfusionView::gainBars() const
{
    std::vector<double> out;
    for (auto it = m_gainBars->data()->constBegin(); it != m_gainBars->data()->constEnd(); ++it)
        out.push_back(it->value);
    return out;
}

void ConfusionView::setAnalysis(const kd::RoleAnalysis &role, const std::vector<std::string> &classNames,
                                const std::vector<double> &kdGain)
{
    QStringList names;
    for (const auto &c : classNames)
        names << QString::fromStdString(c);
    const QString model = PlotStyle::roleLabel(QString::fromStdString(role.role));
    m_student->setTitle(tr("%1 confusion (test acc %2)").arg(model).arg(role.testAcc, 0, 'f', 3));
    if (role.confusion.empty())
        m_student->showMessage(tr("No confusion matrix in this epoch"));
    else
        m_student->setMatrix(role.confusion, names, names, 0.0, std::nan(""), 0);
    m_teacher->setVisible(role.hasTeacher());
    if (role.hasTeacher()) {
        const QString teacher = PlotStyle::roleLabel(QString::fromStdString(role.teacher));
        m_teacher->setTitle(tr("%1 confusion").arg(teacher));
        if (role.teacherConfusion.empty())
            m_teacher->showMessage(tr("No teacher confusion matrix in this epoch"));
        else
            m_teacher->setMatrix(role.teacherConfusion, names, names, 0.0, std::nan(""), 0);
    }

    m_gainBars->data()->clear();
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    for (std::size_t i = 0; i < kdGain.size(); ++i) {
        ticks->addTick(double(i), names.value(int(i), QString::number(i)));
        if (std::isfinite(kdGain[i]))
            m_gainBars->addData(double(i), kdGain[i]);
    }
    m_gain->xAxis->setTicker(ticks);
    m_gain->xAxis->setTickLabelRotation(kdGain.size() > 6 ? 30 : 0);
    const QColor c = PlotStyle::roleColor(QStringLiteral("student"));
    m_gainBars->setBrush(QColor(c.red(), c.green(), c.blue(), 160));
    m_gainBars->setPen(QPen(c.darker(130)));
    m_gainTitle->setText(kdGain.empty() ? tr("Per-class KD gain: the scratch baseline has not reached this epoch")
                                        : tr("Per-class KD gain (student − scratch test accuracy)"));
    m_gain->xAxis->setRange(-0.6, std::max<double>(1.0, double(kdGain.size())) - 0.4);
    bool found = false;
    const QCPRange range = m_gainBars->getValueRange(found);
    const double span = found ? std::max({std::abs(range.lower), std::abs(range.upper), 0.05}) : 0.1;
    m_gain->yAxis->setRange(-span * 1.1, span * 1.1);
    m_gain->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace kd::ui
