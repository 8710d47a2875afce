#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

#include <cmath>

namespace kd {

namespace {

/// VID's regressor for one feature pair (RepDistiller `VIDLoss`): three 1×1 convolutions
/// (no bias) with ReLUs between, student channels → teacher channels → teacher channels
/// (bias-free Linear layers for vectors), and one learned log-scale per teacher channel whose
/// softplus is the predicted variance.
class VidHeadImpl : public torch::nn::Module {
public:
    VidHeadImpl(std::int64_t in, std::int64_t mid, std::int64_t out, bool spatial, double initVar, double eps)
    {
        for (int i = 0; i < 3; ++i) {
            const auto a = i == 0 ? in : mid;
            const auto b = i == 2 ? out : mid;
            if (spatial)
                m_convs.push_back(register_module("conv" + std::to_string(i),
                                                  torch::nn::Conv2d(torch::nn::Conv2dOptions(a, b, 1).bias(false))));
            else
                m_linears.push_back(register_module("linear" + std::to_string(i),
                                                    torch::nn::Linear(torch::nn::LinearOptions(a, b).bias(false))));
        }
        // softplus(logScale) + eps = initVar at the start.
        logScale = register_parameter("log_scale", torch::full({out}, std::log(std::exp(initVar - eps) - 1.0)));
    }
    torch::Tensor forward(torch::Tensor x)
    {
        if (m_linears.empty()) {
            for (std::size_t i = 0; i < m_convs.size(); ++i)
                x = i + 1 < m_convs.size() ? torch::relu(m_convs[i]->forward(x)) : m_convs[i]->forward(x);
            return x;
        }
        x = x.reshape({x.size(0), -1});
        for (std::size_t i = 0; i < m_linears.size(); ++i)
            x = i + 1 < m_linears.size() ? torch::relu(m_linears[i]->forward(x)) : m_linears[i]->forward(x);
        return x;
    }
    torch::Tensor logScale;

private:
    std::vector<torch::nn::Conv2d> m_convs;
    std::vector<torch::nn::Linear> m_linears;
};
TORCH_MODULE(VidHead);

/// Variational information distillation (Ahn et al., CVPR 2019): β·Σ_pairs the Gaussian
/// negative log-likelihood of the teacher feature under N(regressor(student), σ²_c).
class VidMethod : public FeatureKdMethod {
public:
    explicit VidMethod(const nlohmann::json &p)
        : FeatureKdMethod("vid", p)
        , m_initVar(p.at("init_variance").get<double>())
        , m_eps(p.at("eps").get<double>())
    {
        m_terms = {{"vid", p.at("beta").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override
    {
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            const auto ct = pair.teacherShape[0];
            m_heads.push_back(module().register_module(
                "head" + std::to_string(i),
                VidHead(pair.studentShape[0], ct, ct, pair.studentShape.size() == 3, m_initVar, m_eps)));
        }
    }
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor sum;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto [fs, ft] = poolToCommonSize(s.get(m_pairs[i].student), t.get(m_pairs[i].teacher));
            const auto l = vidLoss(m_heads[i]->forward(fs), ft, m_heads[i]->logScale, m_eps);
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }

private:
    double m_initVar, m_eps;
    std::vector<VidHead> m_heads;
};

} // namespace

void registerVidMethod(MethodRegistry &registry)
{
    registry.add("vid",
                 {"Variational information distillation (Ahn et al. CVPR 2019): CE + beta * Gaussian negative "
                  "log-likelihood of teacher features given regressed student features, learned per-channel variance",
                  true,
                  featureMethodParams("all", "all", "from which the teacher features are predicted",
                                      {ParamSpec::number("beta", 1.0, 0.0, 1e6, "weight of the VID loss (RepDistiller: 1)"),
                                       ParamSpec::number("init_variance", 5.0, 0.01, 1000.0,
                                                         "initial predicted variance of every channel (RepDistiller: 5)"),
                                       ParamSpec::number("eps", 1e-5, 1e-9, 1.0,
                                                         "variance floor added to softplus(log_scale) (RepDistiller: 1e-5)")}),
                  [](const nlohmann::json &p) { return std::make_unique<VidMethod>(p); }});
}

} // namespace kd
