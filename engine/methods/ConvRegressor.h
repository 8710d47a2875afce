#pragma once

#include "core/TorchFwd.h"

#include <cstdint>
#include <vector>

namespace kd {

/// FitNet's regressor as RepDistiller builds it (models/util.py, `ConvReg`): a student map
/// [N, Cs, Hs, Ws] is mapped onto the teacher map's shape [N, Ct, Ht, Wt] by
///   Hs = 2·Ht, Ws = 2·Wt   3×3 conv, stride 2, padding 1
///   2·Hs = Ht, 2·Ws = Wt   4×4 transposed conv, stride 2, padding 1
///   Hs ≥ Ht, Ws ≥ Wt       (1+Hs−Ht)×(1+Ws−Wt) conv without padding (1×1 for equal sizes)
/// with PyTorch's default initialisation, then BatchNorm and, when `relu`, a ReLU (ConvReg's
/// use_relu, default on). ConvReg's convolutions also have a bias; here they do not: a
/// per-channel constant before BatchNorm in training mode cancels exactly (its gradient is
/// zero), so outputs and all other gradients are the same. RepDistiller refuses any other pair of sizes (a
/// student map smaller than the teacher's by other than 2×); the engine then pools the
/// teacher map to the student's size (poolsTeacher()) and uses the 1×1 case. Vectors
/// [N, D] get a Linear layer (+ ReLU when `relu`), as RepDistiller's `Regress`.
class ConvRegressorImpl : public torch::nn::Module {
public:
    enum class Kind { StridedConv, TransposedConv, ValidConv, PooledTeacher, Linear };

    /// `student`, `teacher`: feature shapes without the batch dimension ([C, H, W] or [D]).
    ConvRegressorImpl(const std::vector<std::int64_t> &student, const std::vector<std::int64_t> &teacher,
                      bool relu = true);
    torch::Tensor forward(const torch::Tensor &x);

    Kind kind() const { return m_kind; }
    /// True when the teacher map must be average-pooled to the student's spatial size first.
    bool poolsTeacher() const { return m_kind == Kind::PooledTeacher; }

private:
    Kind m_kind;
    bool m_relu;
    torch::nn::Conv2d m_conv{nullptr};
    torch::nn::ConvTranspose2d m_deconv{nullptr};
    torch::nn::BatchNorm2d m_bn{nullptr};
    torch::nn::Linear m_linear{nullptr};
};
TORCH_MODULE(ConvRegressor);

} // namespace kd
