#include "views/TemperatureExplorer.h"

#include "plots/PlotStyle.h"

#include <core/Error.h>

#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <utility>

namespace kd::ui {

namespace {
std::vector<double> values(const QCPBars *bars)
{
    std::vector<double> out;
    for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
        out.push_back(it->value);
    return out;
}
} // namespace

TemperatureExplorer::TemperatureExplorer(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    auto *controls = new QGridLayout;
    m_image = new QComboBox(this);
    m_temperature = new QSlider(Qt::Horizontal, this);
    m_temperature->setRange(1, 20);
    m_temperature->setValue(4);
    m_temperature->setTickPosition(QSlider::TicksBelow);
    m_temperatureLabel = new QLabel(this);
    m_thumbnail = new QLabel(this);
    m_thumbnail->setFixedSize(84, 84);
    m_thumbnail->setAlignment(Qt::AlignCenter);
    controls->addWidget(new QLabel(tr("Probe image"), this), 0, 0);
    controls->addWidget(m_image, 0, 1);
    controls->addWidget(m_thumbnail, 0, 2, 2, 1);
    controls->addWidget(m_temperatureLabel, 1, 0);
    controls->addWidget(m_temperature, 1, 1);
    controls->setColumnStretch(1, 1);
    layout->addLayout(controls);
    m_numbers = new QLabel(this);
    m_numbers->setWordWrap(true);
    m_numbers->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_numbers);
    m_plot = new QCustomPlot(this);
    m_plot->setMinimumHeight(220);
    auto *group = new QCPBarsGroup(m_plot);
    m_teacherBars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    m_studentBars = new QCPBars(m_plot->xAxis, m_plot->yAxis);
    for (auto *b : {m_teacherBars, m_studentBars}) {
        b->setWidth(0.38);
        b->setBarsGroup(group);
    }
    m_plot->yAxis->setLabel(tr("probability at T"));
    m_plot->yAxis->setRange(0, 1);
    m_plot->legend->setVisible(true);
    layout->addWidget(m_plot, 1);
    connect(m_image, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { update(); });
    connect(m_temperature, &QSlider::valueChanged, this, [this] { update(); });
}

QString TemperatureExplorer::numbersText() const { return m_numbers->text(); }
std::vector<double> TemperatureExplorer::teacherBars() const { return values(m_teacherBars); }
std::vector<double> TemperatureExplorer::studentBars() const { return values(m_studentBars); }

void TemperatureExplorer::setProbe(const kd::ProbeAnalysis &probe, const std::vector<std::vector<double>> &teacherLogits,
                                   const std::vector<std::vector<double>> &studentLogits, const QString &teacherRole,
                                   const QString &studentRole)
{
    m_probe = probe;
    m_teacherLogits = teacherLogits;
    m_studentLogits = studentLogits;
    m_teacherRole = teacherRole;
    m_studentRole = studentRole;
    const int keep = m_image->currentIndex();
    {
        const QSignalBlocker block(m_image);
        m_image->clear();
        const std::size_t n = std::min(teacherLogits.size(), studentLogits.size());
        for (std::size_t k = 0; k < n; ++k) {
            const int label = k < probe.labels.size() ? probe.labels[k] : -1;
            const QString cls = label >= 0 && std::size_t(label) < probe.classNames.size()
                ? QString::fromStdString(probe.classNames[std::size_t(label)])
                : QString::number(label);
            m_image->addItem(tr("#%1: %2").arg(k).arg(cls));
        }
        if (keep >= 0 && keep < m_image->count())
            m_image->setCurrentIndex(keep);
    }
    for (auto pair : {std::make_pair(m_teacherBars, teacherRole), std::make_pair(m_studentBars, studentRole)}) {
        const QColor c = PlotStyle::roleColor(pair.second);
        pair.first->setBrush(QColor(c.red(), c.green(), c.blue(), 170));
        pair.first->setPen(QPen(c.darker(130)));
        pair.first->setName(PlotStyle::roleLabel(pair.second));
    }
    QSharedPointer<QCPAxisTickerText> ticks(new QCPAxisTickerText);
    for (std::size_t c = 0; c < probe.classNames.size(); ++c)
        ticks->addTick(double(c), QString::fromStdString(probe.classNames[c]));
    m_plot->xAxis->setTicker(ticks);
    m_plot->xAxis->setTickLabelRotation(probe.classNames.size() > 6 ? 30 : 0);
    update();
}

void TemperatureExplorer::update()
{
    const double t = m_temperature->value();
    m_temperatureLabel->setText(tr("Temperature T = %1").arg(t));
    m_teacherBars->data()->clear();
    m_studentBars->data()->clear();
    m_current = kd::SoftTargets{};
    const int k = m_image->currentIndex();
    if (k < 0 || std::size_t(k) >= m_teacherLogits.size() || std::size_t(k) >= m_studentLogits.size()) {
        m_numbers->setText(tr("No probe logits of a teacher and its student in this run."));
        m_thumbnail->clear();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    const QPixmap image(std::size_t(k) < m_probe.imagePaths.size() ? QString::fromStdString(m_probe.imagePaths[std::size_t(k)])
                                                                     : QString());
    if (image.isNull())
        m_thumbnail->setText(tr("(no image)"));
    else
        m_thumbnail->setPixmap(image.scaled(m_thumbnail->size(), Qt::KeepAspectRatio, Qt::SmoothTransformation));
    try {
        m_current = kd::softTargets(m_teacherLogits[std::size_t(k)], m_studentLogits[std::size_t(k)], t);
    } catch (const kd::Error &e) {
        m_numbers->setText(QString::fromStdString(e.what()));
        m_plot->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    for (std::size_t c = 0; c < m_current.teacher.size(); ++c) {
        m_teacherBars->addData(double(c), m_current.teacher[c]);
        m_studentBars->addData(double(c), m_current.student[c]);
    }
    m_plot->xAxis->setRange(-0.6, double(m_current.teacher.size()) - 0.4);
    m_numbers->setText(tr("T = %1 · entropy: %2 %3 nats, %4 %5 nats · KL(p_t ‖ p_s) = %6 · KD term T²·KL = %7")
                           .arg(t)
                           .arg(PlotStyle::roleLabel(m_teacherRole))
                           .arg(m_current.teacherEntropy, 0, 'f', 4)
                           .arg(PlotStyle::roleLabel(m_studentRole))
                           .arg(m_current.studentEntropy, 0, 'f', 4)
                           .arg(m_current.kl, 0, 'g', 5)
                           .arg(m_current.kdTerm, 0, 'g', 5));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace kd::ui
