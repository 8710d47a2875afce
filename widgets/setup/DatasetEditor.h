#pragma once

#include <data/DatasetRegistry.h>
#include <project/ProjectConfig.h>

#include <QWidget>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QSpinBox;

namespace kd::ui {

class FilePathEdit;
class NumberSpinBox;
class RegistryComboBox;

/// Edits kd::DatasetOptions and says, as you type, whether the dataset's files are there.
/// Rows that do not apply to the chosen dataset (CIFAR-100 label set, image size of an
/// image folder...) are hidden; their values are kept.
class DatasetEditor : public QWidget {
    Q_OBJECT

public:
    explicit DatasetEditor(const kd::DatasetRegistry &registry, QWidget *parent = nullptr);

    void setOptions(const kd::DatasetOptions &options);
    kd::DatasetOptions options() const;
    /// The status line under the path: where the files were found or what is missing.
    QString statusText() const;

Q_SIGNALS:
    void changed();

private:
    void updateStatus();
    void updateVisibleRows();

    const kd::DatasetRegistry &m_registry;
    QFormLayout *m_form;
    RegistryComboBox *m_name;
    FilePathEdit *m_path;
    QLabel *m_status;
    QComboBox *m_labels;
    QSpinBox *m_imageSize;
    QSpinBox *m_channels;
    NumberSpinBox *m_testSplit;
    QSpinBox *m_limit;
    QSpinBox *m_testLimit;
    NumberSpinBox *m_valSplit;
    QCheckBox *m_normalize;
    QSpinBox *m_cropPadding;
    QCheckBox *m_flip;
};

} // namespace kd::ui
