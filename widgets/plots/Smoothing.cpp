#include "Smoothing.h"

#include <algorithm>
#include <cmath>

namespace kd::ui::Smoothing {

double clampWeight(double weight)
{
    if (!std::isfinite(weight))
        return 0.0;
    return std::clamp(weight, 0.0, 1.0);
}

bool isConstant(const std::vector<double> &values)
{
    if (values.empty())
        return true;
    const double first = values.front();
    // Written as TensorBoard writes it (every value == the first), so NaN never compares equal.
    return std::all_of(values.begin(), values.end(), [first](double v) { return v == first; });
}

double emaStep(EmaState &state, double value, double weight)
{
    if (!std::isfinite(value))
        return value;
    state.last = state.last * weight + (1.0 - weight) * value;
    ++state.count;
    // Starting at 0 biases the average towards 0 by a factor (1 − weight^count); dividing it
    // out makes the first smoothed value the first value itself.
    const double debias = weight == 1.0 ? 1.0 : 1.0 - std::pow(weight, double(state.count));
    return state.last / debias;
}

std::vector<double> debiasedEma(const std::vector<double> &values, double weight)
{
    if (isConstant(values))
        return values;
    const double w = clampWeight(weight);
    std::vector<double> out;
    out.reserve(values.size());
    EmaState state;
    for (double v : values)
        out.push_back(emaStep(state, v, w));
    return out;
}

} // namespace kd::ui::Smoothing
