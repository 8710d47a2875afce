#include "methods/online/OnlineLosses.h"

#include "core/Error.h"
#include "methods/KdLosses.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace kd {

torch::Tensor mutualKlLoss(const std::vector<torch::Tensor> &peerLogits, std::size_t self, double temperature,
                           const std::string &reduction)
{
    if (peerLogits.size() < 2 || self >= peerLogits.size())
        throw std::logic_error("mutualKlLoss needs at least two peers and a valid index");
    const auto logQ = torch::log_softmax(peerLogits[self] / temperature, 1);
    torch::Tensor total;
    for (std::size_t j = 0; j < peerLogits.size(); ++j) {
        if (j == self)
            continue;
        const auto logP = torch::log_softmax(peerLogits[j].detach() / temperature, 1);
        // KL(p ‖ q) = Σ p (log p − log q), batch mean.
        const auto kl = (logP.exp() * (logP - logQ)).sum(1).mean();
        total = total.defined() ? total + kl : kl;
    }
    if (reduction == "mean")
        total = total / double(peerLogits.size() - 1);
    return total * (temperature * temperature);
}

double sigmoidRampup(double current, double length)
{
    if (!(length > 0))
        return 1.0;
    const double t = std::clamp(current, 0.0, length);
    const double phase = 1.0 - t / length;
    return std::exp(-5.0 * phase * phase);
}

torch::Tensor oneKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &teacherLogits, double temperature)
{
    const auto logQ = torch::log_softmax(studentLogits / temperature, 1);
    const auto t = (torch::softmax(teacherLogits.detach() / temperature, 1) + 1e-7);
    return (t * (t.log() - logQ)).sum(1).mean() * (temperature * temperature);
}

std::pair<torch::Tensor, torch::Tensor> gatedEnsemble(const torch::Tensor &gateLogits,
                                                      const std::vector<torch::Tensor> &branchLogits)
{
    if (gateLogits.size(1) != std::int64_t(branchLogits.size()))
        throw std::logic_error("gatedEnsemble: one gate value per branch");
    const auto g = torch::softmax(torch::relu(gateLogits), 1);
    torch::Tensor sum;
    for (std::size_t b = 0; b < branchLogits.size(); ++b) {
        const auto term = g.select(1, std::int64_t(b)).unsqueeze(1) * branchLogits[b];
        sum = sum.defined() ? sum + term : term;
    }
    return {sum, g};
}

OneTerms oneLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &gateLogits,
                 const torch::Tensor &labels, double temperature)
{
    OneTerms t;
    t.ensemble = gatedEnsemble(gateLogits, branchLogits).first;
    for (const auto &z : branchLogits) {
        const auto c = crossEntropyLoss(z, labels);
        const auto k = oneKlLoss(z, t.ensemble, temperature);
        t.ce = t.ce.defined() ? t.ce + c : c;
        t.kl = t.kl.defined() ? t.kl + k : k;
    }
    t.ensembleCe = crossEntropyLoss(t.ensemble, labels);
    return t;
}

torch::Tensor meanLogits(const std::vector<torch::Tensor> &logits)
{
    torch::Tensor sum;
    for (const auto &z : logits)
        sum = sum.defined() ? sum + z : z;
    return sum / double(logits.size());
}

FflTerms fflLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &fusedLogits,
                 const torch::Tensor &labels, double temperature)
{
    if (branchLogits.size() < 2)
        throw std::logic_error("fflLoss needs at least two branches");
    FflTerms t;
    for (const auto &z : branchLogits) {
        const auto c = crossEntropyLoss(z, labels);
        const auto k = oneKlLoss(z, fusedLogits, temperature);
        t.ce = t.ce.defined() ? t.ce + c : c;
        t.kl = t.kl.defined() ? t.kl + k : k;
    }
    t.ensemble = meanLogits(branchLogits);
    t.fusedCe = crossEntropyLoss(fusedLogits, labels);
    t.kl = t.kl + oneKlLoss(fusedLogits, t.ensemble, temperature);
    return t;
}

} // namespace kd
