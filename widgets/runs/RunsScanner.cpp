#include "runs/RunsScanner.h"

#include <QDir>
#include <QFileInfo>

#include <cmath>
#include <exception>
#include <set>

namespace kd::ui {

namespace {

// What has to change for a run directory to be read again.
std::string stampOf(const std::string &dir)
{
    std::string stamp;
    for (const char *file : {"config.json", "summary.json", "metrics.csv"}) {
        const QFileInfo info(QDir(QString::fromStdString(dir)).filePath(QString::fromLatin1(file)));
        stamp += info.exists() ? std::to_string(info.size()) + ":" + std::to_string(info.lastModified().toMSecsSinceEpoch())
                               : std::string("-");
        stamp += ';';
    }
    return stamp;
}

bool isLive(kd::RunState s)
{
    return s == kd::RunState::Running || s == kd::RunState::Interrupted;
}

} // namespace

RunsScanner::RunsScanner(QObject *parent) : QObject(parent) {}

RunsScanner::~RunsScanner() = default;

void RunsScanner::startPolling(int intervalMs)
{
    if (!m_pollTimer) {
        m_pollTimer = new QTimer(this);
        connect(m_pollTimer, &QTimer::timeout, this, &RunsScanner::pollSeries);
    }
    m_pollTimer->start(intervalMs);
}

void RunsScanner::scan(const QStringList &folders, const QStringList &runDirs)
{
    std::set<std::string> dirs;
    for (const QString &folder : folders)
        for (auto &d : kd::findRunDirectories(folder.toStdString()))
            dirs.insert(std::move(d));
    for (const QString &d : runDirs)
        if (QFileInfo(d).isDir())
            dirs.insert(QDir::cleanPath(QFileInfo(d).absoluteFilePath()).toStdString());

    std::vector<kd::RunInfo> runs;
    std::map<std::string, Cached> cache;
    std::set<std::string> seen;
    for (const auto &dir : dirs) {
        const std::string stamp = stampOf(dir);
        auto it = m_cache.find(dir);
        Cached entry;
        if (it != m_cache.end() && it->second.stamp == stamp && !isLive(it->second.info.state)) {
            entry = std::move(it->second);
        } else {
            try {
                entry.info = kd::readRunInfo(dir);
            } catch (const std::exception &) {
                continue; // removed between listing and reading: gone from the table
            }
            entry.stamp = stamp;
        }
        if (!seen.insert(entry.info.dir).second)
            continue; // the same run reached through two folders
        runs.push_back(entry.info);
        cache.emplace(dir, std::move(entry));
    }
    m_cache = std::move(cache);
    Q_EMIT scanned(runs);
}

void RunsScanner::follow(const QStringList &runDirs)
{
    std::map<QString, Followed> next;
    for (const QString &dir : runDirs) {
        auto it = m_followed.find(dir);
        if (it != m_followed.end()) {
            next.emplace(dir, std::move(it->second));
        } else {
            Followed f;
            f.follower = std::make_unique<kd::MetricsFollower>(QDir(dir).filePath(QStringLiteral("metrics.csv")).toStdString());
            next.emplace(dir, std::move(f));
        }
    }
    m_followed = std::move(next);
    pollSeries();
}

void RunsScanner::pollSeries()
{
    for (auto &[dir, f] : m_followed) {
        const bool grew = f.follower->poll();
        if (!grew && f.sent)
            continue;
        f.sent = true;
        Q_EMIT seriesUpdated(dir, seriesOf(dir, f.follower->metrics()));
    }
}

QVector<RunSeries> RunsScanner::seriesOf(const QString &dir, const kd::RunMetrics &metrics) const
{
    static const std::set<std::string> axes{"epoch", "step", "wall_s"};
    QVector<RunSeries> out;
    const QString name = QFileInfo(dir).fileName();
    for (const auto &block : metrics.blocks) {
        auto axis = [&](const char *column) {
            const auto *v = block.column(column);
            return v ? QVector<double>(v->begin(), v->end()) : QVector<double>(int(block.rows()), NAN);
        };
        const QVector<double> step = axis("step"), epoch = axis("epoch"), wall = axis("wall_s");
        for (const auto &[column, values] : block.columns) {
            if (axes.count(column))
                continue;
            bool any = false;
            for (double v : values)
                any = any || std::isfinite(v);
            if (!any)
                continue; // e.g. test_acc in step rows: nothing to draw
            RunSeries s;
            s.runDir = dir;
            s.runName = name;
            s.role = QString::fromStdString(block.role);
            s.kind = QString::fromStdString(block.kind);
            s.column = QString::fromStdString(column);
            s.step = step;
            s.epoch = epoch;
            s.wallSeconds = wall;
            s.y = QVector<double>(values.begin(), values.end());
            out << s;
        }
    }
    return out;
}

} // namespace kd::ui
