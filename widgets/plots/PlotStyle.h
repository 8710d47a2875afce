#pragma once

#include <QColor>
#include <QString>
#include <qnamespace.h>

namespace kd::ui::PlotStyle {

/// One colour per role everywhere, so "the student is orange" holds in every plot.
QColor roleColor(const QString &role);
/// "teacher", "student (KD)", "student (scratch)"; other roles as they are.
QString roleLabel(const QString &role);
/// The i-th colour of the run palette (Tableau-10, repeating), for charts that colour by run.
QColor runColor(int index);
/// Line style by role in charts that colour by run: teacher dotted, student solid,
/// student_scratch dashed, other roles dash-dotted.
Qt::PenStyle roleLineStyle(const QString &role);

} // namespace kd::ui::PlotStyle
