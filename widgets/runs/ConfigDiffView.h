#pragma once

#include <nlohmann/json.hpp>

#include <QStringList>
#include <QWidget>

#include <vector>

class QLabel;
class QTableWidget;

namespace kd::ui {

/// The config keys that differ between the selected runs (kd::diffConfigs), side by side:
/// one row per dotted key, one column per run. Identical keys are left out, so what made two
/// runs different is all that shows.
class ConfigDiffView : public QWidget {
    Q_OBJECT

public:
    explicit ConfigDiffView(QWidget *parent = nullptr);

    /// `names[i]` heads the column of `configs[i]` (null configs are unreadable ones).
    void setConfigs(const QStringList &names, const std::vector<nlohmann::json> &configs);

    /// Keys shown, in order (for tests and export).
    QStringList keys() const;
    /// The value shown for `key` in column `column`, or a null string when absent.
    QString value(const QString &key, int column) const;
    QTableWidget *table() const { return m_table; }
    QString message() const;

private:
    QLabel *m_message;
    QTableWidget *m_table;
};

} // namespace kd::ui
