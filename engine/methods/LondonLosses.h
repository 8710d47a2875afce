#pragma once

// Pure pieces of Lipschitz-continuity-guided KD (LONDON; Shang, Duan, Zong, Nie & Yan,
// "Lipschitz Continuity Guided Knowledge Distillation", ICCV 2021): the transmitting matrix
// of a stage transition estimated from the two stages' features, its spectral norm by power
// iteration (the vectors persist between calls), and the distance between the teacher's and
// the student's Lipschitz estimates. tests/test_methods_advanced.cpp checks them against
// scripts/gen_method_golden_advanced.py (and the power iteration against an SVD).

#include "TorchFwd.h"

#include <string>
#include <vector>

namespace kd {

/// How a stage transition's transmitting matrix M [C_out, C_in] is estimated from the
/// features X (stage k, rows = positions, [r, C_in]) and Y (stage k+1, [r, C_out]):
///   Gram          M = Yᵀ·X / r — the paper's Gram-style matrix of two feature maps (FSP-like)
///   LeastSquares  M = Wᵀ, W = (XᵀX/r + λ·tr(XᵀX/r)/C_in·I)⁻¹·XᵀY/r — the ridge-regression
///                 linear map from stage k to stage k+1 (λ relative to the mean eigenvalue)
enum class TransmittingKind { Gram, LeastSquares };
/// "gram" / "least_squares"; anything else throws kd::Error listing both.
TransmittingKind parseTransmittingKind(const std::string &name);

/// The transmitting matrix from `fIn` to `fOut` (maps [N, C, H, W] or vectors [N, C]): maps
/// of different sizes are adaptive-average-pooled to the smaller size, a map paired with a
/// vector is globally pooled; rows are the batch's positions.
torch::Tensor transmittingMatrix(const torch::Tensor &fIn, const torch::Tensor &fOut, TransmittingKind kind,
                                 double ridge = 1e-3);

/// Largest singular value of `m` [a, b] by power iteration from u [a], v [b]:
/// `iterations` times v ← normalise(mᵀu), u ← normalise(m·v) (no gradient), then
/// σ = uᵀ·m·v, differentiable in m (dσ/dm = u·vᵀ, the top singular pair's outer product, as
/// torch.nn.utils.spectral_norm). Returns σ and the new u, v for the next call.
struct PowerIteration {
    torch::Tensor sigma; ///< scalar
    torch::Tensor u, v;
};
PowerIteration spectralNormPowerIteration(const torch::Tensor &m, const torch::Tensor &u, const torch::Tensor &v,
                                          int iterations);

/// Distance between Lipschitz estimates given per-transition spectral norms (equal counts;
/// the teacher's are constants), compared in log space:
///   product    (Σ_i log σ_s,i − Σ_i log σ_t,i)²    — the networks' product bounds Π σ
///   per_stage  mean_i (log σ_s,i − log σ_t,i)²
torch::Tensor lipschitzLoss(const std::vector<torch::Tensor> &student, const std::vector<torch::Tensor> &teacher,
                            bool product);

} // namespace kd
