#include "SrmLosses.h"

#include "core/Error.h"

#include <cmath>
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

torch::Tensor unitRows(const torch::Tensor &x)
{
    return F::normalize(x, F::NormalizeFuncOptions().p(2).dim(1));
}

/// Σ_m y log y − y·logp per row: KL(y ‖ p) given log p, with 0·log 0 = 0.
torch::Tensor klRows(const torch::Tensor &y, const torch::Tensor &logp)
{
    // Where y = 0 the term is 0 whatever logp is (-inf included): 0·(−inf) must not become NaN.
    return (torch::xlogy(y, y) - torch::where(y > 0, y * logp, torch::zeros_like(logp))).sum(1);
}

} // namespace

torch::Tensor srmPixelVectors(const torch::Tensor &feature)
{
    if (feature.dim() == 2)
        return feature;
    if (feature.dim() != 4)
        throw Error("SRM needs feature maps [N, C, H, W] or vectors [N, C]; got " + shapeOf(feature));
    return feature.permute({0, 2, 3, 1}).reshape({-1, feature.size(1)});
}

SrmCodes srmSparseCodes(const torch::Tensor &vectors, const torch::Tensor &dictionary, std::int64_t k)
{
    if (vectors.dim() != 2 || dictionary.dim() != 2 || vectors.size(1) != dictionary.size(1))
        throw Error("SRM codes need vectors [P, C] and a dictionary [M, C] of the same C; got " + shapeOf(vectors)
                    + " and " + shapeOf(dictionary));
    if (k < 1 || k > dictionary.size(0))
        throw Error("SRM's top_k must lie in [1, dictionary_size = " + std::to_string(dictionary.size(0)) + "]; got "
                    + std::to_string(k));
    const auto sim = vectors.matmul(dictionary.to(vectors.dtype()).t());
    const auto top = sim.topk(k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
    SrmCodes out;
    out.indices = std::get<1>(top);
    out.codes = torch::zeros_like(sim).scatter(1, out.indices, std::get<0>(top));
    return out;
}

torch::Tensor srmPixelLabels(const torch::Tensor &indices, std::int64_t atoms)
{
    const auto k = indices.size(1);
    return torch::zeros({indices.size(0), atoms}, torch::TensorOptions().dtype(torch::kFloat64).device(indices.device()))
        .scatter_(1, indices, 1.0 / double(k));
}

torch::Tensor srmImageLabels(const torch::Tensor &pixelLabels, std::int64_t positions)
{
    if (positions < 1 || pixelLabels.size(0) % positions != 0)
        throw Error("SRM image labels: " + std::to_string(pixelLabels.size(0)) + " pixel rows are not a whole number of "
                    "images of " + std::to_string(positions) + " positions");
    return pixelLabels.reshape({-1, positions, pixelLabels.size(1)}).mean(1);
}

torch::Tensor srmPixelLoss(const torch::Tensor &logits, const torch::Tensor &labels)
{
    if (logits.sizes() != labels.sizes())
        throw Error("SRM pixel loss needs logits and labels of one shape; got " + shapeOf(logits) + " and "
                    + shapeOf(labels));
    return klRows(labels.to(logits.dtype()), torch::log_softmax(logits, 1)).mean();
}

torch::Tensor srmImageLoss(const torch::Tensor &logits, const torch::Tensor &imageLabels, std::int64_t positions)
{
    // log of the mean atom distribution over positions, computed in log space so that a
    // small temperature (underflowing softmax) cannot give log(0).
    const auto logQ = torch::logsumexp(torch::log_softmax(logits, 1).reshape({-1, positions, logits.size(1)}), 1)
        - std::log(double(positions));
    if (logQ.sizes() != imageLabels.sizes())
        throw Error("SRM image loss: predicted histograms " + shapeOf(logQ) + " and labels " + shapeOf(imageLabels)
                    + " differ");
    return klRows(imageLabels.to(logits.dtype()), logQ).mean();
}

SrmDictionaryStep srmDictionaryStep(const torch::Tensor &dictionary, const torch::Tensor &usage,
                                    const torch::Tensor &vectors, double decay, double deadUsage)
{
    torch::NoGradGuard noGrad;
    const auto m = dictionary.size(0);
    const auto x = unitRows(vectors.detach().to(dictionary.dtype()));
    const auto p = x.size(0);
    const auto best = x.matmul(dictionary.t()).max(1);
    const auto &bestSim = std::get<0>(best);
    const auto &assign = std::get<1>(best);
    const auto counts = torch::zeros({m}, dictionary.options()).index_add_(0, assign, torch::ones({p}, dictionary.options()));
    const auto sums = torch::zeros_like(dictionary).index_add_(0, assign, x);
    const auto means = sums / counts.clamp_min(1.0).unsqueeze(1);
    const auto moved = unitRows(decay * dictionary + (1.0 - decay) * means);
    SrmDictionaryStep out;
    out.dictionary = torch::where(counts.unsqueeze(1) > 0, moved, dictionary);
    out.usage = decay * usage.to(dictionary.dtype()) + (1.0 - decay) * counts / double(p);

    const auto dead = (out.usage < deadUsage).nonzero().flatten();
    const auto nDead = std::min<std::int64_t>(dead.numel(), p);
    if (nDead > 0) {
        const auto worst = std::get<1>(bestSim.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false)).narrow(0, 0, nDead);
        const auto rows = dead.narrow(0, 0, nDead);
        out.dictionary.index_copy_(0, rows, x.index_select(0, worst));
        out.usage.index_fill_(0, rows, 1.0 / double(m));
    }
    return out;
}

} // namespace kd
