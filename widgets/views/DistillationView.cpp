#include "views/DistillationView.h"

#include "plots/PlotStyle.h"
#include "views/CkaHeatmap.h"
#include "views/ConfusionView.h"
#include "views/FeatureMapView.h"
#include "views/ReliabilityDiagram.h"
#include "views/TemperatureExplorer.h"

#include <QComboBox>
#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace kd::ui {

namespace {
QString fixed(double v, int decimals) { return std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("–"); }
} // namespace

DistillationView::DistillationView(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    auto *bar = new QHBoxLayout;
    m_role = new QComboBox(this);
    m_role->setToolTip(tr("The analysed model: the distilled student, an assistant or the scratch baseline"));
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setToolTip(tr("Analysed epochs of the run"));
    m_slider->setTickPosition(QSlider::TicksBelow);
    m_slider->setPageStep(1);
    m_epochLabel = new QLabel(this);
    m_epochLabel->setMinimumWidth(90);
    bar->addWidget(new QLabel(tr("Model"), this));
    bar->addWidget(m_role);
    bar->addSpacing(12);
    bar->addWidget(m_epochLabel);
    bar->addWidget(m_slider, 1);
    layout->addLayout(bar);
    m_summary = new QLabel(this);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);
    m_problems = new QLabel(this);
    m_problems->setWordWrap(true);
    m_problems->setStyleSheet(QStringLiteral("color: #b35900"));
    m_problems->setVisible(false);
    layout->addWidget(m_problems);

    m_tabs = new QTabWidget(this);
    m_features = new FeatureMapView(m_tabs);
    m_cka = new CkaHeatmap(m_tabs);
    m_reliability = new ReliabilityDiagram(m_tabs);
    m_confusion = new ConfusionView(m_tabs);
    m_temperature = new TemperatureExplorer(m_tabs);
    m_tabs->addTab(m_features, tr("Feature maps"));
    m_tabs->addTab(m_cka, tr("CKA"));
    m_tabs->addTab(m_reliability, tr("Calibration"));
    m_tabs->addTab(m_confusion, tr("Confusion && KD gain"));
    m_tabs->addTab(m_temperature, tr("Temperature"));
    layout->addWidget(m_tabs, 1);

    connect(m_slider, &QSlider::valueChanged, this, [this] { showCurrent(); });
    connect(m_role, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { showCurrent(); });
    setRunDirectory(QString());
}

void DistillationView::setRunDirectory(const QString &runDir)
{
    m_runDir = runDir;
    reload();
}

void DistillationView::reload()
{
    const int keepEpoch = currentEpoch();
    const QString keepRole = currentRole();
    m_epochs = m_runDir.isEmpty() ? std::vector<int>{} : kd::analysedEpochs(m_runDir.toStdString());
    m_probe = m_runDir.isEmpty() ? kd::ProbeAnalysis{} : kd::readProbeAnalysis(m_runDir.toStdString());
    {
        const QSignalBlocker block(m_slider);
        m_slider->setRange(0, std::max(0, int(m_epochs.size()) - 1));
        const auto it = std::find(m_epochs.begin(), m_epochs.end(), keepEpoch);
        m_slider->setValue(it != m_epochs.end() ? int(it - m_epochs.begin()) : m_slider->maximum());
        m_slider->setEnabled(m_epochs.size() > 1);
    }
    {
        // Roles from the latest epoch (every analysed role writes there); the student first.
        const QSignalBlocker block(m_role);
        m_role->clear();
        const kd::EpochAnalysis latest =
            m_epochs.empty() ? kd::EpochAnalysis{} : kd::readEpochAnalysis(m_runDir.toStdString(), m_epochs.back());
        for (const auto &r : latest.roles)
                m_role->addItem(PlotStyle::roleLabel(QString::fromStdString(r.role)), QString::fromStdString(r.role));
        int index = m_role->findData(keepRole.isEmpty() ? QStringLiteral("student") : keepRole);
        if (index < 0)
            index = m_role->findData(QStringLiteral("student"));
        m_role->setCurrentIndex(std::max(0, index));
    }
    showCurrent();
}

int DistillationView::currentEpoch() const
{
    const int i = m_slider->value();
    return i >= 0 && std::size_t(i) < m_epochs.size() ? m_epochs[std::size_t(i)] : -1;
}

