#pragma once

// Pure pieces of Lipschitz-continuity-guided KD (LONDON; Shang, Duan, Zong, Nie & Yan,
// "Lipschitz Continuity Guided Knowledge Distillation", ICCV 2021; the authors' code is
// github.com/42Shawn/LONDON, CIFAR-100/distiller_london.py): the transmitting matrix of a
// stage transition estimated from the two stages' features, its spectral norm by power
// iteration, and the distance between the teacher's and the student's Lipschitz estimates.
// tests/test_methods_advanced.cpp checks them against scripts/gen_method_golden_advanced.py
// (and the power iterations against an SVD).

#include "core/TorchFwd.h"

#include <string>
#include <vector>

namespace kd {

/// How a stage transition's transmitting matrix is estimated from the features of stage k
/// (fIn) and stage k+1 (fOut):
///   Fsp           one matrix per image, TM_n = X_n·Y_nᵀ / (H·W) [N, C_in, C_out] — the
///                 authors' code (`Distiller.transmitting_matrix`, an FSP matrix)
///   Gram          one matrix per batch, M = Yᵀ·X / r [C_out, C_in] over the batch's r positions
///                 (the engine's own variant)
///   LeastSquares  one matrix per batch, M = Wᵀ, W = (XᵀX/r + λ·tr(XᵀX/r)/C_in·I)⁻¹·XᵀY/r — the
///                 ridge-regression linear map from stage k to stage k+1 (the engine's own variant)
enum class TransmittingKind { Fsp, Gram, LeastSquares };
/// "fsp" / "gram" / "least_squares"; anything else throws kd::Error listing them.
TransmittingKind parseTransmittingKind(const std::string &name);

/// The transmitting matrix from `fIn` to `fOut` (maps [N, C, H, W] or vectors [N, C]): maps
/// of different sizes are adaptive-average-pooled to the smaller size (LONDON's code pools
/// stage k to stage k+1's size), a map paired with a vector is globally pooled. For Fsp the
/// result is [N, C_in, C_out] (a vector counts as a 1×1 map); otherwise [C_out, C_in], the
/// rows of X and Y being all the batch's positions.
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

/// Largest singular value of each matrix of `tm` [N, a, b], as LONDON's `top_eigenvalue`:
/// K = tm·tmᵀ [N, a, a]; from `start` [N, a] (the authors draw it with torch.rand on every
/// step), `iterations` (≥ 1) times w = K·v, v = w/‖w‖; σ_n = sqrt(‖w_n‖) of the last one.
/// Differentiable through every iteration, as the authors' code (no no_grad). Returns [N].
torch::Tensor batchedSpectralNorm(const torch::Tensor &tm, const torch::Tensor &start, int iterations);

/// How the student's Lipschitz estimates are compared with the teacher's, given per
/// transition i = 0..P−1 the spectral norms σ_i (scalars, or [N] per image; the teacher's
/// are constants):
///   Mse       Σ_i mean_n (σ_s,i,n − σ_t,i,n)² / 2^(P−i) — LONDON's code (`F.mse_loss` of the
///             top singular values, weighted 1/2^(feat_num−1−i) with feat_num = P + 1
///             features: the last transition ½, each earlier one half the next)
///   Product   mean_n (Σ_i log σ_s,i,n − Σ_i log σ_t,i,n)² — the networks' product bounds Π σ
///             (the engine's own variant)
///   PerStage  mean_i mean_n (log σ_s,i,n − log σ_t,i,n)² (the engine's own variant)
enum class LipschitzDistance { Mse, Product, PerStage };
/// "mse" / "product" / "per_stage"; anything else throws kd::Error listing them.
LipschitzDistance parseLipschitzDistance(const std::string &name);

torch::Tensor lipschitzLoss(const std::vector<torch::Tensor> &student, const std::vector<torch::Tensor> &teacher,
                            LipschitzDistance distance);

} // namespace kd
