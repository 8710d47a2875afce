#pragma once

#include "session/MetaTypes.h"

#include <training/StagePlan.h>

#include <QTableWidget>
#include <QVector>

namespace kd::ui {

/// One row per model of the run (teachers, assistants, the distilled student, the scratch
/// baseline, as planned by kd::planStages()): what it
/// is, where its training stands and its accuracies, updated live from epoch records and
/// completed from the run summary, so "did distillation help?" is answered at a glance.
/// Metrics a method adds (MetricRecord::extra) get a column each.
class ResultsTable : public QTableWidget {
    Q_OBJECT

public:
    explicit ResultsTable(QWidget *parent = nullptr);

    /// Row index of `role`, or -1.
    int rowOf(const QString &role) const;
    /// Cell text for tests: column by header title ("Test acc", "Status"...).
    QString cell(const QString &role, const QString &column) const;

public Q_SLOTS:
    /// Clears the table and lists the stages the run will go through, as "waiting".
    void reset(const std::vector<kd::Stage> &stages);
    void setStage(const QString &role, int stageIndex, int stageCount);
    void addRecords(const QVector<kd::MetricRecord> &records);
    void setSummary(const kd::RunSummary &summary);

private:
    enum Column { Model, Arch, Method, Params, Epoch, TrainAcc, TestAcc, BestTest, Status, ColumnCount };

    int ensureRow(const QString &role);
    /// Column of a method metric ("robust_acc"...), added after the fixed ones on first use.
    int extraColumn(const QString &name);
    static QString formatExtra(const std::string &name, double value);
    void setText(int row, int column, const QString &text);
};

} // namespace kd::ui
