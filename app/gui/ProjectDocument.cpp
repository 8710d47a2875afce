#include "ProjectDocument.h"

#include <setup/ExperimentPanel.h>

#include <project/ProjectConfig.h>

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>

#include <exception>

namespace kd::app {

ProjectDocument::ProjectDocument(kd::ui::ExperimentPanel *panel, QWidget *dialogParent)
    : QObject(dialogParent), m_panel(panel), m_dialogParent(dialogParent)
{
    connect(panel, &kd::ui::ExperimentPanel::changed, this, [this] { setState(m_path, true); });
}

QString ProjectDocument::displayName() const
{
    const QString name = QString::fromStdString(m_panel->project().name);
    return tr("%1 (%2)").arg(name, m_path.isEmpty() ? tr("unsaved") : QFileInfo(m_path).fileName());
}

void ProjectDocument::setState(const QString &path, bool modified)
{
    m_path = path;
    m_modified = modified;
    Q_EMIT stateChanged(); // also when only the name changed with an edit
}

bool ProjectDocument::open(const QString &path)
{
    try {
        m_panel->setProject(kd::Project::load(QDir::toNativeSeparators(path).toStdString()));
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Cannot open project"), QString::fromUtf8(e.what()));
        Q_EMIT openFailed(path);
        return false;
    }
    setState(path, false);
    Q_EMIT opened(path);
    return true;
}

void ProjectDocument::newProject()
{
    if (!maybeSave())
        return;
    m_panel->setProject(kd::Project());
    setState(QString(), false);
}

void ProjectDocument::openWithDialog()
{
    if (!maybeSave())
        return;
    const QString start = m_path.isEmpty() ? QDir::currentPath() : QFileInfo(m_path).absolutePath();
    const QString path = QFileDialog::getOpenFileName(m_dialogParent, tr("Open Project"), start,
                                                      tr("KD Workbench projects (*.json);;All files (*)"));
    if (!path.isEmpty())
        open(path);
}

bool ProjectDocument::save()
{
    return m_path.isEmpty() ? saveAs() : saveTo(m_path);
}

bool ProjectDocument::saveAs()
{
    QString suggestion = m_path;
    if (suggestion.isEmpty())
        suggestion = QDir::current().filePath(QString::fromStdString(m_panel->project().name) + QStringLiteral(".json"));
    const QString path = QFileDialog::getSaveFileName(m_dialogParent, tr("Save Project As"), suggestion,
                                                      tr("KD Workbench projects (*.json)"));
    return !path.isEmpty() && saveTo(path);
}

bool ProjectDocument::saveTo(const QString &path)
{
    try {
        const kd::Project project = m_panel->project();
        // A file that would not load again is worse than no file: check its structure.
        kd::Project::fromJson(project.toJson());
        project.save(QDir::toNativeSeparators(path).toStdString());
    } catch (const std::exception &e) {
        Q_EMIT errorOccurred(tr("Cannot save project"), QString::fromUtf8(e.what()));
        return false;
    }
    setState(path, false);
    Q_EMIT saved(path);
    return true;
}

bool ProjectDocument::maybeSave()
{
    if (!m_modified)
        return true;
    const auto answer = QMessageBox::warning(m_dialogParent, tr("Unsaved changes"),
                                             tr("The project has unsaved changes. Save them?"),
                                             QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
    if (answer == QMessageBox::Save)
        return save();
    return answer == QMessageBox::Discard;
}

} // namespace kd::app
