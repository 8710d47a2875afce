#include "FeatureLosses.h"

#include "core/Error.h"

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

void checkBatch(const torch::Tensor &s, const torch::Tensor &t, const char *loss)
{
    if (s.dim() < 1 || t.dim() < 1 || s.size(0) != t.size(0))
        throw Error(std::string(loss) + " needs student and teacher features of the same batch size; got "
                    + shapeOf(s) + " and " + shapeOf(t));
}

/// Rows of `x` divided by their L2 norm (F.normalize: x / max(‖x‖, 1e-12)).
torch::Tensor normalizeRows(const torch::Tensor &x, std::int64_t dim = 1)
{
    return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(dim));
}

/// Pairwise Euclidean distances of the rows, zero diagonal (RepDistiller `RKDLoss.pdist`).
torch::Tensor pairwiseDistances(const torch::Tensor &e)
{
    const auto sq = e.pow(2).sum(1);
    const auto prod = e.matmul(e.t());
    auto d = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * prod).clamp_min(1e-12).sqrt();
    const auto eye = torch::eye(e.size(0), torch::TensorOptions().dtype(torch::kBool).device(e.device()));
    return d.masked_fill(eye, 0.0);
}

torch::Tensor normalizedByMeanPositive(const torch::Tensor &d)
{
    return d / d.masked_select(d > 0).mean();
}

/// Cosines of all angles ∠(e_j − e_i, e_k − e_i), flattened.
torch::Tensor angles(const torch::Tensor &e)
{
    const auto diff = e.unsqueeze(0) - e.unsqueeze(1);
    const auto n = normalizeRows(diff, 2);
    return torch::bmm(n, n.transpose(1, 2)).reshape({-1});
}

/// Squared polynomial kernel matrix between the channels of two [N, C, HW] tensors.
torch::Tensor polyKernelMean(const torch::Tensor &a, const torch::Tensor &b)
{
    return torch::bmm(b, a.transpose(1, 2)).pow(2).mean();
}

/// Reshapes a per-channel vector to broadcast over dim 1 of `like`.
torch::Tensor perChannel(const torch::Tensor &v, const torch::Tensor &like)
{
    std::vector<std::int64_t> shape(std::size_t(like.dim()), 1);
    shape[1] = v.numel();
    return v.reshape(shape);
}

} // namespace

std::pair<torch::Tensor, torch::Tensor> poolToCommonSize(const torch::Tensor &a, const torch::Tensor &b)
{
    if (a.dim() != 4 || b.dim() != 4)
        return {a, b};
    const auto h = std::min(a.size(2), b.size(2));
    const auto w = std::min(a.size(3), b.size(3));
    auto pool = [&](const torch::Tensor &x) {
        return x.size(2) == h && x.size(3) == w ? x : F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({h, w}));
    };
    return {pool(a), pool(b)};
}

torch::Tensor hintLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    if (student.sizes() != teacher.sizes())
        throw Error("the FitNet hint needs the regressed student feature and the teacher feature in the same shape; got "
                    + shapeOf(student) + " and " + shapeOf(teacher));
    return torch::mse_loss(student, teacher);
}

torch::Tensor attentionMap(const torch::Tensor &f, double p)
{
    return normalizeRows(f.abs().pow(p).mean(1).reshape({f.size(0), -1}));
}

torch::Tensor attentionLoss(const torch::Tensor &student, const torch::Tensor &teacher, double p)
{
    checkBatch(student, teacher, "attention transfer");
    if (student.dim() != 4 || teacher.dim() != 4)
        throw Error("attention transfer needs [N, C, H, W] feature maps; got " + shapeOf(student) + " and "
                    + shapeOf(teacher));
    const auto [s, t] = poolToCommonSize(student, teacher);
    return (attentionMap(s, p) - attentionMap(t, p)).pow(2).mean();
}

torch::Tensor similarityLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    checkBatch(student, teacher, "similarity-preserving KD");
    const auto n = student.size(0);
    const auto fs = student.reshape({n, -1});
    const auto ft = teacher.reshape({n, -1});
    const auto gs = normalizeRows(fs.matmul(fs.t()));
    const auto gt = normalizeRows(ft.matmul(ft.t()));
    return (gt - gs).pow(2).sum() / double(n * n);
}

torch::Tensor rkdDistanceLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    checkBatch(student, teacher, "RKD");
    const auto n = student.size(0);
    const auto td = normalizedByMeanPositive(pairwiseDistances(teacher.reshape({n, -1}).detach()));
    const auto sd = normalizedByMeanPositive(pairwiseDistances(student.reshape({n, -1})));
    return torch::smooth_l1_loss(sd, td);
}

