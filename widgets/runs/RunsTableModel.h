#pragma once

#include <runs/RunGroups.h>
#include <runs/RunReader.h>

#include <QAbstractTableModel>
#include <QStringList>
#include <QVariant>
#include <QVector>

#include <vector>

namespace kd::ui {

/// The runs table: one row per run directory, or, grouped, one row per seed group (runs whose
/// settings differ only in seed) with n and mean ± sd of each result. Fed whole lists of
/// kd::RunInfo values; setRuns() merges by run directory (or group key), so rows that stay
/// keep their place and any selection on them. Numbers sort by Qt::UserRole (accuracies in
/// percent, so filters and sorting use the units the table shows).
class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        Name, Status, Date, Dataset, Teacher, Student, Method, Hyperparams, Seed, Runs,
        TeacherAcc, StudentAcc, ScratchAcc, KdGain, StudentParams, TrainTime, Problem, Dir,
        ColumnCount
    };
    enum Role {
        SortRole = Qt::UserRole,  ///< number (double) or text used for sorting and comparisons
        DirsRole,                 ///< QStringList: the row's run directories
        ExportRole,               ///< text written to CSV
    };

    explicit RunsTableModel(QObject *parent = nullptr);

    /// The filter/settings name of a column: "name", "status", "student_acc", ...
    static QString columnKey(int column);
    /// -1 when unknown.
    static int columnForKey(const QString &key);
    static bool isNumeric(int column);

    /// Replaces the runs (merging rows by key; see the class comment).
    void setRuns(std::vector<kd::RunInfo> runs);
    const std::vector<kd::RunInfo> &runs() const { return m_runs; }

    /// Seed-group mode: one row per kd::groupBySeed group.
    void setGrouped(bool grouped);
    bool isGrouped() const { return m_grouped; }

    /// Run directories of a row (one, or a group's members).
    QStringList dirsAt(int row) const;
    /// Indices into runs() of a row's members.
    std::vector<std::size_t> membersAt(int row) const;
    /// The row's seed group (grouped mode), else null.
    const kd::SeedGroup *groupAt(int row) const;
    /// The row holding run directory `dir` (compared normalised), or -1.
    int rowForDir(const QString &dir) const;
    /// The run that owns directory `dir`, or null.
    const kd::RunInfo *runForDir(const QString &dir) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Absolute, clean path with symlinks resolved when it exists: how directories compare.
    static QString normalizeDir(const QString &dir);

private:
    struct Cell {
        QString text;
        QVariant sort;
        bool operator==(const Cell &o) const { return text == o.text && sort == o.sort; }
    };
    struct Row {
        QString key;
        std::vector<std::size_t> members;
        kd::SeedGroup group;
        bool isGroup = false;
        QVector<Cell> cells;
        QString tooltip;
        QString state; ///< run state name (groups: the worst member's)
    };
    std::vector<Row> buildRows() const;
    Row runRow(std::size_t index) const;
    /// `distinct`: what sets this group apart from other groups of the same project (e.g.
    /// "student.train.limit=1000"), shown in its name; empty when nothing needs saying.
    Row groupRow(const kd::SeedGroup &group, const QString &distinct = {}) const;
    void merge(std::vector<Row> rows);

    std::vector<kd::RunInfo> m_runs;
    std::vector<QString> m_normalizedDirs;
    QHash<QString, QString> m_resolvedDirs; ///< run directory as scanned → normalizeDir() of it
    std::vector<Row> m_rows;
    bool m_grouped = false;
};

} // namespace kd::ui
