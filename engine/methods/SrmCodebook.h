#pragma once

// The pure pieces of Sparse Representation Matching as the authors' code runs it (Tran,
// Gabbouj & Iosifidis, "Knowledge Distillation by Sparse Representation Matching";
// viebboy/SRM, cifar100/code/Layers.py and Utility.py): sigmoid similarities to a learned
// dictionary (codewords), their top-k sparsification, the reconstruction loss that learns the
// dictionary on teacher features, the image-level (BCE) and pixel-level (CE) losses that
// initialise the student, and the plan of the three phases inside one training stage.
// tests/test_srm.cpp checks each against scripts/gen_srm_golden.py.

#include "core/TorchFwd.h"

namespace kd::srm {

/// Codewords K of a stage whose (teacher) feature has `channels` channels:
/// int(channels · codewordMultiplier), as the authors' `in_dims[i]*codeword_multiplier`.
std::int64_t codewordCount(std::int64_t channels, double codewordMultiplier);

/// Non-zero coefficients k per position: int(channels · (sparsityMultiplier ·
/// codewordMultiplier)) (the authors scale the sparsity multiplier by the codeword multiplier
/// first), at least 1.
std::int64_t sparsity(std::int64_t channels, double codewordMultiplier, double sparsityMultiplier);

/// Sigmoid similarities of every position's channel vector to the K codewords:
/// sigmoid(x_p · centers + intercept), feature [N, C, H, W] (or [N, C], one position),
/// centers [C, K], intercept [1] → [N, H, W, K] (Layers.py `hyperbolic`).
torch::Tensor similarity(const torch::Tensor &feature, const torch::Tensor &centers, const torch::Tensor &intercept);

/// Keeps, at every position, the similarities >= the k-th largest and zeroes the others
/// (Layers.py: `similarity * (similarity >= min_coef)`; ties at the k-th value are kept).
torch::Tensor sparsify(const torch::Tensor &similarity, std::int64_t k);

/// The sparse reconstruction of the feature: Σ_k sparse_k · center_k at every position,
/// [N, H, W, K] × [C, K] → [N, C, H, W] (Layers.py `SparseRep.forward`).
torch::Tensor reconstruct(const torch::Tensor &sparse, const torch::Tensor &centers);

/// Dictionary learning loss of one stage: mean squared error between the feature and its
/// sparse reconstruction (Utility.py `codeword_epoch_trainer`, MSELoss per stage).
torch::Tensor reconstructionLoss(const torch::Tensor &feature, const torch::Tensor &centers,
                                 const torch::Tensor &intercept, std::int64_t k);

/// Image-level labels [N, K]: the mean over positions of the sparse similarities.
torch::Tensor imageLabels(const torch::Tensor &sparse);

/// Pixel-level labels [N, H, W] (int64): the best codeword at each position.
torch::Tensor pixelLabels(const torch::Tensor &sparse);

/// Image-level loss: binary cross-entropy (mean over N·K) between the student's mean
/// similarity over positions and the image labels (Utility.py: BCELoss on the global outputs).
torch::Tensor imageLoss(const torch::Tensor &studentSimilarity, const torch::Tensor &imageLabels);

/// Pixel-level loss: cross-entropy (mean over N·H·W) of the student's similarities, used as
/// the logits over the K codewords as the authors do (CrossEntropyLoss on the sigmoid
/// outputs), against the pixel labels.
torch::Tensor pixelLoss(const torch::Tensor &studentSimilarity, const torch::Tensor &pixelLabels);

/// Where the phases of one training stage end, in global steps [0, totalSteps): steps
/// [0, dictionaryEnd) learn the dictionary, [dictionaryEnd, initEnd) initialise the student,
/// [initEnd, totalSteps) distil. When the stage's epochs equal the sum of the phases' epochs
/// the boundaries fall on those epochs; otherwise every phase gets its share of the steps,
/// rounded, and `scaled` is set.
struct PhasePlan {
    std::int64_t dictionaryEnd = 0;
    std::int64_t initEnd = 0;
    std::int64_t totalSteps = 0;
    bool scaled = false;
};
PhasePlan planPhases(int dictionaryEpochs, int initEpochs, int kdEpochs, int epochs, std::int64_t totalSteps);

} // namespace kd::srm
