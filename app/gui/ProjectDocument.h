#pragma once

#include <QObject>
#include <QString>

class QWidget;

namespace kd::ui {
class ExperimentPanel;
}

namespace kd::app {

/// The project file behind the experiment editor: its path, whether the edits are saved,
/// and New / Open / Save / Save As with their dialogs. Problems are reported through
/// errorOccurred() so the window decides how to show them.
class ProjectDocument : public QObject {
    Q_OBJECT

public:
    ProjectDocument(kd::ui::ExperimentPanel *panel, QWidget *dialogParent);

    QString path() const { return m_path; }
    bool isModified() const { return m_modified; }
    /// "name (file.json)" or "name (unsaved)".
    QString displayName() const;

    /// Loads a project file into the editor; false (and errorOccurred) when it cannot.
    bool open(const QString &path);
    bool saveTo(const QString &path);

public Q_SLOTS:
    void newProject();
    void openWithDialog();
    bool save();
    bool saveAs();
    /// Asks what to do with unsaved edits; false when the user cancels.
    bool maybeSave();

Q_SIGNALS:
    /// The path, the modified flag or the project name changed.
    void stateChanged();
    void opened(const QString &path);
    void saved(const QString &path);
    void openFailed(const QString &path);
    void errorOccurred(const QString &title, const QString &message);

private:
    void setState(const QString &path, bool modified);

    kd::ui::ExperimentPanel *m_panel;
    QWidget *m_dialogParent;
    QString m_path;
    bool m_modified = false;
};

} // namespace kd::app
