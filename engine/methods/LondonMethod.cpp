#include "methods/BuiltinMethods.h"

#include "core/Error.h"
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
/// per-channel Gaussian margin E[x | x < 0] (as engine/methods/OfdMethod.cpp).
class LondonPairImpl : public torch::nn::Module {
public:
    LondonPairImpl(std::int64_t studentChannels, std::int64_t teacherChannels, bool spatial, bool ofd)
    {
        connector = register_module("connector",
                                    Connector(studentChannels, teacherChannels, spatial, /*batchNorm=*/spatial || ofd));
        if (ofd) {
            statSum = register_buffer("stat_sum", torch::zeros({teacherChannels}, torch::kFloat64));
            statSquares = register_buffer("stat_sum_squares", torch::zeros({teacherChannels}, torch::kFloat64));
            statCount = register_buffer("stat_count", torch::zeros({teacherChannels}, torch::kFloat64));
            margin = register_buffer("margin", torch::zeros({teacherChannels}, torch::kFloat64));
        }
    }
    Connector connector{nullptr};
    torch::Tensor statSum, statSquares, statCount, margin;
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

/// Lipschitz-continuity-guided KD (Shang et al., ICCV 2021; github.com/42Shawn/LONDON,
/// CIFAR-100/distiller_london.py): for consecutive paired stages k → k+1 of each model, the
/// spectral norm of the transmitting matrix estimated from the two stages' features
/// approximates that transition's Lipschitz constant, and the student's are pulled to the
/// teacher's, plus a feature term (OFD partial L2 on the pre-activation stages, or a FitNet
/// hint). By default (transmitting_matrix "fsp", lipschitz_loss "mse") as the authors' code:
/// per-image FSP matrices of the pre-activation stages, their top singular values by 10
/// power iterations from a random start on every step, and the weighted MSE between the
/// student's and the teacher's; with the OFD term the student's stage k enters its matrix
/// through the OFD connector (in the teacher's channels), its stage k+1 does not — as the
/// authors' loop runs (it replaces s_feats[i] by the connector's output before building
/// transition i, while s_feats[i+1] is still the raw feature).
class LondonMethod : public FeatureKdMethod {
public:
    explicit LondonMethod(const nlohmann::json &p)
        : FeatureKdMethod("london", p)
        , m_kind(parseTransmittingKind(p.at("transmitting_matrix").get<std::string>()))
        , m_distance(parseLipschitzDistance(p.at("lipschitz_loss").get<std::string>()))
        , m_ridge(p.at("ridge").get<double>())
        , m_iterations(p.at("power_iterations").get<int>())
        , m_warmupIterations(p.at("warmup_iterations").get<int>())
        , m_feature(parseFeatureTerm(p.at("feature_loss").get<std::string>()))
        , m_marginBatches(p.at("margin_batches").get<int>())
        , m_lipschitzWeight(p.at("lipschitz_weight").get<double>())
        , m_lateFactor(p.at("lipschitz_late_factor").get<double>())
        , m_lateStart(p.at("lipschitz_late_start").get<double>())
        , m_teacherTrainMode(p.at("teacher_mode").get<std::string>() == "train")
    {
        m_terms = {{"lipschitz", m_lipschitzWeight}};
        if (m_feature != FeatureTerm::None)
            m_terms.push_back({"feature", p.at("feature_weight").get<double>()});
    }

