#include "Cka.h"

#include <cmath>

namespace kd {

namespace {

/// H X Xᵀ H for X = `t` flattened per example (rows), in double on the CPU.
torch::Tensor centredGram(const torch::Tensor &t)
{
    auto x = t.detach().to(torch::kCPU, torch::kFloat64).reshape({t.size(0), -1});
    x = x - x.mean(0, true); // centring the columns is H X
    return x.matmul(x.t());
}

double alignment(const torch::Tensor &k, const torch::Tensor &l)
{
    const double kl = (k * l).sum().item<double>();
    const double kk = k.norm().item<double>();
    const double ll = l.norm().item<double>();
    if (!(kk > 0) || !(ll > 0))
        return NAN;
    return kl / (kk * ll);
}

} // namespace

double linearCka(const torch::Tensor &x, const torch::Tensor &y)
{
    TORCH_CHECK(x.size(0) == y.size(0), "linearCka: the representations hold ", x.size(0), " and ", y.size(0),
                " examples; they must describe the same examples");
    torch::NoGradGuard noGrad;
    return alignment(centredGram(x), centredGram(y));
}

std::vector<double> linearCkaMatrix(const std::vector<torch::Tensor> &a, const std::vector<torch::Tensor> &b)
{
    torch::NoGradGuard noGrad;
    std::vector<torch::Tensor> ga, gb;
    for (const auto &t : a)
        ga.push_back(centredGram(t));
    for (const auto &t : b)
        gb.push_back(centredGram(t));
    std::vector<double> m;
    m.reserve(ga.size() * gb.size());
    for (const auto &k : ga)
        for (const auto &l : gb) {
            TORCH_CHECK(k.size(0) == l.size(0), "linearCkaMatrix: representations of different example counts");
            m.push_back(alignment(k, l));
        }
    return m;
}

} // namespace kd
