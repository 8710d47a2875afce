#pragma once

#include "core/TorchFwd.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kd {

/// CRD's negatives drawn *without replacement*, as RepDistiller's instance-sampling datasets do
/// (dataset/cifar100.py, `CIFAR100InstanceSample.__getitem__`, "exact" mode:
/// `np.random.choice(cls_negative[target], k, replace=False)`): each anchor of class c gets k
/// distinct images of the other classes. Without labels (proxy or auxiliary images) it gets k
/// distinct images other than itself.
///
/// Each row is a partial Fisher–Yates shuffle of a pool (per class: the other classes'
/// indices), O(k) per anchor; the pool keeps the order the last draw left, which does not bias
/// the next (a partial shuffle draws a uniform k-subset from any order). The uniforms come
/// from one torch::rand call, so a run's seed fixes its negatives.
class CrdNegativeSampler {
public:
    /// `labels` int64, one per training image, or undefined for unlabelled images; `nData`
    /// training images (their indices are 0..nData−1).
    CrdNegativeSampler(const torch::Tensor &labels, std::int64_t nData);

    /// The most negatives every anchor can draw without replacement: the images outside the
    /// largest class (labelled) or nData − 1 (unlabelled).
    std::int64_t maxNegatives() const { return m_maxNegatives; }

    /// [N, k] int64 on the CPU: row i holds k distinct training indices, none of anchor i's
    /// class (none equal to anchor i without labels). Throws kd::Error when k exceeds what
    /// an anchor's pool holds or an anchor lies outside 0..nData−1.
    torch::Tensor draw(const torch::Tensor &anchors, std::int64_t k);

    /// The pools' current order (what the next draws depend on), for checkpoints: int32
    /// tensors, one per class pool (empty: not built yet), then every index and position.
    std::vector<torch::Tensor> state() const;
    /// Restores state() of a sampler built on the same labels; throws kd::Error otherwise.
    void setState(const std::vector<torch::Tensor> &state);

private:
    std::vector<std::int32_t> &classPool(std::int64_t c);

    std::int64_t m_nData;
    std::int64_t m_maxNegatives = 0;
    std::vector<std::int64_t> m_labels;             ///< empty without labels
    std::vector<std::int64_t> m_classCount;
    std::vector<std::vector<std::int32_t>> m_pools; ///< per class, built on first use
    std::vector<std::int32_t> m_all, m_position;    ///< unlabelled: every index and where it sits
};

/// The negatives of a method with a memory bank of the whole training set (crd, mcl): the
/// sampler, how many negatives each anchor draws, and each batch's bank rows.
class BankNegatives {
public:
    /// Over `nData` training images with `labels` (one per image; otherwise, or undefined, the
    /// images count as unlabelled); `wanted` negatives per anchor, capped to what the sampler
    /// can draw without replacement (note() says so). Throws kd::Error naming `method` for
    /// fewer than 2 images or a single class.
    BankNegatives(std::string method, const torch::Tensor &labels, std::int64_t nData, std::int64_t wanted);

    std::int64_t nData() const { return m_nData; }
    std::int64_t k() const { return m_k; }
    /// For the log: the cap on `wanted`, or empty.
    const std::string &note() const { return m_note; }

    /// The batch's rows on `device` from `indices` (its images' training-set indices, CPU):
    /// {anchors [B], idx [B, 1 + k]}, idx's column 0 the anchor's own row, then k distinct
    /// rows of images of other classes. Throws kd::Error when the indices are missing, not
    /// `batch` of them, or outside the training set.
    std::pair<torch::Tensor, torch::Tensor> rows(const torch::Tensor &indices, std::int64_t batch,
                                                 const torch::Device &device);

    /// The sampler's state in a checkpoint archive ("sampler_parts", "sampler_0", ...), and back.
    void save(torch::serialize::OutputArchive &archive) const;
    void load(torch::serialize::InputArchive &archive);

private:
    std::string m_method;
    std::int64_t m_nData = 0, m_k = 0;
    std::string m_note;
    CrdNegativeSampler m_sampler;
};

} // namespace kd
