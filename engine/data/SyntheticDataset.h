#pragma once

#include "data/Dataset.h"

namespace kd {

/// A generated, learnable dataset for tests and smoke runs: each class has a fixed random
/// low-frequency prototype; an example is its prototype, randomly shifted by up to 2 pixels,
/// plus noise. Fully determined by `seed`.
RawDataset makeSyntheticDataset(const InputShape &shape, int numClasses, std::int64_t trainCount,
                                std::int64_t testCount, std::uint64_t seed);

} // namespace kd
