#pragma once

#include <QMenu>

namespace kd::app {

/// File ▸ Recent projects: the last few opened or saved project files, newest first,
/// kept in QSettings so they survive restarts.
class RecentProjectsMenu : public QMenu {
    Q_OBJECT

public:
    static constexpr int MaxEntries = 8;

    explicit RecentProjectsMenu(QWidget *parent = nullptr);

    QStringList paths() const;
    /// Moves `path` to the top of the list.
    void addPath(const QString &path);
    void removePath(const QString &path);

Q_SIGNALS:
    void openRequested(const QString &path);

private:
    void store(const QStringList &paths);
    void rebuild();
};

} // namespace kd::app
