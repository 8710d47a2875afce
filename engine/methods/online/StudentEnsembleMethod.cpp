#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

#include <sstream>

namespace kd {

namespace {

constexpr int kStages = 3; ///< the CIFAR ResNets' stages, whose outputs the feature loss aligns

/// The student ensemble's adapters (BOC-KD utils/Losses.py `adaptation_layer_init`): for every
/// stage k and every narrower student j ≥ 2, a 1×1 convolution with bias from student j's
/// channels to the widest student's, torch's default initialisation.
struct EnsembleAdaptersImpl : torch::nn::Module {
    /// `channels[k][b]`: student b's (0-based) channels at stage k.
    explicit EnsembleAdaptersImpl(const std::vector<std::vector<std::int64_t>> &channels)
    {
        for (std::size_t k = 0; k < channels.size(); ++k) {
            adapters.emplace_back();
            for (std::size_t b = 1; b < channels[k].size(); ++b)
                adapters.back().push_back(register_module(
                    "stage" + std::to_string(k + 1) + "_student" + std::to_string(b + 1),
                    torch::nn::Conv2d(torch::nn::Conv2dOptions(channels[k][b], channels[k][0], 1).bias(true))));
        }
    }
    std::vector<std::vector<torch::nn::Conv2d>> adapters; ///< [stage][student − 2]
};
TORCH_MODULE(EnsembleAdapters);

/// "student_ensemble": Online Ensemble Model Compression (Walawalkar, Shen & Savvides, ECCV
/// 2020; authors' code Devwalkar/BOC-KD, models/ResNet_cifar.py `BIO_ResNet`, utils/Losses.py
/// `Combined_Loss`). One shared stem and N students of decreasing width — student j (1-based)
/// is the architecture with its stages' channels times (N − j + 1)/N, truncated — trained
/// together: the ensemble teacher is the mean of their logits (the authors' fixed 1/N weights),
/// and the loss is
///   a0 · Σ_j CE(z_j) + a1 · Σ_k Σ_{j ≥ 2} MSE(A_kj(s_k^j), s_k^1) + a2 · Σ_j KD_T(z̄ → z_j)
/// with s_k^j student j's stage-k output, A_kj a 1×1 adapter, the widest student's maps and the
/// ensemble read without gradient. Every student is a deliverable (student_branchJ.pt, each
/// with its own width); the most compressed is student.pt by default.
class StudentEnsembleMethod : public MultiBranchMethod {
public:
    explicit StudentEnsembleMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_ceWeight(p.at("ce_weight").get<double>())
        , m_featureWeight(p.at("feature_weight").get<double>())
        , m_kdWeight(p.at("kd_weight").get<double>())
    {
        const int n = m_layout.branches;
        for (int j = 0; j < n; ++j)
            m_layout.widthFractions.push_back(double(n - j) / double(n));
    }
    std::vector<std::string> termNames() const override { return {"ce", "feat", "kd"}; }
    std::vector<std::string> studentFeatures() const override
    {
        auto names = MultiBranchMethod::studentFeatures();
        for (int b = 1; b <= m_layout.branches; ++b)
            for (int k = 1; k <= kStages; ++k)
                names.push_back(stageOf(b, k));
        return names;
    }
    void setup(const MethodSetup &setup) override
    {
        std::vector<std::vector<std::int64_t>> channels(kStages);
        for (int k = 1; k <= kStages; ++k)
            for (int b = 1; b <= m_layout.branches; ++b) {
                const auto &shape = setup.studentShape(stageOf(b, k));
                if (shape.size() != 3)
                    throw Error("student_ensemble aligns the students' stage maps (C × H × W), but " + stageOf(b, k)
                                + " is not one; choose a CIFAR ResNet");
                channels[std::size_t(k - 1)].push_back(shape.front());
            }
        m_channels = channels;
        m_adapters = EnsembleAdapters(channels);
        m_adapters->to(setup.device);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_adapters.ptr(); }
    std::vector<std::string> setupNotes() const override
    {
        std::ostringstream os;
        os << "student_ensemble: " << m_layout.branches << " students after the " << BranchLayout::splitName(m_layout.split)
           << ", stage widths";
        for (int b = 0; b < m_layout.branches; ++b) {
            os << (b ? "; " : " ");
            for (std::size_t k = 0; k < m_channels.size(); ++k)
                os << (k ? "/" : "") << m_channels[k][std::size_t(b)];
        }
        os << "; student " << m_layout.deployed + 1 << " is student.pt, every student is saved alone";
        return {os.str()};
    }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &) override
    {
        if (!m_adapters)
            throw Error("method \"student_ensemble\" was not set up (setup() builds its adapters)");
        std::vector<std::vector<torch::Tensor>> adapted(kStages);
        std::vector<torch::Tensor> widest;
        for (int k = 1; k <= kStages; ++k) {
            widest.push_back(s.get(stageOf(1, k)));
            for (int b = 2; b <= m_layout.branches; ++b)
                adapted[std::size_t(k - 1)].push_back(
                    m_adapters->adapters[std::size_t(k - 1)][std::size_t(b - 2)]->forward(s.get(stageOf(b, k))));
        }
        const auto t = studentEnsembleLoss(branchLogits(s), adapted, widest, labels, m_temperature);
        return {m_ceWeight * t.ce + m_featureWeight * t.feat + m_kdWeight * t.kd,
                {{"ce", t.ce}, {"feat", t.feat}, {"kd", t.kd}}};
    }

protected:
    std::vector<std::string> groupOutputNames() const override { return {"ensemble"}; }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        return {{"ensemble", meanLogits(branchLogits(s))}};
    }

private:
    static std::string stageOf(int b, int k) { return "branch" + std::to_string(b) + ".stage" + std::to_string(k); }

    double m_temperature, m_ceWeight, m_featureWeight, m_kdWeight;
    std::vector<std::vector<std::int64_t>> m_channels;
    EnsembleAdapters m_adapters{nullptr};
};

} // namespace

void registerStudentEnsembleMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(5, "stem", 0.0, "the authors use none", 0);
    params.insert(params.begin(),
                  {ParamSpec::number("temperature", 2.0, 0.05, 100.0,
                                     "temperature T of the ensemble → student KD (authors' CIFAR-100 ResNets: 2)"),
                   ParamSpec::number("ce_weight", 0.7, 0.0, 100.0, "weight a0 of the students' CE (authors: 0.7)"),
                   ParamSpec::number("feature_weight", 0.15, 0.0, 100.0,
                                     "weight a1 of the adapted stage-map MSE to the widest student (authors: 0.15)"),
                   ParamSpec::number("kd_weight", 0.15, 0.0, 100.0, "weight a2 of the ensemble KD (authors: 0.15)")});
    registry.add("student_ensemble",
                 MethodEntry{"Online ensemble model compression (Walawalkar et al. 2020, BOC-KD): one stem, students "
                             "of decreasing width, their mean as teacher, stage maps aligned to the widest",
                             false, std::move(params),
                             [](const nlohmann::json &p) { return std::make_unique<StudentEnsembleMethod>(p); }});
}

} // namespace kd
