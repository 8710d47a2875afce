#pragma once

// Losses and attacks of the methods that change the experiment's structure (takd, ensemble,
// rc, dmc, ard; engine/methods/{Takd,Ensemble,Rc,Dmc,Ard}Method.cpp), exposed for tests.

#include "data/Dataset.h"
#include "models/FeatureNet.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// How DMC's regression target [ô, n̂] is normalised from the teachers' logits.
enum class DmcNormalisation {
    ClassMean, ///< the paper's eq. 4: each teacher's logits minus their mean over its own classes, per image
    BatchMean, ///< FACIL's re-implementation (approach/dmc.py): [z_old, z_new] minus its mean over the batch, per output
    None       ///< the raw concatenated logits
};
/// "class_mean" / "batch_mean" / "none"; anything else throws kd::Error listing them.
DmcNormalisation parseDmcNormalisation(const std::string &name);

/// Deep Model Consolidation's double distillation loss (Zhang et al., WACV 2020, eqs. 3-4):
/// with ô = z_old − mean(z_old) and n̂ = z_new − mean(z_new) (ClassMean: means over each
/// teacher's own classes, per image), the mean over the batch and the C = C_old + C_new
/// classes of (z_student − [ô, n̂])².
torch::Tensor dmcLoss(const torch::Tensor &studentLogits, const torch::Tensor &oldLogits,
                      const torch::Tensor &newLogits, DmcNormalisation normalisation = DmcNormalisation::ClassMean);

/// An L∞ PGD attack in normalised units: per-channel tensors shaped [1, C, 1, 1].
struct PgdOptions {
    torch::Tensor epsilon;  ///< radius
    torch::Tensor stepSize; ///< step per iteration
    torch::Tensor lower;    ///< the normalised value of pixel 0
    torch::Tensor upper;    ///< the normalised value of pixel 1
    int steps = 10;
    bool randomStart = true;

    /// ε and step in pixel units (images in [0, 1]) converted with the dataset's mean and
    /// std: ε_c = ε / std_c, step_c = step / std_c, box [(0 − m_c)/s_c, (1 − m_c)/s_c].
    static PgdOptions fromPixels(double epsilon, double stepSize, int steps, bool randomStart,
                                 const std::vector<float> &mean, const std::vector<float> &stddev,
                                 const torch::Device &device);
};

/// Madry et al.'s PGD as in ARD's AttackPGD: optional uniform start in the ε-ball, then `steps`
/// signed-gradient ascent steps on the summed cross-entropy of `model` against `labels`, each
/// projected onto the ε-ball around `images` and the valid pixel box. The model keeps its
/// mode (train or eval); only the input gets gradients (parameters' .grad is untouched).
/// Returns the detached adversarial images.
torch::Tensor pgdAttack(FeatureNet &model, const torch::Tensor &images, const torch::Tensor &labels,
                        const PgdOptions &options);

/// Robust accuracy of `model` (eval mode) on the first `limit` images of `set` (0: all):
/// the fraction classified correctly both clean and after pgdAttack (images misclassified
/// when clean count as not robust), so it never exceeds the clean accuracy on those images.
double robustAccuracy(FeatureNet &model, const TensorDataset &set, const torch::Device &device, int batchSize,
                      const PgdOptions &options, std::int64_t limit);

} // namespace kd
