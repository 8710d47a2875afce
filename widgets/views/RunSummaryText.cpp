#include "RunSummaryText.h"

#include "plots/PlotStyle.h"
#include "views/ProgressPanel.h"

#include <QCoreApplication>
#include <QStringList>

#include <cmath>

namespace kd::ui {

QString formatAccuracy(double fraction)
{
    if (!std::isfinite(fraction))
        return QStringLiteral("–");
    return QStringLiteral("%1 %").arg(100.0 * fraction, 0, 'f', 1);
}

static double bestOrFinal(const kd::RoleSummary &r)
{
    return std::isfinite(r.finalTestAcc) ? r.finalTestAcc : r.bestTestAcc;
}

QString formatRunSummary(const kd::RunSummary &summary)
{
    auto tr = [](const char *s) { return QCoreApplication::translate("RunSummary", s); };
    QString head = QString::fromStdString(summary.status);
    if (summary.wallSeconds > 0)
        head += tr(" in ") + ProgressPanel::formatDuration(summary.wallSeconds);

    QStringList parts;
    const kd::RoleSummary *teacher = summary.find("teacher");
    const kd::RoleSummary *student = summary.find("student");
    const kd::RoleSummary *scratch = summary.find("student_scratch");
    if (teacher)
        parts << tr("teacher ") + formatAccuracy(bestOrFinal(*teacher));
    if (student && scratch) {
        const double a = bestOrFinal(*student), b = bestOrFinal(*scratch);
        QString s = tr("student (KD) %1 vs scratch %2").arg(formatAccuracy(a), formatAccuracy(b));
        if (std::isfinite(a) && std::isfinite(b))
            s += QStringLiteral(" (%1%2 pts)").arg(a >= b ? QStringLiteral("+") : QString()).arg(100.0 * (a - b), 0, 'f', 1);
        parts << s;
    } else if (student) {
        parts << tr("student (KD) ") + formatAccuracy(bestOrFinal(*student));
    } else if (scratch) {
        parts << tr("student (scratch) ") + formatAccuracy(bestOrFinal(*scratch));
    }
    for (const auto &r : summary.roles) {
        if (r.role != "teacher" && r.role != "student" && r.role != "student_scratch")
            parts << PlotStyle::roleLabel(QString::fromStdString(r.role)) + QLatin1Char(' ')
                    + formatAccuracy(bestOrFinal(r));
    }
    if (parts.isEmpty())
        return head;
    return head + QStringLiteral(" — ") + parts.join(QStringLiteral(", "));
}

} // namespace kd::ui