torch::Tensor rkdAngleLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    checkBatch(student, teacher, "RKD");
    const auto n = student.size(0);
    const auto ta = angles(teacher.reshape({n, -1}).detach());
    const auto sa = angles(student.reshape({n, -1}));
    return torch::smooth_l1_loss(sa, ta);
}

torch::Tensor pktLoss(const torch::Tensor &student, const torch::Tensor &teacher, double eps)
{
    checkBatch(student, teacher, "PKT");
    const auto n = student.size(0);
    auto kernel = [&](const torch::Tensor &f) {
        auto x = f.reshape({n, -1});
        x = x / (x.pow(2).sum(1, true).sqrt() + eps);
        auto sim = (x.matmul(x.t()) + 1.0) / 2.0;
        return sim / sim.sum(1, true);
    };
    const auto ms = kernel(student);
    const auto ts = kernel(teacher);
    return (ts * torch::log((ts + eps) / (ms + eps))).mean();
}

torch::Tensor nstLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    checkBatch(student, teacher, "NST");
    if (student.dim() != 4 || teacher.dim() != 4)
        throw Error("NST needs [N, C, H, W] feature maps; got " + shapeOf(student) + " and " + shapeOf(teacher));
    auto [s, t] = poolToCommonSize(student, teacher);
    s = normalizeRows(s.reshape({s.size(0), s.size(1), -1}), 2);
    t = normalizeRows(t.reshape({t.size(0), t.size(1), -1}), 2);
    return polyKernelMean(t, t).detach() + polyKernelMean(s, s) - 2 * polyKernelMean(s, t);
}

torch::Tensor vidLoss(const torch::Tensor &predMean, const torch::Tensor &target, const torch::Tensor &logScale,
                      double eps)
{
    if (predMean.sizes() != target.sizes() || predMean.dim() < 2 || logScale.numel() != predMean.size(1))
        throw Error("VID needs the regressed student feature and the teacher feature in the same shape and one "
                    "variance per channel; got " + shapeOf(predMean) + ", " + shapeOf(target) + " and "
                    + shapeOf(logScale));
    const auto var = perChannel(torch::softplus(logScale) + eps, predMean);
    return (0.5 * ((predMean - target).pow(2) / var + var.log())).mean();
}

torch::Tensor crdContrastLoss(const torch::Tensor &scores, std::int64_t nData)
{
    constexpr double kEps = 1e-7;
    const auto n = scores.size(0);
    const auto m = scores.size(1) - 1;
    const double mPn = double(m) / double(nData);
    const auto pos = scores.select(1, 0);
    const auto logD1 = (pos / (pos + (mPn + kEps))).log();
    const auto neg = scores.narrow(1, 1, m);
    const auto logD0 = (mPn / (neg + (mPn + kEps))).log();
    return -(logD1.sum() + logD0.sum()) / double(n);
}

CrdScores crdScores(const torch::Tensor &embStudent, const torch::Tensor &embTeacher, const torch::Tensor &memStudent,
                    const torch::Tensor &memTeacher, const torch::Tensor &idx, double temperature, double zStudent,
                    double zTeacher, std::int64_t nData)
{
    const auto n = embStudent.size(0);
    const auto k1 = idx.size(1);
    const auto dim = memStudent.size(1);
    const auto flat = idx.reshape({-1});
    const auto wStudent = memStudent.index_select(0, flat).detach().view({n, k1, dim});
    const auto wTeacher = memTeacher.index_select(0, flat).detach().view({n, k1, dim});
    auto outTeacher = torch::exp(torch::bmm(wStudent, embTeacher.reshape({n, dim, 1})) / temperature).reshape({n, k1});
    auto outStudent = torch::exp(torch::bmm(wTeacher, embStudent.reshape({n, dim, 1})) / temperature).reshape({n, k1});
    CrdScores out;
    out.zStudent = zStudent < 0 ? outStudent.mean().item<double>() * double(nData) : zStudent;
    out.zTeacher = zTeacher < 0 ? outTeacher.mean().item<double>() * double(nData) : zTeacher;
    out.student = outStudent / out.zStudent;
    out.teacher = outTeacher / out.zTeacher;
    return out;
}

CrdClassIndex CrdClassIndex::build(const torch::Tensor &labels)
{
    const auto l = labels.to(torch::kCPU, torch::kInt64).flatten();
    const auto classes = l.numel() ? l.max().item<std::int64_t>() + 1 : 0;
    CrdClassIndex idx;
    idx.byClass = std::get<1>(l.sort(/*stable=*/true, 0, false));
    idx.classCount = torch::bincount(l, {}, classes).to(torch::kInt64);
    idx.classStart = idx.classCount.cumsum(0) - idx.classCount;
    return idx;
}

