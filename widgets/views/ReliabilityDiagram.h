#pragma once

#include "plots/QCustomPlotInclude.h"

#include <runs/AnalysisReader.h>

namespace kd::ui {

/// Reliability diagram: per confidence bin the test accuracy (bars, as wide as the bin) against
/// the diagonal of perfect calibration, optionally the teacher's as a line; ECE in the title.
class ReliabilityDiagram : public QCustomPlot {
    Q_OBJECT

public:
    explicit ReliabilityDiagram(QWidget *parent = nullptr);
    /// `teacher` may have no bins (then only the model's are drawn).
    void setCalibration(const kd::Calibration &model, const QString &modelName, const kd::Calibration &teacher,
                        const QString &teacherName);
    QString title() const;
    int barCount() const; ///< non-empty bins drawn, for tests

private:
    QCPBars *m_bars = nullptr;
    QCPGraph *m_diagonal = nullptr, *m_teacher = nullptr;
    QCPTextElement *m_title = nullptr;
};

} // namespace kd::ui
