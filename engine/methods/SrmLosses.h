#pragma once

// Pure pieces of Sparse Representation Matching (Tran, Gabbouj & Iosifidis, "Knowledge
// Distillation by Sparse Representation Matching", 2021): top-k sparse codes of teacher
// channel vectors over a dictionary, the pixel- and image-level labels built from them, the
// student's losses against those labels, and the online (spherical k-means, EMA) dictionary
// step the engine uses in place of the paper's separate dictionary-learning stage.
// tests/test_methods_advanced.cpp checks each against scripts/gen_method_golden_advanced.py.

#include "core/TorchFwd.h"

namespace kd {

/// Feature maps [N, C, H, W] (or vectors [N, C], as one position) → channel vectors
/// [N·H·W, C], position-major within each image (row n·H·W + h·W + w).
torch::Tensor srmPixelVectors(const torch::Tensor &feature);

/// Top-k sparse codes of `vectors` [P, C] over `dictionary` [M, C] (unit rows): the
/// similarities a = vectors·dictionaryᵀ with all but the k largest of each row zeroed.
struct SrmCodes {
    torch::Tensor codes;   ///< [P, M]
    torch::Tensor indices; ///< [P, k], the active atoms, largest similarity first
};
SrmCodes srmSparseCodes(const torch::Tensor &vectors, const torch::Tensor &dictionary, std::int64_t k);

/// Pixel-level labels [P, M]: mass 1/k on each of a position's k active atoms.
torch::Tensor srmPixelLabels(const torch::Tensor &indices, std::int64_t atoms);

/// Image-level labels [N, M]: the histogram of the pixel labels [N·HW, M] over each image's
/// `positions` = H·W positions (their mean), a distribution over atoms.
torch::Tensor srmImageLabels(const torch::Tensor &pixelLabels, std::int64_t positions);

/// Pixel-level loss: mean over positions of KL(labels ‖ softmax(logits)), logits [P, M]
/// (0·log 0 = 0; the cross-entropy against the labels minus their entropy log k).
torch::Tensor srmPixelLoss(const torch::Tensor &logits, const torch::Tensor &labels);

/// Image-level loss: mean over images of KL(imageLabels ‖ q), q the mean over the image's
/// `positions` positions of softmax(logits) — the student's predicted atom histogram.
torch::Tensor srmImageLoss(const torch::Tensor &logits, const torch::Tensor &imageLabels, std::int64_t positions);

/// One online dictionary step (spherical k-means with exponential moving averages): each
/// L2-normalised vector is assigned to its most similar atom; an atom m with assignments
/// becomes normalise(decay·D_m + (1 − decay)·mean of its vectors), the others are kept;
/// usage_m ← decay·usage_m + (1 − decay)·(share of the vectors assigned to m). Atoms whose
/// usage then falls below `deadUsage` are re-seeded, in order, with the vectors the current
/// dictionary represents worst (lowest best similarity), and their usage reset to 1/M.
struct SrmDictionaryStep {
    torch::Tensor dictionary; ///< [M, C]
    torch::Tensor usage;      ///< [M]
};
SrmDictionaryStep srmDictionaryStep(const torch::Tensor &dictionary, const torch::Tensor &usage,
                                    const torch::Tensor &vectors, double decay, double deadUsage);

} // namespace kd
