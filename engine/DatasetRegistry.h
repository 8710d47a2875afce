#pragma once

#include "Registry.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace kd {

struct RawDataset;
struct DataBundle;
struct DatasetOptions;

/// A dataset known by name: where its files live by default and how to read them.
struct DatasetEntry {
    std::string description;
    std::string defaultPath; ///< used when the project's dataset.path is empty
    std::string format;      ///< "idx" for now
    std::function<std::shared_ptr<RawDataset>(const std::string &path)> load;
    /// Checks, without reading everything, whether the files are at `path`; returns an empty
    /// string when they are, otherwise what is missing.
    std::function<std::string(const std::string &path)> probe;
};

using DatasetRegistry = Registry<DatasetEntry>;

void registerBuiltinDatasets(DatasetRegistry &registry);

/// Loads, limits, splits and normalises the dataset a project asks for.
std::shared_ptr<DataBundle> loadDataset(const DatasetRegistry &registry,
                                        const DatasetOptions &options, std::uint64_t seed);

} // namespace kd
