#pragma once

#include <QSortFilterProxyModel>
#include <QString>
#include <QVector>

namespace kd::ui {

/// Sorting and filtering of the runs table. The filter is one line, as in W&B's search box
/// and TensorBoard's run filter, with column terms:
///   words        every word must appear in some column (case-insensitive)
///   key:text     the column contains text (numeric columns: equals, so seed:3 is not 13)
///   key=text     the column is exactly text
///   key>n key<n key>=n key<=n   numeric comparison, in the units shown (student_acc>85)
///   -term        excludes what term matches;  "quoted text" keeps spaces
/// Keys are the column keys (RunsTableModel::columnKey). Missing values sort last both ways.
class RunsFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT

public:
    explicit RunsFilterProxy(QObject *parent = nullptr);

    void setFilterQuery(const QString &query);
    QString filterQuery() const { return m_query; }
    /// Empty, or what in the query was not understood (e.g. an unknown column key).
    QString queryProblem() const { return m_problem; }
    /// The syntax, for the filter box's tooltip.
    static QString syntaxHelp();

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;
    bool lessThan(const QModelIndex &left, const QModelIndex &right) const override;

private:
    struct Term {
        enum class Op { Contains, Equals, Less, LessEqual, Greater, GreaterEqual };
        int column = -1; ///< -1: any column
        Op op = Op::Contains;
        QString text;
        double number = 0;
        bool numeric = false; ///< `number` is valid
        bool negate = false;
    };
    bool matches(const Term &term, int sourceRow) const;
    bool cellMatches(const Term &term, int sourceRow, int column) const;

    QString m_query;
    QString m_problem;
    QVector<Term> m_terms;
};

} // namespace kd::ui
