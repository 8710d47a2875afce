#pragma once

#include <runs/AnalysisReader.h>

#include <QString>
#include <QWidget>

class QComboBox;
class QLabel;
class QSlider;
class QTabWidget;

namespace kd::ui {

class CkaHeatmap;
class ConfusionView;
class FeatureMapView;
class ReliabilityDiagram;
class TemperatureExplorer;

/// What distillation did inside the networks of one run directory, epoch by epoch: feature
/// maps, teacher–student CKA, calibration, confusion and KD gain, and the temperature explorer.
/// Everything comes from the files the engine wrote (kd::readEpochAnalysis /
/// kd::readProbeAnalysis); this widget only chooses what to show and hands it to the views.
class DistillationView : public QWidget {
    Q_OBJECT

public:
    explicit DistillationView(QWidget *parent = nullptr);

    /// Reads the run's analysed epochs and shows the latest. A run without analysis shows why.
    void setRunDirectory(const QString &runDir);
    QString runDirectory() const { return m_runDir; }
    /// Reads the directory again (a run still in progress may have written new epochs).
    void reload();

    /// The analysed epochs (the slider's positions), ascending.
    const std::vector<int> &epochs() const { return m_epochs; }
    int currentEpoch() const;
    /// Shows `epoch` (must be one of epochs()); returns false otherwise.
    bool showEpoch(int epoch);
    /// Shows `role` ("student", "student_scratch", an assistant); false when not analysed.
    bool showRole(const QString &role);
    QString currentRole() const;
    /// What could not be read (empty when all was read), as shown to the user.
    QString problemText() const;

    QSlider *epochSlider() const { return m_slider; }
    QComboBox *roleChooser() const { return m_role; }
    QTabWidget *tabs() const { return m_tabs; }
    FeatureMapView *featureMaps() const { return m_features; }
    CkaHeatmap *ckaHeatmap() const { return m_cka; }
    ReliabilityDiagram *reliability() const { return m_reliability; }
    ConfusionView *confusion() const { return m_confusion; }
    TemperatureExplorer *temperatureExplorer() const { return m_temperature; }
    const kd::EpochAnalysis &analysis() const { return m_analysis; }

private:
    void showCurrent();
    void setProblems(const std::vector<std::string> &problems);

    QString m_runDir;
    std::vector<int> m_epochs;
    kd::EpochAnalysis m_analysis;
    kd::ProbeAnalysis m_probe;
    QComboBox *m_role = nullptr;
    QSlider *m_slider = nullptr;
    QLabel *m_epochLabel = nullptr, *m_summary = nullptr, *m_problems = nullptr;
    QTabWidget *m_tabs = nullptr;
    FeatureMapView *m_features = nullptr;
    CkaHeatmap *m_cka = nullptr;
    ReliabilityDiagram *m_reliability = nullptr;
    ConfusionView *m_confusion = nullptr;
    TemperatureExplorer *m_temperature = nullptr;
};

} // namespace kd::ui
