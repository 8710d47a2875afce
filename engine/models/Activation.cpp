#include "Activation.h"

#include "core/Error.h"

namespace kd {

namespace {
constexpr int kMinSegments = 2;
constexpr int kMaxSegments = 16;
} // namespace

void ActivationOptions::validate() const
{
    if (kind == Kind::Lma && (segments < kMinSegments || segments > kMaxSegments))
        throw Error("lma_segments = " + std::to_string(segments) + " is invalid: LMA needs between "
                    + std::to_string(kMinSegments) + " and " + std::to_string(kMaxSegments) + " segments");
}

ActivationOptions ActivationOptions::fromParams(const nlohmann::json &options)
{
    ActivationOptions out;
    if (options.is_object() && options.contains("activation")) {
        const auto &v = options.at("activation");
        const std::string name = v.is_string() ? v.get<std::string>() : v.dump();
        if (name == "lma")
            out.kind = Kind::Lma;
        else if (name != "relu")
            throw Error("activation = \"" + name + "\" is unknown; choose \"relu\" or \"lma\"");
    }
    if (options.is_object() && options.contains("lma_segments")) {
        const auto &v = options.at("lma_segments");
        if (!v.is_number_integer())
            throw Error("lma_segments = " + v.dump() + " is invalid: expected an integer number of segments");
        out.segments = v.get<int>();
    }
    out.validate();
    return out;
}

std::vector<ParamSpec> activationParams()
{
    return {ParamSpec::choice("activation", "relu", {"relu", "lma"},
                              "every non-linearity: relu, or lma (light multi-segment activation, Xu et al. AAAI 2020: "
                              "learned piecewise-linear slopes)"),
            ParamSpec::integer("lma_segments", 6, kMinSegments, kMaxSegments,
                               "segments of each LMA (its learned slopes per activation); ignored with relu")};
}

Activation::Activation(const ActivationOptions &options)
{
    options.validate();
    if (options.isLma())
        m_lma = Lma(options.segments);
}

Activation::Activation(const ActivationOptions &options, torch::nn::Module &owner, const std::string &name)
    : Activation(options)
{
    if (m_lma)
        owner.register_module(name, m_lma);
}

torch::Tensor Activation::operator()(const torch::Tensor &x) const
{
    return m_lma ? m_lma.ptr()->forward(x) : torch::relu(x);
}

void Activation::apply_(torch::Tensor &x) const
{
    if (m_lma)
        x = m_lma.ptr()->forward(x);
    else
        x.relu_();
}

torch::nn::AnyModule Activation::anyModule() const
{
    return m_lma ? torch::nn::AnyModule(m_lma) : torch::nn::AnyModule(torch::nn::ReLU());
}

std::shared_ptr<torch::nn::Module> Activation::module() const
{
    return m_lma ? std::static_pointer_cast<torch::nn::Module>(m_lma.ptr())
                 : std::static_pointer_cast<torch::nn::Module>(torch::nn::ReLU().ptr());
}

} // namespace kd
