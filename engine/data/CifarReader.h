#pragma once

#include "data/Dataset.h"

#include <string>

namespace kd {

/// Reads the CIFAR binary format from `directory` (or its cifar-10-batches-bin /
/// cifar-100-binary sub-folder). CIFAR-10: data_batch_1..5.bin + test_batch.bin, records of
/// 1 label byte + 3072 pixel bytes (R, G, B planes of 32×32). CIFAR-100: train.bin +
/// test.bin, records of coarse label, fine label, 3072 pixel bytes; `coarse` picks the 20
/// superclasses instead of the 100 classes. Class names come from batches.meta.txt /
/// fine_label_names.txt / coarse_label_names.txt when present.
RawDataset loadCifarDirectory(const std::string &directory, bool cifar100, bool coarse);

/// The folder holding the .bin files: `directory` itself or its usual sub-folder; empty
/// string if neither has them.
std::string findCifarFolder(const std::string &directory, bool cifar100);

} // namespace kd
