#include "KdLosses.h"

#include "core/Error.h"

#include <limits>
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

/// Σ p (log p − log q) / N from log-probabilities: finite where p underflows to 0.
static torch::Tensor klFromLogProbs(const torch::Tensor &logP, const torch::Tensor &logQ)
{
    return (logP.exp() * (logP - logQ)).sum() / double(logP.size(0));
}

DkdTerms dkdLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits, const torch::Tensor &labels,
                 double temperature)
{
    if (studentLogits.dim() != 2 || studentLogits.sizes() != teacherLogits.sizes() || studentLogits.size(1) < 2
        || labels.dim() != 1 || labels.size(0) != studentLogits.size(0))
        throw Error("DKD needs student and teacher logits of the same [batch, classes] shape (at least 2 classes) "
                    "and one label per row; got student " + shapeOf(studentLogits) + ", teacher "
                    + shapeOf(teacherLogits) + ", labels " + shapeOf(labels));
    const auto gt = torch::one_hot(labels, studentLogits.size(1)).to(torch::kBool);
    const auto y = labels.unsqueeze(1);
    const double t2 = temperature * temperature;
    const auto logPs = torch::log_softmax(studentLogits / temperature, 1);
    const auto logPt = torch::log_softmax(teacherLogits / temperature, 1);
    // Binary (target, rest) log-probabilities; the rest as a log-sum-exp so that
    // log(1 − p_target) stays finite when p_target rounds to 1.
    const double minusInf = -std::numeric_limits<double>::infinity();
    auto binary = [&](const torch::Tensor &logP) {
        return torch::cat({logP.gather(1, y), logP.masked_fill(gt, minusInf).logsumexp(1, true)}, 1);
    };
    DkdTerms out;
    out.tckd = klFromLogProbs(binary(logPt), binary(logPs)) * t2;
    // Non-target distributions: the target logit pushed far below the others (mdistiller
    // subtracts 1000), so its probability is exactly 0 in float32 and float64.
    auto nonTarget = [&](const torch::Tensor &logits) {
        return torch::log_softmax((logits / temperature).masked_fill(gt, -1e9), 1);
    };
    out.nckd = klFromLogProbs(nonTarget(teacherLogits), nonTarget(studentLogits)) * t2;
    return out;
}

torch::Tensor crossEntropyLoss(const torch::Tensor &logits, const torch::Tensor &labels)
{
    return torch::nll_loss(torch::log_softmax(logits, 1), labels);
}

} // namespace kd
