#pragma once

#include <string>
#include <vector>

namespace kd {

/// What the experiment tells a method about the stage it was planned into, beyond
/// MethodSetup's feature shapes: which teacher roles it reads (multi-teacher methods), whether
/// the batch labels belong to the target task, and the data normalisation (for budgets given
/// in pixel units).
struct StageInfo {
    std::vector<std::string> teacherRoles;    ///< in plan order
    std::vector<std::string> generalistRoles; ///< the subset of teacherRoles that are generalists (rc)
    bool labelsAreTargets = true;             ///< false when training on proxy/auxiliary images
    std::vector<float> mean, stddev;          ///< per channel, as applied to the images
    int numClasses = 0;                       ///< classes of the student's task
};

/// Optional second interface of a DistillationMethod (rc, dmc, ard): the experiment calls
/// configureStage() right after creating the method, before termNames() and setup().
class StageAwareMethod {
public:
    virtual ~StageAwareMethod() = default;
    virtual void configureStage(const StageInfo &info) = 0;
};

} // namespace kd
