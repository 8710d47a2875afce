#pragma once

#include <models/ArchitectureRegistry.h>
#include <project/ProjectConfig.h>

#include <QStringList>
#include <QTimer>
#include <QWidget>

class QCheckBox;
class QLabel;

namespace kd::ui {

class FilePathEdit;
class ParamEditor;
class RegistryComboBox;
class TrainOptionsEditor;

/// Edits one kd::ModelSpec: architecture, its generated option editors, (for teachers) a
/// checkpoint to load instead of training and the "generalist" flag, and the training
/// settings. Shows the parameter count and MACs of the configured network, computed on
/// demand shortly after an edit.
class ModelEditor : public QWidget {
    Q_OBJECT

public:
    enum Option { NoOptions = 0, Checkpoint = 0x1, Generalist = 0x2 };

    /// `options`: the Option fields to offer (or-ed).
    ModelEditor(const kd::ArchitectureRegistry &registry, int options, QWidget *parent = nullptr);

    void setSpec(const kd::ModelSpec &spec);
    kd::ModelSpec spec() const;
    /// Input the parameter count is computed for (the dataset's image shape and classes;
    /// `classesKnown` false: the count assumes `numClasses` and says so).
    void setInput(const kd::InputShape &shape, int numClasses, bool classesKnown = true);

    /// "1,234,570 parameters", or why it could not be computed. Updated after an edit.
    QString infoText() const;
    /// Computes the info now instead of after the debounce delay.
    void updateInfoNow();
    /// What the last switch of architecture did to the options (one line per option dropped
    /// or carried over with a non-default value); empty after setSpec().
    QString noteText() const;
    /// Names of the configured network's features ("stage1", ..., "logits"), as of the last
    /// info update; empty when it cannot be built.
    QStringList featureNames() const { return m_featureNames; }

Q_SIGNALS:
    void changed();
    /// The parameter count, MACs and feature names were recomputed.
    void infoUpdated();

private:
    void architectureChanged();
    /// The user picked another architecture: options the new one declares stay, options only
    /// the previous one had go, with a note each (kd::dropStaleOptions(), as `kdw --set`).
    void switchArchitecture();
    void scheduleInfo();
    void updateCheckpointState();

    const kd::ArchitectureRegistry &m_registry;
    RegistryComboBox *m_arch;
    QLabel *m_description;
    QLabel *m_info;
    QLabel *m_note;
    std::string m_shownArch; // the architecture whose option editors are shown
    ParamEditor *m_options;
    FilePathEdit *m_checkpoint = nullptr;
    QCheckBox *m_generalist = nullptr;
    bool m_generalistValue = false; // kept when there is no check box
    QWidget *m_trainBox;
    TrainOptionsEditor *m_train;
    QStringList m_featureNames;
    QTimer m_infoTimer;
    kd::InputShape m_input;
    int m_numClasses = 10;
    bool m_classesKnown = true;
};

} // namespace kd::ui
