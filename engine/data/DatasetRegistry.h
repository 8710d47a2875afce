#pragma once

#include "models/InputShape.h"
#include "project/Registry.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kd {

struct RawDataset;
struct DataBundle;
struct DatasetOptions;

/// What one example of a dataset will look like, known before any file is read (for
/// parameter counts and feature shapes in editors).
struct ExpectedShape {
    InputShape input;
    int numClasses = 10;
    bool classesKnown = true; ///< false: the files decide (image folders, generic IDX)
};

/// A dataset known by name: where its files may live and how to read them.
struct DatasetEntry {
    std::string description;
    /// Folders tried in order when the project's dataset.path is empty (may be empty: then
    /// the project must set a path). Entries may start with "~/" or "$KD_DATA/".
    std::vector<std::string> defaultPaths;
    std::string format; ///< "idx", "cifar", "image-folder" or "synthetic"
    std::function<std::shared_ptr<RawDataset>(const std::string &path, const DatasetOptions &options,
                                              std::uint64_t seed)>
        load;
    /// Checks, without reading everything, whether the files are at `path`; returns an empty
    /// string when they are, otherwise what is missing.
    std::function<std::string(const std::string &path)> probe;
    /// The shape and classes `load` produces for these options (numClasses is a guess
    /// when classesKnown is false).
    std::function<ExpectedShape(const DatasetOptions &options)> expectedShape;

    /// The first default folder that probes fine; empty when none does.
    std::string locate() const;
    bool needsFiles() const { return format != "synthetic"; }
};

using DatasetRegistry = Registry<DatasetEntry>;

void registerBuiltinDatasets(DatasetRegistry &registry);

/// Expands a leading "~/" and "$KD_DATA/" (environment variable, default ~/datasets).
std::string expandDataPath(const std::string &path);

/// Loads, limits, splits and normalises the dataset a project asks for.
std::shared_ptr<DataBundle> loadDataset(const DatasetRegistry &registry,
                                        const DatasetOptions &options, std::uint64_t seed);

} // namespace kd
