#include "RecentProjectsMenu.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace kd::app {

namespace {
const QString SettingsKey = QStringLiteral("recentProjects");
}

RecentProjectsMenu::RecentProjectsMenu(QWidget *parent) : QMenu(tr("Recent &Projects"), parent)
{
    rebuild();
}

QStringList RecentProjectsMenu::paths() const
{
    return QSettings().value(SettingsKey).toStringList();
}

void RecentProjectsMenu::addPath(const QString &path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList list = paths();
    list.removeAll(absolute);
    list.prepend(absolute);
    while (list.size() > MaxEntries)
        list.removeLast();
    store(list);
}

void RecentProjectsMenu::removePath(const QString &path)
{
    QStringList list = paths();
    list.removeAll(QFileInfo(path).absoluteFilePath());
    store(list);
}

void RecentProjectsMenu::store(const QStringList &list)
{
    QSettings().setValue(SettingsKey, list);
    rebuild();
}

void RecentProjectsMenu::rebuild()
{
    clear();
    const QStringList list = paths();
    for (int i = 0; i < list.size(); ++i) {
        const QString &path = list.at(i);
        QAction *action = addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(QFileInfo(path).fileName()));
        action->setToolTip(QDir::toNativeSeparators(path));
        action->setStatusTip(QDir::toNativeSeparators(path));
        connect(action, &QAction::triggered, this, [this, path] { Q_EMIT openRequested(path); });
    }
    if (!list.isEmpty()) {
        addSeparator();
        QAction *clearList = addAction(tr("&Clear List"));
        connect(clearList, &QAction::triggered, this, [this] { store({}); });
    }
    setEnabled(!list.isEmpty());
}

} // namespace kd::app
