#pragma once

#include "models/FeatureNet.h"

#include <memory>
#include <string>
#include <vector>

namespace kd {

/// Several frozen teachers seen by the trainer as one: the stage's TeacherSource (live
/// forwards or the cache) works on it unchanged.
/// - Average (method "ensemble"): one feature, "logits" = ensembleLogits(z_1..z_N, T), so that
///   softmax(logits/T) is the mean of the teachers' softened probabilities.
/// - Group (methods "rc", "dmc"): every member's features, named "<role>.<feature>".
class TeacherGroup : public FeatureNet {
public:
    enum class Mode { Average, Group };
    struct Member {
        std::string role;
        std::shared_ptr<FeatureNet> model;
    };
    TeacherGroup(Mode mode, std::vector<Member> members, double temperature = 1.0);

    Features forwardFeatures(const torch::Tensor &x) override;
    const std::vector<Member> &members() const { return m_members; }

private:
    Mode m_mode;
    std::vector<Member> m_members;
    double m_temperature;
};

/// T · log( (1/N) Σ_i softmax(z_i / T) ), computed as a log-sum-exp of log-softmaxes (finite
/// even where a probability underflows). softmax(result / T) is the averaged distribution, so
/// Hinton KD at the same T against it is KD against the averaged soft targets.
torch::Tensor ensembleLogits(const std::vector<torch::Tensor> &logits, double temperature);

} // namespace kd
