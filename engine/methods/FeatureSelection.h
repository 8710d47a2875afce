#pragma once

#include "methods/DistillationMethod.h"

#include <string>
#include <vector>

namespace kd {

/// One student feature distilled from one teacher feature.
struct FeaturePair {
    std::string student;
    std::string teacher;
    std::vector<std::int64_t> studentShape; ///< without the batch dimension
    std::vector<std::int64_t> teacherShape;
};

/// "[16, 28, 28]": a feature shape as error messages print it.
std::string shapeText(const std::vector<std::int64_t> &shape);

/// The stage features of a model in order: "stage1".."stageN" (or their "_pre" variants).
std::vector<std::string> stageFeatureNames(const FeatureShapes &shapes, bool preActivation = false);

/// Resolves a feature-list parameter of a method against a model's features:
///   "all"   every stage ("stageK", or "stageK_pre" when `preActivation`),
///   "last"  the last stage,
///   "a,b"   the named features, which must exist (else kd::Error listing the valid names).
/// `role` is "student" or "teacher"; `method` and `key` name the parameter in errors.
std::vector<std::string> selectFeatures(const std::string &spec, const FeatureShapes &shapes, const std::string &role,
                                        const std::string &method, const std::string &key, bool preActivation = false);

/// The names a list parameter names before the models are known (for studentFeatures() /
/// teacherFeatures() ahead of setup): explicit names as given, "all" → the first stage
/// (which every choice of "all" needs), "last" → nothing yet.
std::vector<std::string> namesBeforeSetup(const std::string &spec, bool preActivation = false);

/// Pairs the student and teacher selections: equal-length lists pair in order; when either
/// side is "all" and the lengths differ, the first min(Ns, Nt) pair up (RepDistiller zips its
/// feature lists the same way). Otherwise kd::Error.
std::vector<FeaturePair> pairFeatures(const MethodSetup &setup, const std::string &studentSpec,
                                      const std::string &teacherSpec, const std::string &method,
                                      bool preActivation = false);

/// Throws kd::Error unless both features of `pair` are spatial maps [C, H, W]: it names the
/// feature, its shape and what to choose instead.
void requireSpatial(const FeaturePair &pair, const std::string &method);

/// Throws kd::Error unless both features are maps [C, H, W] or both vectors [D].
void requireSameKind(const FeaturePair &pair, const std::string &method);

} // namespace kd
