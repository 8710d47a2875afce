#include "LogPanel.h"

#include <QFontDatabase>
#include <QScrollBar>
#include <QTime>

namespace kd::ui {

LogPanel::LogPanel(QWidget *parent) : QPlainTextEdit(parent)
{
    setReadOnly(true);
    setMaximumBlockCount(5000);
    setLineWrapMode(QPlainTextEdit::WidgetWidth);
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setPlaceholderText(tr("Messages from the run appear here."));
    setToolTip(tr("Messages from the engine: data loading, stages, per-epoch results, warnings "
                  "and where the run was written."));
}

void LogPanel::appendMessage(const QString &text, bool warning)
{
    // Follow the tail only when the user has not scrolled up to read something.
    QScrollBar *bar = verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 2;
    const QString stamp = QTime::currentTime().toString(QStringLiteral("HH:mm:ss"));
    QString html = QStringLiteral("<span style=\"color:#888\">%1</span> ").arg(stamp);
    const QString body = text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    html += warning ? QStringLiteral("<span style=\"color:#c00000\">%1</span>").arg(body) : body;
    appendHtml(html);
    if (atEnd)
        bar->setValue(bar->maximum());
}

} // namespace kd::ui
