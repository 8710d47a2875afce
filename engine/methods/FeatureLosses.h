#pragma once

// Pure losses of the feature-based KD methods, as RepDistiller (Tian et al. 2020) and the
// original papers define them. Each takes the student and teacher tensors (batch first) and
// returns a scalar; none holds state. tests/test_methods.cpp checks every one against
// tests/data/method_golden.json (scripts/gen_method_golden.py).

#include "core/TorchFwd.h"

#include <utility>

namespace kd {

/// Adaptive-average-pools the spatially larger of two [N, C, H, W] maps to the smaller's
/// H×W (per axis), as RepDistiller's AT, NST and VID do. 2-D inputs pass through.
std::pair<torch::Tensor, torch::Tensor> poolToCommonSize(const torch::Tensor &a, const torch::Tensor &b);

/// FitNet hint (Romero et al. 2015): mean squared error over every element.
torch::Tensor hintLoss(const torch::Tensor &student, const torch::Tensor &teacher);

/// Attention map of Zagoruyko & Komodakis 2017: L2-normalised mean over channels of |f|^p,
/// flattened to [N, H·W].
torch::Tensor attentionMap(const torch::Tensor &f, double p);
/// Attention transfer: mean over batch and positions of (Q_s − Q_t)², after pooling both
/// maps to a common size (RepDistiller's `Attention.at_loss`).
torch::Tensor attentionLoss(const torch::Tensor &student, const torch::Tensor &teacher, double p);

/// Similarity-preserving KD (Tung & Mori 2019): ‖norm_rows(G_t) − norm_rows(G_s)‖²_F / N²
/// with G = F·Fᵀ of the flattened features.
torch::Tensor similarityLoss(const torch::Tensor &student, const torch::Tensor &teacher);

/// Relational KD (Park et al. 2019), distance term: smooth-L1 between the pairwise distance
/// matrices, each divided by its mean positive distance.
torch::Tensor rkdDistanceLoss(const torch::Tensor &student, const torch::Tensor &teacher);
/// Relational KD, angle term: smooth-L1 between the cosines of the angles ∠(e_j − e_i, e_k − e_i).
torch::Tensor rkdAngleLoss(const torch::Tensor &student, const torch::Tensor &teacher);

/// Probabilistic knowledge transfer (Passalis & Tefas 2018): KL between the row-normalised
/// cosine-similarity kernels (cos + 1)/2 of teacher and student, averaged over N² entries.
torch::Tensor pktLoss(const torch::Tensor &student, const torch::Tensor &teacher, double eps = 1e-7);

/// Neuron selectivity transfer (Huang & Wang 2017): squared MMD with the polynomial kernel
/// k(x, y) = (xᵀy)² between the channels' L2-normalised spatial activation patterns.
torch::Tensor nstLoss(const torch::Tensor &student, const torch::Tensor &teacher);

/// Variational information distillation (Ahn et al. 2019): mean Gaussian negative
/// log-likelihood ½((μ − t)²/σ² + log σ²), σ² = softplus(logScale) + eps per channel.
torch::Tensor vidLoss(const torch::Tensor &predMean, const torch::Tensor &target,
                      const torch::Tensor &logScale, double eps = 1e-5);

/// CRD's NCE loss (RepDistiller `ContrastLoss`): `scores` [N, K+1] (positive first) are
/// normalised exp-scores; with noise probability Pn = 1/nData it is
/// −(Σ log(P⁺/(P⁺ + K·Pn + ε)) + Σ log(K·Pn/(P⁻ + K·Pn + ε))) / N, ε = 1e-7.
torch::Tensor crdContrastLoss(const torch::Tensor &scores, std::int64_t nData);

/// CRD's memory-bank scores (RepDistiller `ContrastMemory.forward`). `idx` [N, K+1] are bank
/// rows (column 0 the anchor's own row). outStudent = exp(memTeacher[idx]·embStudent / T) / zStudent,
/// outTeacher = exp(memStudent[idx]·embTeacher / T) / zTeacher; a normaliser < 0 is set to
/// mean(exp-scores)·nData on this call and returned so the caller can keep it.
struct CrdScores {
    torch::Tensor student; ///< [N, K+1]
    torch::Tensor teacher; ///< [N, K+1]
    double zStudent = -1.0;
    double zTeacher = -1.0;
};
CrdScores crdScores(const torch::Tensor &embStudent, const torch::Tensor &embTeacher,
                    const torch::Tensor &memStudent, const torch::Tensor &memTeacher,
                    const torch::Tensor &idx, double temperature, double zStudent, double zTeacher,
                    std::int64_t nData);
/// Negatives of CRD's contrast drawn from other classes, as RepDistiller's "exact" sampling:
/// `byClass` lists the training indices grouped by class, `classStart[c]`/`classCount[c]` are
/// class c's range in it. For each anchor label c, `k` indices are drawn uniformly from the
/// images of the other classes. Returns [N, k] int64 on `labels`' device.
struct CrdClassIndex {
    torch::Tensor byClass;    ///< [nData] int64
    torch::Tensor classStart; ///< [C] int64
    torch::Tensor classCount; ///< [C] int64
    /// Groups `labels` (int64, one per training image); classes are 0..max(labels).
    static CrdClassIndex build(const torch::Tensor &labels);
    /// Images not of the sparsest-excluded class: min over classes present of nData − count.
    std::int64_t minOtherClassImages() const;
};
torch::Tensor crdOtherClassNegatives(const CrdClassIndex &index, const torch::Tensor &anchorLabels, std::int64_t k);

/// Each row of `x` divided by its L2 norm (RepDistiller's and MCL-OKD's `Normalize(2)`).
torch::Tensor l2Normalize(const torch::Tensor &x);

/// The momentum update of CRD's banks: rows `indices` become
/// normalise(momentum·memory[indices] + (1 − momentum)·emb). Returns the new rows.
torch::Tensor crdUpdatedRows(const torch::Tensor &memory, const torch::Tensor &emb,
                             const torch::Tensor &indices, double momentum);

/// OFD partial L2 distance (Heo et al. 2019), summed: the teacher target is max(t, margin)
/// per channel; an element counts where the student exceeds the target or the target is
/// positive. `margin` has one value per channel (dim 1).
torch::Tensor ofdLoss(const torch::Tensor &student, const torch::Tensor &teacher, const torch::Tensor &margin);

/// Sum and count of the negative values per channel (dim 1) of a feature: the statistics of
/// OFD's empirical margin E[x | x < 0]. Returns {sums, counts}, both [C] float64.
std::pair<torch::Tensor, torch::Tensor> negativeResponseStats(const torch::Tensor &f);

/// Per-channel (dim 1) sum, sum of squares and count of a feature's values, float64 [C] each:
/// the running statistics of OFD's Gaussian margin.
struct ChannelMoments {
    torch::Tensor sum, sumSquares, count;
};
ChannelMoments channelMoments(const torch::Tensor &f);

/// OFD's margin (Heo et al. 2019, the authors' get_margin_from_BN) from a channel's mean μ and
/// standard deviation σ, assuming the pre-ReLU response is Gaussian:
/// m = μ − σ·φ(μ/σ)/Φ(−μ/σ) = E[x | x < 0], or −3σ where Φ(−μ/σ) ≤ 0.001. Inputs [C] float64.
torch::Tensor ofdGaussianMargin(const torch::Tensor &mean, const torch::Tensor &stddev);

/// Adds a teacher feature's channel moments to the running buffers (float64 [C], in place)
/// and writes the Gaussian margin of everything seen so far into `margin`: OFD's margin
/// estimate, shared by ofd and london.
void accumulateGaussianMargin(const torch::Tensor &feature, torch::Tensor &sum, torch::Tensor &sumSquares,
                              torch::Tensor &count, torch::Tensor &margin);

} // namespace kd
