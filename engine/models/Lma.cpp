#include "Lma.h"

#include "core/Error.h"

#include <cmath>

namespace kd {

std::vector<double> lmaQuantiles(int segments)
{
    if (segments < 2)
        throw Error("LMA needs at least 2 segments; got " + std::to_string(segments));
    std::vector<double> out;
    for (int i = 1; i < segments; ++i) {
        const double p = double(i) / double(segments);
        // Φ(z) = erfc(−z/√2)/2 is increasing; bisect it on [−40, 40] to the last bit.
        double lo = -40.0, hi = 40.0;
        for (int it = 0; it < 200 && hi - lo > 0; ++it) {
            const double mid = 0.5 * (lo + hi);
            if (mid == lo || mid == hi)
                break;
            if (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p)
                lo = mid;
            else
                hi = mid;
        }
        // The middle quantile of an even K is exactly 0.
        out.push_back(2 * i == segments ? 0.0 : 0.5 * (lo + hi));
    }
    return out;
}

torch::Tensor lmaBoundaries(double mean, double stddev, int segments, const torch::Tensor &like)
{
    const auto z = lmaQuantiles(segments);
    return torch::tensor(z, torch::TensorOptions().dtype(torch::kFloat64)).mul(stddev).add(mean).to(like.options());
}

torch::Tensor lmaFunction(const torch::Tensor &x, const torch::Tensor &slopes, const torch::Tensor &boundaries)
{
    const auto k = slopes.numel();
    if (slopes.dim() != 1 || boundaries.dim() != 1 || boundaries.numel() != k - 1 || k < 2)
        throw Error("LMA needs K >= 2 slopes and K - 1 boundaries; got " + std::to_string(k) + " slopes and "
                    + std::to_string(boundaries.numel()) + " boundaries");
    const auto s = slopes.to(x.dtype());
    const auto b = boundaries.to(x.dtype());
    auto y = x * s[0];
    for (std::int64_t i = 1; i < k; ++i)
        y = y + (s[i] - s[i - 1]) * torch::relu(x - b[i - 1]);
    return y;
}

LmaImpl::LmaImpl(int segments, double momentum, double eps)
    : m_segments(segments)
    , m_momentum(momentum)
    , m_eps(eps)
{
    if (segments < 2)
        throw Error("LMA needs at least 2 segments; got " + std::to_string(segments));
    std::vector<float> init(std::size_t(segments), 0.0f);
    for (int j = 0; j < segments; ++j)
        init[std::size_t(j)] = 2 * j + 1 == segments ? 0.5f : (2 * j >= segments ? 1.0f : 0.0f);
    slopes = register_parameter("slopes", torch::tensor(init));
    runningMean = register_buffer("running_mean", torch::zeros({1}));
    runningVar = register_buffer("running_var", torch::ones({1}));
}

torch::Tensor LmaImpl::forward(const torch::Tensor &x)
{
    double mean, var;
    if (is_training()) {
        torch::NoGradGuard noGrad;
        const auto [v, m] = torch::var_mean(x.detach(), /*unbiased=*/false); // one pass, no copy
        mean = m.item<double>();
        var = v.item<double>();
        runningMean.mul_(1.0 - m_momentum).add_(m_momentum * mean);
        runningVar.mul_(1.0 - m_momentum).add_(m_momentum * var);
    } else {
        mean = runningMean.item<double>();
        var = runningVar.item<double>();
    }
    // The slopes are shared by all channels, so their gradient is the sum of C per-channel
    // gradients and would move them C times faster than a per-channel parameter (BatchNorm's
    // weight); averaging it over the channels keeps them stable (with the sum, KD's larger
    // gradients made a student diverge at lr 0.05). The value is unchanged.
    const double channels = x.dim() >= 2 ? double(x.size(1)) : 1.0;
    const auto k = slopes.detach() + (slopes - slopes.detach()) / channels;
    return lmaFunction(x, k, lmaBoundaries(mean, std::sqrt(var + m_eps), m_segments, x));
}

} // namespace kd
