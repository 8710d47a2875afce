#include "SrmCodebook.h"

#include "core/Error.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace kd::srm {

namespace F = torch::nn::functional;

namespace {

std::string shapeOf(const torch::Tensor &t)
{
    std::ostringstream os;
    os << t.sizes();
    return os.str();
}

/// [N, C, H, W] or [N, C] → [N, C, H, W] (a vector is one position).
torch::Tensor asMap(const torch::Tensor &feature)
{
    if (feature.dim() == 2)
        return feature.unsqueeze(2).unsqueeze(3);
    if (feature.dim() != 4)
        throw Error("SRM needs feature maps [N, C, H, W] or vectors [N, C]; got " + shapeOf(feature));
    return feature;
}

} // namespace

std::int64_t codewordCount(std::int64_t channels, double codewordMultiplier)
{
    return std::max<std::int64_t>(1, std::int64_t(double(channels) * codewordMultiplier));
}

std::int64_t sparsity(std::int64_t channels, double codewordMultiplier, double sparsityMultiplier)
{
    return std::max<std::int64_t>(1, std::int64_t(double(channels) * (sparsityMultiplier * codewordMultiplier)));
}

torch::Tensor similarity(const torch::Tensor &feature, const torch::Tensor &centers, const torch::Tensor &intercept)
{
    const auto x = asMap(feature);
    if (centers.dim() != 2 || centers.size(0) != x.size(1))
        throw Error("SRM codewords " + shapeOf(centers) + " do not match a feature of " + std::to_string(x.size(1))
                    + " channels; they must be [channels, K]");
    // [N, H, W, C] · [C, K]: every position's channel vector against every codeword.
    return torch::sigmoid(x.permute({0, 2, 3, 1}).matmul(centers.to(x.dtype())) + intercept.to(x.dtype()));
}

torch::Tensor sparsify(const torch::Tensor &similarity, std::int64_t k)
{
    const auto K = similarity.size(-1);
    if (k < 1 || k > K)
        throw Error("SRM sparsity k = " + std::to_string(k) + " must lie in [1, " + std::to_string(K)
                    + " codewords]; lower sparsity_multiplier or raise codeword_multiplier");
    const auto kth = std::get<0>(similarity.topk(k, -1)).narrow(-1, k - 1, 1);
    return similarity * (similarity >= kth).to(similarity.dtype());
}

torch::Tensor reconstruct(const torch::Tensor &sparse, const torch::Tensor &centers)
{
    return sparse.matmul(centers.to(sparse.dtype()).t()).permute({0, 3, 1, 2});
}

torch::Tensor reconstructionLoss(const torch::Tensor &feature, const torch::Tensor &centers,
                                 const torch::Tensor &intercept, std::int64_t k)
{
    const auto x = asMap(feature);
    return F::mse_loss(reconstruct(sparsify(similarity(x, centers, intercept), k), centers), x);
}

torch::Tensor imageLabels(const torch::Tensor &sparse)
{
    return sparse.mean({1, 2});
}

torch::Tensor pixelLabels(const torch::Tensor &sparse)
{
    return sparse.argmax(-1);
}

torch::Tensor imageLoss(const torch::Tensor &studentSimilarity, const torch::Tensor &labels)
{
    const auto pred = studentSimilarity.mean({1, 2});
    if (pred.sizes() != labels.sizes())
        throw Error("SRM image-level loss: the student predicts " + shapeOf(pred) + " but the labels are "
                    + shapeOf(labels) + "; both must be [N, codewords]");
    return F::binary_cross_entropy(pred, labels.to(pred.dtype()));
}

torch::Tensor pixelLoss(const torch::Tensor &studentSimilarity, const torch::Tensor &labels)
{
    const auto sizes = studentSimilarity.sizes();
    if (studentSimilarity.dim() != 4 || labels.sizes() != sizes.slice(0, 3))
        throw Error("SRM pixel-level loss: similarities " + shapeOf(studentSimilarity) + " and labels "
                    + shapeOf(labels) + " must be [N, H, W, K] and [N, H, W]");
    return F::cross_entropy(studentSimilarity.reshape({-1, sizes[3]}), labels.reshape({-1}));
}

PhasePlan planPhases(int dictionaryEpochs, int initEpochs, int kdEpochs, int epochs, std::int64_t totalSteps)
{
    const std::array<double, 3> w{double(dictionaryEpochs), double(initEpochs), double(kdEpochs)};
    const double sum = w[0] + w[1] + w[2];
    if (sum <= 0)
        throw Error("method \"srm\": dictionary_epochs, init_epochs and kd_epochs are all 0; give at least one "
                    "phase some epochs");
    std::array<std::int64_t, 3> len{};
    len[0] = std::llround(double(totalSteps) * w[0] / sum);
    len[1] = std::llround(double(totalSteps) * (w[0] + w[1]) / sum) - len[0];
    len[2] = totalSteps - len[0] - len[1];
    // A phase that has epochs keeps at least one step when the stage has enough of them.
    const auto phases = std::count_if(w.begin(), w.end(), [](double v) { return v > 0; });
    if (totalSteps >= phases)
        for (int j = 0; j < 3; ++j)
            if (w[j] > 0 && len[j] == 0) {
                auto longest = std::max_element(len.begin(), len.end());
                --*longest;
                len[j] = 1;
            }
    PhasePlan plan;
    plan.dictionaryEnd = len[0];
    plan.initEnd = len[0] + len[1];
    plan.totalSteps = totalSteps;
    plan.scaled = epochs != dictionaryEpochs + initEpochs + kdEpochs;
    return plan;
}

} // namespace kd::srm
