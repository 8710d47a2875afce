#pragma once

#include "data/Dataset.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace kd {

/// Training-time augmentation, applied to normalised images (padding uses the normalised
/// value of black, so it equals padding the raw image with zeros).
struct Augmentation {
    int cropPadding = 0;
    bool horizontalFlip = false;
    std::vector<float> padValue; ///< per channel
    /// Independently augmented views of every batch (methods whose peers or branches each see
    /// their own view, DistillationMethod::inputViews); 1: the images alone.
    int views = 1;
    bool enabled() const { return cropPadding > 0 || horizontalFlip; }
};

/// One training batch: images, labels, and their row indices in the training set (used to
/// look up cached teacher outputs).
struct Batch {
    torch::Tensor images;
    torch::Tensor labels;
    torch::Tensor indices;
    /// Views 2.. of the same images, each augmented with its own parameters (Augmentation::
    /// views − 1 tensors; empty for one view). Without augmentation they equal `images`.
    std::vector<torch::Tensor> views;
};

/// Produces an epoch's batches on a background thread, a few batches ahead, so a training
/// step never waits on gathering or augmentation. The order and the augmentation are fixed
/// by (seed, epoch): a run is reproducible whatever the thread timing. `firstStep` > 0 starts
/// the epoch there (a resumed run): the batches are those an uninterrupted epoch has there.
/// `pinMemory` (CUDA runs) puts every batch in page-locked memory, so its copy to the device
/// can be asynchronous (Tensor::to(..., non_blocking = true)).
class BatchLoader {
public:
    BatchLoader(const TensorDataset &set, std::uint64_t seed, int epoch, int batchSize,
                std::int64_t steps, Augmentation augmentation, bool channelsLast = false, int prefetch = 3,
                std::int64_t firstStep = 0, bool pinMemory = false);
    ~BatchLoader();
    BatchLoader(const BatchLoader &) = delete;
    BatchLoader &operator=(const BatchLoader &) = delete;

    /// Blocks until the next batch is ready; false after the last one. Rethrows a failure
    /// of the loader thread.
    bool next(Batch &batch);

private:
    void produce();

    const TensorDataset &m_set;
    std::uint64_t m_seed;
    int m_epoch;
    int m_batchSize;
    std::int64_t m_steps;
    std::int64_t m_firstStep;
    Augmentation m_aug;
    bool m_channelsLast;
    bool m_pinMemory;
    std::size_t m_capacity;

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<Batch> m_queue;
    std::int64_t m_produced = 0;
    std::int64_t m_consumed = 0;
    bool m_cancel = false;
    bool m_done = false;
    std::exception_ptr m_error;
    std::thread m_thread;
};

/// Applies random crop/flip to a batch (N×C×H×W float) with `rng`-drawn parameters.
torch::Tensor augmentBatch(const torch::Tensor &images, const Augmentation &aug, std::uint64_t seed);

} // namespace kd
