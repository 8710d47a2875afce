#pragma once

#include "project/ParamSpec.h"

#include <string>
#include <vector>

namespace kd {

struct StepContext;

/// How a hyperparameter moves from its start to its final value over training.
enum class ScheduleKind { Constant, Linear, Cosine, Exponential };

/// "constant", "linear", "cosine", "exponential" → the kind; anything else throws kd::Error
/// listing the valid names.
ScheduleKind parseScheduleKind(const std::string &name);

/// The value at `progress` ∈ [0, 1] (clamped) of a schedule from `start` to `end`:
///   constant     start
///   linear       start + (end − start)·p
///   cosine       end + (start − end)·(1 + cos πp)/2            (half-cosine annealing)
///   exponential  start·(end/start)^p                            (needs start, end > 0)
/// Every kind but constant gives `start` at p = 0 and `end` at p = 1.
double scheduleValue(ScheduleKind kind, double start, double end, double progress);
double scheduleValue(const std::string &kind, double start, double end, double progress);

/// A hyperparameter with a schedule, read from a method's resolved parameters:
/// `<key>` (the start value), `<key>_schedule` and `<key>_final`.
struct ScheduledValue {
    ScheduleKind kind = ScheduleKind::Constant;
    double start = 0.0;
    double end = 0.0;

    static ScheduledValue fromParams(const nlohmann::json &params, const std::string &key);
    double at(double progress) const { return scheduleValue(kind, start, end, progress); }
    double at(const StepContext &ctx) const;
};

/// The ParamSpecs `<key>_schedule` and `<key>_final` that go with a scheduled `<key>`.
/// `kinds` are the allowed schedule names (exponential only for strictly positive values).
std::vector<ParamSpec> scheduleParams(const std::string &key, const std::vector<std::string> &kinds,
                                      double finalDefault, double lo, double hi,
                                      const std::string &what, const std::string &source);

} // namespace kd
