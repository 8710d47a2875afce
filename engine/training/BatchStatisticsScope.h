#pragma once

#include "core/TorchCompat.h"

#include <memory>
#include <vector>

namespace kd {

/// While it lives, every BatchNorm layer of a (frozen) model normalises with the statistics of
/// the batch it sees, as in training mode, but leaves its running statistics untouched: the
/// layers run in training mode with momentum 0 (running = 1·running + 0·batch). This is a
/// teacher left in train mode, as OFD's and LONDON's reference code run it, without drifting
/// the teacher that later stages and evaluations read. Other layers (dropout) keep their mode.
/// The destructor restores each layer's mode, momentum and batch counter.
class BatchStatisticsScope {
public:
    explicit BatchStatisticsScope(torch::nn::Module &model);
    ~BatchStatisticsScope();
    BatchStatisticsScope(const BatchStatisticsScope &) = delete;
    BatchStatisticsScope &operator=(const BatchStatisticsScope &) = delete;

    /// The BatchNorm layers switched (0: the model has none, and nothing changes).
    int layers() const { return int(m_saved.size()); }

private:
    struct Saved {
        std::shared_ptr<torch::nn::Module> layer;
        bool training;
        BatchNormMomentum momentum;
        torch::Tensor batchesTracked;
    };
    std::vector<Saved> m_saved;
};

} // namespace kd
