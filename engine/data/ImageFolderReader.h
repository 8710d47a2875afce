#pragma once

#include "data/Dataset.h"

#include <string>

namespace kd {

/// Reads an image-folder dataset: one sub-folder per class (sorted names → labels 0..K-1),
/// any format OpenCV decodes, every image resized to size×size with `channels` 1 or 3.
/// Layout `dir/train/<class>/*` + `dir/test/<class>/*`, or `dir/<class>/*` split into train
/// and test by a seeded `testSplit` fraction per class. Unreadable files are errors that
/// name the file.
RawDataset loadImageFolder(const std::string &directory, int size, int channels, double testSplit,
                           std::uint64_t seed);

/// Empty string when `directory` looks like an image-folder dataset, otherwise why not.
std::string probeImageFolder(const std::string &directory);

} // namespace kd
