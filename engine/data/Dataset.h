#pragma once

#include "models/InputShape.h"
#include "core/TorchFwd.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

struct DatasetOptions;

/// Images (N×C×H×W float32, normalised) and labels (N int64), all in memory.
struct TensorDataset {
    torch::Tensor images;
    torch::Tensor labels;
    std::int64_t size() const;
};

/// What a dataset loader hands to training: the splits and their description.
struct DataBundle {
    TensorDataset train;
    TensorDataset val; ///< empty (size 0) when val_split is 0
    TensorDataset test;
    InputShape shape;
    int numClasses = 0;
    std::vector<std::string> classNames;
    std::vector<float> mean, stddev; ///< per-channel normalisation applied
    std::string summary() const;      ///< one line for logs
};

/// Raw uint8 data as read from disk (N×C×H×W images, int64 labels), before limits,
/// splitting and normalisation. Loaders return this; finishDataset() does the rest.
struct RawDataset {
    torch::Tensor trainImages, trainLabels, testImages, testLabels;
    int numClasses = 0;
    std::vector<std::string> classNames;
    std::vector<float> mean, stddev; ///< known statistics; empty: computed from training data
};

/// Applies limit / test_limit, the seeded validation split and normalisation.
DataBundle finishDataset(RawDataset raw, const DatasetOptions &options, std::uint64_t seed);

/// Loads IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST...) from a directory: looks for
/// *train-images-idx3-ubyte[.gz], *train-labels-idx1-ubyte[.gz] and the t10k/test pair.
RawDataset loadIdxDirectory(const std::string &directory, int numClasses,
                            std::vector<std::string> classNames);

/// Seeded shuffling: a permutation of [0, n) that depends only on (seed, epoch).
std::vector<std::int64_t> shuffledIndices(std::int64_t n, std::uint64_t seed, std::int64_t epoch);

} // namespace kd