    bool teacherBatchStatistics() const override { return m_teacherTrainMode; }
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
            if (needsPre()) {
                // The pre-activation features must exist (any stageK has its stageK_pre).
                setup.studentShape(preName(pair.student));
                setup.teacherShape(preName(pair.teacher));
            }
            if (m_feature != FeatureTerm::None)
                m_featurePairs.push_back(module().register_module(
                    "pair" + std::to_string(i), LondonPair(pair.studentShape[0], pair.teacherShape[0],
                                                           pair.studentShape.size() == 3, m_feature == FeatureTerm::Ofd)));
        }
        if (m_kind != TransmittingKind::Fsp) // the per-image matrices start from a random vector every step
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
                                            const StepContext &ctx) override
    {
        // The authors lower α from 0.8 to 0.2 after 60% of the epochs (0-based epoch < 0.6·epochs).
        const bool late = double(ctx.epoch - 1) >= m_lateStart * double(ctx.epochs);
        m_terms[0].weight = m_lipschitzWeight * (late ? m_lateFactor : 1.0);

        // The feature term's connected student features and teacher targets, computed once:
        // with OFD and fsp the connected stage k also enters the student's transition k.
        std::vector<torch::Tensor> connected, targets;
        if (m_feature != FeatureTerm::None) {
            const bool ofd = m_feature == FeatureTerm::Ofd;
            for (std::size_t i = 0; i < m_pairs.size(); ++i) {
                const auto sName = ofd ? preName(m_pairs[i].student) : m_pairs[i].student;
                const auto tName = ofd ? preName(m_pairs[i].teacher) : m_pairs[i].teacher;
                const auto [fs, ft] = poolToCommonSize(s.get(sName), t.get(tName).detach());
                connected.push_back(m_featurePairs[i]->connector->forward(fs));
                targets.push_back(ft);
            }
        }

        std::vector<torch::Tensor> sigmaS, sigmaT;
        for (std::size_t i = 0; i + 1 < m_pairs.size(); ++i) {
            const auto &in = m_pairs[i], &out = m_pairs[i + 1];
            if (m_kind == TransmittingKind::Fsp) {
                const auto sIn = m_feature == FeatureTerm::Ofd ? connected[i] : s.get(preName(in.student));
                const auto ms = transmittingMatrix(sIn, s.get(preName(out.student)), m_kind);
                sigmaS.push_back(batchedSpectralNorm(ms, randomStart(ms), m_iterations));
                torch::NoGradGuard noGrad;
                const auto mt = transmittingMatrix(t.get(preName(in.teacher)).detach(),
                                                   t.get(preName(out.teacher)).detach(), m_kind);
                sigmaT.push_back(batchedSpectralNorm(mt, randomStart(mt), m_iterations));
            } else {
                const auto ms = transmittingMatrix(s.get(in.student), s.get(out.student), m_kind, m_ridge);
                const auto mt = transmittingMatrix(t.get(in.teacher).detach(), t.get(out.teacher).detach(), m_kind,
                                                   m_ridge);
                sigmaS.push_back(spectralNorm(ms, *m_studentVectors[i]));
                sigmaT.push_back(spectralNorm(mt, *m_teacherVectors[i]).detach());
            }
        }
        std::vector<torch::Tensor> result{lipschitzLoss(sigmaS, sigmaT, m_distance)};
        if (m_feature != FeatureTerm::None)
            result.push_back(featureTerm(connected, targets, double(s.logits().size(0))));
        return result;
    }

private:
    bool needsPre() const { return m_feature == FeatureTerm::Ofd || m_kind == TransmittingKind::Fsp; }

    std::vector<std::string> withPre(std::vector<std::string> names) const
    {
        if (!needsPre())
            return names;
        std::vector<std::string> out;
        for (const auto &n : names) {
            out.push_back(n);
            if (n != "logits")
                out.push_back(preName(n));
        }
        return out;
    }

    /// The authors' start vector: uniform in [0, 1), drawn anew on every step.
    static torch::Tensor randomStart(const torch::Tensor &tm)
    {
        return torch::rand({tm.size(0), tm.size(1)}, tm.options());
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

    torch::Tensor featureTerm(const std::vector<torch::Tensor> &connected, const std::vector<torch::Tensor> &targets,
                              double n)
    {
        const bool ofd = m_feature == FeatureTerm::Ofd;
        const bool estimating = ofd && m_marginsSeen.item<std::int64_t>() < m_marginBatches;
        const auto count = m_pairs.size();
        torch::Tensor sum;
        for (std::size_t i = 0; i < count; ++i) {
            auto &st = *m_featurePairs[i];
            const auto &ft = targets[i];
            torch::Tensor l;
            if (ofd) {
                if (estimating) // OFD's Gaussian margin from the teacher channel's measured statistics
                    accumulateGaussianMargin(ft, st.statSum, st.statSquares, st.statCount, st.margin);
                l = ofdLoss(connected[i], ft, st.margin) / std::pow(2.0, double(count - 1 - i)) / n;
            } else {
                l = hintLoss(connected[i], ft);
            }
            sum = sum.defined() ? sum + l : l;
        }
        if (estimating)
            m_marginsSeen.add_(1);
        return sum;
    }

    TransmittingKind m_kind;
    LipschitzDistance m_distance;
    double m_ridge;
    int m_iterations, m_warmupIterations;
    FeatureTerm m_feature;
    int m_marginBatches;
    double m_lipschitzWeight, m_lateFactor, m_lateStart;
    bool m_teacherTrainMode;
    std::vector<LondonPair> m_featurePairs;
    std::vector<PowerVectors> m_studentVectors, m_teacherVectors;
    torch::Tensor m_marginsSeen;
};

} // namespace

