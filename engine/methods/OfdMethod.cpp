#include "methods/BuiltinMethods.h"

#include "methods/Connector.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"

#include <cmath>

namespace kd {

namespace {

/// The state of one OFD feature pair: the connector and the teacher margin's statistics.
/// Buffers (not parameters): the margin is estimated, not learned.
class OfdPairImpl : public torch::nn::Module {
public:
    OfdPairImpl(std::int64_t studentChannels, std::int64_t teacherChannels, bool spatial)
    {
        connector = register_module("connector", Connector(studentChannels, teacherChannels, spatial));
        statSum = register_buffer("stat_sum", torch::zeros({teacherChannels}, torch::kFloat64));
        statSquares = register_buffer("stat_sum_squares", torch::zeros({teacherChannels}, torch::kFloat64));
        statCount = register_buffer("stat_count", torch::zeros({teacherChannels}, torch::kFloat64));
        margin = register_buffer("margin", torch::zeros({teacherChannels}, torch::kFloat64));
    }
    Connector connector{nullptr};
    torch::Tensor statSum, statSquares, statCount, margin;
};
TORCH_MODULE(OfdPair);

/// A comprehensive overhaul of feature distillation (Heo et al., ICCV 2019): the student's
/// pre-ReLU features, through a 1×1 conv + BN connector, are pulled towards the teacher's
/// pre-ReLU features with the partial L2 distance, where negative teacher responses are
/// replaced by the per-channel margin m_c = E[x_c | x_c < 0] of a Gaussian response:
///   β·Σ_i ofd(connector_i(s_i), t_i, m_i) / 2^(N−1−i) / batch.
/// The paper takes the Gaussian's mean and deviation from the teacher's BatchNorm (β, γ);
/// the engine measures them on the teacher's raw pre-ReLU features over the first
/// `margin_batches` training batches (for a BN output the same quantities), applies the same
/// formula (ofdGaussianMargin) and then freezes the margin.
class OfdMethod : public FeatureKdMethod {
public:
    explicit OfdMethod(const nlohmann::json &p)
        : FeatureKdMethod("ofd", p, /*preActivation=*/true)
        , m_marginBatches(p.at("margin_batches").get<int>())
        , m_teacherTrainMode(p.at("teacher_mode").get<std::string>() == "train")
    {
        m_terms = {{"ofd", p.at("beta").get<double>()}};
    }

    bool teacherBatchStatistics() const override { return m_teacherTrainMode; }

protected:
    void setupPairs(const MethodSetup &) override
    {
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            m_state.push_back(module().register_module(
                "pair" + std::to_string(i),
                OfdPair(pair.studentShape[0], pair.teacherShape[0], pair.studentShape.size() == 3)));
        }
        m_marginsSeen = module().register_buffer("margin_batches_seen", torch::zeros({1}, torch::kInt64));
    }
    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        const bool estimating = m_marginsSeen.item<std::int64_t>() < m_marginBatches;
        torch::Tensor sum;
        const auto n = double(s.logits().size(0));
        const auto count = m_pairs.size();
        for (std::size_t i = 0; i < count; ++i) {
            auto &st = *m_state[i];
            if (estimating) // statistics of the raw teacher map, before any pooling to the student's size
                accumulateGaussianMargin(t.get(m_pairs[i].teacher), st.statSum, st.statSquares, st.statCount, st.margin);
            const auto [fs, ft] = poolToCommonSize(s.get(m_pairs[i].student), t.get(m_pairs[i].teacher));
            const auto l = ofdLoss(st.connector->forward(fs), ft, st.margin)
                / std::pow(2.0, double(count - 1 - i)) / n;
            sum = sum.defined() ? sum + l : l;
        }
        if (estimating)
            m_marginsSeen.add_(1);
        return {sum};
    }

private:
    int m_marginBatches;
    bool m_teacherTrainMode;
    std::vector<OfdPair> m_state;
    torch::Tensor m_marginsSeen;
};

} // namespace

void registerOfdMethod(MethodRegistry &registry)
{
    registry.add(
        "ofd",
        {"Overhaul of feature distillation (Heo et al. ICCV 2019): CE + beta * partial L2 between connected student "
         "and margin-clipped teacher pre-ReLU features (margin estimated from teacher responses)",
         true,
         featureMethodParams("all", "all",
                             "(pre-ReLU: \"all\"/\"last\" select stageK_pre) whose connected values must match the "
                             "teacher's",
                             {ParamSpec::number("beta", 1e-3, 0.0, 1000.0,
                                                "weight of the distillation loss, which is summed over elements and "
                                                "averaged over the batch (OFD on CIFAR: 1e-3)"),
                              ParamSpec::integer("margin_batches", 10, 1, 1000000,
                                                 "training batches over which each teacher channel's mean and deviation "
                                                 "are measured for its margin E[x | x < 0] (Gaussian, as OFD) before "
                                                 "it is frozen"),
                              ParamSpec::choice("teacher_mode", "train", {"train", "eval"},
                                                "how the teacher's BatchNorm normalises: train (batch statistics, "
                                                "as OFD's code runs t_net.train(); running statistics stay "
                                                "unchanged) or eval (running statistics)")}),
         [](const nlohmann::json &p) { return std::make_unique<OfdMethod>(p); }});
}

} // namespace kd