QString DistillationView::currentRole() const { return m_role->currentData().toString(); }

bool DistillationView::showEpoch(int epoch)
{
    const auto it = std::find(m_epochs.begin(), m_epochs.end(), epoch);
    if (it == m_epochs.end())
        return false;
    m_slider->setValue(int(it - m_epochs.begin()));
    return true;
}

bool DistillationView::showRole(const QString &role)
{
    const int i = m_role->findData(role);
    if (i < 0)
        return false;
    m_role->setCurrentIndex(i);
    return true;
}

QString DistillationView::problemText() const { return m_problems->text(); }

void DistillationView::setProblems(const std::vector<std::string> &problems)
{
    QStringList lines;
    for (const auto &p : problems)
        lines << QString::fromStdString(p);
    m_problems->setText(lines.join(QLatin1Char('\n')));
    m_problems->setVisible(!lines.isEmpty());
}

void DistillationView::showCurrent()
{
    const int epoch = currentEpoch();
    m_epochLabel->setText(epoch < 0 ? tr("no epochs") : tr("Epoch %1").arg(epoch));
    if (epoch < 0) {
        m_analysis = kd::EpochAnalysis{};
        m_summary->setText(m_runDir.isEmpty()
                               ? tr("No run shown.")
                               : tr("%1 has no distillation analysis (analysis/epochNNN.json): the run has no stage "
                                    "that distils, ran with analysis.enabled off, or has not finished an epoch yet.")
                                     .arg(QDir::toNativeSeparators(m_runDir)));
        setProblems({});
        m_features->setMaps({}, {}, QStringLiteral("student"), {});
        m_cka->setCka({}, tr("teacher"), tr("student"));
        m_reliability->setCalibration({}, QStringLiteral("student"), {}, QString());
        m_confusion->setAnalysis({}, {}, {});
        m_temperature->setProbe({}, {}, {}, QString(), QString());
        return;
    }
    m_analysis = kd::readEpochAnalysis(m_runDir.toStdString(), epoch);
    std::vector<std::string> problems = m_analysis.problems;
    if (epoch == m_epochs.back())
        problems.insert(problems.end(), m_probe.problems.begin(), m_probe.problems.end());
    const QString roleName = currentRole();
    const kd::RoleAnalysis *role = m_analysis.role(roleName.toStdString());
    if (!role) {
        problems.push_back("epoch " + std::to_string(epoch) + " has no analysis of " + roleName.toStdString());
        static const kd::RoleAnalysis none;
        role = &none;
    }
    setProblems(problems);
    const QString model = QString::fromStdString(role->role.empty() ? roleName.toStdString() : role->role);
    const QString teacher = QString::fromStdString(role->teacher);
    m_summary->setText(role->hasTeacher()
                           ? tr("%1 vs %2 · test acc %3 · agreement %4 · KL(t‖s) %5 · ECE %6 · CEV %7 · SDE %8")
                                 .arg(PlotStyle::roleLabel(model), PlotStyle::roleLabel(teacher), fixed(role->testAcc, 4),
                                      fixed(role->agreement, 4), fixed(role->klTeacherStudent, 4), fixed(role->ece, 4),
                                      fixed(role->cev, 4), fixed(role->sde, 4))
                           : tr("%1 · test acc %2 · ECE %3 (no teacher: no agreement, KL, CKA or bias metrics)")
                                 .arg(PlotStyle::roleLabel(model), fixed(role->testAcc, 4), fixed(role->ece, 4)));

    m_features->setMaps(teacher, role->teacherFeatureMaps, model, role->featureMaps);
    m_cka->setCka(role->cka, PlotStyle::roleLabel(teacher.isEmpty() ? tr("teacher") : teacher), PlotStyle::roleLabel(model));
    m_reliability->setCalibration(role->calibration, model, role->teacherCalibration, teacher);
    m_confusion->setAnalysis(*role, m_analysis.classNames, m_analysis.perClassKdGain);
    const kd::ProbeLogits *teacherLogits = m_probe.teacher(role->teacher);
    m_temperature->setProbe(m_probe, teacherLogits ? teacherLogits->logits : std::vector<std::vector<double>>{},
                            role->probeLogits, teacher, model);
}

} // namespace kd::ui
