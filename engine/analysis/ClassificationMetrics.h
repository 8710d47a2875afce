#pragma once

#include <cstdint>
#include <vector>

namespace kd {

/// One bin of a reliability diagram: predictions whose confidence lies in (lower, upper].
struct CalibrationBin {
    double lower = 0;
    double upper = 0;
    std::int64_t count = 0;
    double meanConfidence = 0; ///< 0 for an empty bin
    double accuracy = 0;       ///< 0 for an empty bin
};

/// Expected calibration error and the reliability diagram it is computed from.
struct Calibration {
    double ece = 0;
    std::vector<CalibrationBin> bins;
};

/// The bias metrics of a compressed model against its reference (Blakeney et al. 2021; the
/// formulas are in docs/METHODS.md, "Analysis"): per class the relative change (in percent)
/// of the false positive and false negative rates, and their combined error variance and
/// symmetric distance error.
struct CompressionBias {
    double cev = 0;
    double sde = 0;
    /// Per class; NaN where the reference's rate is 0 (the change is undefined), and such
    /// classes take no part in cev and sde.
    std::vector<double> fprChange, fnrChange;
    int classesUsed = 0;
};

/// Fraction of positions where `a` and `b` agree (top-1 fidelity when they hold two models'
/// argmax predictions). NaN for empty input; throws std::invalid_argument on a size mismatch.
double agreement(const std::vector<std::int64_t> &a, const std::vector<std::int64_t> &b);

/// Mean over examples of KL(p_t ‖ p_s) = Σ_c p_t,c (log p_t,c − log p_s,c), p = softmax of the
/// logits at temperature 1; `teacherLogits`/`studentLogits` are row-major n × numClasses.
double meanKlDivergence(const std::vector<double> &teacherLogits, const std::vector<double> &studentLogits,
                        int numClasses);

/// Confusion matrix, row-major numClasses × numClasses: entry (t, p) counts the examples of
/// true class t predicted as p. Labels or predictions outside [0, numClasses) throw.
std::vector<std::int64_t> confusionMatrix(const std::vector<std::int64_t> &labels,
                                          const std::vector<std::int64_t> &predicted, int numClasses);

/// Accuracy per true class from a confusion matrix (diagonal / row sum); NaN for a class
/// without examples.
std::vector<double> perClassAccuracy(const std::vector<std::int64_t> &confusion, int numClasses);

/// Expected calibration error as in Guo et al. 2017: `bins` equal-width confidence bins on
/// (0, 1]; ECE = Σ_b (n_b / n) · |acc_b − conf_b|. `confidence[i]` is the top-1 probability
/// of example i and `correct[i]` whether that prediction was right.
Calibration expectedCalibrationError(const std::vector<double> &confidence, const std::vector<bool> &correct,
                                     int bins = 15);

/// Combined error variance and symmetric distance error of `model` against `reference`
/// (both confusion matrices on the same examples, row-major numClasses × numClasses).
CompressionBias compressionBias(const std::vector<std::int64_t> &referenceConfusion,
                                const std::vector<std::int64_t> &modelConfusion, int numClasses);

} // namespace kd
