#include "methods/ControlLosses.h"

#include "core/Error.h"

#include <limits>

namespace kd {

torch::Tensor softTargetKdLoss(const torch::Tensor &studentLogits, const torch::Tensor &targets,
                               double temperature)
{
    const auto logP = torch::log_softmax(studentLogits / temperature, 1);
    // xlogy: 0·log 0 = 0, so one-hot parts of a target are fine.
    const auto q = targets.to(logP.scalar_type());
    const auto kl = (torch::xlogy(q, q) - q * logP).sum(1).mean();
    return kl * (temperature * temperature);
}

torch::Tensor meanNonTargetMass(const torch::Tensor &teacherLogits, const torch::Tensor &labels, double temperature)
{
    torch::NoGradGuard noGrad;
    const auto p = torch::softmax(teacherLogits / temperature, 1);
    const auto pTarget = p.gather(1, labels.view({-1, 1}).to(torch::kLong)).squeeze(1);
    return (1.0 - pTarget).mean();
}

torch::Tensor uniformSmoothingTargets(const torch::Tensor &labels, std::int64_t numClasses, const torch::Tensor &rho)
{
    if (numClasses < 2)
        throw Error("label smoothing needs at least two classes, got " + std::to_string(numClasses));
    const auto onehot = torch::one_hot(labels.to(torch::kLong), numClasses).to(rho.scalar_type());
    const auto r = rho.to(onehot.scalar_type());
    return onehot * (1.0 - r) + (1.0 - onehot) * (r / double(numClasses - 1));
}

torch::Tensor permutedTeacherTargets(const torch::Tensor &teacherProbs, const torch::Tensor &labels,
                                     const torch::Tensor &keys)
{
    torch::NoGradGuard noGrad;
    const auto n = teacherProbs.size(0), c = teacherProbs.size(1);
    const auto lab = labels.view({-1, 1}).to(torch::kLong);
    const auto isTarget = torch::zeros({n, c}, torch::kBool).to(teacherProbs.device()).scatter(1, lab, true);
    // The labelled class sorts first in both orders, so column 0 is it and 1.. the others.
    const auto k = keys.to(torch::kFloat64).to(teacherProbs.device()).masked_fill(isTarget, -1.0);
    const auto valueOrder = k.argsort(/*dim=*/1, /*descending=*/false).narrow(1, 1, c - 1); // non-targets, by key
    const auto position = torch::arange(c, torch::TensorOptions().dtype(torch::kFloat64).device(teacherProbs.device()))
                              .expand({n, c})
                              .masked_fill(isTarget, -1.0);
    const auto slots = position.argsort(/*dim=*/1, /*descending=*/false).narrow(1, 1, c - 1); // non-targets, ascending class
    return teacherProbs.scatter(1, slots, teacherProbs.gather(1, valueOrder));
}

torch::Tensor confidenceTargets(const torch::Tensor &teacherProbs, const torch::Tensor &labels)
{
    torch::NoGradGuard noGrad;
    const auto c = teacherProbs.size(1);
    const auto lab = labels.view({-1, 1}).to(torch::kLong);
    const auto pt = teacherProbs.gather(1, lab);
    return ((1.0 - pt) / double(c - 1)).expand_as(teacherProbs).scatter(1, lab, pt);
}

torch::Tensor weightSimilarityShapes(const torch::Tensor &weights, double tau)
{
    torch::NoGradGuard noGrad;
    const auto w = torch::nn::functional::normalize(weights.to(torch::kFloat64),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));
    const auto c = w.size(0);
    const auto eye = torch::eye(c, torch::TensorOptions().dtype(torch::kBool).device(w.device()));
    const auto scores = (w.matmul(w.t()) / tau).masked_fill(eye, -std::numeric_limits<double>::infinity());
    return torch::softmax(scores, 1).to(weights.scalar_type());
}

torch::Tensor similarityTargets(const torch::Tensor &shapes, const torch::Tensor &labels, const torch::Tensor &rho)
{
    const auto lab = labels.to(torch::kLong);
    const auto onehot = torch::one_hot(lab, shapes.size(0)).to(shapes.scalar_type());
    const auto r = rho.to(shapes.scalar_type());
    return onehot * (1.0 - r) + shapes.index_select(0, lab) * r;
}

} // namespace kd
