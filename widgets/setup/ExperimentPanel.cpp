#include "ExperimentPanel.h"

#include "setup/DatasetEditor.h"
#include "setup/DatasetShape.h"
#include "setup/FormHelpers.h"
#include "setup/MethodEditor.h"
#include "setup/ModelEditor.h"
#include "setup/ModelListEditor.h"
#include "setup/RunSettingsEditor.h"

#include <training/StagePlan.h>

#include <QGroupBox>
#include <QLabel>
#include <QScrollArea>
#include <QTabWidget>
#include <QVBoxLayout>

#include <exception>

namespace kd::ui {

namespace {

QWidget *scrolled(QWidget *content)
{
    auto *area = new QScrollArea;
    area->setWidget(content);
    area->setWidgetResizable(true);
    area->setFrameShape(QFrame::NoFrame);
    area->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    content->setContentsMargins(6, 6, 6, 6);
    return area;
}

QGroupBox *titledBox(const QString &title, QWidget *content)
{
    auto *box = new QGroupBox(title);
    auto *layout = new QVBoxLayout(box);
    layout->addWidget(content);
    return box;
}

kd::ModelSpec newListEntry()
{
    kd::ModelSpec spec;
    spec.arch = "cnn_small";
    return spec;
}

} // namespace

ExperimentPanel::ExperimentPanel(const kd::Registries &registries, QWidget *parent)
    : QWidget(parent),
      m_registries(registries),
      m_error(new QLabel(this)),
      m_tabs(new QTabWidget(this)),
      m_run(new RunSettingsEditor),
      m_dataset(new DatasetEditor(registries.datasets)),
      m_teacher(new ModelEditor(registries.architectures, ModelEditor::Checkpoint)),
      m_student(new ModelEditor(registries.architectures, ModelEditor::NoOptions)),
      m_method(new MethodEditor(registries.methods))
{
    m_error->setWordWrap(true);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->setStyleSheet(QStringLiteral("QLabel { color: #c00000; background: #fdecea; "
                                          "border: 1px solid #f5c2c0; padding: 4px; }"));
    m_error->hide();

    m_tabs->setDocumentMode(true);
    m_tabs->setUsesScrollButtons(true);
    m_tabs->addTab(scrolled(m_run), tr("Run"));
    m_tabs->addTab(scrolled(m_dataset), tr("Data"));
    m_tabs->addTab(scrolled(createTeachersPage()), tr("Teacher"));
    m_tabs->addTab(scrolled(createStudentPage()), tr("Student"));
    m_tabs->addTab(scrolled(createMethodPage()), tr("Method"));
    m_tabs->setTabToolTip(0, tr("Name, seed, device and what else to run"));
    m_tabs->setTabToolTip(1, tr("The dataset and how much of it to use"));
    m_tabs->setTabToolTip(2, tr("The model(s) whose outputs the student learns from"));
    m_tabs->setTabToolTip(3, tr("The small model being distilled"));
    m_tabs->setTabToolTip(4, tr("The distillation method and its hyperparameters"));

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_error);
    layout->addWidget(m_tabs, 1);

    m_validateTimer.setSingleShot(true);
    m_validateTimer.setInterval(400);
    connect(&m_validateTimer, &QTimer::timeout, this, &ExperimentPanel::validate);
    connect(m_run, &RunSettingsEditor::changed, this, &ExperimentPanel::edited);
    connect(m_dataset, &DatasetEditor::changed, this, [this] {
        updateModelInputs();
        edited();
    });
    connect(m_student, &ModelEditor::changed, this, &ExperimentPanel::edited);
    // Feature parameters of the method offer the configured networks' feature names.
    for (ModelEditor *e : {m_student, m_teacher})
        connect(e, &ModelEditor::infoUpdated, this, [this] {
            m_method->setFeatureNames(m_student->featureNames(), m_teacher->featureNames());
        });
    connect(m_method, &MethodEditor::changed, this, [this] {
        updateMethodDependentParts();
        edited();
    });
    setProject(kd::Project());
}

