#pragma once

// Reading the distillation views a run directory holds (analysis/probe.json,
// analysis/epochNNN.json, features/...; see docs/PROJECT_FORMAT.md "Analysis"). No Qt, no
// torch: the GUI's views only draw what these value types carry. Reading never changes the run
// and never throws for a damaged or half-written file: what could not be read is named in
// `problems` and the rest is still returned (missing numbers are NaN, missing lists empty).

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// One bin of a reliability diagram.
struct ReliabilityBin {
    double lower = 0.0, upper = 0.0;  ///< confidence range [lower, upper)
    std::int64_t count = 0;           ///< test images whose top confidence falls in the bin
    double meanConfidence = 0.0;      ///< NaN for an empty bin
    double accuracy = 0.0;            ///< NaN for an empty bin
};

struct Calibration {
    double ece = 0.0; ///< expected calibration error (NaN when unknown)
    std::vector<ReliabilityBin> bins;
};

/// Linear CKA between every teacher stage (rows) and every student stage (columns).
struct CkaMatrix {
    std::vector<std::string> teacherFeatures, studentFeatures;
    std::vector<std::vector<double>> values; ///< teacherFeatures.size() × studentFeatures.size()
    bool empty() const { return teacherFeatures.empty() || studentFeatures.empty(); }
};

/// One stage's feature-map image (rows: probe images; columns: input, attention, channels).
struct FeatureMapImage {
    std::string stage; ///< "stage1", ...
    std::string path;  ///< absolute path of the PNG (it may be missing on disk)
};

/// What one analysed role (student, an assistant, the scratch baseline) measured in one epoch.
struct RoleAnalysis {
    std::string role;
    std::string teacher; ///< the teacher's role; empty for the scratch baseline
    double testAcc = 0.0, ece = 0.0;
    double agreement = 0.0, klTeacherStudent = 0.0, cev = 0.0, sde = 0.0; ///< NaN without a teacher
    Calibration calibration, teacherCalibration;
    std::vector<std::vector<double>> confusion, teacherConfusion; ///< counts, rows true class
    std::vector<double> perClassAccuracy, teacherPerClassAccuracy;
    std::vector<std::vector<double>> probeLogits; ///< this epoch's probe logits, P × C
    CkaMatrix cka;
    std::vector<FeatureMapImage> featureMaps, teacherFeatureMaps;
    bool hasTeacher() const { return !teacher.empty(); }
};

/// analysis/epochNNN.json.
struct EpochAnalysis {
    int epoch = 0;
    std::vector<std::string> classNames;
    std::vector<double> perClassKdGain; ///< student − scratch per class; empty until both ran
    std::vector<RoleAnalysis> roles;    ///< in the file's order
    std::vector<std::string> problems;  ///< what could not be read, one sentence each
    const RoleAnalysis *role(const std::string &name) const; ///< null when absent
};

/// The logits of one model on the probe batch.
struct ProbeLogits {
    std::string role;
    int epoch = -1; ///< the epoch they were taken after (-1 for a teacher)
    std::vector<std::vector<double>> logits; ///< P × C
};

/// analysis/probe.json: the fixed probe batch for the temperature explorer.
struct ProbeAnalysis {
    std::vector<std::string> classNames;
    std::vector<int> labels;              ///< true class of each probe image
    std::vector<std::string> imagePaths;  ///< absolute PNG paths (empty without feature maps)
    std::vector<ProbeLogits> teachers, students;
    std::vector<std::string> problems;
    bool found = false; ///< the file existed and was JSON
    const ProbeLogits *teacher(const std::string &role) const; ///< null when absent
    const ProbeLogits *student(const std::string &role) const; ///< null when absent
};

/// The epochs with an analysis/epochNNN.json in `runDir`, ascending (empty when none).
std::vector<int> analysedEpochs(const std::string &runDir);

/// analysis/epochNNN.json of `epoch` ("epoch 3: no file ..." in problems when missing).
EpochAnalysis readEpochAnalysis(const std::string &runDir, int epoch);

/// analysis/probe.json.
ProbeAnalysis readProbeAnalysis(const std::string &runDir);

} // namespace kd
