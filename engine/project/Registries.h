#pragma once

#include "models/ArchitectureRegistry.h"
#include "data/DatasetRegistry.h"
#include "methods/MethodRegistry.h"

namespace kd {

struct Project;

/// The three registries an experiment resolves names against.
struct Registries {
    ArchitectureRegistry architectures{"architecture"};
    MethodRegistry methods{"method"};
    DatasetRegistry datasets{"dataset"};

    /// Registries holding every built-in entry (explicit registration calls).
    static Registries builtin();

    /// Checks every name and hyperparameter in `project` and returns it with arch options
    /// and method parameters resolved (defaults filled in), and that the stage structure
    /// makes sense (planStages(): e.g. takd needs assistants). Throws kd::Error.
    Project resolve(const Project &project) const;
};

} // namespace kd
