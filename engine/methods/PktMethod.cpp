#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018): β·KL between the
/// conditional probability distributions given by the cosine-similarity kernels of teacher
/// and student embeddings in the batch.
class PktMethod : public FeatureKdMethod {
public:
    explicit PktMethod(const nlohmann::json &p)
        : FeatureKdMethod("pkt", p)
    {
        m_terms = {{"pkt", p.at("beta").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override {}
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        torch::Tensor sum;
        for (const auto &pair : m_pairs) {
            const auto l = pktLoss(s.get(pair.student), t.get(pair.teacher));
            sum = sum.defined() ? sum + l : l;
        }
        return {sum};
    }
};

} // namespace

void registerPktMethod(MethodRegistry &registry)
{
    registry.add("pkt",
                 {"Probabilistic knowledge transfer (Passalis & Tefas ECCV 2018): CE + beta * KL between the "
                  "cosine-similarity distributions of teacher and student embeddings",
                  true,
                  featureMethodParams("pre_logits", "pre_logits", "whose cosine-similarity distributions are matched",
                                      {ParamSpec::number("beta", 30000.0, 0.0, 1e7,
                                                         "weight of the PKT loss (RepDistiller: 30000)")}),
                  [](const nlohmann::json &p) { return std::make_unique<PktMethod>(p); }});
}

} // namespace kd
