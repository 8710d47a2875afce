#pragma once

#include "FeatureNet.h"

#include <string>
#include <utility>
#include <vector>

namespace kd {

/// Where training is, for methods whose weights change over time (schedules).
struct StepContext {
    int epoch = 1;  ///< 1-based
    int epochs = 1;
    std::int64_t step = 0;       ///< global step, 0-based
    std::int64_t totalSteps = 1;
};

/// The loss of one batch: the total that is optimised and each named term as logged.
struct LossTerms {
    torch::Tensor total;
    std::vector<std::pair<std::string, torch::Tensor>> terms;
};

/// A knowledge-distillation method (or plain supervised training for "ce"). It states the
/// features it reads from student and teacher so the session can check both models before
/// training; methods with trainable parts (regressors, heads) expose them as a module whose
/// parameters are optimised with the student's.
class DistillationMethod {
public:
    virtual ~DistillationMethod() = default;

    virtual bool needsTeacher() const = 0;
    /// Names of the loss terms compute() returns, in order (e.g. {"ce", "kd"}).
    virtual std::vector<std::string> termNames() const = 0;
    virtual std::vector<std::string> studentFeatures() const { return {"logits"}; }
    virtual std::vector<std::string> teacherFeatures() const { return needsTeacher() ? std::vector<std::string>{"logits"} : std::vector<std::string>{}; }
    /// Extra trainable modules (none by default).
    virtual std::shared_ptr<torch::nn::Module> trainableModule() { return nullptr; }

    /// `teacher` is null for methods that need none. Teacher features carry no gradient.
    virtual LossTerms compute(const Features &student, const Features *teacher,
                              const torch::Tensor &labels, const StepContext &ctx) = 0;
};

} // namespace kd
