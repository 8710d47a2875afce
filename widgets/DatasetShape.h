#pragma once

#include <DatasetRegistry.h>
#include <InputShape.h>
#include <ProjectConfig.h>

namespace kd::ui {

/// What one example of a dataset looks like, for parameter counts before any data is read.
struct DatasetShape {
    kd::InputShape input;
    int numClasses = 10;
    bool classesKnown = true; ///< false: folder or generic IDX data, whose classes come from the files
};

/// The dataset's input shape and class count as the engine will load it. DatasetEntry
/// does not publish these, so this mirrors the loaders by format: IDX 1x28x28, CIFAR
/// 3x32x32 (CIFAR-100: 100 fine or 20 coarse classes), image folders and synthetic data
/// from dataset.image_size and dataset.channels with the loaders' defaults.
DatasetShape datasetShape(const kd::DatasetRegistry &registry, const kd::DatasetOptions &options);

} // namespace kd::ui
