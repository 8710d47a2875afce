#pragma once

#include "core/TorchFwd.h"

#include <string>

namespace kd {

/// "auto" → CUDA device 0 when this LibTorch build and machine have one, else CPU.
/// "cuda"/"cuda:N" without CUDA, or N out of range, throws kd::Error saying what to use.
torch::Device resolveDevice(const std::string &spec);

/// e.g. "cpu (1 thread)" or "cuda:0".
std::string describeDevice(const torch::Device &device, int threads);

/// Thread count used when a project says threads = 0 (see docs/PERFORMANCE.md).
int defaultThreadCount();

/// Sets the calling thread's torch intra-op threads and matches OpenBLAS's thread count to it;
/// once per process, tunes glibc malloc to keep freed activation memory instead of unmapping
/// it every step (see the measurements in docs/PERFORMANCE.md).
void configureCpuRuntime(int threads);

} // namespace kd
