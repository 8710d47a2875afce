#pragma once

// Light multi-segment activation (Xu, Ke, Zhang, Bian & Liu, "Light Multi-segment Activation
// for Model Compression", AAAI 2020): a continuous piecewise-linear activation with K
// segments whose slopes are learned and whose boundaries follow the statistics of its input.

#include "core/TorchFwd.h"

#include <vector>

namespace kd {

/// The standard-normal quantiles Φ⁻¹(i/K), i = 1..K−1: the LMA segment boundaries of an
/// input with mean 0 and standard deviation 1 (each segment then holds 1/K of a Gaussian
/// input). Computed by bisection on erfc to double precision.
std::vector<double> lmaQuantiles(int segments);

/// Segment boundaries mean + std·Φ⁻¹(i/K) as a [K−1] tensor with the options of `like`.
torch::Tensor lmaBoundaries(double mean, double stddev, int segments, const torch::Tensor &like);

/// The LMA function with slopes k [K] and increasing boundaries b [K−1]:
///   f(x) = k_0·x + Σ_{i=1}^{K−1} (k_i − k_{i−1})·relu(x − b_i),
/// i.e. slope k_j on segment j (b_j, b_{j+1}] with b_0 = −∞, b_K = +∞, continuous, and
/// f(x) = k_0·x left of b_1. Differentiable in x and k (boundaries are constants).
torch::Tensor lmaFunction(const torch::Tensor &x, const torch::Tensor &slopes, const torch::Tensor &boundaries);

/// LMA as a module: `slopes` [K] is the only parameter (one set per activation site, shared
/// by all channels — "light"). The boundaries are mean + std·Φ⁻¹(i/K) of the input: in
/// training the batch mean and standard deviation over all elements (no gradient flows
/// through them) which also update running estimates (momentum 0.1, as BatchNorm); in
/// evaluation the running estimates. Slopes start at 0 on the lower half of the segments and 1
/// on the upper half (0.5 on the middle one for odd K), so a fresh LMA is relu(x − mean).
/// The slopes' gradient is averaged over the input's channels (dim 1) rather than summed, so a
/// shared slope moves like a per-channel parameter; values are exactly lmaFunction's.
class LmaImpl : public torch::nn::Module {
public:
    explicit LmaImpl(int segments, double momentum = 0.1, double eps = 1e-5);
    torch::Tensor forward(const torch::Tensor &x);

    int segments() const { return m_segments; }

    torch::Tensor slopes;      ///< [K] parameter
    torch::Tensor runningMean; ///< [1] buffer
    torch::Tensor runningVar;  ///< [1] buffer (biased variance)

private:
    int m_segments;
    double m_momentum, m_eps;
};
TORCH_MODULE(Lma);

} // namespace kd