QWidget *ExperimentPanel::createTeachersPage()
{
    auto *page = new QWidget;
    auto *layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);
    m_teacherNote = new QLabel(page);
    makeSecondaryLabel(m_teacherNote);
    layout->addWidget(m_teacherNote);
    layout->addWidget(m_teacher);

    m_teachers = new ModelListEditor(m_registries.architectures, tr("Teacher %1"),
                                     ModelEditor::Checkpoint | ModelEditor::Generalist, newListEntry(), page);
    m_teachers->setDescription(tr("Multi-teacher methods (ensemble, rc, dmc) use these teachers, each trained "
                                  "or loaded from its checkpoint, instead of the single teacher above."));
    m_teachersBox = titledBox(tr("Teachers"), m_teachers);
    layout->addWidget(m_teachersBox);

    m_assistants = new ModelListEditor(m_registries.architectures, tr("Assistant %1"), ModelEditor::NoOptions,
                                       newListEntry(), page);
    m_assistants->setDescription(tr("Method takd: teacher assistants between teacher and student, largest "
                                    "first; each is distilled from the one before."));
    m_assistantsBox = titledBox(tr("Teacher assistants"), m_assistants);
    layout->addWidget(m_assistantsBox);
    layout->addStretch(1);

    connect(m_teacher, &ModelEditor::changed, this, [this] {
        updateMethodDependentParts(); // a checkpoint keeps the teacher editable
        edited();
    });
    for (auto *list : {m_teachers, m_assistants})
        connect(list, &ModelListEditor::changed, this, [this] {
            updateMethodDependentParts();
            edited();
        });
    return page;
}

QWidget *ExperimentPanel::createStudentPage()
{
    // "teacher → student" (the student editor) or, for an online method, the cohort of peers
    // that train together and teach each other.
    auto *page = new QWidget;
    auto *layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);
    m_studentNote = new QLabel(page);
    makeSecondaryLabel(m_studentNote);
    m_studentNote->setWordWrap(true);
    layout->addWidget(m_studentNote);
    layout->addWidget(m_student);
    m_peers = new ModelListEditor(m_registries.architectures, tr("Peer %1"), ModelEditor::NoOptions, newListEntry(), page);
    m_peers->setDescription(tr("Online methods (dml) train these peers together from scratch; each learns from "
                               "the others and each is a deliverable. Peers may differ in architecture but share "
                               "epochs and batch size."));
    m_peersBox = titledBox(tr("Online cohort: peers"), m_peers);
    layout->addWidget(m_peersBox);
    layout->addStretch(1);
    connect(m_peers, &ModelListEditor::changed, this, [this] {
        updateMethodDependentParts();
        edited();
    });
    return page;
}

QWidget *ExperimentPanel::createMethodPage()
{
    auto *page = new QWidget;
    auto *layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_method);
    m_proxy = new DatasetEditor(m_registries.datasets, page);
    m_proxyBox = titledBox(tr("Proxy dataset"), m_proxy);
    m_proxyBox->setCheckable(true);
    m_proxyBox->setToolTip(tr("Method rc: an unlabelled proxy set the student is distilled on (and the "
                              "generalist teachers are trained on). Unchecked: the training set."));
    layout->addWidget(m_proxyBox);
    layout->addStretch(1);
    connect(m_proxy, &DatasetEditor::changed, this, &ExperimentPanel::edited);
    connect(m_proxyBox, &QGroupBox::toggled, this, [this] {
        updateMethodDependentParts();
        edited();
    });
    return page;
}

void ExperimentPanel::setProject(const kd::Project &project)
{
    m_loading = true;
    m_base = project;
    m_run->setProject(project);
    m_dataset->setOptions(project.dataset);
    m_teacher->setSpec(project.teacher);
    m_student->setSpec(project.student);
    m_teachers->setSpecs(project.teachers);
    m_assistants->setSpecs(project.assistants);
    m_peers->setSpecs(project.peers);
    m_method->setOptions(project.method);
    {
        const QSignalBlocker block(m_proxyBox);
        m_proxyBox->setChecked(project.hasProxy);
    }
    m_proxy->setOptions(project.proxy);
    updateModelInputs();
    updateMethodDependentParts();
    m_loading = false;
    m_validateTimer.stop();
    validate();
}

