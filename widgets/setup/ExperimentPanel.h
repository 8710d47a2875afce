#pragma once

#include <project/ProjectConfig.h>
#include <project/Registries.h>

#include <QTimer>
#include <QWidget>

class QGroupBox;
class QLabel;
class QTabWidget;

namespace kd::ui {

class DatasetEditor;
class MethodEditor;
class ModelEditor;
class ModelListEditor;
class RunSettingsEditor;

/// Edits a whole kd::Project in tabs: run settings, data, teachers (the teacher, or the
/// teachers of multi-teacher methods, and the assistants of takd), student, and the KD
/// method (with the proxy dataset of rc). Every field has a tooltip; architecture and method
/// options are generated from the registries' ParamSpecs. Validation is the engine's own
/// (Project::fromJson() and Registries::resolve()); its message shows in a red line above
/// the tabs.
class ExperimentPanel : public QWidget {
    Q_OBJECT

public:
    explicit ExperimentPanel(const kd::Registries &registries, QWidget *parent = nullptr);

    /// Loads `project` into the editors and validates it (a problem shows at once).
    void setProject(const kd::Project &project);
    /// The project as edited.
    kd::Project project() const;

    /// Checks the edited project; shows and returns the problem (empty: valid).
    QString validate();
    /// The problem shown in the error line, empty when none.
    QString errorText() const;
    bool isErrorVisible() const;

    ModelEditor *teacherEditor() const { return m_teacher; }
    ModelEditor *studentEditor() const { return m_student; }
    ModelListEditor *teachersEditor() const { return m_teachers; }
    ModelListEditor *assistantsEditor() const { return m_assistants; }
    ModelListEditor *peersEditor() const { return m_peers; }
    MethodEditor *methodEditor() const { return m_method; }
    DatasetEditor *datasetEditor() const { return m_dataset; }

Q_SIGNALS:
    /// The user edited something (not emitted by setProject()).
    void changed();

private:
    QWidget *createTeachersPage();
    QWidget *createStudentPage();
    QWidget *createMethodPage();
    void edited();
    void showError(const QString &message);
    void updateMethodDependentParts();
    void updateModelInputs();

    const kd::Registries &m_registries;
    kd::Project m_base; // fields without an editor survive a round trip through it
    QLabel *m_error;
    QTabWidget *m_tabs;
    RunSettingsEditor *m_run;
    DatasetEditor *m_dataset;
    ModelEditor *m_teacher;
    ModelEditor *m_student;
    MethodEditor *m_method;
    ModelListEditor *m_teachers = nullptr;
    ModelListEditor *m_assistants = nullptr;
    ModelListEditor *m_peers = nullptr;
    QGroupBox *m_peersBox = nullptr;
    QLabel *m_studentNote = nullptr;
    QLabel *m_teacherNote = nullptr;
    QGroupBox *m_teachersBox = nullptr;
    QGroupBox *m_assistantsBox = nullptr;
    QGroupBox *m_proxyBox = nullptr;
    DatasetEditor *m_proxy = nullptr;
    QTimer m_validateTimer;
    bool m_loading = false;
};

} // namespace kd::ui
