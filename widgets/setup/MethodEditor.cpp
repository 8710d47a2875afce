#include "MethodEditor.h"

#include "setup/FormHelpers.h"
#include "setup/ParamEditor.h"
#include "setup/RegistryComboBox.h"

#include <project/ChoiceChange.h>

#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QVBoxLayout>

namespace kd::ui {

MethodEditor::MethodEditor(const kd::MethodRegistry &registry, QWidget *parent)
    : QWidget(parent),
      m_registry(registry),
      m_name(new RegistryComboBox(this)),
      m_description(new QLabel(this)),
      m_note(new QLabel(this)),
      m_params(new ParamEditor(this))
{
    std::vector<std::string> descriptions;
    for (const auto &n : registry.names())
        descriptions.push_back(registry.get(n).description);
    m_name->setEntries(registry.names(), descriptions);
    m_name->setToolTip(tr("How the student learns: the distillation loss it is trained with."));
    makeSecondaryLabel(m_description);
    makeSecondaryLabel(m_note);
    m_note->setWordWrap(true);
    m_note->hide();

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    QFormLayout *form = makeForm(nullptr);
    form->addRow(tr("Method"), m_name);
    form->addRow(QString(), m_description);
    form->addRow(QString(), m_note);
    shareTooltipsWithLabels(form);
    layout->addLayout(form);
    auto *box = new QGroupBox(tr("Hyperparameters"), this);
    auto *boxLayout = new QVBoxLayout(box);
    boxLayout->addWidget(m_params);
    layout->addWidget(box);
    layout->addStretch(1);

    connect(m_name, &RegistryComboBox::nameChanged, this, [this] {
        switchMethod();
        Q_EMIT changed();
    });
    connect(m_params, &ParamEditor::changed, this, &MethodEditor::changed);
}

void MethodEditor::switchMethod()
{
    const std::string previous = m_shownMethod;
    const std::string next = m_name->currentName();
    nlohmann::json values = m_params->values();
    std::vector<std::string> notes;
    if (m_registry.contains(previous) && m_registry.contains(next))
        notes = kd::dropStaleOptions(values, m_registry.get(previous).params, m_registry.get(next).params, "method",
                                     "method", previous, next);
    methodChanged();
    m_params->setValues(values);
    showNotes(m_note, notes);
}

QString MethodEditor::noteText() const
{
    return m_note->text();
}

void MethodEditor::methodChanged()
{
    const std::string name = m_name->currentName();
    m_shownMethod = name;
    if (m_registry.contains(name)) {
        const auto &entry = m_registry.get(name);
        m_params->setSpecs(entry.params);
        QString text = QString::fromStdString(entry.description);
        if (!entry.needsTeacher)
            text += tr(" (No teacher needed.)");
        m_description->setText(text);
    } else {
        m_params->setSpecs({});
        m_description->setText(tr("Unknown method; choose one from the list."));
    }
}

void MethodEditor::setOptions(const kd::MethodOptions &options)
{
    {
        const QSignalBlocker block(m_name);
        m_name->setCurrentName(options.name);
    }
    methodChanged();
    m_params->setValues(options.params);
    m_note->clear();
    m_note->hide();
}

kd::MethodOptions MethodEditor::options() const
{
    kd::MethodOptions o;
    o.name = m_name->currentName();
    o.params = m_params->values();
    return o;
}

bool MethodEditor::needsTeacher() const
{
    const std::string name = m_name->currentName();
    return !m_registry.contains(name) || m_registry.get(name).needsTeacherWith(m_params->values());
}

void MethodEditor::setFeatureNames(const QStringList &student, const QStringList &teacher)
{
    m_params->setFeatureNames(student, teacher);
}

} // namespace kd::ui
