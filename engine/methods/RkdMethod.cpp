#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// Relational KD (Park et al., CVPR 2019): w_d·distance + w_a·angle losses between the
/// structures of the batch embeddings. No adapter: relations are dimension-free.
class RkdMethod : public FeatureKdMethod {
public:
    explicit RkdMethod(const nlohmann::json &p)
        : FeatureKdMethod("rkd", p)
    {
        m_terms = {{"rkd_distance", p.at("distance_weight").get<double>()},
                   {"rkd_angle", p.at("angle_weight").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override {}
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor dist, angle;
        for (const auto &pair : m_pairs) {
            const auto &fs = s.get(pair.student);
            const auto &ft = t.get(pair.teacher);
            const auto d = rkdDistanceLoss(fs, ft);
            const auto a = rkdAngleLoss(fs, ft);
            dist = dist.defined() ? dist + d : d;
            angle = angle.defined() ? angle + a : a;
        }
        return {dist, angle};
    }
};

} // namespace

void registerRkdMethod(MethodRegistry &registry)
{
    registry.add("rkd",
                 {"Relational KD (Park et al. CVPR 2019): CE + w_d * distance-wise + w_a * angle-wise relation losses "
                  "on the embeddings",
                  true,
                  featureMethodParams("pre_logits", "pre_logits", "whose pairwise distances and angles are matched",
                                      {ParamSpec::number("distance_weight", 25.0, 0.0, 1e6,
                                                         "weight w_d of the distance loss (paper/RepDistiller: 25)"),
                                       ParamSpec::number("angle_weight", 50.0, 0.0, 1e6,
                                                         "weight w_a of the angle loss (paper/RepDistiller: 50)")}),
                  [](const nlohmann::json &p) { return std::make_unique<RkdMethod>(p); }});
}

} // namespace kd
