#pragma once

// Engine value types that cross from the training session to widgets through signals.
// Declared here once so every signal, QSignalSpy and QVariant agrees on them.

#include <runs/Metrics.h>

#include <QList>
#include <QMetaType>

Q_DECLARE_METATYPE(kd::MetricRecord)
Q_DECLARE_METATYPE(kd::ProgressInfo)
Q_DECLARE_METATYPE(kd::RunSummary)

namespace kd::ui {

/// Registers the engine value types with Qt's meta-type system. Idempotent; called by
/// TrainingSession's constructor, so code that creates a session need not call it.
void registerMetaTypes();

} // namespace kd::ui