void registerLondonMethod(MethodRegistry &registry)
{
    registry.add(
        "london",
        {"Lipschitz continuity guided KD (LONDON, Shang et al. ICCV 2021): CE + the student's Lipschitz estimates (top "
         "singular values of stage-to-stage transmitting matrices, by power iteration) matched to the teacher's + a "
         "feature term",
         true,
         featureMethodParams(
             "all", "all",
             "(two or more, in network order) whose consecutive transitions are compared; also the feature-term pairs",
             {ParamSpec::number("lipschitz_weight", 0.004, 0.0, 1e6,
                                "weight of the Lipschitz term (LONDON's code: alpha/200 with alpha = 0.8)"),
              ParamSpec::number("lipschitz_late_factor", 0.25, 0.0, 1e3,
                                "multiplies lipschitz_weight from lipschitz_late_start on (LONDON's CIFAR scripts: "
                                "0.25, alpha 0.8 -> 0.2); 1 keeps it constant"),
              ParamSpec::number("lipschitz_late_start", 0.6, 0.0, 1.0,
                                "fraction of the epochs after which lipschitz_late_factor applies (LONDON: 0.6)"),
              ParamSpec::choice("lipschitz_loss", "mse", {"mse", "product", "per_stage"},
                                "mse: per-image squared difference of the top singular values, transition i of P "
                                "weighted 1/2^(P-i) (LONDON's code); product / per_stage (engine variants): squared "
                                "log-distance of the products of the spectral norms, or of each one"),
              ParamSpec::choice("transmitting_matrix", "fsp", {"fsp", "gram", "least_squares"},
                                "estimate of a stage transition: fsp (per image, X Y^T / positions on the stageK_pre "
                                "features, LONDON's code) or, engine variants on the stageK features, one per batch: "
                                "gram (Y^T X / positions) or least_squares (ridge-regression linear map)"),
              ParamSpec::number("ridge", 1e-3, 1e-9, 10.0,
                                "least_squares only: ridge, relative to the mean eigenvalue of X^T X"),
              ParamSpec::integer("power_iterations", 10, 1, 100,
                                 "power-iteration steps per training step (LONDON: 10); fsp starts from a random "
                                 "vector every step, gram / least_squares keep their vectors between steps"),
              ParamSpec::integer("warmup_iterations", 20, 1, 1000,
                                 "gram / least_squares only: power-iteration steps on the first training step, from "
                                 "random vectors"),
              ParamSpec::choice("feature_loss", "ofd", {"ofd", "hint", "none"},
                                "feature term on every pair: ofd (partial L2 on stageK_pre with the teacher's margin, "
                                "Heo et al. 2019, as LONDON's code), hint (FitNet MSE on the stages) or none"),
              ParamSpec::number("feature_weight", 1e-3, 0.0, 1e6,
                                "weight of the feature term (OFD and LONDON on CIFAR: 1e-3; FitNet hints use about "
                                "100)"),
              ParamSpec::integer("margin_batches", 10, 1, 1000000,
                                 "ofd only: batches over which the teacher's per-channel margin is estimated"),
              ParamSpec::choice("teacher_mode", "train", {"train", "eval"},
                                "how the teacher's BatchNorm normalises: train (batch statistics, as LONDON's "
                                "train_with_distillation_*.py run t_net.train(); running statistics stay unchanged) "
                                "or eval (running statistics)")}),
         [](const nlohmann::json &p) { return std::make_unique<LondonMethod>(p); }});
}

} // namespace kd
