#include "methods/BuiltinMethods.h"

#include "Error.h"
#include "methods/Connector.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"
#include "methods/LondonLosses.h"

#include <cmath>

namespace kd {

namespace {

/// Power-iteration vectors of one transmitting matrix [C_out, C_in], kept between steps.
class PowerVectorsImpl : public torch::nn::Module {
public:
    PowerVectorsImpl(std::int64_t rows, std::int64_t cols)
    {
        u = register_buffer("u", torch::nn::functional::normalize(torch::randn({rows}),
                                                                  torch::nn::functional::NormalizeFuncOptions().dim(0)));
        v = register_buffer("v", torch::nn::functional::normalize(torch::randn({cols}),
                                                                  torch::nn::functional::NormalizeFuncOptions().dim(0)));
        warm = register_buffer("warm", torch::zeros({1}, torch::kInt64));
    }
    torch::Tensor u, v, warm;
};
TORCH_MODULE(PowerVectors);

/// The feature term of one pair: a connector, and for "ofd" the statistics of the teacher's
/// per-channel margin E[x | x < 0] (as engine/methods/OfdMethod.cpp).
class LondonPairImpl : public torch::nn::Module {
public:
    LondonPairImpl(std::int64_t studentChannels, std::int64_t teacherChannels, bool spatial, bool ofd)
    {
        connector = register_module("connector",
                                    Connector(studentChannels, teacherChannels, spatial, /*batchNorm=*/spatial || ofd));
        if (ofd) {
            negSum = register_buffer("neg_sum", torch::zeros({teacherChannels}, torch::kFloat64));
            negCount = register_buffer("neg_count", torch::zeros({teacherChannels}, torch::kFloat64));
            margin = register_buffer("margin", torch::zeros({teacherChannels}, torch::kFloat64));
        }
    }
    Connector connector{nullptr};
    torch::Tensor negSum, negCount, margin;
};
TORCH_MODULE(LondonPair);

enum class FeatureTerm { Ofd, Hint, None };

FeatureTerm parseFeatureTerm(const std::string &s)
{
    if (s == "ofd")
        return FeatureTerm::Ofd;
    if (s == "hint")
        return FeatureTerm::Hint;
    if (s == "none")
        return FeatureTerm::None;
    throw Error("method \"london\": feature_loss = \"" + s + "\" is unknown; choose \"ofd\", \"hint\" or \"none\"");
}

std::string preName(const std::string &name)
{
    return name + "_pre";
}

/// Lipschitz-continuity-guided KD (Shang et al., ICCV 2021): for consecutive paired stages
/// k → k+1 of each model, the spectral norm of the transmitting matrix estimated from the two
/// stages' features approximates that transition's Lipschitz constant; the student's are
/// pulled to the teacher's (their product, the network's bound, by default), plus a feature
/// term (OFD partial L2 on the pre-activation stages, or a FitNet hint).
class LondonMethod : public FeatureKdMethod {
public:
    explicit LondonMethod(const nlohmann::json &p)
        : FeatureKdMethod("london", p)
        , m_kind(parseTransmittingKind(p.at("transmitting_matrix").get<std::string>()))
        , m_product(p.at("lipschitz_loss").get<std::string>() == "product")
        , m_ridge(p.at("ridge").get<double>())
        , m_iterations(p.at("power_iterations").get<int>())
        , m_warmupIterations(p.at("warmup_iterations").get<int>())
        , m_feature(parseFeatureTerm(p.at("feature_loss").get<std::string>()))
        , m_marginBatches(p.at("margin_batches").get<int>())
    {
        m_terms = {{"lipschitz", p.at("lipschitz_weight").get<double>()}};
        if (m_feature != FeatureTerm::None)
            m_terms.push_back({"feature", p.at("feature_weight").get<double>()});
    }

    std::vector<std::string> studentFeatures() const override { return withPre(FeatureKdMethod::studentFeatures()); }
    std::vector<std::string> teacherFeatures() const override { return withPre(FeatureKdMethod::teacherFeatures()); }

protected:
    void setupPairs(const MethodSetup &setup) override
    {
        if (m_pairs.size() < 2)
            throw Error("method \"london\" compares the transitions between consecutive paired stages, so it needs at "
                        "least two feature pairs; student_features / teacher_features select "
                        + std::to_string(m_pairs.size()) + " (use \"all\" or list two or more stages, e.g. "
                        "stage1,stage2)");
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            if (m_feature == FeatureTerm::Ofd) {
                // The pre-activation features must exist (any stageK has its stageK_pre).
                setup.studentShape(preName(pair.student));
                setup.teacherShape(preName(pair.teacher));
            }
            if (m_feature != FeatureTerm::None)
                m_featurePairs.push_back(module().register_module(
                    "pair" + std::to_string(i), LondonPair(pair.studentShape[0], pair.teacherShape[0],
                                                           pair.studentShape.size() == 3, m_feature == FeatureTerm::Ofd)));
        }
        for (std::size_t i = 0; i + 1 < m_pairs.size(); ++i) {
            m_studentVectors.push_back(module().register_module(
                "power_s" + std::to_string(i),
                PowerVectors(m_pairs[i + 1].studentShape[0], m_pairs[i].studentShape[0])));
            m_teacherVectors.push_back(module().register_module(
                "power_t" + std::to_string(i),
                PowerVectors(m_pairs[i + 1].teacherShape[0], m_pairs[i].teacherShape[0])));
        }
        if (m_feature == FeatureTerm::Ofd)
            m_marginsSeen = module().register_buffer("margin_batches_seen", torch::zeros({1}, torch::kInt64));
    }

    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &) override
    {
        std::vector<torch::Tensor> sigmaS, sigmaT;
        for (std::size_t i = 0; i + 1 < m_pairs.size(); ++i) {
            const auto ms = transmittingMatrix(s.get(m_pairs[i].student), s.get(m_pairs[i + 1].student), m_kind, m_ridge);
            const auto mt = transmittingMatrix(t.get(m_pairs[i].teacher).detach(), t.get(m_pairs[i + 1].teacher).detach(),
                                               m_kind, m_ridge);
            sigmaS.push_back(spectralNorm(ms, *m_studentVectors[i]));
            sigmaT.push_back(spectralNorm(mt, *m_teacherVectors[i]).detach());
        }
        std::vector<torch::Tensor> out{lipschitzLoss(sigmaS, sigmaT, m_product)};
        if (m_feature != FeatureTerm::None)
            out.push_back(featureTerm(s, t));
        return out;
    }

private:
    std::vector<std::string> withPre(std::vector<std::string> names) const
    {
        if (m_feature != FeatureTerm::Ofd)
            return names;
        std::vector<std::string> out;
        for (const auto &n : names) {
            out.push_back(n);
            if (n != "logits")
                out.push_back(preName(n));
        }
        return out;
    }

