#include "methods/online/OnlineLosses.h"

#include "core/Error.h"

#include <torch/torch.h>

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

} // namespace kd
