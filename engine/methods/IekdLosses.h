#pragma once

// Pure losses of inheritance-and-exploration KD (IE-KD; Huang, Shen, Xing, Liu, Tian, Li,
// Deng, Huang & Hua, "Revisiting Knowledge Distillation: An Inheritance and Exploration
// Framework", CVPR 2021), as the authors' code (aliyun/Revisiting-Knowledge-Distillation-an-
// Inheritance-and-Exploration-Framework, loss/factor_transfer.py, loss/reconstruction.py)
// computes them. tests/test_methods_advanced.cpp checks them against
// scripts/gen_method_golden_advanced.py.

#include "core/TorchFwd.h"

#include <string>

namespace kd {

/// How factors are compared. With x̂, ŷ the per-sample flattened, L2-normalised factors:
///   L1   d = mean |x̂ − ŷ|            inherit = d,            explore = −d   (NormLoss p=1, FT)
///   L2   d = sqrt(mean (x̂ − ŷ)²)     inherit = d,            explore = −d   (NormLoss p=2)
///   Cos  c_n = x̂_n·ŷ_n               inherit = mean(1 − c),  explore = mean |c|  (CosLoss)
/// (means over all elements of the batch for L1/L2, over samples for Cos).
enum class IekdDistance { L1, L2, Cos };
/// "l1" / "l2" / "cos"; anything else throws kd::Error listing them.
IekdDistance parseIekdDistance(const std::string &name);

/// A factor [N, ...] flattened per sample and L2-normalised: [N, D].
torch::Tensor iekdFactor(const torch::Tensor &f);

/// Inheritance loss between the student's inheritance factor and the teacher factor.
torch::Tensor iekdInheritLoss(const torch::Tensor &student, const torch::Tensor &teacher, IekdDistance distance);
/// Exploration loss between the student's exploration factor and the teacher factor (its
/// minimisation pushes them apart).
torch::Tensor iekdExploreLoss(const torch::Tensor &student, const torch::Tensor &teacher, IekdDistance distance);
/// The auto-encoder's reconstruction loss: mean |reconstruction − input| (RecLoss, norm 1).
torch::Tensor iekdReconstructionLoss(const torch::Tensor &reconstruction, const torch::Tensor &input);

} // namespace kd
