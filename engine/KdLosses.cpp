#include "KdLosses.h"

#include "Error.h"

#include <sstream>

namespace kd {

static std::string shapeOf(const torch::Tensor &t)
{
    std::ostringstream os;
    os << t.sizes();
    return os.str();
}

torch::Tensor hintonKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits,
                           double temperature)
{
    // Broadcasting would silently pair a [1, C] teacher with an [N, C] student.
    if (studentLogits.dim() != 2 || studentLogits.sizes() != teacherLogits.sizes())
        throw Error("KD needs student and teacher logits of the same [batch, classes] shape; got student "
                    + shapeOf(studentLogits) + " and teacher " + shapeOf(teacherLogits)
                    + " — do teacher and student use the same dataset and class count?");
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
