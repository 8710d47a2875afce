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

} // namespace kd
