#pragma once

#include <models/ArchitectureRegistry.h>
#include <project/ProjectConfig.h>

#include <QWidget>

#include <vector>

class QLabel;
class QPushButton;
class QVBoxLayout;

namespace kd::ui {

class ModelEditor;

/// Edits a list of kd::ModelSpec (a project's "teachers" or "assistants"): one ModelEditor
/// per entry in a titled box with a Remove button, and an Add button below.
class ModelListEditor : public QWidget {
    Q_OBJECT

public:
    /// `itemTitle` with %1 for the 1-based index, e.g. "Assistant %1"; `editorOptions` are
    /// ModelEditor::Option flags; new entries start from `newEntry`.
    ModelListEditor(const kd::ArchitectureRegistry &registry, const QString &itemTitle, int editorOptions,
                    kd::ModelSpec newEntry, QWidget *parent = nullptr);

    void setSpecs(const std::vector<kd::ModelSpec> &specs);
    std::vector<kd::ModelSpec> specs() const;
    int count() const { return int(m_editors.size()); }
    ModelEditor *editor(int index) const { return m_editors.at(std::size_t(index)); }
    void setInput(const kd::InputShape &shape, int numClasses, bool classesKnown);
    /// Shown above the list: what the entries are for.
    void setDescription(const QString &text);

public Q_SLOTS:
    void addEntry();

Q_SIGNALS:
    void changed();

private:
    void append(const kd::ModelSpec &spec);
    void removeAt(int index);
    void renumber();

    const kd::ArchitectureRegistry &m_registry;
    QString m_itemTitle;
    int m_editorOptions;
    kd::ModelSpec m_newEntry;
    QLabel *m_description;
    QVBoxLayout *m_items;
    QPushButton *m_add;
    std::vector<ModelEditor *> m_editors;
    std::vector<QWidget *> m_boxes;
    kd::InputShape m_input;
    int m_numClasses = 10;
    bool m_classesKnown = true;
};

} // namespace kd::ui
