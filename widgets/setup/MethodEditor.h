#pragma once

#include <methods/MethodRegistry.h>
#include <project/ProjectConfig.h>

#include <QWidget>

class QLabel;

namespace kd::ui {

class ParamEditor;
class RegistryComboBox;

/// Edits kd::MethodOptions: the distillation method and its generated hyperparameter
/// editors (tooltips: help text and allowed range).
class MethodEditor : public QWidget {
    Q_OBJECT

public:
    explicit MethodEditor(const kd::MethodRegistry &registry, QWidget *parent = nullptr);

    void setOptions(const kd::MethodOptions &options);
    kd::MethodOptions options() const;
    /// Whether the chosen method distils from a teacher (unknown methods: true).
    bool needsTeacher() const;
    ParamEditor *paramEditor() const { return m_params; }
    /// What the last switch of method did to the hyperparameters (one line per option dropped
    /// or carried over with a non-default value); empty after setOptions().
    QString noteText() const;
    /// Feature names of the configured student and teacher, offered by feature parameters.
    void setFeatureNames(const QStringList &student, const QStringList &teacher);

Q_SIGNALS:
    void changed();

private:
    void methodChanged();
    /// The user picked another method: hyperparameters the new one declares stay, those only
    /// the previous one had go, with a note each (kd::dropStaleOptions(), as `kdw --set`).
    void switchMethod();

    const kd::MethodRegistry &m_registry;
    RegistryComboBox *m_name;
    QLabel *m_description;
    QLabel *m_note;
    std::string m_shownMethod; // the method whose editors are shown
    ParamEditor *m_params;
};

} // namespace kd::ui
