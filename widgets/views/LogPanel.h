#pragma once

#include <QPlainTextEdit>

namespace kd::ui {

/// Read-only run log: time-stamped lines, warnings in red, bounded in length so a long
/// run cannot grow it without limit.
class LogPanel : public QPlainTextEdit {
    Q_OBJECT

public:
    explicit LogPanel(QWidget *parent = nullptr);

public Q_SLOTS:
    void appendMessage(const QString &text, bool warning = false);
};

} // namespace kd::ui
