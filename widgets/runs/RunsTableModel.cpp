#include "runs/RunsTableModel.h"

#include "runs/RunsFormat.h"

#include <QBrush>
#include <QColor>
#include <QDir>
#include <QFileInfo>
#include <QHash>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace kd::ui {

namespace {

/// Config keys that never tell two settings apart in a name: they do not change results
/// (settingKey() ignores them) or have their own column (the method and its parameters).
bool shownElsewhere(const std::string &key)
{
    static const char *const ignored[] = {"seed", "threads", "device", "eval_batch_size", "log_every", "analysis"};
    const std::string leaf = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
    for (const char *i : ignored)
        if (leaf == i || key.rfind(std::string(i) + ".", 0) == 0)
            return true;
    // The architectures and the dataset have columns of their own.
    if (key == "student.arch" || key == "teacher.arch" || key == "dataset.name")
        return true;
    return key == "method" || key.rfind("method.", 0) == 0;
}

/// A config value as a name shows it: unquoted, long ones (paths) cut to their end.
QString shortValue(const std::string &raw)
{
    QString value = QString::fromStdString(raw);
    if (value.size() >= 2 && value.startsWith(QLatin1Char('"')) && value.endsWith(QLatin1Char('"')))
        value = value.mid(1, value.size() - 2);
    if (value.size() > 28)
        value = QStringLiteral("…") + value.right(24);
    return value;
}

/// For each seed group, the settings that set it apart from the other multi-run groups of
/// the same project name ("student.train.limit=1000 · student.arch=cnn_small"), at most
/// three keys; empty for a group whose project has no other group.
std::vector<QString> distinctSettings(const std::vector<kd::SeedGroup> &groups, const std::vector<kd::RunInfo> &runs)
{
    std::vector<QString> out(groups.size());
    std::map<std::string, std::vector<std::size_t>> byProject;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const nlohmann::json &config = runs[groups[i].members.front()].config;
        if (groups[i].members.size() < 2 || !config.is_object())
            continue;
        byProject[config.value("name", std::string())].push_back(i);
    }
    for (const auto &[project, members] : byProject) {
        if (members.size() < 2)
            continue;
        std::vector<nlohmann::json> configs;
        for (std::size_t i : members)
            configs.push_back(runs[groups[i].members.front()].config);
        std::vector<kd::ConfigDiffRow> keys;
        for (auto &row : kd::diffConfigs(configs))
            if (!shownElsewhere(row.key))
                keys.push_back(std::move(row));
        for (std::size_t k = 0; k < members.size(); ++k) {
            // Keys this group sets (one it lacks says little: another architecture's option).
            QStringList parts;
            std::size_t present = 0;
            for (const auto &row : keys) {
                if (row.values[k].empty())
                    continue;
                if (++present <= 3)
                    parts << QStringLiteral("%1=%2").arg(QString::fromStdString(row.key), shortValue(row.values[k]));
            }
            if (present > 3)
                parts << QStringLiteral("…");
            out[members[k]] = parts.join(QStringLiteral(" "));
        }
    }
    return out;
}

struct ColumnDef {
    const char *key;
    const char *title;
    const char *tip;
    bool numeric;
};

// Keys are what filters ("method:kd", "student_acc>85") and QSettings use; keep them stable.
const ColumnDef Columns[RunsTableModel::ColumnCount] = {
    {"name", "Name", "Run directory name (grouped: project name · hyperparameters ×number of seeds)", false},
    {"status", "Status", "completed, stopped, failed, running, interrupted or damaged", false},
    {"date", "Date", "When the run started", false},
    {"dataset", "Dataset", "dataset.name", false},
    {"teacher", "Teacher", "teacher.arch", false},
    {"student", "Student", "student.arch", false},
    {"method", "Method", "method.name", false},
    {"hparams", "Hyperparameters", "The method's hyperparameters (T = temperature, α = alpha)", false},
    {"seed", "Seed", "seed (grouped: every seed of the group)", true},
    {"n", "n", "Runs in the seed group", true},
    {"teacher_acc", "Teacher %", "Teacher final test accuracy, % (grouped: mean ± sd)", true},
    {"student_acc", "Student %", "Distilled student final test accuracy, % (grouped: mean ± sd)", true},
    {"scratch_acc", "Scratch %", "Same student trained from scratch, final test accuracy, % (grouped: mean ± sd)", true},
    {"kd_gain", "KD gain pt", "Student − scratch test accuracy, percentage points (grouped: mean ± sd)", true},
    {"student_params", "Params", "Student parameters", true},
    {"train_time", "Train time", "Training time of every model of the run (grouped: mean)", true},
    {"problem", "Problem", "Why a run is damaged, failed or incomplete", false},
    {"dir", "Directory", "Run directory", false},
};

