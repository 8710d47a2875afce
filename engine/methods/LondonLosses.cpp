#include "LondonLosses.h"

#include "core/Error.h"
#include "methods/FeatureLosses.h"
#include "methods/SrmLosses.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace kd {

namespace F = torch::nn::functional;

namespace {

std::string shapeOf(const torch::Tensor &t)
{
    std::ostringstream os;
    os << t.sizes();
    return os.str();
}

torch::Tensor unit(const torch::Tensor &x)
{
    return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(0));
}

} // namespace

TransmittingKind parseTransmittingKind(const std::string &name)
{
    if (name == "fsp")
        return TransmittingKind::Fsp;
    if (name == "gram")
        return TransmittingKind::Gram;
    if (name == "least_squares")
        return TransmittingKind::LeastSquares;
    throw Error("transmitting_matrix = \"" + name + "\" is unknown; choose \"fsp\", \"gram\" or \"least_squares\"");
}

LipschitzDistance parseLipschitzDistance(const std::string &name)
{
    if (name == "mse")
        return LipschitzDistance::Mse;
    if (name == "product")
        return LipschitzDistance::Product;
    if (name == "per_stage")
        return LipschitzDistance::PerStage;
    throw Error("lipschitz_loss = \"" + name + "\" is unknown; choose \"mse\", \"product\" or \"per_stage\"");
}

torch::Tensor transmittingMatrix(const torch::Tensor &fIn, const torch::Tensor &fOut, TransmittingKind kind,
                                 double ridge)
{
    if (fIn.size(0) != fOut.size(0) || (fIn.dim() != 2 && fIn.dim() != 4) || (fOut.dim() != 2 && fOut.dim() != 4))
        throw Error("a transmitting matrix needs two features of one batch, maps [N, C, H, W] or vectors [N, C]; got "
                    + shapeOf(fIn) + " and " + shapeOf(fOut));
    auto a = fIn, b = fOut;
    if (a.dim() != b.dim()) {
        if (a.dim() == 4)
            a = a.mean({2, 3});
        else
            b = b.mean({2, 3});
    }
    std::tie(a, b) = poolToCommonSize(a, b);
    if (kind == TransmittingKind::Fsp) {
        // [N, C, H·W] (a vector is a 1×1 map); TM_n = X_n·Y_nᵀ / (H·W).
        const auto x = a.dim() == 2 ? a.unsqueeze(2) : a.flatten(2);
        const auto y = b.dim() == 2 ? b.unsqueeze(2) : b.flatten(2);
        return x.bmm(y.transpose(1, 2)) / double(x.size(2));
    }
    const auto x = srmPixelVectors(a); // [r, C_in]
    const auto y = srmPixelVectors(b); // [r, C_out]
    const double r = double(x.size(0));
    if (kind == TransmittingKind::Gram)
        return y.t().matmul(x) / r;
    const auto xx = x.t().matmul(x) / r;
    const auto xy = x.t().matmul(y) / r;
    const auto scale = (xx.diagonal().sum() / double(x.size(1))).detach().clamp_min(1e-12);
    const auto eye = torch::eye(x.size(1), xx.options());
    return torch::linalg_solve(xx + ridge * scale * eye, xy, /*left=*/true).t();
}

PowerIteration spectralNormPowerIteration(const torch::Tensor &m, const torch::Tensor &u, const torch::Tensor &v,
                                          int iterations)
{
    if (m.dim() != 2 || u.dim() != 1 || v.dim() != 1 || u.size(0) != m.size(0) || v.size(0) != m.size(1))
        throw Error("power iteration needs a matrix [a, b] and vectors [a], [b]; got " + shapeOf(m) + ", "
                    + shapeOf(u) + ", " + shapeOf(v));
    PowerIteration out;
    {
        torch::NoGradGuard noGrad;
        const auto md = m.detach();
        auto uu = u.to(m.dtype());
        auto vv = v.to(m.dtype());
        for (int i = 0; i < iterations; ++i) {
            vv = unit(md.t().mv(uu));
            uu = unit(md.mv(vv));
        }
        out.u = uu;
        out.v = vv;
    }
    out.sigma = out.u.dot(m.mv(out.v));
    return out;
}

torch::Tensor batchedSpectralNorm(const torch::Tensor &tm, const torch::Tensor &start, int iterations)
{
    if (tm.dim() != 3 || start.dim() != 2 || start.size(0) != tm.size(0) || start.size(1) != tm.size(1)
        || iterations < 1)
        throw Error("the per-image power iteration needs matrices [N, a, b], start vectors [N, a] and at least one "
                    "iteration; got " + shapeOf(tm) + ", " + shapeOf(start) + " and " + std::to_string(iterations));
    const auto k = tm.bmm(tm.transpose(1, 2)); // [N, a, a], symmetric positive semi-definite
    auto v = start.to(tm.dtype()).unsqueeze(2);
    torch::Tensor n;
    for (int i = 0; i < iterations; ++i) {
        const auto w = k.bmm(v);
        n = w.norm(2, {1}, /*keepdim=*/true); // [N, 1, 1]
        // The clamps only matter for an all-zero matrix (its σ is 0, with a zero gradient).
        v = w / n.clamp_min(1e-30);
    }
    return n.clamp_min(1e-30).sqrt().flatten();
}

torch::Tensor lipschitzLoss(const std::vector<torch::Tensor> &student, const std::vector<torch::Tensor> &teacher,
                            LipschitzDistance distance)
{
    if (student.empty() || student.size() != teacher.size())
        throw Error("the Lipschitz loss needs as many student as teacher transitions (at least one); got "
                    + std::to_string(student.size()) + " and " + std::to_string(teacher.size()));
    for (std::size_t i = 0; i < student.size(); ++i)
        if (student[i].sizes() != teacher[i].sizes())
            throw Error("the Lipschitz loss needs the student's and the teacher's estimates of transition "
                        + std::to_string(i) + " in one shape (one per image, or one per batch); got "
                        + shapeOf(student[i]) + " and " + shapeOf(teacher[i]));
    const auto count = student.size();
    auto teacherOf = [&](std::size_t i) { return teacher[i].detach().to(student[i].dtype()); };
    auto logOf = [](const torch::Tensor &s) { return s.clamp_min(1e-12).log(); };
    torch::Tensor sum;
    auto add = [&sum](const torch::Tensor &x) { sum = sum.defined() ? sum + x : x; };
    switch (distance) {
    case LipschitzDistance::Mse:
        for (std::size_t i = 0; i < count; ++i)
            add((student[i] - teacherOf(i)).pow(2).mean() / std::pow(2.0, double(count - i)));
        return sum;
    case LipschitzDistance::Product: {
        torch::Tensor ls, lt;
        for (std::size_t i = 0; i < count; ++i) {
            ls = ls.defined() ? ls + logOf(student[i]) : logOf(student[i]);
            lt = lt.defined() ? lt + logOf(teacherOf(i)) : logOf(teacherOf(i));
        }
        return (ls - lt).pow(2).mean();
    }
    case LipschitzDistance::PerStage:
        for (std::size_t i = 0; i < count; ++i)
            add((logOf(student[i]) - logOf(teacherOf(i))).pow(2).mean());
        return sum / double(count);
    }
    throw std::logic_error("lipschitzLoss: unknown distance");
}

} // namespace kd
