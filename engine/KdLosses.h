#pragma once

#include "TorchFwd.h"

namespace kd {

/// Hinton et al. 2015: T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over the
/// batch ("batchmean"). The T² factor keeps gradient magnitudes comparable across T.
torch::Tensor hintonKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits,
                           double temperature);

/// Mean cross-entropy of logits against integer labels.
torch::Tensor crossEntropyLoss(const torch::Tensor &logits, const torch::Tensor &labels);

} // namespace kd
