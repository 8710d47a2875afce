#pragma once

#include "project/ProjectConfig.h"
#include "core/TorchFwd.h"

#include <memory>
#include <vector>

namespace kd {

/// SGD (momentum, weight decay, Nesterov) or Adam (betas, weight decay) per TrainOptions.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainOptions &options,
                                                       std::vector<torch::Tensor> parameters);

/// The same with a second parameter group, `extra`, whose weight decay is `extraWeightDecay`
/// (everything else as `options`); `extraWeightDecay` < 0 puts `extra` in the first group.
std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const TrainOptions &options,
                                                       std::vector<torch::Tensor> parameters,
                                                       std::vector<torch::Tensor> extra, double extraWeightDecay);

/// Learning rate for a 0-based epoch: constant; step (× gamma every lr_step_epochs);
/// cosine from lr to lr_min over the epochs (as torch's CosineAnnealingLR stepped per epoch).
double scheduledLr(const TrainOptions &options, int epoch);

void setLearningRate(torch::optim::Optimizer &optimizer, double lr);

} // namespace kd
