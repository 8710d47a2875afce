#include "KdLosses.h"

namespace kd {

torch::Tensor hintonKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits,
                           double temperature)
{
    const auto logPs = torch::log_softmax(studentLogits / temperature, 1);
    const auto logPt = torch::log_softmax(teacherLogits / temperature, 1);
    // Sum over classes of p_t (log p_t − log p_s); using log-probabilities on both sides
    // keeps it finite when a teacher probability underflows to 0.
    const auto kl = (logPt.exp() * (logPt - logPs)).sum() / double(studentLogits.size(0));
    return kl * (temperature * temperature);
}

torch::Tensor crossEntropyLoss(const torch::Tensor &logits, const torch::Tensor &labels)
{
    return torch::nll_loss(torch::log_softmax(logits, 1), labels);
}

} // namespace kd
