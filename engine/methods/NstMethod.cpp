#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// Neuron selectivity transfer (Huang & Wang, 2017): β·MMD² with the polynomial kernel
/// (xᵀy)² between the distributions of the channels' normalised spatial activation
/// patterns, summed over the selected pairs (by default every stage, as RepDistiller's
/// feat_s[1:-1]). Channels may differ; the larger map is pooled to the smaller's size.
class NstMethod : public FeatureKdMethod {
public:
    explicit NstMethod(const nlohmann::json &p)
        : FeatureKdMethod("nst", p)
    {
        m_terms = {{"nst", p.at("beta").get<double>()}};
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
            const auto l = nstLoss(s.get(pair.student), t.get(pair.teacher));
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }
};

} // namespace

void registerNstMethod(MethodRegistry &registry)
{
    registry.add("nst",
                 {"Neuron selectivity transfer (Huang & Wang 2017): CE + beta * MMD with a polynomial kernel between "
                  "the spatial activation patterns of student and teacher channels",
                  true,
                  featureMethodParams("all", "all",
                                      "whose neuron selectivity patterns are matched (maps; RepDistiller sums the "
                                      "term over feat[1:-1], every stage)",
                                      {ParamSpec::number("beta", 50.0, 0.0, 1e6,
                                                         "weight of the NST loss (RepDistiller: 50)")}),
                  [](const nlohmann::json &p) { return std::make_unique<NstMethod>(p); }});
}

} // namespace kd
