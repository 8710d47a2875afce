#pragma once

#include "core/TorchFwd.h"

#include <string>

namespace kd {

/// The arithmetic a training stage runs its forwards in (project key "precision", per stage
/// "<role>.train.precision"; docs/PERFORMANCE.md, "Mixed precision"). Weights, optimiser state,
/// BN statistics and every distillation loss stay in fp32: only the models' forwards (and so
/// their backwards) run under autocast in bf16 or fp16.
struct Precision {
    enum class Kind { Fp32, Bf16, Fp16 };
    Kind kind = Kind::Fp32;
    std::string requested = "fp32"; ///< what the project asked for: fp32, bf16, fp16 or auto
    std::string reason;             ///< why this kind was chosen (for the log and the GUI)

    bool mixed() const { return kind != Kind::Fp32; }
    /// fp16 needs loss scaling (its range is too narrow for small gradients); bf16 does not.
    bool lossScaling() const { return kind == Kind::Fp16; }
    torch::ScalarType dtype() const;
    std::string name() const; ///< "fp32", "bf16" or "fp16"
    /// e.g. "bf16 (auto: this CPU computes bf16 in hardware: AMX)".
    std::string describe() const;
};

/// What this CPU offers for bf16: "AMX", "AVX-512 BF16" or "" (none: bf16 is emulated, slower
/// than fp32). Read from the kernel's CPU flags.
std::string cpuBf16Support();
/// True when CUDA device `device` computes bf16 in hardware (compute capability 8.0 or newer).
bool cudaBf16Support(const torch::Device &device);

/// Resolves a requested precision ("fp32", "bf16", "fp16" or "auto") for `device`. "auto" picks
/// bf16 where the device computes it in hardware, else fp32. Throws kd::Error naming the fix for
/// a combination that cannot run: fp16 on a CPU, bf16 on a GPU without bf16.
Precision choosePrecision(const std::string &requested, const torch::Device &device);

/// While it lives, the calling thread's forwards on `device` run under autocast in
/// `precision`'s dtype (nothing changes for fp32). Restores the previous autocast state.
class AutocastScope {
public:
    AutocastScope(const Precision &precision, const torch::Device &device);
    ~AutocastScope();
    AutocastScope(const AutocastScope &) = delete;
    AutocastScope &operator=(const AutocastScope &) = delete;

private:
    bool m_active = false;
    bool m_cuda = false;
    bool m_wasEnabled = false;
    torch::ScalarType m_wasDtype = torch::kFloat32;
};

/// Dynamic loss scaling for fp16 (the scheme of torch.cuda.amp.GradScaler): the loss is
/// multiplied by `scale()` before backward; a step whose gradients overflowed is skipped and
/// halves the scale, and `growthInterval` good steps in a row double it. A resumed run starts
/// again from the initial scale (its first steps may overflow and be skipped).
class LossScaler {
public:
    explicit LossScaler(bool enabled, double initialScale = 65536.0, int growthInterval = 2000);
    bool enabled() const { return m_enabled; }
    double scale() const { return m_enabled ? m_scale : 1.0; }
    /// Divides every defined gradient of `params` by the scale (before the optimiser step).
    void unscale(const std::vector<torch::Tensor> &params) const;
    /// After a step: `overflow` true halves the scale (the step was skipped), else counts a
    /// good step. Returns true when the scale changed.
    bool update(bool overflow);
    int growthInterval() const { return m_growthInterval; }
    int goodSteps() const { return m_good; }

private:
    bool m_enabled;
    double m_scale;
    int m_growthInterval;
    int m_good = 0;
};

} // namespace kd
