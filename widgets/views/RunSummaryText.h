#pragma once

#include <runs/Metrics.h>

#include <QString>

namespace kd::ui {

/// One line for the status bar: how the run ended and what distillation bought, e.g.
/// "completed in 1:12 — teacher 88.1 %, student (KD) 84.2 % vs scratch 83.0 % (+1.2 pts)".
QString formatRunSummary(const kd::RunSummary &summary);

/// "84.2 %", or "–" for NaN. `fraction` is in [0, 1].
QString formatAccuracy(double fraction);

} // namespace kd::ui
