#include "analysis/SoftTargets.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace kd {

namespace {

/// log softmax(z / T): exact even where the softmax itself underflows to 0, so the KD term of
/// a very confident pair stays finite.
std::vector<double> logSoftmaxAt(const std::vector<double> &z, double temperature)
{
    double top = -std::numeric_limits<double>::infinity();
    for (double x : z)
        top = std::max(top, x);
    double sum = 0.0;
    for (double x : z)
        sum += std::exp((x - top) / temperature);
    const double logSum = std::log(sum);
    std::vector<double> out(z.size());
    for (std::size_t i = 0; i < z.size(); ++i)
        out[i] = (z[i] - top) / temperature - logSum;
    return out;
}

} // namespace

std::vector<double> softmaxAt(const std::vector<double> &logits, double temperature)
{
    if (!(temperature > 0.0) || !std::isfinite(temperature))
        throw Error("softmax temperature must be a positive number, got " + std::to_string(temperature));
    std::vector<double> p(logits.size());
    if (logits.empty())
        return p;
    double top = -std::numeric_limits<double>::infinity();
    for (double z : logits) {
        if (!std::isfinite(z))
            throw Error("softmax of non-finite logits: the model's outputs hold NaN or infinity; "
                        "check that training did not diverge");
        top = std::max(top, z);
    }
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        p[i] = std::exp((logits[i] - top) / temperature);
        sum += p[i];
    }
    for (double &x : p)
        x /= sum;
    return p;
}

double entropyNats(const std::vector<double> &p)
{
    double h = 0.0;
    for (double x : p)
        if (x > 0.0)
            h -= x * std::log(x);
    return h;
}

double klDivergence(const std::vector<double> &p, const std::vector<double> &q)
{
    if (p.size() != q.size())
        throw Error("KL divergence of distributions over " + std::to_string(p.size()) + " and "
                    + std::to_string(q.size()) + " classes: both must cover the same classes");
    double kl = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] <= 0.0)
            continue;
        if (q[i] <= 0.0)
            return std::numeric_limits<double>::infinity();
        kl += p[i] * (std::log(p[i]) - std::log(q[i]));
    }
    return std::max(0.0, kl); // rounding can leave −1e-17 for equal distributions
}

SoftTargets softTargets(const std::vector<double> &teacherLogits, const std::vector<double> &studentLogits,
                        double temperature)
{
    if (teacherLogits.empty() || teacherLogits.size() != studentLogits.size())
        throw Error("soft targets need teacher and student logits over the same classes (teacher "
                    + std::to_string(teacherLogits.size()) + ", student " + std::to_string(studentLogits.size())
                    + ")");
    SoftTargets s;
    s.temperature = temperature;
    s.teacher = softmaxAt(teacherLogits, temperature);
    s.student = softmaxAt(studentLogits, temperature);
    s.teacherEntropy = entropyNats(s.teacher);
    s.studentEntropy = entropyNats(s.student);
    const auto logT = logSoftmaxAt(teacherLogits, temperature), logS = logSoftmaxAt(studentLogits, temperature);
    double kl = 0.0;
    for (std::size_t i = 0; i < logT.size(); ++i)
        kl += s.teacher[i] * (logT[i] - logS[i]);
    s.kl = std::max(0.0, kl); // rounding can leave −1e-17 for equal logits
    s.kdTerm = temperature * temperature * s.kl;
    return s;
}

} // namespace kd