kd::Project ExperimentPanel::project() const
{
    kd::Project p = m_base;
    m_run->applyTo(p);
    p.dataset = m_dataset->options();
    p.teacher = m_teacher->spec();
    p.student = m_student->spec();
    p.teachers = m_teachers->specs();
    p.assistants = m_assistants->specs();
    p.peers = m_peers->specs();
    p.method = m_method->options();
    p.hasProxy = m_proxyBox->isChecked();
    p.proxy = m_proxy->options();
    return p;
}

QString ExperimentPanel::validate()
{
    m_validateTimer.stop();
    QString problem;
    try {
        const kd::Project p = project();
        // fromJson() holds the structural checks (name, device, nesterov with SGD...),
        // resolve() the names, hyperparameters and stage structure: what a run checks.
        kd::Project::fromJson(p.toJson());
        m_registries.resolve(p);
    } catch (const std::exception &e) {
        problem = QString::fromUtf8(e.what());
    }
    showError(problem);
    return problem;
}

QString ExperimentPanel::errorText() const
{
    return m_error->isHidden() ? QString() : m_error->text();
}

bool ExperimentPanel::isErrorVisible() const
{
    return !m_error->isHidden();
}

void ExperimentPanel::showError(const QString &message)
{
    m_error->setText(message);
    m_error->setVisible(!message.isEmpty());
}

void ExperimentPanel::edited()
{
    if (m_loading)
        return;
    m_validateTimer.start();
    Q_EMIT changed();
}

void ExperimentPanel::updateMethodDependentParts()
{
    // Show the parts the chosen method uses, and any part that holds something, so that
    // nothing in the project is invisible.
    const std::string method = m_method->options().name;
    const bool multi = kd::isMultiTeacherMethod(method);
    const bool single = m_method->needsTeacher() && !multi;
    // The single teacher stays visible while it loads a checkpoint: resolve() checks that file.
    const bool showTeacher = single || !m_teacher->spec().checkpoint.empty();
    m_teacher->setVisible(showTeacher);
    m_teacherNote->setVisible(!showTeacher);
    m_teacherNote->setText(multi ? tr("Method %1 uses the teachers below instead of a single teacher.")
                                       .arg(QString::fromStdString(method))
                                 : tr("Method %1 trains the student without a teacher.")
                                       .arg(QString::fromStdString(method)));
    m_teachersBox->setVisible(multi || m_teachers->count() > 0);
    m_assistantsBox->setVisible(method == "takd" || m_assistants->count() > 0);
    m_proxyBox->setVisible(method == "rc" || m_proxyBox->isChecked());
    const bool online =
        m_registries.methods.contains(method) && m_registries.methods.get(method).isOnline(m_method->options().params);
    m_peersBox->setVisible(online || m_peers->count() > 0);
    m_student->setVisible(!online);
    m_studentNote->setVisible(online);
    m_studentNote->setText(tr("Method %1 is an online method: it trains the cohort of peers below instead of a "
                              "teacher and a student.").arg(QString::fromStdString(method)));
    m_tabs->setTabText(3, online ? tr("Peers") : tr("Student"));
    if (online)
        m_teacherNote->setText(tr("Method %1 needs no teacher: its peers teach each other.").arg(QString::fromStdString(method)));
    m_proxy->setEnabled(m_proxyBox->isChecked());
    m_tabs->setTabToolTip(2, single ? tr("The large model whose outputs the student learns from")
                          : multi   ? tr("The teachers of this multi-teacher method")
                                    : tr("Not used: the chosen method trains the student without a teacher"));
}

void ExperimentPanel::updateModelInputs()
{
    const DatasetShape shape = datasetShape(m_registries.datasets, m_dataset->options());
    for (ModelEditor *e : {m_teacher, m_student})
        e->setInput(shape.input, shape.numClasses, shape.classesKnown);
    for (ModelListEditor *list : {m_teachers, m_assistants, m_peers})
        list->setInput(shape.input, shape.numClasses, shape.classesKnown);
}

} // namespace kd::ui
