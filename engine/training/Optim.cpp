#include "Optim.h"

#include <cmath>

namespace kd {

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainOptions &o,
                                                       std::vector<torch::Tensor> parameters)
{
    if (o.optimizer == "adam") {
        return std::make_unique<torch::optim::Adam>(
            std::move(parameters),
            torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(o.weightDecay));
    }
    return std::make_unique<torch::optim::SGD>(
        std::move(parameters),
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weightDecay).nesterov(o.nesterov));
}

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainOptions &o, std::vector<torch::Tensor> parameters,
                                                       std::vector<torch::Tensor> extra, double extraWeightDecay)
{
    if (extraWeightDecay < 0 || extra.empty()) {
        parameters.insert(parameters.end(), extra.begin(), extra.end());
        return makeOptimizer(o, std::move(parameters));
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (o.optimizer == "adam") {
        const auto options = torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}).weight_decay(o.weightDecay);
        auto own = std::make_unique<torch::optim::AdamOptions>(options);
        own->weight_decay(extraWeightDecay);
        groups.emplace_back(std::move(parameters));
        groups.emplace_back(std::move(extra), std::move(own));
        return std::make_unique<torch::optim::Adam>(std::move(groups), options);
    }
    const auto options =
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weightDecay).nesterov(o.nesterov);
    auto own = std::make_unique<torch::optim::SGDOptions>(options);
    own->weight_decay(extraWeightDecay);
    groups.emplace_back(std::move(parameters));
    groups.emplace_back(std::move(extra), std::move(own));
    return std::make_unique<torch::optim::SGD>(std::move(groups), options);
}

double scheduledLr(const TrainOptions &o, int epoch)
{
    if (o.lrSchedule == "step")
        return o.lr * std::pow(o.lrGamma, epoch / std::max(1, o.lrStepEpochs));
    if (o.lrSchedule == "cosine") {
        const double t = o.epochs > 0 ? double(epoch) / double(o.epochs) : 0.0;
        return o.lrMin + (o.lr - o.lrMin) * 0.5 * (1.0 + std::cos(M_PI * t));
    }
    return o.lr;
}

void setLearningRate(torch::optim::Optimizer &optimizer, double lr)
{
    for (auto &group : optimizer.param_groups())
        group.options().set_lr(lr);
}

} // namespace kd
