#include "runs/RunsFilterProxy.h"

#include "runs/RunsTableModel.h"

#include <QRegularExpression>
#include <QStringList>

#include <cmath>

namespace kd::ui {

namespace {

// Splits at spaces outside double quotes; the quotes are dropped.
QStringList tokenize(const QString &query)
{
    QStringList tokens;
    QString current;
    bool quoted = false, any = false;
    for (const QChar ch : query) {
        if (ch == QLatin1Char('"')) {
            quoted = !quoted;
            any = true;
        } else if (ch.isSpace() && !quoted) {
            if (any || !current.isEmpty())
                tokens << current;
            current.clear();
            any = false;
        } else {
            current += ch;
        }
    }
    if (any || !current.isEmpty())
        tokens << current;
    return tokens;
}

} // namespace

RunsFilterProxy::RunsFilterProxy(QObject *parent) : QSortFilterProxyModel(parent)
{
    setSortRole(RunsTableModel::SortRole);
    setDynamicSortFilter(true);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

QString RunsFilterProxy::syntaxHelp()
{
    QStringList keys;
    for (int c = 0; c < RunsTableModel::ColumnCount; ++c)
        keys << RunsTableModel::columnKey(c);
    return tr("Filter the runs. Words must all appear in some column.\n"
              "key:text — the column contains text (numbers: equals), e.g. method:kd seed:3 status:completed\n"
              "key=text — the column is exactly text\n"
              "key>n, key<n, key>=n, key<=n — compare numbers as shown, e.g. student_acc>85 kd_gain>0\n"
              "-term — leave out what term matches, e.g. -status:damaged; \"quoted text\" keeps spaces\n"
              "Keys: %1")
        .arg(keys.join(QStringLiteral(", ")));
}

void RunsFilterProxy::setFilterQuery(const QString &query)
{
    if (query == m_query)
        return;
    m_query = query;
    m_terms.clear();
    QStringList unknown;
    static const QRegularExpression columnTerm(QStringLiteral("^([A-Za-z_]+)(:|>=|<=|>|<|=)(.*)$"));
    for (QString token : tokenize(query)) {
        Term term;
        if (token.size() > 1 && token.startsWith(QLatin1Char('-'))) {
            term.negate = true;
            token.remove(0, 1);
        }
        const auto match = columnTerm.match(token);
        const int column = match.hasMatch() ? RunsTableModel::columnForKey(match.captured(1)) : -1;
        // "foo:x" names a column that does not exist; "T=4" is just text (a hyperparameter).
        if (match.hasMatch() && column < 0 && match.captured(2) == QLatin1String(":"))
            unknown << match.captured(1);
        if (column >= 0) {
            term.column = column;
            const QString op = match.captured(2);
            term.text = match.captured(3);
            if (op == QLatin1String(":"))
                term.op = Term::Op::Contains;
            else if (op == QLatin1String("="))
                term.op = Term::Op::Equals;
            else if (op == QLatin1String(">"))
                term.op = Term::Op::Greater;
            else if (op == QLatin1String(">="))
                term.op = Term::Op::GreaterEqual;
            else if (op == QLatin1String("<"))
                term.op = Term::Op::Less;
            else
                term.op = Term::Op::LessEqual;
            term.number = term.text.toDouble(&term.numeric);
        } else {
            term.text = token;
        }
        if (term.text.isEmpty() && term.op == Term::Op::Contains)
            continue; // "method:" while typing: no constraint yet
        m_terms << term;
    }
    m_problem = unknown.isEmpty() ? QString()
                                  : tr("unknown column %1 (searched as text); hover the filter box for the keys")
                                        .arg(unknown.join(QStringLiteral(", ")));
    invalidateFilter();
}

bool RunsFilterProxy::cellMatches(const Term &term, int sourceRow, int column) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, column);
    const QString text = index.data(Qt::DisplayRole).toString();
    const bool numericColumn = RunsTableModel::isNumeric(column);
    const QVariant sortValue = index.data(RunsTableModel::SortRole);
    const bool hasNumber = numericColumn && sortValue.isValid();
    const double value = hasNumber ? sortValue.toDouble() : NAN;
    switch (term.op) {
    case Term::Op::Contains:
        if (numericColumn && term.numeric && term.column >= 0) {
            // seed:3 means seed 3; grouped rows list several seeds, any of them matches.
            if (column == RunsTableModel::Seed)
                return text.split(QStringLiteral(", ")).contains(term.text.trimmed());
            return hasNumber && std::fabs(value - term.number) < 1e-9;
        }
        return text.contains(term.text, Qt::CaseInsensitive);
    case Term::Op::Equals:
        if (numericColumn && term.numeric)
            return hasNumber && std::fabs(value - term.number) < 1e-9;
        return text.compare(term.text, Qt::CaseInsensitive) == 0;
    case Term::Op::Less:
        return term.numeric && hasNumber && value < term.number;
    case Term::Op::LessEqual:
        return term.numeric && hasNumber && value <= term.number;
    case Term::Op::Greater:
        return term.numeric && hasNumber && value > term.number;
    case Term::Op::GreaterEqual:
        return term.numeric && hasNumber && value >= term.number;
    }
    return false;
}

bool RunsFilterProxy::matches(const Term &term, int sourceRow) const
{
    if (term.column >= 0)
        return cellMatches(term, sourceRow, term.column);
    for (int c = 0; c < sourceModel()->columnCount(); ++c)
        if (cellMatches(term, sourceRow, c))
            return true;
    return false;
}

bool RunsFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex &) const
{
    for (const Term &term : m_terms)
        if (matches(term, sourceRow) == term.negate)
            return false;
    return true;
}

bool RunsFilterProxy::lessThan(const QModelIndex &left, const QModelIndex &right) const
{
    const QVariant a = left.data(RunsTableModel::SortRole);
    const QVariant b = right.data(RunsTableModel::SortRole);
    // Missing values go to the bottom in either order: they are never "the best run".
    if (!a.isValid() || !b.isValid()) {
        if (a.isValid() == b.isValid())
            return left.row() < right.row();
        const bool leftMissing = !a.isValid();
        return sortOrder() == Qt::AscendingOrder ? !leftMissing : leftMissing;
    }
    if (RunsTableModel::isNumeric(left.column()) || left.column() == RunsTableModel::Date)
        return a.toDouble() < b.toDouble();
    return QString::compare(a.toString(), b.toString(), Qt::CaseInsensitive) < 0;
}

} // namespace kd::ui
