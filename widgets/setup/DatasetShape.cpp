#include "DatasetShape.h"

namespace kd::ui {

DatasetShape datasetShape(const kd::DatasetRegistry &registry, const kd::DatasetOptions &o)
{
    DatasetShape s;
    if (!registry.contains(o.name))
        return s;
    const auto &entry = registry.get(o.name);
    if (!entry.expectedShape)
        return s;
    const kd::ExpectedShape e = entry.expectedShape(o);
    s.input = e.input;
    s.numClasses = e.numClasses;
    s.classesKnown = e.classesKnown;
    return s;
}

} // namespace kd::ui