std::int64_t CrdClassIndex::minOtherClassImages() const
{
    const auto n = byClass.numel();
    const auto present = classCount.gt(0);
    if (!present.any().item<bool>())
        return 0;
    return n - classCount.masked_select(present).max().item<std::int64_t>();
}

torch::Tensor crdOtherClassNegatives(const CrdClassIndex &index, const torch::Tensor &anchorLabels, std::int64_t k)
{
    torch::NoGradGuard noGrad;
    const auto c = anchorLabels.to(torch::kCPU, torch::kInt64).flatten();
    const auto start = index.classStart.index_select(0, c).unsqueeze(1);
    const auto count = index.classCount.index_select(0, c).unsqueeze(1);
    const auto others = index.byClass.numel() - count; // images of the other classes, per anchor
    // r uniform in [0, others); skipping the anchor's class range maps it onto those images.
    auto r = (torch::rand({c.numel(), k}, torch::kFloat64) * others.to(torch::kFloat64)).floor().to(torch::kInt64);
    r = torch::minimum(r, others - 1);
    const auto j = r + (r >= start).to(torch::kInt64) * count;
    return index.byClass.index_select(0, j.flatten()).reshape({c.numel(), k}).to(anchorLabels.device());
}

torch::Tensor l2Normalize(const torch::Tensor &x)
{
    return x / x.pow(2).sum(1, true).sqrt();
}

torch::Tensor crdUpdatedRows(const torch::Tensor &memory, const torch::Tensor &emb, const torch::Tensor &indices,
                             double momentum)
{
    torch::NoGradGuard noGrad;
    auto rows = memory.index_select(0, indices) * momentum + emb.detach().to(memory.dtype()) * (1.0 - momentum);
    return l2Normalize(rows);
}

torch::Tensor ofdLoss(const torch::Tensor &student, const torch::Tensor &teacher, const torch::Tensor &margin)
{
    if (student.sizes() != teacher.sizes() || student.dim() < 2 || margin.numel() != teacher.size(1))
        throw Error("OFD needs the connected student feature and the teacher feature in the same shape and one "
                    "margin per channel; got " + shapeOf(student) + ", " + shapeOf(teacher) + " and "
                    + shapeOf(margin));
    const auto target = torch::max(teacher, perChannel(margin.to(teacher.dtype()), teacher));
    const auto mask = (student > target).logical_or(target > 0).to(student.dtype());
    return ((student - target).pow(2) * mask).sum();
}

ChannelMoments channelMoments(const torch::Tensor &f)
{
    torch::NoGradGuard noGrad;
    const auto x = f.detach().to(torch::kFloat64).transpose(0, 1).reshape({f.size(1), -1});
    return {x.sum(1), x.pow(2).sum(1), torch::full({f.size(1)}, double(x.size(1)), x.options())};
}

torch::Tensor ofdGaussianMargin(const torch::Tensor &mean, const torch::Tensor &stddev)
{
    torch::NoGradGuard noGrad;
    const auto s = stddev.clamp_min(1e-12);
    const auto z = mean / s;
    const auto tail = 0.5 * torch::erfc(z / std::sqrt(2.0));              // Φ(−μ/σ)
    const auto pdf = torch::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI);     // φ(μ/σ)
    const auto inner = mean - s * pdf / tail.clamp_min(1e-300);
    return torch::where(tail > 0.001, inner, -3.0 * s);
}

void accumulateGaussianMargin(const torch::Tensor &feature, torch::Tensor &sum, torch::Tensor &sumSquares,
                              torch::Tensor &count, torch::Tensor &margin)
{
    torch::NoGradGuard noGrad;
    const auto mo = channelMoments(feature);
    sum.add_(mo.sum.to(sum.device()));
    sumSquares.add_(mo.sumSquares.to(sum.device()));
    count.add_(mo.count.to(sum.device()));
    const auto n = count.clamp_min(1.0);
    const auto mean = sum / n;
    margin.copy_(ofdGaussianMargin(mean, (sumSquares / n - mean * mean).clamp_min(0.0).sqrt()));
}

std::pair<torch::Tensor, torch::Tensor> negativeResponseStats(const torch::Tensor &f)
{
    torch::NoGradGuard noGrad;
    const auto x = f.detach().to(torch::kFloat64).transpose(0, 1).reshape({f.size(1), -1});
    const auto neg = x.clamp_max(0.0);
    return {neg.sum(1), (x < 0).sum(1).to(torch::kFloat64)};
}

} // namespace kd
