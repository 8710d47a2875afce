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
    /// Feature names of the configured student and teacher, offered by feature parameters.
    void setFeatureNames(const QStringList &student, const QStringList &teacher);

Q_SIGNALS:
    void changed();

private:
    void methodChanged();

    const kd::MethodRegistry &m_registry;
    RegistryComboBox *m_name;
    QLabel *m_description;
    ParamEditor *m_params;
};

} // namespace kd::ui