    torch::Tensor spectralNorm(const torch::Tensor &m, PowerVectorsImpl &vectors)
    {
        const bool warm = vectors.warm.item<std::int64_t>() != 0;
        auto result = spectralNormPowerIteration(m, vectors.u, vectors.v, warm ? m_iterations : m_warmupIterations);
        torch::NoGradGuard noGrad;
        vectors.u.copy_(result.u);
        vectors.v.copy_(result.v);
        vectors.warm.fill_(1);
        return result.sigma;
    }

    torch::Tensor featureTerm(const Features &s, const Features &t)
    {
        const bool ofd = m_feature == FeatureTerm::Ofd;
        const bool estimating = ofd && m_marginsSeen.item<std::int64_t>() < m_marginBatches;
        const auto n = double(s.logits().size(0));
        const auto count = m_pairs.size();
        torch::Tensor sum;
        for (std::size_t i = 0; i < count; ++i) {
            auto &st = *m_featurePairs[i];
            const auto sName = ofd ? preName(m_pairs[i].student) : m_pairs[i].student;
            const auto tName = ofd ? preName(m_pairs[i].teacher) : m_pairs[i].teacher;
            const auto [fs, ft] = poolToCommonSize(s.get(sName), t.get(tName));
            torch::Tensor l;
            if (ofd) {
                if (estimating) {
                    torch::NoGradGuard noGrad;
                    const auto [sums, counts] = negativeResponseStats(ft);
                    st.negSum.add_(sums.to(st.negSum.device()));
                    st.negCount.add_(counts.to(st.negCount.device()));
                    st.margin.copy_(st.negSum / st.negCount.clamp_min(1.0));
                }
                l = ofdLoss(st.connector->forward(fs), ft, st.margin) / std::pow(2.0, double(count - 1 - i)) / n;
            } else {
                l = hintLoss(st.connector->forward(fs), ft);
            }
            sum = sum.defined() ? sum + l : l;
        }
        if (estimating)
            m_marginsSeen.add_(1);
        return sum;
    }

    TransmittingKind m_kind;
    bool m_product;
    double m_ridge;
    int m_iterations, m_warmupIterations;
    FeatureTerm m_feature;
    int m_marginBatches;
    std::vector<LondonPair> m_featurePairs;
    std::vector<PowerVectors> m_studentVectors, m_teacherVectors;
    torch::Tensor m_marginsSeen;
};

} // namespace

void registerLondonMethod(MethodRegistry &registry)
{
    registry.add(
        "london",
        {"Lipschitz continuity guided KD (LONDON, Shang et al. ICCV 2021): CE + the student's Lipschitz estimate (spectral "
         "norms of stage-to-stage transmitting matrices, by power iteration) matched to the teacher's + a feature term",
         true,
         featureMethodParams(
             "all", "all",
             "(two or more, in network order) whose consecutive transitions are compared; also the feature-term pairs",
             {ParamSpec::number("lipschitz_weight", 1.0, 0.0, 1e6,
                                "weight of the Lipschitz term (squared log-distance of the estimates, LONDON)"),
              ParamSpec::choice("lipschitz_loss", "product", {"product", "per_stage"},
                                "compare the products of the transitions' spectral norms (the networks' Lipschitz "
                                "bounds, LONDON) or each transition's"),
              ParamSpec::choice("transmitting_matrix", "gram", {"gram", "least_squares"},
                                "estimate of a stage transition from features: gram (Y^T X / positions, LONDON's "
                                "transmitting matrix) or least_squares (ridge-regression linear map)"),
              ParamSpec::number("ridge", 1e-3, 1e-9, 10.0,
                                "least_squares only: ridge, relative to the mean eigenvalue of X^T X"),
              ParamSpec::integer("power_iterations", 1, 1, 100,
                                 "power-iteration steps per training step (the vectors persist between steps)"),
              ParamSpec::integer("warmup_iterations", 20, 1, 1000,
                                 "power-iteration steps on the first training step, from random vectors"),
              ParamSpec::choice("feature_loss", "ofd", {"ofd", "hint", "none"},
                                "feature term on every pair: ofd (partial L2 on stageK_pre with the teacher's margin, "
                                "Heo et al. 2019), hint (FitNet MSE on the stages) or none"),
              ParamSpec::number("feature_weight", 1e-3, 0.0, 1e6,
                                "weight of the feature term (OFD on CIFAR: 1e-3; FitNet hints use about 100)"),
              ParamSpec::integer("margin_batches", 10, 1, 1000000,
                                 "ofd only: batches over which the teacher's per-channel margin is estimated")}),
         [](const nlohmann::json &p) { return std::make_unique<LondonMethod>(p); }});
}

} // namespace kd
