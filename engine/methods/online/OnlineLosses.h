#pragma once

#include "core/TorchFwd.h"

#include <cstddef>
#include <string>
#include <vector>

namespace kd {

// Losses of the online (cohort) methods (docs/METHODS.md, "Online distillation"). Targets from
// other peers are always read without gradient: each peer learns from the others, and no
// peer is pulled towards itself through them.

/// Deep Mutual Learning's mimicry term for peer `self` of `peerLogits`:
///   T² · reduce_{j ≠ self} KL(softmax(z_j/T) ‖ softmax(z_self/T)),
/// KL summed over classes and averaged over the batch; `reduction` "mean" (the paper's
/// 1/(K − 1)) or "sum" (the authors' TensorFlow code adds the terms).
torch::Tensor mutualKlLoss(const std::vector<torch::Tensor> &peerLogits, std::size_t self, double temperature,
                           const std::string &reduction);

/// The sigmoid ramp-up of the distillation weight that ONE (and Mean Teacher before it) use:
/// exp(−5 (1 − t/L)²) for t in [0, L], 1 after it and for L = 0. `current` is the 0-based
/// epoch, `length` the ramp-up's length in epochs.
double sigmoidRampup(double current, double length);

/// ONE's distillation term (Lan et al. 2018; Lan1991Xu/ONE_NeurIPS2018 loss/kl_loss.py): with
/// t = softmax(teacher/T) + 1e-7 read without gradient,
///   T² · Σ_classes t (log t − log_softmax(student/T)), averaged over the batch.
torch::Tensor oneKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits, double temperature);

/// ONE's gate (ONE_ResNet.forward: pooled trunk → Linear(channels, N) → BatchNorm1d → ReLU →
/// softmax over the N branches), from `gateLogits`, the BatchNorm1d output (B × N). Returns
/// the gated sum Σ_b g_b · z_b of the branch logits (B × classes) and g (B × N).
std::pair<torch::Tensor, torch::Tensor> gatedEnsemble(const torch::Tensor &gateLogits,
                                                      const std::vector<torch::Tensor> &branchLogits);

/// ONE's loss terms (cifar_one.py `train`): ce = Σ_b CE(z_b, y), ensembleCe = CE(z_e, y) for
/// the gated ensemble z_e (gatedEnsemble()), kl = Σ_b oneKlLoss(z_b, z_e, T). The method's
/// total is ce + ensembleCe + w · kl with w the ramped weight.
struct OneTerms {
    torch::Tensor ce, ensembleCe, kl, ensemble;
};
OneTerms oneLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &gateLogits,
                 const torch::Tensor &labels, double temperature);

/// The plain average of the branches' logits (FFL's ensemble z_e).
torch::Tensor meanLogits(const std::vector<torch::Tensor> &logits);

/// FFL's loss terms (Kim et al. 2019, Feature Fusion for Online Mutual Knowledge Distillation;
/// Jangho-Kim/FFL-pytorch train_FFL.py `train`): with z_e = mean_b z_b the branch ensemble and
/// z_f the fusion module's logits, ce = Σ_b CE(z_b, y), fusedCe = CE(z_f, y) and
///   kl = Σ_b oneKlLoss(z_b, z_f, T) + oneKlLoss(z_f, z_e, T)
/// (the fused classifier teaches every branch; the ensemble teaches the fused classifier;
/// targets read without gradient). The total is ce + fusedCe + w · kl.
struct FflTerms {
    torch::Tensor ce, fusedCe, kl, ensemble;
};
FflTerms fflLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &fusedLogits,
                 const torch::Tensor &labels, double temperature);

} // namespace kd
