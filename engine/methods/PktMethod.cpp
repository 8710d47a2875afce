#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

namespace {

/// PKT's loss with the authors' eps.
torch::Tensor pktPairLoss(const torch::Tensor &student, const torch::Tensor &teacher)
{
    return pktLoss(student, teacher);
}

} // namespace

/// Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018): β·KL between the
/// conditional probability distributions given by the cosine-similarity kernels of teacher
/// and student embeddings in the batch.
void registerPktMethod(MethodRegistry &registry)
{
    registry.add("pkt",
                 {"Probabilistic knowledge transfer (Passalis & Tefas ECCV 2018): CE + beta * KL between the "
                  "cosine-similarity distributions of teacher and student embeddings",
                  true,
                  featureMethodParams("pre_logits", "pre_logits", "whose cosine-similarity distributions are matched",
                                      {ParamSpec::number("beta", 30000.0, 0.0, 1e7,
                                                         "weight of the PKT loss (RepDistiller: 30000)")}),
                  [](const nlohmann::json &p) { return std::make_unique<PairLossMethod>("pkt", p, &pktPairLoss); }});
}

} // namespace kd
