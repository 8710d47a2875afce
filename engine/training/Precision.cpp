#include "Precision.h"

#include "core/Error.h"
#include "core/TorchCompat.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <fstream>
#include <sstream>

namespace kd {

torch::ScalarType Precision::dtype() const
{
    switch (kind) {
    case Kind::Bf16:
        return torch::kBFloat16;
    case Kind::Fp16:
        return torch::kFloat16;
    case Kind::Fp32:
        break;
    }
    return torch::kFloat32;
}

std::string Precision::name() const
{
    switch (kind) {
    case Kind::Bf16:
        return "bf16";
    case Kind::Fp16:
        return "fp16";
    case Kind::Fp32:
        break;
    }
    return "fp32";
}

std::string Precision::describe() const
{
    std::string s = name();
    if (lossScaling())
        s += " with loss scaling";
    if (!reason.empty())
        s += " (" + reason + ")";
    return s;
}

std::string cpuBf16Support()
{
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) != 0)
            continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        bool amx = false, avx = false;
        for (std::string w; words >> w;) {
            amx = amx || w == "amx_bf16";
            avx = avx || w == "avx512_bf16";
        }
        return amx ? "AMX" : avx ? "AVX-512 BF16" : "";
    }
    return "";
}

namespace {

// CUDAHooksInterface::supportsBFloat16ConvolutionWithCuDNNv8 (compute capability >= 8.0 in the
// CUDA build's hooks); looked up through a trait so a LibTorch without it still compiles.
template <typename H, typename = void>
struct HasBf16Hook : std::false_type {};
template <typename H>
struct HasBf16Hook<H, std::void_t<decltype(std::declval<const H &>().supportsBFloat16ConvolutionWithCuDNNv8())>>
    : std::true_type {};

template <typename H>
bool bf16Hook(const H &hooks)
{
    if constexpr (HasBf16Hook<H>::value)
        return hooks.supportsBFloat16ConvolutionWithCuDNNv8();
    else
        return true; // every GPU a LibTorch without the hook supports is Ampere or newer
}

} // namespace

bool cudaBf16Support(const torch::Device &device)
{
    if (!device.is_cuda())
        return false;
    return bf16Hook(at::detail::getCUDAHooks());
}

Precision choosePrecision(const std::string &requested, const torch::Device &device)
{
    Precision p;
    p.requested = requested;
    const std::string where = device.is_cuda() ? "this GPU" : "this CPU";
    if (requested == "fp32") {
        p.reason = "requested";
        return p;
    }
    if (requested == "fp16") {
        if (!device.is_cuda())
            throw Error("precision \"fp16\" needs a CUDA device (fp16 autocast with loss scaling is a GPU mode); "
                        "on a CPU use \"bf16\" or \"auto\", or set device to \"cuda\"");
        p.kind = Precision::Kind::Fp16;
        p.reason = "requested";
        return p;
    }
    if (requested == "bf16") {
        if (device.is_cuda() && !cudaBf16Support(device))
            throw Error("precision \"bf16\" was requested but this GPU has no bf16 arithmetic (compute capability "
                        "below 8.0); use \"fp16\" (with loss scaling), \"fp32\" or \"auto\"");
        p.kind = Precision::Kind::Bf16;
        if (device.is_cpu() && cpuBf16Support().empty())
            p.reason = "requested; this CPU has no AVX-512 BF16 or AMX, so bf16 is emulated and usually slower than "
                       "fp32";
        else
            p.reason = "requested";
        return p;
    }
    if (requested != "auto")
        throw Error("precision \"" + requested + "\" is not valid; use \"fp32\", \"bf16\", \"fp16\" or \"auto\"");
    if (device.is_cuda()) {
        if (cudaBf16Support(device)) {
            p.kind = Precision::Kind::Bf16;
            p.reason = "auto: this GPU has bf16 tensor cores";
        } else {
            p.reason = "auto: this GPU has no bf16 arithmetic; ask for \"fp16\" to use its fp16 tensor cores";
        }
        return p;
    }
    const auto cpu = cpuBf16Support();
    if (!cpu.empty()) {
        p.kind = Precision::Kind::Bf16;
        p.reason = "auto: this CPU computes bf16 in hardware (" + cpu + ")";
    } else {
        p.reason = "auto: this CPU has no AVX-512 BF16 or AMX, where bf16 would be slower";
    }
    return p;
}

AutocastScope::AutocastScope(const Precision &precision, const torch::Device &device)
{
    if (!precision.mixed())
        return;
    m_active = true;
    m_cuda = device.is_cuda();
    const auto type = m_cuda ? at::kCUDA : at::kCPU;
#if KD_TORCH_AT_LEAST(2, 4)
    m_wasEnabled = at::autocast::is_autocast_enabled(type);
    m_wasDtype = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_dtype(type, precision.dtype());
    at::autocast::set_autocast_enabled(type, true);
#else
    (void)type;
    if (m_cuda) {
        m_wasEnabled = at::autocast::is_enabled();
        m_wasDtype = at::autocast::get_autocast_gpu_dtype();
        at::autocast::set_autocast_gpu_dtype(precision.dtype());
        at::autocast::set_enabled(true);
    } else {
        m_wasEnabled = at::autocast::is_cpu_enabled();
        m_wasDtype = at::autocast::get_autocast_cpu_dtype();
        at::autocast::set_autocast_cpu_dtype(precision.dtype());
        at::autocast::set_cpu_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope()
{
    if (!m_active)
        return;
    // Leaving the outermost scope drops autocast's cache of casted weights, as torch.autocast
    // does on exit: the next step's weights are new.
    if (at::autocast::decrement_nesting() == 0)
        at::autocast::clear_cache();
    const auto type = m_cuda ? at::kCUDA : at::kCPU;
#if KD_TORCH_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(type, m_wasEnabled);
    at::autocast::set_autocast_dtype(type, m_wasDtype);
#else
    (void)type;
    if (m_cuda) {
        at::autocast::set_enabled(m_wasEnabled);
        at::autocast::set_autocast_gpu_dtype(m_wasDtype);
    } else {
        at::autocast::set_cpu_enabled(m_wasEnabled);
        at::autocast::set_autocast_cpu_dtype(m_wasDtype);
    }
#endif
}

LossScaler::LossScaler(bool enabled, double initialScale, int growthInterval)
    : m_enabled(enabled)
    , m_scale(initialScale)
    , m_growthInterval(std::max(1, growthInterval))
{
}

void LossScaler::unscale(const std::vector<torch::Tensor> &params) const
{
    if (!m_enabled)
        return;
    torch::NoGradGuard noGrad;
    const double inv = 1.0 / m_scale;
    for (const auto &p : params)
        if (p.grad().defined())
            p.mutable_grad().mul_(inv);
}

bool LossScaler::update(bool overflow)
{
    if (!m_enabled)
        return false;
    if (overflow) {
        m_scale = std::max(1.0, m_scale * 0.5);
        m_good = 0;
        return true;
    }
    if (++m_good >= m_growthInterval) {
        m_good = 0;
        if (m_scale < 16777216.0) {
            m_scale *= 2.0;
            return true;
        }
    }
    return false;
}

} // namespace kd
