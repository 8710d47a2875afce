#include "ProgressPanel.h"

#include "plots/PlotStyle.h"

#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace kd::ui {

ProgressPanel::ProgressPanel(QWidget *parent)
    : QWidget(parent), m_label(new QLabel(this)), m_bar(new QProgressBar(this))
{
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_bar->setRange(0, 1000);
    m_bar->setFormat(QStringLiteral("%p%"));
    m_bar->setToolTip(tr("Progress over the whole experiment (every stage), by estimated work."));
    m_label->setToolTip(tr("The model being trained, its stage, epoch and step, the throughput "
                           "in images per second, the estimated time left for the whole run and the device in use."));
    layout->addWidget(m_label);
    layout->addWidget(m_bar);
    reset();
}

QString ProgressPanel::text() const
{
    return m_label->text();
}

int ProgressPanel::percent() const
{
    return m_bar->value() / 10;
}

QString ProgressPanel::formatDuration(double seconds)
{
    if (!std::isfinite(seconds) || seconds < 0)
        return QStringLiteral("–");
    const qint64 s = qint64(std::llround(seconds));
    const qint64 h = s / 3600, m = (s / 60) % 60, sec = s % 60;
    if (h > 0)
        return QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(sec, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(m).arg(sec, 2, 10, QLatin1Char('0'));
}

QString ProgressPanel::describe(const kd::ProgressInfo &p)
{
    QStringList parts;
    parts << PlotStyle::roleLabel(QString::fromStdString(p.role));
    if (p.stageCount > 1)
        parts << tr("stage %1/%2").arg(p.stageIndex + 1).arg(p.stageCount);
    if (p.epochs > 0)
        parts << tr("epoch %1/%2").arg(p.epoch).arg(p.epochs);
    if (p.stepsPerEpoch > 0)
        parts << tr("step %1/%2").arg(p.stepInEpoch).arg(p.stepsPerEpoch);
    if (std::isfinite(p.imagesPerSecond))
        parts << tr("%1 img/s").arg(QLocale().toString(std::llround(p.imagesPerSecond)));
    if (std::isfinite(p.etaSeconds))
        parts << tr("ETA %1").arg(formatDuration(p.etaSeconds));
    if (!p.device.empty())
        parts << QString::fromStdString(p.device);
    return parts.join(QStringLiteral(" · "));
}

void ProgressPanel::setProgress(const kd::ProgressInfo &progress)
{
    m_label->setText(describe(progress));
    const double f = std::isfinite(progress.overallFraction) ? progress.overallFraction : 0.0;
    m_bar->setValue(int(std::lround(1000.0 * std::clamp(f, 0.0, 1.0))));
}

void ProgressPanel::setStage(const QString &role, int stageIndex, int stageCount)
{
    m_label->setText(tr("%1 · stage %2/%3 · starting…")
                         .arg(PlotStyle::roleLabel(role))
                         .arg(stageIndex + 1)
                         .arg(stageCount));
}

void ProgressPanel::setDone(const QString &message, bool complete)
{
    m_label->setText(message);
    if (complete)
        m_bar->setValue(m_bar->maximum());
}

void ProgressPanel::reset()
{
    m_label->setText(tr("Idle: press Start to run the experiment."));
    m_bar->setValue(0);
}

} // namespace kd::ui
