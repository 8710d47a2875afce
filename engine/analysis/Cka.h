#pragma once

#include "core/TorchFwd.h"

#include <string>
#include <utility>
#include <vector>

namespace kd {

/// Linear centred kernel alignment (Kornblith et al. 2019) between two representations of
/// the same n examples: each is flattened to n × d, its columns centred, and
/// CKA = ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F), computed through the n × n Gram matrices
/// (HSIC(K, L) ∝ tr(K̃ L̃) with K̃ = H X Xᵀ H), which is cheap for a probe batch of large
/// feature maps. In double precision. NaN when either representation is constant.
double linearCka(const torch::Tensor &x, const torch::Tensor &y);

/// A matrix of linear CKA between every representation in `a` (rows) and every one in `b`
/// (columns), row-major. The centred Gram matrices are computed once per representation.
std::vector<double> linearCkaMatrix(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b);

} // namespace kd
