#include "DatasetShape.h"

namespace kd::ui {

DatasetShape datasetShape(const kd::DatasetRegistry &registry, const kd::DatasetOptions &o)
{
    DatasetShape s;
    if (!registry.contains(o.name))
        return s;
    const std::string &format = registry.get(o.name).format;
    if (format == "cifar") {
        s.input = {3, 32, 32};
        s.numClasses = o.name == "cifar100" ? (o.labels == "coarse" ? 20 : 100) : 10;
    } else if (format == "image-folder") {
        const int size = o.imageSize > 0 ? o.imageSize : 32;
        s.input = {o.channels > 0 ? o.channels : 3, size, size};
        s.classesKnown = false;
    } else if (format == "synthetic") {
        const int size = o.imageSize > 0 ? o.imageSize : 28;
        s.input = {o.channels > 0 ? o.channels : 1, size, size};
    } else { // idx
        s.input = {1, 28, 28};
        s.classesKnown = o.name != "idx";
    }
    return s;
}

} // namespace kd::ui
