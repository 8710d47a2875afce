#include "ResultsTable.h"

#include "plots/PlotStyle.h"
#include "views/RunSummaryText.h"

#include <QHeaderView>
#include <QLocale>

#include <cmath>

namespace kd::ui {

namespace {
constexpr int RoleData = Qt::UserRole;
constexpr int BestData = Qt::UserRole + 1;
} // namespace

ResultsTable::ResultsTable(QWidget *parent) : QTableWidget(0, ColumnCount, parent)
{
    setHorizontalHeaderLabels({tr("Model"), tr("Arch"), tr("Method"), tr("Params"), tr("Epoch"),
                               tr("Train"), tr("Test"), tr("Best"), tr("Status")});
    const QString headerTips[] = {tr("The model's role in the experiment"), tr("Architecture"),
                                  tr("Loss it was trained with (checkpoint: loaded, not trained)"),
                                  tr("Trainable parameters (after the run)"), tr("Last finished epoch"),
                                  tr("Accuracy on the training images during the last epoch"),
                                  tr("Test accuracy after the last epoch"),
                                  tr("Best test accuracy over the epochs"), tr("Where the model stands")};
    for (int c = 0; c < ColumnCount; ++c)
        horizontalHeaderItem(c)->setToolTip(headerTips[c]);
    setEditTriggers(QAbstractItemView::NoEditTriggers);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setAlternatingRowColors(true);
    setFocusPolicy(Qt::NoFocus);
    setWordWrap(false);
    verticalHeader()->hide();
    verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    for (int c : {Model, Arch, Method})
        horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    horizontalHeader()->setMinimumSectionSize(40);
    setToolTip(tr("Each model of the run: its latest epoch, training and test accuracy, best test "
                  "accuracy so far and state. Compare the distilled student with the one trained "
                  "from scratch."));
}

int ResultsTable::rowOf(const QString &role) const
{
    for (int r = 0; r < rowCount(); ++r)
        if (item(r, Model) && item(r, Model)->data(RoleData).toString() == role)
            return r;
    return -1;
}

QString ResultsTable::cell(const QString &role, const QString &column) const
{
    const int r = rowOf(role);
    for (int c = 0; r >= 0 && c < columnCount(); ++c)
        if (horizontalHeaderItem(c)->text() == column)
            return item(r, c) ? item(r, c)->text() : QString();
    return {};
}

int ResultsTable::ensureRow(const QString &role)
{
    int r = rowOf(role);
    if (r >= 0)
        return r;
    r = rowCount();
    insertRow(r);
    for (int c = 0; c < columnCount(); ++c) {
        auto *it = new QTableWidgetItem;
        if ((c >= Params && c <= BestTest) || c >= ColumnCount)
            it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        setItem(r, c, it);
    }
    item(r, Model)->setText(PlotStyle::roleLabel(role));
    item(r, Model)->setData(RoleData, role);
    item(r, Model)->setForeground(PlotStyle::roleColor(role).darker(115));
    QFont bold = font();
    bold.setBold(true);
    item(r, Model)->setFont(bold);
    return r;
}

int ResultsTable::extraColumn(const QString &name)
{
    for (int c = ColumnCount; c < columnCount(); ++c)
        if (horizontalHeaderItem(c)->text() == name)
            return c;
    const int c = columnCount();
    insertColumn(c);
    auto *header = new QTableWidgetItem(name);
    header->setToolTip(tr("A metric of the distillation method: the latest value, the best in the summary"));
    setHorizontalHeaderItem(c, header);
    horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    for (int r = 0; r < rowCount(); ++r) {
        auto *it = new QTableWidgetItem;
        it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        setItem(r, c, it);
    }
    return c;
}

QString ResultsTable::formatExtra(const std::string &name, double value)
{
    // Accuracy-like metrics are fractions like the accuracies; the rest are shown as is.
    const bool accuracy = name.size() >= 3 && name.compare(name.size() - 3, 3, "acc") == 0;
    if (!std::isfinite(value))
        return QStringLiteral("–");
    return accuracy ? formatAccuracy(value) : QString::number(value, 'g', 4);
}

void ResultsTable::setText(int row, int column, const QString &text)
{
    item(row, column)->setText(text);
}

void ResultsTable::reset(const std::vector<kd::Stage> &stages)
{
    setRowCount(0);
    setColumnCount(ColumnCount); // drops the previous run's method metrics
    for (const kd::Stage &stage : stages) {
        const int r = ensureRow(QString::fromStdString(stage.role));
        setText(r, Arch, QString::fromStdString(stage.spec.arch));
        setText(r, Method, QString::fromStdString(stage.method));
        setText(r, Status, tr("waiting"));
    }
}

void ResultsTable::setStage(const QString &role, int, int)
{
    // Roles trained before this stage are done training (their evaluation is in the table).
    const int current = ensureRow(role);
    for (int r = 0; r < rowCount(); ++r)
        if (r != current && item(r, Status)->text() == tr("training"))
            setText(r, Status, tr("trained"));
    setText(current, Status, tr("training"));
}

void ResultsTable::addRecords(const QVector<kd::MetricRecord> &records)
{
    for (const auto &rec : records) {
        if (rec.kind != kd::MetricRecord::Kind::Epoch)
            continue;
        const int r = ensureRow(QString::fromStdString(rec.role));
        setText(r, Epoch, QString::number(rec.epoch));
        setText(r, TrainAcc, formatAccuracy(rec.trainAcc));
        setText(r, TestAcc, formatAccuracy(rec.testAcc));
        const QVariant best = item(r, BestTest)->data(BestData);
        if (std::isfinite(rec.testAcc) && (!best.isValid() || rec.testAcc > best.toDouble())) {
            item(r, BestTest)->setData(BestData, rec.testAcc);
            setText(r, BestTest, formatAccuracy(rec.testAcc));
        }
        for (const auto &[name, value] : rec.extra) {
            const int c = extraColumn(QString::fromStdString(name));
            setText(r, c, formatExtra(name, value));
        }
    }
}

void ResultsTable::setSummary(const kd::RunSummary &summary)
{
    for (const auto &role : summary.roles) {
        const int r = ensureRow(QString::fromStdString(role.role));
        setText(r, Arch, QString::fromStdString(role.arch));
        setText(r, Method, QString::fromStdString(role.method));
        if (role.params > 0)
            setText(r, Params, QLocale().toString(qlonglong(role.params)));
        if (role.epochsDone > 0)
            setText(r, Epoch, QString::number(role.epochsDone));
        if (std::isfinite(role.finalTestAcc))
            setText(r, TestAcc, formatAccuracy(role.finalTestAcc));
        if (std::isfinite(role.bestTestAcc))
            setText(r, BestTest, formatAccuracy(role.bestTestAcc));
        setText(r, Status, role.completed ? tr("done") : QString::fromStdString(summary.status));
        for (const auto &e : role.extras)
            setText(r, extraColumn(QString::fromStdString(e.name)), formatExtra(e.name, e.best));
    }
    // Models the summary does not mention: the run ended before reaching them.
    for (int r = 0; r < rowCount(); ++r)
        if (!summary.find(item(r, Model)->data(RoleData).toString().toStdString()))
            setText(r, Status, tr("not run"));
}

} // namespace kd::ui