QVariant number(double v, double scale = 1.0)
{
    return std::isfinite(v) ? QVariant(v * scale) : QVariant();
}

QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

// Worst first: a group shows the state that needs attention.
int severity(kd::RunState s)
{
    switch (s) {
    case kd::RunState::Damaged: return 5;
    case kd::RunState::Failed: return 4;
    case kd::RunState::Interrupted: return 3;
    case kd::RunState::Running: return 2;
    case kd::RunState::Stopped: return 1;
    case kd::RunState::Completed: return 0;
    }
    return 5;
}

} // namespace

RunsTableModel::RunsTableModel(QObject *parent) : QAbstractTableModel(parent) {}

QString RunsTableModel::columnKey(int column)
{
    return column >= 0 && column < ColumnCount ? QString::fromLatin1(Columns[column].key) : QString();
}

int RunsTableModel::columnForKey(const QString &key)
{
    for (int c = 0; c < ColumnCount; ++c)
        if (key.compare(QLatin1String(Columns[c].key), Qt::CaseInsensitive) == 0)
            return c;
    return -1;
}

bool RunsTableModel::isNumeric(int column)
{
    return column >= 0 && column < ColumnCount && Columns[column].numeric;
}

QString RunsTableModel::normalizeDir(const QString &dir)
{
    const QFileInfo info(dir);
    const QString canonical = info.canonicalFilePath();
    return canonical.isEmpty() ? QDir::cleanPath(info.absoluteFilePath()) : canonical;
}

void RunsTableModel::setRuns(std::vector<kd::RunInfo> runs)
{
    m_runs = std::move(runs);
    // canonicalFilePath() costs a few syscalls per path component: resolve each directory
    // once, not on every rescan (measured 9 ms a scan for 200 runs).
    QHash<QString, QString> resolved;
    m_normalizedDirs.clear();
    for (const auto &r : m_runs) {
        const QString dir = qs(r.dir);
        auto known = m_resolvedDirs.constFind(dir);
        const QString normalized = known != m_resolvedDirs.cend() ? *known : normalizeDir(dir);
        resolved.insert(dir, normalized);
        m_normalizedDirs.push_back(normalized);
    }
    m_resolvedDirs = std::move(resolved);
    merge(buildRows());
}

void RunsTableModel::setGrouped(bool grouped)
{
    if (grouped == m_grouped)
        return;
    beginResetModel();
    m_grouped = grouped;
    m_rows = buildRows();
    endResetModel();
}

std::vector<RunsTableModel::Row> RunsTableModel::buildRows() const
{
    std::vector<Row> rows;
    if (!m_grouped) {
        for (std::size_t i = 0; i < m_runs.size(); ++i)
            rows.push_back(runRow(i));
        return rows;
    }
    // A lone run keeps its seed group too, so the comparison panel can use it.
    const auto groups = kd::groupBySeed(m_runs);
    const std::vector<QString> distinct = distinctSettings(groups, m_runs);
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto &g = groups[i];
        if (g.members.size() > 1) {
            rows.push_back(groupRow(g, distinct[i]));
            continue;
        }
        rows.push_back(runRow(g.members.front()));
        rows.back().group = g;
    }
    return rows;
}

RunsTableModel::Row RunsTableModel::runRow(std::size_t index) const
{
    const kd::RunInfo &r = m_runs[index];
    Row row;
    row.key = m_normalizedDirs[index];
    row.members = {index};
    row.state = QString::fromLatin1(kd::runStateName(r.state));
    row.cells.resize(ColumnCount);
    auto set = [&](int c, const QString &text, const QVariant &sort = {}) {
        row.cells[c] = {text, sort.isValid() ? sort : (text.isEmpty() ? QVariant() : QVariant(text.toLower()))};
    };
    set(Name, qs(r.name));
    set(Status, row.state);
    set(Date, formatDate(r.startedUnix), r.startedUnix > 0 ? QVariant(qint64(r.startedUnix)) : QVariant());
    set(Dataset, qs(r.dataset));
    set(Teacher, qs(r.teacherArch));
    set(Student, qs(r.studentArch));
    set(Method, qs(r.method));
    set(Hyperparams, formatMethodParams(r.methodParams));
    set(Seed, r.seed >= 0 ? QString::number(r.seed) : QString(), r.seed >= 0 ? QVariant(double(r.seed)) : QVariant());
    set(Runs, QStringLiteral("1"), 1.0);
    set(TeacherAcc, formatPercent(r.teacherAcc), number(r.teacherAcc, 100));
    set(StudentAcc, formatPercent(r.studentAcc), number(r.studentAcc, 100));
    set(ScratchAcc, formatPercent(r.scratchAcc), number(r.scratchAcc, 100));
    set(KdGain, formatPoints(r.kdGain), number(r.kdGain, 100));
    set(StudentParams, formatCount(r.studentParams), r.studentParams >= 0 ? QVariant(double(r.studentParams)) : QVariant());
    set(TrainTime, formatDuration(r.trainSeconds), number(r.trainSeconds));
    set(Problem, qs(r.problem));
    set(Dir, QDir::toNativeSeparators(qs(r.dir)));
    row.tooltip = r.problem.empty() ? QDir::toNativeSeparators(qs(r.dir))
                                    : QStringLiteral("%1: %2").arg(row.state, qs(r.problem));
    return row;
}

