#pragma once

#include "data/Dataset.h"
#include "project/ProjectConfig.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kd {

class FeatureNet;

/// The distillation views of a run, computed by the engine at every epoch end of a learner
/// that has a teacher (and of the scratch baseline, compared with the student's teacher) and
/// written into the run directory — so a `kdw` run has them and the GUI only draws them:
///   analysis/probe.json          the probe batch: indices, labels, class names, logits
///   analysis/epochNNN.json       per role: CKA matrix, reliability bins, confusion
///                                matrices, per-class accuracy, bias metrics, KD gain
///   features/epochNNN/<role>_<stage>.png, features/probe/<k>.png
/// and the scalars of columns() returned for the epoch row of metrics.csv. The file formats
/// are in docs/PROJECT_FORMAT.md ("Run directory: analysis").
class EpochAnalyzer {
public:
    struct Setup {
        std::string runDir;
        const DataBundle *data = nullptr; ///< the project's dataset (its test set is analysed)
        torch::Device device = torch::kCPU;
        int evalBatchSize = 1000;
        bool channelsLast = false;
        std::uint64_t seed = 0;
        AnalysisOptions options;
        std::function<void(const std::string &)> log;
    };

    explicit EpochAnalyzer(Setup setup);
    ~EpochAnalyzer();
    EpochAnalyzer(const EpochAnalyzer &) = delete;
    EpochAnalyzer &operator=(const EpochAnalyzer &) = delete;

    /// The metrics.csv columns analyse() fills: agreement, kl_teacher_student, ece, cev, sde.
    static std::vector<std::string> columns();

    /// Whether analyse() does anything for a learner `role` (with or without a teacher).
    bool wants(const std::string &role, bool hasTeacher) const;

    /// Analyses `model` (role `role`, after epoch `epoch`, 1-based) on `stageData`'s test set
    /// against `teacher` (the live model of the stage's teacher, `teacherRole`; null: none —
    /// the scratch baseline is compared with the student's teacher if one was seen). Writes
    /// the files and returns the scalar columns (NaN where they do not apply). Problems that
    /// stop a view (a teacher without comparable logits, a stage on another test set) are
    /// logged once and leave the rest.
    std::vector<std::pair<std::string, double>> analyse(const std::string &role, int epoch, FeatureNet &model,
                                                        FeatureNet *teacher, const std::string &teacherRole,
                                                        const DataBundle &stageData);

    /// A resumed run whose student stage ended before the resume: the student's teacher
    /// (`teacherRole`), which the scratch baseline is compared with, as analyse() of the
    /// student would have recorded it.
    void rememberStudentTeacher(FeatureNet &teacher, const std::string &teacherRole);
    /// The probe indices into the test set (empty before the first analyse()).
    const std::vector<std::int64_t> &probeIndices() const;

private:
    std::vector<std::pair<std::string, double>> analyseEpoch(const std::string &role, int epoch, FeatureNet &model,
                                                             FeatureNet *teacher, const std::string &teacherRole,
                                                             const DataBundle &stageData);
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace kd
