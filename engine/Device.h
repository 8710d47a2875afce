#pragma once

#include "TorchFwd.h"

#include <string>

namespace kd {

/// "auto" → CUDA device 0 when this LibTorch build and machine have one, else CPU.
/// "cuda"/"cuda:N" without CUDA, or N out of range, throws kd::Error saying what to use.
torch::Device resolveDevice(const std::string &spec);

/// e.g. "cpu (1 thread)" or "cuda:0".
std::string describeDevice(const torch::Device &device, int threads);

/// Thread count used when a project says threads = 0 (see docs/PERFORMANCE.md).
int defaultThreadCount();

} // namespace kd
