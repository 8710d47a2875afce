#pragma once

#include "models/InputShape.h"
#include "core/TorchFwd.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

struct DatasetOptions;

/// Images (N×C×H×W) and labels (N int64), all in memory. A dataset's images stay as they were
/// read, uint8 (a quarter of float32's memory), and are normalised per batch: rows() and
/// select() give float32 (x / 255 − mean) / stddev, the same arithmetic as normalising the whole
/// set up front. Images that are float32 already (no mean/stddev: tests, hand-made sets) are
/// used as they are.
struct TensorDataset {
    torch::Tensor images;
    torch::Tensor labels;
    torch::Tensor mean, stddev; ///< 1×C×1×1 float32, for uint8 images; undefined for float images

    std::int64_t size() const;
    /// `raw` (rows of `images`) as normalised float32.
    torch::Tensor normalise(const torch::Tensor &raw) const;
    /// Rows [start, start + len), normalised.
    torch::Tensor rows(std::int64_t start, std::int64_t len) const;
    /// The rows at `index` (int64), normalised.
    torch::Tensor select(const torch::Tensor &index) const;
    /// Every image, normalised (a float32 copy of the whole set: for small sets and tests).
    torch::Tensor normalised() const { return rows(0, size()); }
    /// The same normalisation over other rows (subsets keep their parent's statistics).
    TensorDataset withRows(torch::Tensor images, torch::Tensor labels) const;
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
