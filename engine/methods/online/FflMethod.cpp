#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/online/MultiBranchMethod.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>

namespace kd {

namespace {

/// FFL's fusion module (FFL-pytorch our_network.py `Fusion_module`), for N branches whose
/// heads pool C × H × W maps: the maps concatenated (N·C channels) → depthwise 3×3 conv (no
/// bias) → BN → ReLU → 1×1 conv N·C → C (no bias) → BN → ReLU → global average pool →
/// Linear(C, classes). Convolutions start from N(0, 2 / (k² · out_channels)) as the authors'
/// init; BN from weight 1, bias 0; the Linear from torch's default.
struct FflFusionImpl : torch::nn::Module {
    FflFusionImpl(std::int64_t channels, std::int64_t branches, std::int64_t classes)
    {
        const auto in = channels * branches;
        conv1 = register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, in, 3).padding(1).groups(in).bias(false)));
        bn1 = register_module("bn1", torch::nn::BatchNorm2d(in));
        conv1_1 = register_module("conv1_1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, channels, 1).bias(false)));
        bn1_1 = register_module("bn1_1", torch::nn::BatchNorm2d(channels));
        fc2 = register_module("fc2", torch::nn::Linear(channels, classes));
        torch::NoGradGuard noGrad;
        for (auto *conv : {&conv1, &conv1_1}) {
            const auto &w = (*conv)->weight;
            const double n = double(w.size(2) * w.size(3) * w.size(0));
            w.normal_(0.0, std::sqrt(2.0 / n));
        }
    }
    torch::Tensor forward(const std::vector<torch::Tensor> &maps)
    {
        auto x = torch::relu(bn1(conv1(torch::cat(maps, 1))));
        x = torch::relu(bn1_1(conv1_1(x)));
        return fc2(x.mean({2, 3}));
    }
    torch::nn::Conv2d conv1{nullptr}, conv1_1{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn1_1{nullptr};
    torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(FflFusion);

/// "ffl": Feature Fusion Learning (Kim, Hyun, Chung & Kwak, "Feature Fusion for Online Mutual
/// Knowledge Distillation", ICPR 2020; authors' code Jangho-Kim/FFL-pytorch, train_FFL.py
/// `train`, our_network.py `ffl_resnet` and `Fusion_module`, utils.py `KLLoss`). One network
/// with a shared trunk (ResNet: up to the second of three stages) and N branches (the authors:
/// 2); a fusion module classifies the branches' concatenated last feature maps, which it reads
/// with gradient (its CE trains the branches too). The loss is
///   Σ_b CE(z_b) + CE(z_f) + w(e) · [Σ_b KL(z_f → z_b) + KL(z_e → z_f)]
/// with z_e the mean of the branch logits, the KL ONE's (T = 3, T², target + 1e-7 without
/// gradient) and w(e) the sigmoid ramp-up over 80 of 300 epochs. The fusion module has its own
/// optimiser in the authors' code, the network's SGD with weight decay 1e-5 instead of 1e-4:
/// here a second parameter group of the stage's optimiser.
class FflMethod : public MultiBranchMethod {
public:
    explicit FflMethod(const nlohmann::json &p)
        : MultiBranchMethod(p)
        , m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
        , m_fusionWeightDecay(p.at("fusion_weight_decay").get<double>())
    {
    }
    std::vector<std::string> termNames() const override { return {"ce", "fused_ce", "kl", "kl_weight"}; }
    std::vector<std::string> studentFeatures() const override
    {
        auto names = MultiBranchMethod::studentFeatures();
        for (int b = 1; b <= m_layout.branches; ++b)
            names.push_back(headInput(b));
        return names;
    }
    void setup(const MethodSetup &setup) override
    {
        const auto &shape = setup.studentShape(headInput(1));
        if (shape.size() != 3)
            throw Error("ffl fuses the branches' last feature maps (C × H × W), but this architecture's head pools a "
                        "vector of " + std::to_string(shape.empty() ? 0 : shape.front())
                        + " values; choose a convolutional student (resnet, wrn, vgg, mobilenetv2, shufflenetv2, "
                          "cnn_small, lenet5)");
        m_fusion = FflFusion(shape.at(0), m_layout.branches, setup.numClasses);
        m_fusion->to(setup.device);
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_fusion.ptr(); }
    double trainableWeightDecay() const override { return m_fusionWeightDecay; }
    std::vector<std::string> setupNotes() const override
    {
        std::ostringstream os;
        os << "ffl: " << m_layout.branches << " branches after " << BranchLayout::splitName(m_layout.split)
           << ", fusion module on their last feature maps (weight decay " << m_fusionWeightDecay << "), KL at T "
           << m_temperature << "; branch " << m_layout.deployed + 1 << " is the student";
        return {os.str()};
    }
    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!m_fusion)
            throw Error("method \"ffl\" was not set up (setup() builds its fusion module)");
        const auto t = fflLoss(branchLogits(s), fused(s), labels, m_temperature);
        const double w = m_weight * rampup(ctx);
        const auto weight = torch::full({}, w, t.kl.options());
        return {t.ce + t.fusedCe + w * t.kl,
                {{"ce", t.ce}, {"fused_ce", t.fusedCe}, {"kl", t.kl}, {"kl_weight", weight}}};
    }

protected:
    std::vector<std::string> groupOutputNames() const override { return {"ensemble", "fused"}; }
    std::vector<std::pair<std::string, torch::Tensor>> groupOutputs(const Features &s) override
    {
        return {{"ensemble", meanLogits(branchLogits(s))}, {"fused", fused(s)}};
    }

private:
    static std::string headInput(int b) { return "branch" + std::to_string(b) + ".head_input"; }
    torch::Tensor fused(const Features &s)
    {
        std::vector<torch::Tensor> maps;
        for (int b = 1; b <= m_layout.branches; ++b)
            maps.push_back(s.get(headInput(b)));
        return m_fusion->forward(maps);
    }

    double m_temperature, m_weight, m_fusionWeightDecay;
    FflFusion m_fusion{nullptr};
};

} // namespace

void registerFflMethod(MethodRegistry &registry)
{
    auto params = multiBranchParams(2, "stage2", 80.0 / 300.0, "the authors ramp up over 80 of 300 epochs");
    params.insert(params.begin(),
                  {ParamSpec::number("temperature", 3.0, 0.05, 100.0,
                                     "temperature T of every KL term (authors: 3)"),
                   ParamSpec::number("weight", 1.0, 0.0, 100.0, "weight of the KL terms after the ramp-up (authors: 1)"),
                   ParamSpec::number("fusion_weight_decay", 1e-5, 0.0, 1.0,
                                     "weight decay of the fusion module's parameters (authors: 1e-5; the network "
                                     "uses the stage's, the authors' 1e-4 with Nesterov SGD)")});
    registry.add("ffl", MethodEntry{"Feature Fusion Learning (Kim et al. 2020): branches on a shared trunk and a "
                                    "fusion module on their feature maps teach each other",
                                    false, std::move(params),
                                    [](const nlohmann::json &p) { return std::make_unique<FflMethod>(p); }});
}

} // namespace kd
