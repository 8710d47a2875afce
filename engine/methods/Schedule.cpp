#include "Schedule.h"

#include "methods/DistillationMethod.h"
#include "core/Error.h"

#include <algorithm>
#include <cmath>

namespace kd {

static constexpr double kPi = 3.14159265358979323846;

ScheduleKind parseScheduleKind(const std::string &name)
{
    if (name == "constant")
        return ScheduleKind::Constant;
    if (name == "linear")
        return ScheduleKind::Linear;
    if (name == "cosine")
        return ScheduleKind::Cosine;
    if (name == "exponential")
        return ScheduleKind::Exponential;
    throw Error("unknown schedule \"" + name + "\"; valid schedules: constant, linear, cosine, exponential");
}

double scheduleValue(ScheduleKind kind, double start, double end, double progress)
{
    const double p = std::clamp(std::isfinite(progress) ? progress : 0.0, 0.0, 1.0);
    switch (kind) {
    case ScheduleKind::Constant:
        return start;
    case ScheduleKind::Linear:
        return start + (end - start) * p;
    case ScheduleKind::Cosine:
        return end + (start - end) * 0.5 * (1.0 + std::cos(kPi * p));
    case ScheduleKind::Exponential:
        if (!(start > 0.0) || !(end > 0.0))
            throw Error("an exponential schedule needs positive start and final values, got "
                        + std::to_string(start) + " and " + std::to_string(end)
                        + "; use a linear or cosine schedule");
        return start * std::pow(end / start, p);
    }
    return start;
}

double scheduleValue(const std::string &kind, double start, double end, double progress)
{
    return scheduleValue(parseScheduleKind(kind), start, end, progress);
}

ScheduledValue ScheduledValue::fromParams(const nlohmann::json &params, const std::string &key)
{
    ScheduledValue v;
    v.start = params.at(key).get<double>();
    v.kind = parseScheduleKind(params.at(key + "_schedule").get<std::string>());
    v.end = v.kind == ScheduleKind::Constant ? v.start : params.at(key + "_final").get<double>();
    // Fail at creation, not at the first step.
    (void)v.at(1.0);
    return v;
}

double ScheduledValue::at(const StepContext &ctx) const
{
    return at(ctx.progress());
}

std::vector<ParamSpec> scheduleParams(const std::string &key, const std::vector<std::string> &kinds,
                                      double finalDefault, double lo, double hi,
                                      const std::string &what, const std::string &source)
{
    std::string list;
    for (const auto &k : kinds)
        list += (list.empty() ? "" : "|") + k;
    return {ParamSpec::choice(key + "_schedule", "constant", kinds,
                              "how " + what + " moves from " + key + " to " + key + "_final over training ("
                                  + list + ", by step/total steps; " + source + ")"),
            ParamSpec::number(key + "_final", finalDefault, lo, hi,
                              "value of " + what + " at the end of training when " + key
                                  + "_schedule is not constant")};
}

} // namespace kd