RunsTableModel::Row RunsTableModel::groupRow(const kd::SeedGroup &g, const QString &distinct) const
{
    Row row = runRow(g.members.front());
    row.key = QStringLiteral("group:") + qs(g.key);
    row.members = g.members;
    row.group = g;
    row.isGroup = true;
    const kd::RunInfo &first = m_runs[g.members.front()];
    const std::size_t n = g.members.size();
    auto set = [&](int c, const QString &text, const QVariant &sort) { row.cells[c] = {text, sort}; };

    QString name = first.config.is_object() && first.config.contains("name") && first.config["name"].is_string()
        ? qs(first.config["name"].get<std::string>())
        : qs(first.name);
    // Groups of one project differ in their set-up: the hyperparameters tell them apart.
    const QString params = formatMethodParams(first.methodParams);
    if (!params.isEmpty())
        name += QStringLiteral(" · ") + params;
    if (!distinct.isEmpty())
        name += QStringLiteral(" · ") + distinct;
    set(Name, QStringLiteral("%1 ×%2").arg(name).arg(n), name.toLower());

    std::map<int, std::pair<kd::RunState, int>> states; // by severity: state, count
    std::int64_t latest = 0;
    double timeSum = 0;
    int timeCount = 0;
    QStringList seeds, problems, dirs, members;
    for (auto m : g.members) {
        const kd::RunInfo &r = m_runs[m];
        auto &entry = states[severity(r.state)];
        entry.first = r.state;
        ++entry.second;
        latest = std::max(latest, r.startedUnix);
        if (std::isfinite(r.trainSeconds)) {
            timeSum += r.trainSeconds;
            ++timeCount;
        }
        seeds << QString::number(r.seed);
        if (!r.problem.empty())
            problems << QStringLiteral("%1: %2").arg(qs(r.name), qs(r.problem));
        dirs << QDir::toNativeSeparators(qs(r.dir));
        members << QStringLiteral("seed %1: %2 (%3)").arg(r.seed).arg(qs(r.name), QString::fromLatin1(kd::runStateName(r.state)));
    }
    QStringList status;
    for (auto it = states.rbegin(); it != states.rend(); ++it)
        status << QStringLiteral("%1 %2").arg(it->second.second).arg(QString::fromLatin1(kd::runStateName(it->second.first)));
    row.state = QString::fromLatin1(kd::runStateName(states.rbegin()->second.first));
    set(Status, status.join(QStringLiteral(", ")), row.state);
    set(Date, formatDate(latest), latest > 0 ? QVariant(qint64(latest)) : QVariant());
    set(Seed, seeds.join(QStringLiteral(", ")), double(g.seeds.empty() ? -1 : g.seeds.front()));
    set(Runs, QString::number(n), double(n));
    set(TeacherAcc, formatMeanSd(g.teacherAcc), number(g.teacherAcc.mean, 100));
    set(StudentAcc, formatMeanSd(g.studentAcc), number(g.studentAcc.mean, 100));
    set(ScratchAcc, formatMeanSd(g.scratchAcc), number(g.scratchAcc.mean, 100));
    set(KdGain, formatMeanSd(g.kdGain, true), number(g.kdGain.mean, 100));
    const double meanTime = timeCount ? timeSum / timeCount : NAN;
    set(TrainTime, formatDuration(meanTime), number(meanTime));
    set(Problem, problems.join(QStringLiteral("; ")), problems.isEmpty() ? QVariant() : QVariant(problems.join(QLatin1Char(' ')).toLower()));
    set(Dir, dirs.join(QStringLiteral("; ")), dirs.join(QLatin1Char(';')).toLower());
    row.tooltip = QStringLiteral("%1 runs of one setting:\n%2").arg(n).arg(members.join(QLatin1Char('\n')));
    if (!problems.isEmpty())
        row.tooltip += QStringLiteral("\n\n") + problems.join(QLatin1Char('\n'));
    return row;
}

