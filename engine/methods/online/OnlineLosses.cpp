#include "methods/online/OnlineLosses.h"

#include "core/Error.h"
#include "methods/FeatureLosses.h"
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

torch::Tensor okddipKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &targetLogits, double temperature)
{
    const auto logQ = torch::log_softmax(studentLogits / temperature, 1);
    const auto t = torch::softmax(targetLogits / temperature, 1) + 1e-7;
    return (t * (t.log() - logQ)).sum(1).mean() * (temperature * temperature);
}

torch::Tensor okddipAttention(const torch::Tensor &queries, const torch::Tensor &keys)
{
    return torch::softmax(torch::bmm(queries, keys.transpose(1, 2)), -1);
}

OkddipTerms okddipLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &attention,
                       const torch::Tensor &labels, double temperature)
{
    const auto peers = std::int64_t(branchLogits.size()) - 1;
    if (peers < 2 || attention.size(1) != peers || attention.size(2) != peers)
        throw std::logic_error("okddipLoss needs at least two peers and a leader, and a P × P attention");
    const std::vector<torch::Tensor> peerLogits(branchLogits.begin(), branchLogits.end() - 1);
    // Targets: z stacked B × classes × P, times aᵀ → B × classes × P, column i = Σ_j a_ij z_j.
    const auto targets = torch::bmm(torch::stack(peerLogits, 2), attention.transpose(1, 2));
    OkddipTerms t;
    for (std::int64_t i = 0; i < peers; ++i) {
        const auto c = crossEntropyLoss(peerLogits[std::size_t(i)], labels);
        const auto k = okddipKlLoss(peerLogits[std::size_t(i)], targets.select(2, i), temperature);
        t.ce = t.ce.defined() ? t.ce + c : c;
        t.kl = t.kl.defined() ? t.kl + k : k;
    }
    const auto &leader = branchLogits.back();
    t.ce = t.ce + crossEntropyLoss(leader, labels);
    t.ensemble = meanLogits(peerLogits);
    t.leaderKl = okddipKlLoss(leader, t.ensemble, temperature);
    return t;
}

std::vector<torch::Tensor> mclScores(const std::vector<torch::Tensor> &memories,
                                     const std::vector<torch::Tensor> &embeddings, const torch::Tensor &idx,
                                     double temperature, std::int64_t nData)
{
    if (memories.size() != embeddings.size() || memories.size() < 2)
        throw std::logic_error("mclScores needs one memory bank per embedding, at least two");
    const auto b = idx.size(0), k1 = idx.size(1);
    // Each bank's rows are gathered once (B × (K+1) × d: the bulk of the work with thousands of
    // negatives) and scored against every other branch's embedding.
    const auto flat = idx.reshape(-1);
    std::vector<torch::Tensor> rows;
    for (const auto &memory : memories)
        rows.push_back(memory.index_select(0, flat).detach().view({b, k1, -1}));
    auto score = [&](std::size_t bank, const torch::Tensor &emb) {
        auto out = torch::exp(torch::bmm(rows[bank], emb.unsqueeze(2)).squeeze(2) / temperature);
        const double z = out.mean().item<double>() * double(nData);
        return out / z;
    };
    std::vector<torch::Tensor> out;
    for (std::size_t i = 0; i < memories.size(); ++i)
        for (std::size_t j = i + 1; j < memories.size(); ++j) {
            out.push_back(score(i, embeddings[j]));
            out.push_back(score(j, embeddings[i]));
        }
    return out;
}

