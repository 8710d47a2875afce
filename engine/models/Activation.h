#pragma once

// The activation every architecture builds its non-linearities from: ReLU (the default,
// which keeps every model exactly as it was — no extra modules, parameters or buffers) or
// LMA (models/Lma.h), chosen by the architecture options `activation` and `lma_segments`.

#include "project/ParamSpec.h"
#include "core/TorchFwd.h"
#include "models/Lma.h"

#include <memory>
#include <string>
#include <vector>

namespace kd {

/// Which activation a model uses. Plain value type; read from resolved architecture options.
struct ActivationOptions {
    enum class Kind { Relu, Lma };
    Kind kind = Kind::Relu;
    int segments = 6; ///< LMA segments K (ignored for ReLU)

    bool isLma() const { return kind == Kind::Lma; }
    /// Throws kd::Error saying what is allowed when the values are invalid.
    void validate() const;
    /// From options resolved against activationParams(): "activation" ("relu" | "lma") and
    /// "lma_segments". Missing keys keep the defaults (ReLU).
    static ActivationOptions fromParams(const nlohmann::json &options);
};

/// The ParamSpecs every registered architecture has: `activation` and `lma_segments`.
std::vector<ParamSpec> activationParams();

/// One activation site of a model: torch::relu, or an Lma module with its own slopes and
/// statistics. Copies share the same Lma.
class Activation {
public:
    /// ReLU.
    Activation() = default;
    /// ReLU, or a new Lma when `options` ask for it (not registered anywhere yet).
    explicit Activation(const ActivationOptions &options);
    /// As above, and registers the Lma on `owner` as `name` (nothing is registered for ReLU,
    /// so ReLU models keep their module tree and checkpoints).
    Activation(const ActivationOptions &options, torch::nn::Module &owner, const std::string &name);

    bool isRelu() const { return !m_lma; }
    /// f(x) as a new tensor.
    torch::Tensor operator()(const torch::Tensor &x) const;
    /// x = f(x): in place for ReLU (for a tensor autograd does not need, e.g. a fresh
    /// BatchNorm output), a new tensor for LMA.
    void apply_(torch::Tensor &x) const;
    /// The module to put in a Sequential / ModuleList kept for PyTorch's parameter names:
    /// a parameter-free nn::ReLU, or the Lma.
    torch::nn::AnyModule anyModule() const;
    std::shared_ptr<torch::nn::Module> module() const;

private:
    Lma m_lma{nullptr};
};

/// act(bn(conv(x))), the activation in place on the fresh BatchNorm output: the
/// convolution–BatchNorm–activation unit of the CIFAR zoo's stems and heads.
template<class Conv, class Norm>
torch::Tensor convBnAct(Conv &conv, Norm &bn, const Activation &act, const torch::Tensor &x)
{
    auto h = bn(conv(x));
    act.apply_(h);
    return h;
}

} // namespace kd
