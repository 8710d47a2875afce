#pragma once

#include <cstdint>
#include <vector>

namespace kd {

/// Chooses the fixed probe batch of the distillation views: up to `perClass` examples of each
/// class, drawn in a seeded random order of `labels` (the test set's), at most `maxImages` in
/// all. When the cap bites, every class first gets one image, then a second, and so on, so
/// the probe stays balanced. Returns indices into `labels`, ordered by class, then by draw.
/// Depends only on (labels, numClasses, perClass, maxImages, seed).
std::vector<std::int64_t> chooseProbeIndices(const std::vector<std::int64_t> &labels, int numClasses, int perClass,
                                             int maxImages, std::uint64_t seed);

} // namespace kd
