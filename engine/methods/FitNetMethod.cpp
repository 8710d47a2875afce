#include "methods/BuiltinMethods.h"

#include "methods/ConvRegressor.h"
#include "methods/FeatureSelection.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// FitNets (Romero et al., ICLR 2015), stage-wise "hint" training folded into one loss as
/// RepDistiller does: β·MSE(regressor(student feature), teacher feature), with RepDistiller's
/// ConvReg regressor (ConvRegressor: a strided conv, a transposed conv or a valid conv chosen
/// by the two maps' sizes, + BN + ReLU; Linear (+ ReLU) for vectors).
class FitNetMethod : public FeatureKdMethod {
public:
    explicit FitNetMethod(const nlohmann::json &p)
        : FeatureKdMethod("fitnet", p)
        , m_relu(p.at("regressor_relu").get<bool>())
    {
        m_terms = {{"hint", p.at("beta").get<double>()}};
    }

    std::vector<std::string> setupNotes() const override { return m_notes; }

protected:
    void setupPairs(const MethodSetup &) override
    {
        m_notes.clear();
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            m_regressors.push_back(module().register_module(
                "regressor" + std::to_string(i), ConvRegressor(pair.studentShape, pair.teacherShape, m_relu)));
            if (m_regressors.back()->poolsTeacher())
                m_notes.push_back("fitnet: the student's " + pair.student + " " + shapeText(pair.studentShape)
                                  + " is smaller than the teacher's " + pair.teacher + " "
                                  + shapeText(pair.teacherShape) + " by other than 2x, which RepDistiller's ConvReg "
                                  "cannot map; the teacher map is average-pooled to the student's size and a 1x1 "
                                  "conv regresses onto it");
        }
    }
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor sum;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &fs = s.get(m_pairs[i].student);
            auto ft = t.get(m_pairs[i].teacher);
            if (m_regressors[i]->poolsTeacher())
                ft = torch::adaptive_avg_pool2d(ft, {fs.size(2), fs.size(3)});
            const auto l = hintLoss(m_regressors[i]->forward(fs), ft);
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }

private:
    bool m_relu;
    std::vector<ConvRegressor> m_regressors;
    std::vector<std::string> m_notes;
};

} // namespace

void registerFitNetMethod(MethodRegistry &registry)
{
    registry.add("fitnet",
                 {"FitNets (Romero et al. ICLR 2015): CE + beta * MSE(regressor(student hint layer), teacher guided "
                  "layer); RepDistiller's ConvReg regressor (conv / transposed conv by the sizes + BN + ReLU)",
                  true,
                  featureMethodParams("stage2", "stage2", "whose regressed values must match the teacher's (the hint layers)",
                                      {ParamSpec::number("beta", 100.0, 0.0, 1e6,
                                                         "weight of the hint loss (RepDistiller: 100)"),
                                       ParamSpec::boolean("regressor_relu", true,
                                                          "end the regressor in a ReLU, as RepDistiller's ConvReg "
                                                          "(use_relu = True); off to hint pre-ReLU features")}),
                  [](const nlohmann::json &p) { return std::make_unique<FitNetMethod>(p); }});
}

} // namespace kd
