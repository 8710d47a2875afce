#include "CrdNegativeSampler.h"

#include "core/Error.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace kd {

CrdNegativeSampler::CrdNegativeSampler(const torch::Tensor &labels, std::int64_t nData)
    : m_nData(nData)
{
    if (nData < 2)
        throw Error("CRD's negatives need at least 2 training images, got " + std::to_string(nData));
    if (nData > std::numeric_limits<std::int32_t>::max())
        throw Error("CRD's negative sampler holds at most 2^31 - 1 training images");
    if (labels.defined()) {
        const auto l = labels.to(torch::kCPU, torch::kInt64).contiguous();
        if (l.numel() != nData)
            throw Error("CRD's negative sampler got " + std::to_string(l.numel()) + " labels for "
                        + std::to_string(nData) + " training images");
        m_labels.assign(l.data_ptr<std::int64_t>(), l.data_ptr<std::int64_t>() + nData);
        if (*std::min_element(m_labels.begin(), m_labels.end()) < 0)
            throw Error("CRD's negative sampler needs labels >= 0");
        m_classCount.assign(std::size_t(*std::max_element(m_labels.begin(), m_labels.end()) + 1), 0);
        for (auto c : m_labels)
            ++m_classCount[std::size_t(c)];
        m_pools.resize(m_classCount.size());
        m_maxNegatives = nData - *std::max_element(m_classCount.begin(), m_classCount.end());
    } else {
        m_all.resize(std::size_t(nData));
        std::iota(m_all.begin(), m_all.end(), 0);
        m_position = m_all;
        m_maxNegatives = nData - 1;
    }
}

std::vector<std::int32_t> &CrdNegativeSampler::classPool(std::int64_t c)
{
    auto &pool = m_pools[std::size_t(c)];
    if (pool.empty() && m_classCount[std::size_t(c)] < m_nData) {
        pool.reserve(std::size_t(m_nData - m_classCount[std::size_t(c)]));
        for (std::int64_t i = 0; i < m_nData; ++i)
            if (m_labels[std::size_t(i)] != c)
                pool.push_back(std::int32_t(i));
    }
    return pool;
}

torch::Tensor CrdNegativeSampler::draw(const torch::Tensor &anchorsIn, std::int64_t k)
{
    const auto anchors = anchorsIn.to(torch::kCPU, torch::kInt64).contiguous().flatten();
    const auto n = anchors.numel();
    auto out = torch::empty({n, k}, torch::kInt64);
    if (n == 0 || k == 0)
        return out;
    const auto u = torch::rand({n, k}, torch::kFloat64).contiguous();
    const double *ur = u.data_ptr<double>();
    const std::int64_t *a = anchors.data_ptr<std::int64_t>();
    std::int64_t *o = out.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
        const auto anchor = a[i];
        if (anchor < 0 || anchor >= m_nData)
            throw Error("CRD: anchor index " + std::to_string(anchor) + " lies outside the training set of "
                        + std::to_string(m_nData) + " images");
        // The pool to shuffle and how much of it may be drawn: labelled, the other classes'
        // images; unlabelled, every image with the anchor moved to the end (never drawn).
        std::vector<std::int32_t> *pool;
        std::int64_t size;
        if (!m_labels.empty()) {
            pool = &classPool(m_labels[std::size_t(anchor)]);
            size = std::int64_t(pool->size());
        } else {
            pool = &m_all;
            size = m_nData - 1;
            const auto from = m_position[std::size_t(anchor)];
            std::swap(m_all[std::size_t(from)], m_all[std::size_t(size)]);
            m_position[std::size_t(m_all[std::size_t(from)])] = from;
            m_position[std::size_t(anchor)] = std::int32_t(size);
        }
        if (k > size)
            throw Error("CRD: " + std::to_string(k) + " negatives without replacement, but anchor "
                        + std::to_string(anchor) + " has only " + std::to_string(size)
                        + " images to draw from; lower nce_k");
        auto &p = *pool;
        for (std::int64_t j = 0; j < k; ++j) {
            auto r = j + std::int64_t(ur[i * k + j] * double(size - j));
            r = std::min(r, size - 1);
            std::swap(p[std::size_t(j)], p[std::size_t(r)]);
            if (m_labels.empty()) {
                m_position[std::size_t(p[std::size_t(j)])] = std::int32_t(j);
                m_position[std::size_t(p[std::size_t(r)])] = std::int32_t(r);
            }
            o[i * k + j] = p[std::size_t(j)];
        }
    }
    return out;
}

