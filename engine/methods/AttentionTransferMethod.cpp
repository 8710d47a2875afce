#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// Attention transfer (Zagoruyko & Komodakis, ICLR 2017): β·Σ_pairs mean (Q_s − Q_t)² of the
/// L2-normalised attention maps Q = mean_c |f|^p, after pooling the larger map (RepDistiller).
class AttentionTransferMethod : public FeatureKdMethod {
public:
    explicit AttentionTransferMethod(const nlohmann::json &p)
        : FeatureKdMethod("at", p)
        , m_p(p.at("p").get<double>())
    {
        m_terms = {{"at", p.at("beta").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override
    {
        for (const auto &pair : m_pairs)
            requireSpatial(pair, m_name);
    }
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor sum;
        for (const auto &pair : m_pairs) {
            const auto l = attentionLoss(s.get(pair.student), t.get(pair.teacher), m_p);
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }

private:
    double m_p;
};

} // namespace

void registerAttentionTransferMethod(MethodRegistry &registry)
{
    registry.add("at",
                 {"Attention transfer (Zagoruyko & Komodakis ICLR 2017): CE + beta * sum over stage pairs of the "
                  "squared distance between normalised spatial attention maps",
                  true,
                  featureMethodParams("all", "all", "whose spatial attention maps are matched (maps; channels may differ)",
                                      {ParamSpec::number("p", 2.0, 1.0, 8.0,
                                                         "exponent of the attention map mean_c |f|^p (paper: 2)"),
                                       ParamSpec::number("beta", 1000.0, 0.0, 1e6,
                                                         "weight of the attention loss (RepDistiller: 1000)")}),
                  [](const nlohmann::json &p) { return std::make_unique<AttentionTransferMethod>(p); }});
}

} // namespace kd
