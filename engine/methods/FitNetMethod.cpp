#include "methods/BuiltinMethods.h"

#include "methods/Connector.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// FitNets (Romero et al., ICLR 2015), stage-wise "hint" training folded into one loss as
/// RepDistiller does: β·MSE(regressor(student feature), teacher feature). The regressor is a
/// 1×1 conv + BN for maps (Linear for vectors); the larger map is average-pooled to the
/// smaller's size first.
class FitNetMethod : public FeatureKdMethod {
public:
    explicit FitNetMethod(const nlohmann::json &p)
        : FeatureKdMethod("fitnet", p)
    {
        m_terms = {{"hint", p.at("beta").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override
    {
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            const bool spatial = pair.studentShape.size() == 3;
            m_regressors.push_back(module().register_module(
                "regressor" + std::to_string(i),
                Connector(pair.studentShape[0], pair.teacherShape[0], spatial, /*batchNorm=*/spatial)));
        }
    }
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor sum;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto [fs, ft] = poolToCommonSize(s.get(m_pairs[i].student), t.get(m_pairs[i].teacher));
            const auto l = hintLoss(m_regressors[i]->forward(fs), ft);
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }

private:
    std::vector<Connector> m_regressors;
};

} // namespace

void registerFitNetMethod(MethodRegistry &registry)
{
    registry.add("fitnet",
                 {"FitNets (Romero et al. ICLR 2015): CE + beta * MSE(regressor(student hint layer), teacher guided "
                  "layer); 1x1 conv + BN regressor, pooling where sizes differ",
                  true,
                  featureMethodParams("stage2", "stage2", "whose regressed values must match the teacher's (the hint layers)",
                                      {ParamSpec::number("beta", 100.0, 0.0, 1e6,
                                                         "weight of the hint loss (RepDistiller: 100)")}),
                  [](const nlohmann::json &p) { return std::make_unique<FitNetMethod>(p); }});
}

} // namespace kd
