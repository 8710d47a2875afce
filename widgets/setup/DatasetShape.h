#pragma once

#include <data/DatasetRegistry.h>
#include <models/InputShape.h>
#include <project/ProjectConfig.h>

namespace kd::ui {

/// What one example of a dataset looks like, for parameter counts before any data is read.
struct DatasetShape {
    kd::InputShape input;
    int numClasses = 10;
    bool classesKnown = true; ///< false: folder or generic IDX data, whose classes come from the files
};

/// The dataset's input shape and class count as the engine will load it (the registry
/// entry's expectedShape); defaults for an unknown name.
DatasetShape datasetShape(const kd::DatasetRegistry &registry, const kd::DatasetOptions &options);

} // namespace kd::ui
