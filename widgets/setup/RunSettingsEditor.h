#pragma once

#include <project/ProjectConfig.h>

#include <QWidget>

class QCheckBox;
class QComboBox;
class QLineEdit;
class QSpinBox;

namespace kd::ui {

class FilePathEdit;

/// The project-wide settings: name, seed, device, threads, output folder, evaluation batch,
/// teacher-output cache, memory format and the scratch baseline.
class RunSettingsEditor : public QWidget {
    Q_OBJECT

public:
    explicit RunSettingsEditor(QWidget *parent = nullptr);

    /// Shows the project's run settings (the other fields are ignored).
    void setProject(const kd::Project &project);
    /// Writes the edited run settings into `project`, leaving its other fields alone.
    void applyTo(kd::Project &project) const;

Q_SIGNALS:
    void changed();

private:
    QLineEdit *m_name;
    QLineEdit *m_seed;
    QComboBox *m_device;
    QComboBox *m_precision;
    QSpinBox *m_threads;
    FilePathEdit *m_outputDir;
    QSpinBox *m_evalBatch;
    QComboBox *m_teacherCache;
    QSpinBox *m_teacherCacheMB;
    QComboBox *m_memoryFormat;
    QCheckBox *m_baseline;
};

} // namespace kd::ui
