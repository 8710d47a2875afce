#include "ModelEditor.h"

#include "setup/FilePathEdit.h"
#include "setup/FormHelpers.h"
#include "setup/ParamEditor.h"
#include "setup/RegistryComboBox.h"
#include "setup/TrainOptionsEditor.h"

#include <core/Error.h>
#include <project/ChoiceChange.h>

#include <QCheckBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

#include <exception>

namespace kd::ui {

ModelEditor::ModelEditor(const kd::ArchitectureRegistry &registry, int options, QWidget *parent)
    : QWidget(parent),
      m_registry(registry),
      m_arch(new RegistryComboBox(this)),
      m_description(new QLabel(this)),
      m_info(new QLabel(this)),
      m_note(new QLabel(this)),
      m_options(new ParamEditor(this)),
      m_trainBox(new QGroupBox(tr("Training"), this)),
      m_train(new TrainOptionsEditor(m_trainBox))
{
    std::vector<std::string> descriptions;
    for (const auto &n : registry.names())
        descriptions.push_back(registry.get(n).description);
    m_arch->setEntries(registry.names(), descriptions);
    m_arch->setToolTip(tr("Network architecture; its options appear below."));
    makeSecondaryLabel(m_description);
    m_info->setWordWrap(true);
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    makeSecondaryLabel(m_note);
    m_note->setWordWrap(true);
    m_note->hide();

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    QFormLayout *form = makeForm(nullptr);
    form->addRow(tr("Architecture"), m_arch);
    form->addRow(QString(), m_description);
    form->addRow(QString(), m_info);
    form->addRow(QString(), m_note);
    if (options & Checkpoint) {
        m_checkpoint = new FilePathEdit(FilePathEdit::Mode::OpenFile, this);
        m_checkpoint->setNameFilter(tr("Checkpoints (*.pt);;All files (*)"));
        m_checkpoint->setPlaceholderText(tr("none: train the teacher"));
        m_checkpoint->setToolTip(tr("Optional: load the teacher's weights from this checkpoint "
                                    "(e.g. teacher.pt of an earlier run) instead of training it."));
        form->addRow(tr("Checkpoint"), m_checkpoint);
        connect(m_checkpoint, &FilePathEdit::pathChanged, this, [this] {
            updateCheckpointState();
            Q_EMIT changed();
        });
    }
    if (options & Generalist) {
        m_generalist = new QCheckBox(tr("Generalist (method rc)"), this);
        m_generalist->setToolTip(tr("Method rc: a generalist teacher, trained on the proxy dataset when one is "
                                    "given; the student gets an extra head for it."));
        form->addRow(QString(), m_generalist);
        connect(m_generalist, &QCheckBox::toggled, this, &ModelEditor::changed);
    }
    shareTooltipsWithLabels(form);
    layout->addLayout(form);
    auto *optionsBox = new QGroupBox(tr("Architecture options"), this);
    auto *optionsLayout = new QVBoxLayout(optionsBox);
    optionsLayout->addWidget(m_options);
    layout->addWidget(optionsBox);
    auto *trainLayout = new QVBoxLayout(m_trainBox);
    trainLayout->addWidget(m_train);
    layout->addWidget(m_trainBox);
    layout->addStretch(1);

    m_infoTimer.setSingleShot(true);
    m_infoTimer.setInterval(250);
    connect(&m_infoTimer, &QTimer::timeout, this, &ModelEditor::updateInfoNow);
    connect(m_arch, &RegistryComboBox::nameChanged, this, [this] {
        switchArchitecture();
        Q_EMIT changed();
    });
    connect(m_options, &ParamEditor::changed, this, [this] {
        scheduleInfo();
        Q_EMIT changed();
    });
    connect(m_train, &TrainOptionsEditor::changed, this, &ModelEditor::changed);
}

void ModelEditor::switchArchitecture()
{
    const std::string previous = m_shownArch;
    const std::string next = m_arch->currentName();
    nlohmann::json values = m_options->values();
    std::vector<std::string> notes;
    if (m_registry.contains(previous) && m_registry.contains(next))
        notes = kd::dropStaleOptions(values, m_registry.get(previous).params, m_registry.get(next).params,
                                     "arch_options", "architecture", previous, next);
    architectureChanged();
    m_options->setValues(values);
    showNotes(m_note, notes);
}

QString ModelEditor::noteText() const
{
    return m_note->text();
}

void ModelEditor::architectureChanged()
{
    const std::string name = m_arch->currentName();
    m_shownArch = name;
    if (m_registry.contains(name)) {
        const auto &entry = m_registry.get(name);
        m_options->setSpecs(entry.params);
        m_description->setText(QString::fromStdString(entry.description));
    } else {
        m_options->setSpecs({});
        m_description->setText(tr("Unknown architecture; choose one from the list."));
    }
    scheduleInfo();
}

void ModelEditor::setSpec(const kd::ModelSpec &spec)
{
    {
        const QSignalBlocker block(m_arch);
        m_arch->setCurrentName(spec.arch);
    }
    architectureChanged();
    m_options->setValues(spec.archOptions);
    m_note->clear();
    m_note->hide();
    if (m_checkpoint) {
        const QSignalBlocker block(m_checkpoint);
        m_checkpoint->setPath(QString::fromStdString(spec.checkpoint));
        updateCheckpointState();
    }
    m_generalistValue = spec.generalist;
    if (m_generalist) {
        const QSignalBlocker block(m_generalist);
        m_generalist->setChecked(spec.generalist);
    }
    m_train->setOptions(spec.train);
}

kd::ModelSpec ModelEditor::spec() const
{
    kd::ModelSpec s;
    s.arch = m_arch->currentName();
    s.archOptions = m_options->values();
    if (m_checkpoint)
        s.checkpoint = m_checkpoint->path().toStdString();
    s.generalist = m_generalist ? m_generalist->isChecked() : m_generalistValue;
    s.train = m_train->options();
    return s;
}

void ModelEditor::setInput(const kd::InputShape &shape, int numClasses, bool classesKnown)
{
    if (shape.channels == m_input.channels && shape.height == m_input.height && shape.width == m_input.width
        && numClasses == m_numClasses && classesKnown == m_classesKnown)
        return;
    m_input = shape;
    m_numClasses = numClasses;
    m_classesKnown = classesKnown;
    scheduleInfo();
}

QString ModelEditor::infoText() const
{
    return m_info->text();
}

void ModelEditor::scheduleInfo()
{
    m_infoTimer.start();
}

void ModelEditor::updateInfoNow()
{
    m_infoTimer.stop();
    const std::string name = m_arch->currentName();
    if (!m_registry.contains(name)) {
        m_info->clear();
        m_featureNames.clear();
        Q_EMIT infoUpdated();
        return;
    }
    try {
        // Builds the network once on the CPU: milliseconds for these models, and only
        // after the user paused editing.
        const kd::ArchitectureInfo info =
            kd::describeArchitecture(m_registry, name, m_options->values(), m_input, m_numClasses);
        QStringList features;
        m_featureNames.clear();
        for (const auto &[feature, shape] : info.features) {
            features << QStringLiteral("%1 %2").arg(QString::fromStdString(feature), QString::fromStdString(shape));
            m_featureNames << QString::fromStdString(feature);
        }
        m_info->setText(tr("<b>%1</b> parameters · %2 MMAC per image · input %3")
                            .arg(QLocale().toString(qlonglong(info.params)))
                            .arg(double(info.macs) / 1e6, 0, 'f', info.macs < 10000000 ? 2 : 0)
                            .arg(QString::fromStdString(m_input.toString())));
        m_info->setToolTip(tr("Parameters and multiply-accumulates of one forward pass, for %1 input and "
                              "%2 classes%3.\nFeatures: %4")
                               .arg(QString::fromStdString(m_input.toString()))
                               .arg(m_numClasses)
                               .arg(m_classesKnown ? QString() : tr(" (assumed: the files decide)"))
                               .arg(features.join(QStringLiteral(", "))));
        m_info->setStyleSheet(QString());
    } catch (const std::exception &e) {
        m_featureNames.clear();
        m_info->setText(tr("Cannot build this network: %1").arg(QString::fromUtf8(e.what())));
        m_info->setToolTip(QString());
        m_info->setStyleSheet(QStringLiteral("color: #c00000;"));
    }
    Q_EMIT infoUpdated();
}

void ModelEditor::updateCheckpointState()
{
    // A loaded teacher is not trained, so its training settings do not apply.
    const bool loads = m_checkpoint && !m_checkpoint->path().isEmpty();
    m_trainBox->setEnabled(!loads);
    m_trainBox->setToolTip(loads ? tr("Not used: the teacher is loaded from the checkpoint.") : QString());
}

} // namespace kd::ui
