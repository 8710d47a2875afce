#include "methods/BuiltinMethods.h"

#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

namespace kd {

/// Similarity-preserving KD (Tung & Mori, ICCV 2019): β·‖Ĝ_t − Ĝ_s‖²_F / N² between the
/// row-normalised batch Gram matrices of the flattened features. Needs no adapter: the Gram
/// matrices are N×N whatever the feature sizes.
void registerSimilarityPreservingMethod(MethodRegistry &registry)
{
    registry.add("sp",
                 {"Similarity-preserving KD (Tung & Mori ICCV 2019): CE + gamma * distance between the batch "
                  "similarity (Gram) matrices of student and teacher",
                  true,
                  featureMethodParams("last", "last", "whose batch similarity matrices are matched (any shape)",
                                      {ParamSpec::number("beta", 3000.0, 0.0, 1e7,
                                                         "weight gamma of the similarity loss (paper/RepDistiller: 3000)")}),
                  [](const nlohmann::json &p) { return std::make_unique<PairLossMethod>("sp", p, &similarityLoss); }});
}

} // namespace kd
