#pragma once

#include "core/TorchFwd.h"

namespace kd {

// The knowledge-analysis controls of Tang et al., "Understanding and Improving Knowledge
// Distillation" (arXiv 2002.03532): KD with the teacher's soft target replaced by a target that
// keeps only part of what the teacher knows (docs/METHODS.md, "Knowledge-analysis controls").
// Every target q is a distribution over the C classes at the distillation temperature T.

/// T² · KL(q ‖ softmax(z_s/T)), summed over classes and averaged over the batch (as
/// hintonKdLoss with q = softmax(z_t/T)). Entries q = 0 contribute 0.
torch::Tensor softTargetKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &targets,
                               double temperature);

/// ρ̄ = mean_i (1 − softmax(z_t,i/T)[y_i]): the teacher's average probability mass outside
/// the labelled class at temperature T (a 0-dim tensor, no gradient).
torch::Tensor meanNonTargetMass(const torch::Tensor &teacherLogits, const torch::Tensor &labels, double temperature);

/// Label smoothing with non-target mass ρ spread uniformly: q = (1 − ρ)·onehot(y) + ρ/(C − 1)
/// on every other class (the usual (1 − ε)·onehot + ε/C with ε = ρ·C/(C − 1)). `rho`: a
/// 0-dim tensor or a number.
torch::Tensor uniformSmoothingTargets(const torch::Tensor &labels, std::int64_t numClasses, const torch::Tensor &rho);

/// KD-pt: the teacher's distribution `teacherProbs` [N, C] with its non-target probabilities
/// shuffled within each row (the labelled class keeps its probability). `keys` [N, C] (e.g.
/// uniform random) decide the shuffle: the non-target values, ordered by their keys, are put
/// back on the non-target classes in ascending class order.
torch::Tensor permutedTeacherTargets(const torch::Tensor &teacherProbs, const torch::Tensor &labels,
                                     const torch::Tensor &keys);

/// KD-pt as the paper defines it: the teacher's probability p_y on the labelled class kept,
/// the rest 1 − p_y spread uniformly over the other C − 1 classes.
torch::Tensor confidenceTargets(const torch::Tensor &teacherProbs, const torch::Tensor &labels);

/// KD-sim's class relationships from the teacher's logit-layer weights W [C, D]: row c is
/// softmax over c' ≠ c of cos(w_c, w_c')/τ, and 0 at c' = c.
torch::Tensor weightSimilarityShapes(const torch::Tensor &weights, double tau);

/// KD-sim target: q = (1 − ρ)·onehot(y) + ρ·shapes[y]: the same distribution for every
/// example of a class (no instance-specific knowledge).
torch::Tensor similarityTargets(const torch::Tensor &shapes, const torch::Tensor &labels, const torch::Tensor &rho);

} // namespace kd