MclTerms mclLoss(const std::vector<torch::Tensor> &branchLogits, const std::vector<torch::Tensor> &scores,
                 const torch::Tensor &labels, double temperature, std::int64_t nData)
{
    if (branchLogits.size() < 2 || scores.empty())
        throw std::logic_error("mclLoss needs at least two branches and their contrastive scores");
    MclTerms t;
    for (const auto &z : branchLogits) {
        const auto c = crossEntropyLoss(z, labels);
        t.ce = t.ce.defined() ? t.ce + c : c;
    }
    t.ensemble = meanLogits(branchLogits).detach();
    const auto logQ = torch::log_softmax(branchLogits.back() / temperature, 1);
    const auto logP = torch::log_softmax(t.ensemble / temperature, 1);
    t.kl = (logP.exp() * (logP - logQ)).sum(1).mean() * (temperature * temperature);
    for (const auto &s : scores) {
        const auto c = crdContrastLoss(s, nData);
        t.contrast = t.contrast.defined() ? t.contrast + c : c;
    }
    return t;
}

StudentEnsembleTerms studentEnsembleLoss(const std::vector<torch::Tensor> &branchLogits,
                                         const std::vector<std::vector<torch::Tensor>> &adapted,
                                         const std::vector<torch::Tensor> &widest, const torch::Tensor &labels,
                                         double temperature)
{
    if (branchLogits.size() < 2 || adapted.size() != widest.size())
        throw std::logic_error("studentEnsembleLoss needs at least two students and one target map per stage");
    StudentEnsembleTerms t;
    t.ensemble = meanLogits(branchLogits).detach();
    for (const auto &z : branchLogits) {
        const auto c = crossEntropyLoss(z, labels);
        const auto k = hintonKdLoss(z, t.ensemble, temperature);
        t.ce = t.ce.defined() ? t.ce + c : c;
        t.kd = t.kd.defined() ? t.kd + k : k;
    }
    t.feat = torch::zeros({}, t.ce.options());
    for (std::size_t k = 0; k < widest.size(); ++k) {
        const auto target = widest[k].detach();
        for (const auto &a : adapted[k]) {
            if (a.sizes() != target.sizes())
                throw std::logic_error("studentEnsembleLoss: an adapted map differs in shape from the widest student's");
            t.feat = t.feat + (a - target).pow(2).mean();
        }
    }
    return t;
}

torch::Tensor pclKlLoss(const torch::Tensor &studentLogits, const torch::Tensor &targetLogits, double temperature)
{
    return hintonKdLoss(studentLogits, targetLogits.detach(), temperature);
}

PclTerms pclLoss(const std::vector<torch::Tensor> &branchLogits, const torch::Tensor &ensembleLogits,
                 const std::vector<torch::Tensor> &meanLogits, const torch::Tensor &labels, double temperature)
{
    const std::size_t m = branchLogits.size();
    if (m < 2 || meanLogits.size() != m)
        throw std::logic_error("pclLoss needs at least two peers and one temporal mean per peer");
    PclTerms t;
    t.ensembleCe = crossEntropyLoss(ensembleLogits, labels);
    for (std::size_t i = 0; i < m; ++i) {
        const auto &z = branchLogits[i];
        const auto c = crossEntropyLoss(z, labels);
        const auto pe = pclKlLoss(z, ensembleLogits, temperature);
        torch::Tensor pm;
        for (std::size_t j = 0; j < m; ++j)
            if (j != i) {
                const auto k = pclKlLoss(z, meanLogits[j], temperature);
                pm = pm.defined() ? pm + k : k;
            }
        pm = pm / double(m - 1);
        t.ce = t.ce.defined() ? t.ce + c : c;
        t.pe = t.pe.defined() ? t.pe + pe : pe;
        t.pm = t.pm.defined() ? t.pm + pm : pm;
    }
    return t;
}

double temporalMeanDecay(std::int64_t step, double decay)
{
    return std::min(1.0 - 1.0 / (double(step) + 1.0), decay);
}

torch::Tensor afdDiscriminatorLoss(const torch::Tensor &realScores, const torch::Tensor &fakeScores)
{
    return (1.0 - realScores).pow(2).mean() + fakeScores.pow(2).mean();
}

torch::Tensor afdGeneratorLoss(const torch::Tensor &fakeScores)
{
    return (1.0 - fakeScores).pow(2).mean();
}

} // namespace kd