void RunsTableModel::merge(std::vector<Row> rows)
{
    QHash<QString, std::size_t> incoming;
    for (std::size_t i = 0; i < rows.size(); ++i)
        incoming.insert(rows[i].key, i);
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (incoming.contains(m_rows[std::size_t(i)].key))
            continue;
        beginRemoveRows({}, i, i);
        m_rows.erase(m_rows.begin() + i);
        endRemoveRows();
    }
    std::set<std::size_t> placed;
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        const std::size_t k = incoming.value(m_rows[i].key);
        placed.insert(k);
        const bool changed = !(m_rows[i].cells == rows[k].cells) || m_rows[i].tooltip != rows[k].tooltip;
        m_rows[i] = std::move(rows[k]);
        if (changed)
            Q_EMIT dataChanged(index(int(i), 0), index(int(i), ColumnCount - 1));
    }
    std::vector<Row> added;
    for (std::size_t k = 0; k < rows.size(); ++k)
        if (!placed.count(k))
            added.push_back(std::move(rows[k]));
    if (added.empty())
        return;
    const int first = int(m_rows.size());
    beginInsertRows({}, first, first + int(added.size()) - 1);
    for (auto &row : added)
        m_rows.push_back(std::move(row));
    endInsertRows();
}

QStringList RunsTableModel::dirsAt(int row) const
{
    QStringList dirs;
    if (row < 0 || row >= int(m_rows.size()))
        return dirs;
    for (auto m : m_rows[std::size_t(row)].members)
        dirs << qs(m_runs[m].dir);
    return dirs;
}

std::vector<std::size_t> RunsTableModel::membersAt(int row) const
{
    return row >= 0 && row < int(m_rows.size()) ? m_rows[std::size_t(row)].members : std::vector<std::size_t>{};
}

const kd::SeedGroup *RunsTableModel::groupAt(int row) const
{
    if (!m_grouped || row < 0 || row >= int(m_rows.size()))
        return nullptr;
    return &m_rows[std::size_t(row)].group;
}

int RunsTableModel::rowForDir(const QString &dir) const
{
    const QString key = normalizeDir(dir);
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        for (auto m : m_rows[i].members)
            if (m_normalizedDirs[m] == key)
                return int(i);
    return -1;
}

const kd::RunInfo *RunsTableModel::runForDir(const QString &dir) const
{
    const QString key = normalizeDir(dir);
    for (std::size_t i = 0; i < m_runs.size(); ++i)
        if (m_normalizedDirs[i] == key)
            return &m_runs[i];
    return nullptr;
}

int RunsTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RunsTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsTableModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()) || index.column() >= ColumnCount)
        return {};
    const Row &row = m_rows[std::size_t(index.row())];
    const Cell &cell = row.cells[index.column()];
    switch (role) {
    case Qt::DisplayRole:
    case ExportRole:
        return cell.text;
    case SortRole:
        return cell.sort;
    case DirsRole:
        return dirsAt(index.row());
    case Qt::ToolTipRole:
        return index.column() == Hyperparams && !cell.text.isEmpty() && row.state != QLatin1String("damaged")
            ? cell.text + QStringLiteral("\n") + row.tooltip
            : row.tooltip;
    case Qt::TextAlignmentRole:
        return isNumeric(index.column()) ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    case Qt::ForegroundRole:
        if (row.state == QLatin1String("damaged") || row.state == QLatin1String("failed"))
            return QBrush(QColor(0xb0, 0x20, 0x20));
        if (row.state == QLatin1String("running"))
            return QBrush(QColor(0x10, 0x50, 0xc0));
        if (row.state == QLatin1String("interrupted") || row.state == QLatin1String("stopped"))
            return QBrush(QColor(0x90, 0x60, 0x00));
        return {};
    default:
        return {};
    }
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return {};
    if (role == Qt::DisplayRole)
        return tr(Columns[section].title);
    if (role == Qt::ToolTipRole)
        return QStringLiteral("%1\nfilter key: %2").arg(tr(Columns[section].tip), QLatin1String(Columns[section].key));
    return {};
}

} // namespace kd::ui
