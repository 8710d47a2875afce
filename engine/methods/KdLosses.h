#pragma once

#include "core/TorchFwd.h"

namespace kd {

/// Hinton et al. 2015: T² · KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over the
/// batch ("batchmean"). The T² factor keeps gradient magnitudes comparable across T.
torch::Tensor hintonKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits,
                           double temperature);

/// The two parts of Decoupled KD (Zhao et al., CVPR 2022), each T²-scaled and averaged over
/// the batch as in mdistiller, unweighted (DKD = α·tckd + β·nckd):
/// - tckd: KL between the binary distributions (p_target, 1 − p_target) of teacher and student;
/// - nckd: KL between the distributions over the non-target classes (the target masked out).
struct DkdTerms {
    torch::Tensor tckd;
    torch::Tensor nckd;
};
DkdTerms dkdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits,
                 const torch::Tensor &labels, double temperature);

/// Mean cross-entropy of logits against integer labels.
torch::Tensor crossEntropyLoss(const torch::Tensor &logits, const torch::Tensor &labels);

} // namespace kd
