#pragma once

#include <QColor>
#include <QString>

namespace kd::ui::PlotStyle {

/// One colour per role everywhere, so "the student is orange" holds in every plot.
QColor roleColor(const QString &role);
/// "teacher", "student (KD)", "student (scratch)"; other roles as they are.
QString roleLabel(const QString &role);

} // namespace kd::ui::PlotStyle
