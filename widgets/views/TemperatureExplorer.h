#pragma once

#include "plots/QCustomPlotInclude.h"

#include <analysis/SoftTargets.h>
#include <runs/AnalysisReader.h>

#include <QWidget>

class QComboBox;
class QLabel;
class QSlider;

namespace kd::ui {

/// "Dark knowledge" made visible: for a chosen probe image, the teacher's and the student's
/// softmax at a temperature the user drags (1–20) as bars over the class names, with their
/// entropies and the KD term T²·KL(p_t ‖ p_s) of that pair (numbers from kd::softTargets).
class TemperatureExplorer : public QWidget {
    Q_OBJECT

public:
    explicit TemperatureExplorer(QWidget *parent = nullptr);
    /// The probe batch and the logits of both models on it (P × C each; rows may be missing).
    void setProbe(const kd::ProbeAnalysis &probe, const std::vector<std::vector<double>> &teacherLogits,
                  const std::vector<std::vector<double>> &studentLogits, const QString &teacherRole,
                  const QString &studentRole);

    QComboBox *imageChooser() const { return m_image; }
    QSlider *temperatureSlider() const { return m_temperature; }
    QString numbersText() const;
    /// The bar heights drawn (teacher, student), for tests.
    std::vector<double> teacherBars() const;
    std::vector<double> studentBars() const;
    const kd::SoftTargets &current() const { return m_current; }

private:
    void update();

    QComboBox *m_image = nullptr;
    QSlider *m_temperature = nullptr;
    QLabel *m_temperatureLabel = nullptr, *m_thumbnail = nullptr, *m_numbers = nullptr;
    QCustomPlot *m_plot = nullptr;
    QCPBars *m_teacherBars = nullptr, *m_studentBars = nullptr;
    kd::ProbeAnalysis m_probe;
    std::vector<std::vector<double>> m_teacherLogits, m_studentLogits;
    QString m_teacherRole, m_studentRole;
    kd::SoftTargets m_current;
};

} // namespace kd::ui
