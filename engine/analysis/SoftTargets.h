#pragma once

// Soft targets of one image for the temperature explorer: the teacher's and the student's
// softmax at a temperature T, their entropies and the KD term T²·KL(p_t ‖ p_s) that this pair
// would add to Hinton's loss. Pure functions (no torch), so the GUI can ask for any T at once.

#include <vector>

namespace kd {

/// softmax(logits / T), computed with the largest logit subtracted (no overflow). Non-finite
/// logits or T ≤ 0 throw kd::Error; an empty input gives an empty output.
std::vector<double> softmaxAt(const std::vector<double> &logits, double temperature);

/// Shannon entropy −Σ p log p in nats (terms with p = 0 count 0).
double entropyNats(const std::vector<double> &p);

/// KL(p ‖ q) = Σ p (log p − log q) in nats; +inf where q = 0 < p. Sizes must match (kd::Error).
double klDivergence(const std::vector<double> &p, const std::vector<double> &q);

/// The soft targets of one teacher/student pair at one temperature.
struct SoftTargets {
    double temperature = 1.0;
    std::vector<double> teacher;  ///< softmax of the teacher's logits at T
    std::vector<double> student;  ///< softmax of the student's logits at T
    double teacherEntropy = 0.0;  ///< nats
    double studentEntropy = 0.0;  ///< nats
    double kl = 0.0;              ///< KL(p_t ‖ p_s) at T, nats
    double kdTerm = 0.0;          ///< T² · kl (Hinton et al. 2015 scale the soft term by T²)
};

/// Both softmaxes, entropies and the KD term. The logits must have the same, non-zero size.
SoftTargets softTargets(const std::vector<double> &teacherLogits, const std::vector<double> &studentLogits,
                        double temperature);

} // namespace kd
