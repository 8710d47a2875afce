#include "methods/BuiltinMethods.h"

#include "core/Error.h"

namespace kd {

/// Teacher-assistant KD (Mirzadeh et al., AAAI 2020). The chain teacher → assistant1 → … →
/// student is the experiment's stage plan (StagePlan.cpp); every link is Hinton KD with
/// these hyperparameters, so the entry reuses "kd"'s implementation and parameters.
void registerTakdMethod(MethodRegistry &registry)
{
    if (!registry.contains("kd"))
        throw Error("register method \"kd\" before \"takd\": each link of the chain is Hinton KD");
    const auto &kd = registry.get("kd");
    registry.add("takd", {"Teacher-assistant KD (Mirzadeh et al. 2020): a chain teacher -> assistants -> student "
                          "(project key \"assistants\"), each link Hinton KD with these T and alpha",
                          true, kd.params, kd.create});
}

} // namespace kd
