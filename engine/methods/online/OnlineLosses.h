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

/// OKDDip's KL (DefangChen/OKDDip utils.py `KL_Loss`): T² · Σ_classes t (log t − log_softmax(s/T))
/// averaged over the batch, t = softmax(target/T) + 1e-7, with the gradient reaching the target
/// too (the authors do not detach it: the attention that forms a peer's target learns through
/// this term).
torch::Tensor okddipKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &targetLogits, double temperature);

/// OKDDip's attention over the peers (resnet_GL.py `ResNet.forward`): from the projections
/// q, k (B × P × d) of the P peers' pooled features, softmax over j of q_i · k_j (no scaling);
/// B × P × P, each row summing to 1, self included.
torch::Tensor okddipAttention(const torch::Tensor &queries, const torch::Tensor &keys);

/// OKDDip's loss terms (Chen et al. 2020, "Online Knowledge Distillation with Diverse Peers";
/// train_GL.py `train`): the first P = N − 1 branches are peers, the last the group leader.
/// Peer i's target is Σ_j a_ij z_j with a = okddipAttention(); the leader's the mean of the
/// peers' logits. ce = Σ_{all N} CE(z_b, y), kl = Σ_i okddipKlLoss(z_i, target_i, T),
/// leaderKl = okddipKlLoss(z_leader, mean, T); the total is ce + w · (kl + leaderKl).
struct OkddipTerms {
    torch::Tensor ce, kl, leaderKl, ensemble;
};
OkddipTerms okddipLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &attention,
                       const torch::Tensor &labels, double temperature);

/// MCL-OKD's contrastive scores (Yang, An & Xu 2021, "Multi-View Contrastive Learning for
/// Online Knowledge Distillation"; winycg/MCL-OKD mcl/memory.py `ContrastMemory.forward`): for
/// every pair of branches i < j, first exp(memory_i[idx] · e_j / T), then exp(memory_j[idx] ·
/// e_i / T) — each branch's embedding scored against the other's bank, read without gradient —
/// each [B, K+1] divided by its own Z = mean(scores) · nData, recomputed every batch and read
/// without gradient. `idx` [B, K+1]: column 0 the anchor's own row.
std::vector<torch::Tensor> mclScores(const std::vector<torch::Tensor> &memories,
                                     const std::vector<torch::Tensor> &embeddings, const torch::Tensor &idx,
                                     double temperature, std::int64_t nData);

/// MCL-OKD's loss terms (main_cifar_mcl_okd.py `train`): ce = Σ_b CE(z_b, y); kl = T² ·
/// KL(softmax(z̄/T) ‖ softmax(z_N/T)), batch mean, of the LAST branch against the detached
/// mean z̄ of all branches' logits (RepDistiller's DistillKL, no +1e-7); contrast = Σ over
/// `scores` of crdContrastLoss(·, nData). The total is γ·ce + α·kl + β·contrast.
struct MclTerms {
    torch::Tensor ce, kl, contrast, ensemble;
};
MclTerms mclLoss(const std::vector<torch::Tensor> &branchLogits, const std::vector<torch::Tensor> &scores,
                 const torch::Tensor &labels, double temperature, std::int64_t nData);

/// PCL's distillation term (Wu & Gong 2021, "Peer Collaborative Learning for Online Knowledge
/// Distillation", Eq. 3 and 5): T² · KL(softmax(target/T) ‖ softmax(student/T)), batch mean,
/// the target read without gradient (hintonKdLoss with a detached target).
torch::Tensor pclKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &targetLogits, double temperature);

/// PCL's loss terms (the paper's Eq. 7; no author code is public): with z_e the peer ensemble
/// teacher's logits (its head on the concatenated pooled features of all peers) and m_j peer
/// j's temporal mean (EMA) network's logits, ensembleCe = CE(z_e, y), ce = Σ_i CE(z_i, y),
/// pe = Σ_i pclKlLoss(z_i, z_e, T) (peer ensemble teaching, z_e detached) and
/// pm = Σ_i (1 / (m − 1)) Σ_{j ≠ i} pclKlLoss(z_i, m_j, T) (peer mean teaching: every peer
/// learns from the other peers' mean networks). The total is ensembleCe + ce + w · (pe + pm).
struct PclTerms {
    torch::Tensor ce, ensembleCe, pe, pm;
};
PclTerms pclLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &ensembleLogits,
                 const std::vector<torch::Tensor> &meanLogits, const torch::Tensor &labels, double temperature);

/// The temporal mean's decay at 0-based step t (Mean Teacher's, which PCL uses):
/// min(1 − 1/(t + 1), decay), so the mean is the plain average of the steps so far until the
/// exponential one weighs them better (step 0 copies the weights).
double temporalMeanDecay(std::int64_t step, double decay);

/// AFD's least-squares adversarial terms (Chung et al. 2020, after Mao et al.'s LSGAN), from a
/// discriminator's scores in (0, 1) (one per image): the discriminator's
///   mean (1 − D(real))² + mean D(fake)²,
/// with `real` the peer's maps and `fake` the network's own (both read as given: pass them
/// detached), and the network's (the generator's) mean (1 − D(fake))².
torch::Tensor afdDiscriminatorLoss(const torch::Tensor &realScores, const torch::Tensor &fakeScores);
torch::Tensor afdGeneratorLoss(const torch::Tensor &fakeScores);

/// The student ensemble's loss terms (Walawalkar, Shen & Savvides 2020, "Online Ensemble Model
/// Compression using Knowledge Distillation"; Devwalkar/BOC-KD utils/Losses.py
/// `Combined_Loss.student_forward`): with z̄ = mean_b z_b read without gradient (the ensemble
/// teacher: fixed 1/N weights on the raw logits), ce = Σ_b CE(z_b, y), kd = Σ_b (all N,
/// the widest too) hintonKdLoss(z_b, z̄, T), feat = Σ_k Σ_{j ≥ 1} MSE(adapted[k][j − 1],
/// widest[k]) with widest[k] (the widest student's stage-k map) read without gradient and
/// adapted[k][j − 1] the narrower student j's stage-k map through its 1×1 adapter. The total
/// is a0·ce + a1·feat + a2·kd.
struct StudentEnsembleTerms {
    torch::Tensor ce, feat, kd, ensemble;
};
StudentEnsembleTerms studentEnsembleLoss(const std::vector<torch::Tensor> &branchLogits,
                                         const std::vector<std::vector<torch::Tensor>> &adapted,
                                         const std::vector<torch::Tensor> &widest, const torch::Tensor &labels,
                                         double temperature);

} // namespace kd
