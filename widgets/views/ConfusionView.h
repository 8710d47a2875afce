#pragma once

#include "plots/QCustomPlotInclude.h"

#include <runs/AnalysisReader.h>

#include <QWidget>

namespace kd::ui {

class MatrixHeatmap;

/// The model's confusion matrix (test counts, rows true class) with its teacher's beside it,
/// and below them the per-class KD gain (student − scratch accuracy) as bars.
class ConfusionView : public QWidget {
    Q_OBJECT

public:
    explicit ConfusionView(QWidget *parent = nullptr);
    /// `kdGain` may be empty (the scratch baseline has not reached this epoch yet).
    void setAnalysis(const kd::RoleAnalysis &role, const std::vector<std::string> &classNames,
                     const std::vector<double> &kdGain);

    MatrixHeatmap *studentMatrix() const { return m_student; }
    MatrixHeatmap *teacherMatrix() const { return m_teacher; }
    QCustomPlot *gainPlot() const { return m_gain; }
    /// The per-class gain bar values drawn (for tests).
    std::vector<double> gainBars() const;

private:
    MatrixHeatmap *m_student = nullptr, *m_teacher = nullptr;
    QCustomPlot *m_gain = nullptr;
    QCPBars *m_gainBars = nullptr;
    QCPTextElement *m_gainTitle = nullptr;
};

} // namespace kd::ui