namespace {

torch::Tensor toTensor(const std::vector<std::int32_t> &v)
{
    return torch::tensor(at::ArrayRef<std::int32_t>(v), torch::kInt32);
}

std::vector<std::int32_t> fromTensor(const torch::Tensor &t)
{
    const auto c = t.to(torch::kInt32).contiguous();
    return std::vector<std::int32_t>(c.data_ptr<std::int32_t>(), c.data_ptr<std::int32_t>() + c.numel());
}

} // namespace

std::vector<torch::Tensor> CrdNegativeSampler::state() const
{
    std::vector<torch::Tensor> out;
    for (const auto &pool : m_pools)
        out.push_back(toTensor(pool));
    out.push_back(toTensor(m_all));
    out.push_back(toTensor(m_position));
    return out;
}

void CrdNegativeSampler::setState(const std::vector<torch::Tensor> &state)
{
    if (state.size() != m_pools.size() + 2)
        throw Error("CRD's negative sampler state has " + std::to_string(state.size()) + " parts, not "
                    + std::to_string(m_pools.size() + 2) + "; it belongs to another training set");
    std::vector<std::vector<std::int32_t>> pools;
    for (std::size_t c = 0; c < m_pools.size(); ++c) {
        pools.push_back(fromTensor(state[c]));
        if (!pools.back().empty() && std::int64_t(pools.back().size()) != m_nData - m_classCount[c])
            throw Error("CRD's negative sampler state does not fit this training set's classes");
    }
    auto all = fromTensor(state[m_pools.size()]), position = fromTensor(state[m_pools.size() + 1]);
    if (all.size() != m_all.size() || position.size() != m_position.size())
        throw Error("CRD's negative sampler state does not fit this training set");
    m_pools = std::move(pools);
    m_all = std::move(all);
    m_position = std::move(position);
}

namespace {

CrdNegativeSampler samplerFor(const std::string &method, const torch::Tensor &labels, std::int64_t nData)
{
    if (nData < 2)
        throw Error("method \"" + method + "\" needs at least 2 training images for its negatives");
    const bool labelled = labels.defined() && labels.numel() == nData;
    return CrdNegativeSampler(labelled ? labels : torch::Tensor(), nData);
}

} // namespace

BankNegatives::BankNegatives(std::string method, const torch::Tensor &labels, std::int64_t nData, std::int64_t wanted)
    : m_method(std::move(method))
    , m_nData(nData)
    , m_sampler(samplerFor(m_method, labels, nData))
{
    if (m_sampler.maxNegatives() < 1)
        throw Error("method \"" + m_method + "\" draws its negatives from other classes, but the training set has "
                    "images of a single class; use a dataset with at least two classes");
    const bool labelled = labels.defined() && labels.numel() == nData;
    m_k = std::min<std::int64_t>(wanted, m_sampler.maxNegatives());
    if (m_k < wanted)
        m_note = m_method + ": nce_k = " + std::to_string(wanted) + " negatives per anchor, but "
                 + (labelled ? "the largest class leaves only " : "the training set leaves only ") + std::to_string(m_k)
                 + (labelled ? " images of other classes" : " other images") + " to draw without replacement; using "
                 + std::to_string(m_k);
}

std::pair<torch::Tensor, torch::Tensor> BankNegatives::rows(const torch::Tensor &indices, std::int64_t batch,
                                                            const torch::Device &device)
{
    if (!indices.defined() || indices.numel() != batch)
        throw Error("method \"" + m_method
                    + "\" needs the training-set indices of the batch's images (StepContext::indices)");
    const auto anchors = indices.to(torch::kInt64).to(device);
    if (anchors.max().item<std::int64_t>() >= m_nData || anchors.min().item<std::int64_t>() < 0)
        throw Error("method \"" + m_method + "\": a batch index lies outside the training set of "
                    + std::to_string(m_nData) + " images set up for its memory banks");
    // Column 0: the anchor's own row; then k distinct rows of images of other classes (or,
    // without labels, of other images).
    auto idx = torch::cat({anchors.unsqueeze(1), m_sampler.draw(indices, m_k).to(device)}, 1);
    return {anchors, idx};
}

void BankNegatives::save(torch::serialize::OutputArchive &archive) const
{
    const auto parts = m_sampler.state();
    archive.write("sampler_parts", torch::tensor({std::int64_t(parts.size())}, torch::kInt64));
    for (std::size_t i = 0; i < parts.size(); ++i)
        archive.write("sampler_" + std::to_string(i), parts[i]);
}

void BankNegatives::load(torch::serialize::InputArchive &archive)
{
    torch::Tensor count;
    archive.read("sampler_parts", count);
    std::vector<torch::Tensor> parts(std::size_t(count[0].item<std::int64_t>()));
    for (std::size_t i = 0; i < parts.size(); ++i)
        archive.read("sampler_" + std::to_string(i), parts[i]);
    m_sampler.setState(parts);
}

} // namespace kd
