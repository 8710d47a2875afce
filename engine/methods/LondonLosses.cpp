#include "methods/LondonLosses.h"

#include "Error.h"
#include "methods/FeatureLosses.h"
#include "methods/SrmLosses.h"

#include <sstream>

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
    if (name == "gram")
        return TransmittingKind::Gram;
    if (name == "least_squares")
        return TransmittingKind::LeastSquares;
    throw Error("transmitting_matrix = \"" + name + "\" is unknown; choose \"gram\" or \"least_squares\"");
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

torch::Tensor lipschitzLoss(const std::vector<torch::Tensor> &student, const std::vector<torch::Tensor> &teacher,
                            bool product)
{
    if (student.empty() || student.size() != teacher.size())
        throw Error("the Lipschitz loss needs as many student as teacher transitions (at least one); got "
                    + std::to_string(student.size()) + " and " + std::to_string(teacher.size()));
    auto logOf = [](const torch::Tensor &s) { return s.clamp_min(1e-12).log(); };
    if (product) {
        torch::Tensor ls, lt;
        for (std::size_t i = 0; i < student.size(); ++i) {
            ls = ls.defined() ? ls + logOf(student[i]) : logOf(student[i]);
            const auto t = logOf(teacher[i].detach());
            lt = lt.defined() ? lt + t : t;
        }
        return (ls - lt.to(ls.dtype())).pow(2);
    }
    torch::Tensor sum;
    for (std::size_t i = 0; i < student.size(); ++i) {
        const auto d = (logOf(student[i]) - logOf(teacher[i].detach()).to(student[i].dtype())).pow(2);
        sum = sum.defined() ? sum + d : d;
    }
    return sum / double(student.size());
}

} // namespace kd
