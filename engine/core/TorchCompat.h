#pragma once

// The few places where LibTorch's C++ API differs between Debian's 1.13 and 2.x (the CUDA
// LibTorch of a pip PyTorch): one name for each here, so engine code reads the same on both.

#include "core/TorchFwd.h"

#include <torch/version.h>

#include <type_traits>
#include <utility>

#define KD_TORCH_AT_LEAST(major, minor) \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace kd {

/// BatchNorm's momentum option: c10::optional<double> in 1.13, std::optional<double> in 2.x.
using BatchNormMomentum = std::decay_t<decltype(std::declval<torch::nn::BatchNormOptions &>().momentum())>;

} // namespace kd
