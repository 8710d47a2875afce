#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/online/OnlineLosses.h"

#include <torch/torch.h>

#include <sstream>

namespace kd {

namespace {

/// The last "stageK" feature of a model's features (its last feature map), or "" without one.
std::string lastStageOf(const FeatureShapes &shapes)
{
    std::string last;
    for (const auto &kv : shapes)
        if (kv.first.rfind("stage", 0) == 0 && kv.first.find('_') == std::string::npos && kv.second.size() == 3)
            last = kv.first;
    return last;
}

std::string shapeText(const std::vector<std::int64_t> &s)
{
    std::ostringstream os;
    for (std::size_t k = 0; k < s.size(); ++k)
        os << (k ? "×" : "") << s[k];
    return os.str();
}

/// AFD's discriminator for one network (our structure; the paper's is not available here): a
/// 3×3 convolution (C → C/2, stride 1) with BatchNorm and LeakyReLU(0.2), a 3×3 convolution to one
/// channel, the spatial mean and a sigmoid: one score in (0, 1) per image, "real" near 1. With
/// `transferFrom` > 0 the network's own map first passes a 1×1 convolution with BatchNorm from
/// its channels to the peer's (the transfer layer; trained with the network).
struct AfdDiscriminatorImpl : torch::nn::Module {
    AfdDiscriminatorImpl(std::int64_t channels, std::int64_t transferFrom)
    {
        const auto hidden = std::max<std::int64_t>(1, channels / 2);
        conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, hidden, 3).padding(1)));
        bn1 = register_module("bn1", torch::nn::BatchNorm2d(hidden));
        conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, 1, 3).padding(1)));
        if (transferFrom > 0) {
            transfer = register_module("transfer", torch::nn::Conv2d(torch::nn::Conv2dOptions(transferFrom, channels, 1)
                                                                         .bias(false)));
            transferBn = register_module("transfer_bn", torch::nn::BatchNorm2d(channels));
        }
    }
    /// The scores (B) of maps in the peer's channels.
    torch::Tensor score(const torch::Tensor &maps)
    {
        auto h = torch::leaky_relu(bn1(conv1(maps)), 0.2);
        return torch::sigmoid(conv2(h).mean({1, 2, 3}));
    }
    /// The network's own map in the peer's channels.
    torch::Tensor own(const torch::Tensor &maps) { return transfer ? transferBn(transfer(maps)) : maps; }
    /// Parameters of the discriminator itself (not the transfer layer).
    std::vector<torch::Tensor> discriminatorParameters()
    {
        std::vector<torch::Tensor> p = conv1->parameters();
        for (auto &t : bn1->parameters())
            p.push_back(t);
        for (auto &t : conv2->parameters())
            p.push_back(t);
        return p;
    }
    std::vector<torch::Tensor> transferParameters()
    {
        std::vector<torch::Tensor> p;
        if (transfer) {
            for (auto &t : transfer->parameters())
                p.push_back(t);
            for (auto &t : transferBn->parameters())
                p.push_back(t);
        }
        return p;
    }
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, transfer{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, transferBn{nullptr};
};
TORCH_MODULE(AfdDiscriminator);

/// "afd": Feature-map-level Online Adversarial Knowledge Distillation (Chung, Park, Kim & Kwak,
/// ICML 2020). No author code is public, and the paper's text was not at hand here: the method
/// follows its abstract and the secondary descriptions, and states every choice (docs/METHODS.md).
/// A cohort of K networks; network k learns from network k − 1 (cyclically: 1 → 2 → … → K → 1;
/// for two networks each learns from the other). Every batch makes two updates of network k:
///   1. the logit loss CE(z_k, y) + w · T² · KL(softmax(z_{k−1}/T) ‖ softmax(z_k/T)), target
///      detached, with the stage's optimiser (the trainer's step, compute());
///   2. after every network's first update and a new forward, the adversarial step
///      (secondStep()): the discriminator D_k, which takes network k − 1's last feature map as
///      real and network k's as fake, is updated by Adam on the least-squares loss
///      (1 − D_k(real))² + D_k(fake)²; then network k (and its transfer layer) by an Adam of
///      its own on (1 − D_k(fake))², so that its maps become ones D_k takes for the peer's.
class AfdMethod : public DistillationMethod {
public:
    explicit AfdMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_weight(p.at("weight").get<double>())
        , m_advWeight(p.at("adversarial_weight").get<double>())
        , m_lr(p.at("adversarial_lr").get<double>())
        , m_weightDecay(p.at("adversarial_weight_decay").get<double>())
    {
    }
    bool needsTeacher() const override { return false; }
    std::vector<std::string> termNames() const override { return {"ce", "kl", "discriminator", "adversarial"}; }
    std::size_t secondStepTerms() const override { return 2; }

    void setup(const MethodSetup &setup) override
    {
        if (setup.cohort.size() < 2)
            throw Error("method \"afd\" trains a cohort: list two or more peers in \"peers\" (docs/PROJECT_FORMAT.md)");
        m_index = setup.cohortIndex;
        m_peer = (m_index + setup.cohort.size() - 1) % setup.cohort.size();
        m_ownFeature = lastStageOf(setup.cohort[m_index]);
        m_peerFeature = lastStageOf(setup.cohort[m_peer]);
        const auto name = [](std::size_t k) { return "peer" + std::to_string(k + 1); };
        for (const auto &[k, f] : {std::pair{m_index, m_ownFeature}, std::pair{m_peer, m_peerFeature}})
            if (f.empty())
                throw Error("afd's discriminators read feature maps, but " + name(k)
                            + "'s architecture has none (an MLP); choose convolutional peers");
        m_ownShape = setup.studentShape(m_ownFeature);
        for (const auto &kv : setup.cohort[m_peer])
            if (kv.first == m_peerFeature)
                m_peerShape = kv.second;
        if (m_ownShape[1] != m_peerShape[1] || m_ownShape[2] != m_peerShape[2])
            throw Error("afd compares " + name(m_index) + "'s last feature map (" + m_ownFeature + ", "
                        + shapeText(m_ownShape) + ") with " + name(m_peer) + "'s (" + m_peerFeature + ", "
                        + shapeText(m_peerShape) + "): their spatial sizes differ; choose peers whose last "
                        "stages have the same resolution (the CIFAR ResNets and WRNs all end at 8×8)");
        const bool transfer = m_ownShape[0] != m_peerShape[0];
        m_d = AfdDiscriminator(m_peerShape[0], transfer ? m_ownShape[0] : 0);
        m_d->to(setup.device);
        m_dOptimizer = std::make_unique<torch::optim::Adam>(
            m_d->discriminatorParameters(), torch::optim::AdamOptions(m_lr).weight_decay(m_weightDecay));
    }
    std::vector<std::string> studentFeatures() const override
    {
        return m_ownFeature.empty() ? std::vector<std::string>{"logits"} : std::vector<std::string>{m_ownFeature, "logits"};
    }
    std::vector<std::string> setupNotes() const override
    {
        std::ostringstream os;
        os << "afd: peer" << m_index + 1 << " learns from peer" << m_peer + 1 << " (logits at T " << m_temperature
           << "; its " << m_ownFeature << " " << shapeText(m_ownShape) << " against peer" << m_peer + 1 << "'s "
           << m_peerFeature << " " << shapeText(m_peerShape) << " through a discriminator";
        if (m_ownShape[0] != m_peerShape[0])
            os << " after a 1×1 transfer layer";
        os << "; Adam lr " << m_lr << ", weight decay " << m_weightDecay << " for the adversarial step)";
        return {os.str()};
    }

    LossTerms compute(const Features &s, const Features *, const torch::Tensor &labels, const StepContext &ctx) override
    {
        if (!ctx.cohort)
            throw Error("method \"afd\" trains a cohort: list the peers in \"peers\" (docs/PROJECT_FORMAT.md)");
        const auto &peer = (*ctx.cohort).at(m_peer);
        const auto ce = crossEntropyLoss(s.logits(), labels);
        const auto kl = hintonKdLoss(s.logits(), peer.logits().detach(), m_temperature);
        return {ce + m_weight * kl, {{"ce", ce}, {"kl", kl}}};
    }

    std::vector<double> secondStep(FeatureNet &model, const StepContext &ctx) override
    {
        if (!m_d)
            throw Error("method \"afd\" was not set up (setup() builds its discriminator)");
        if (!m_gOptimizer) {
            auto params = model.parameters();
            for (auto &t : m_d->transferParameters())
                params.push_back(t);
            m_gOptimizer = std::make_unique<torch::optim::Adam>(
                params, torch::optim::AdamOptions(m_lr).weight_decay(m_weightDecay));
            if (m_pendingG) {
                m_gOptimizer->load(*m_pendingG);
                m_pendingG.reset();
            }
        }
        m_d->train();
        const auto &own = (*ctx.cohort).at(m_index).get(m_ownFeature);
        const auto real = (*ctx.cohort).at(m_peer).get(m_peerFeature).detach();
        const auto fake = m_d->own(own);
        // The discriminator first, on maps without gradient; then the network against it.
        const auto dLoss = afdDiscriminatorLoss(m_d->score(real), m_d->score(fake.detach()));
        const double d = dLoss.item<double>();
        if (std::isfinite(d)) {
            m_dOptimizer->zero_grad();
            dLoss.backward();
            m_dOptimizer->step();
        }
        const auto gLoss = afdGeneratorLoss(m_d->score(fake));
        const double g = gLoss.item<double>();
        if (std::isfinite(g)) {
            // Gradients cleared to none, not zero: Adam then leaves alone the parameters the
            // adversarial loss does not reach (the classifier), instead of decaying them and
            // moving them by stale momentum.
            for (auto &group : m_gOptimizer->param_groups())
                for (auto &t : group.params())
                    t.mutable_grad() = torch::Tensor();
            (m_advWeight * gLoss).backward();
            m_gOptimizer->step();
            m_dOptimizer->zero_grad(); // the generator's backward reached the discriminator too
        }
        return {d, g};
    }

    void saveState(torch::serialize::OutputArchive &archive) override
    {
        if (!m_d)
            return;
        torch::serialize::OutputArchive d, dOpt;
        m_d->save(d);
        archive.write("discriminator", d);
        m_dOptimizer->save(dOpt);
        archive.write("discriminator_optimizer", dOpt);
        archive.write("has_adversarial_optimizer", torch::full({1}, m_gOptimizer ? 1 : 0, torch::kInt64));
        if (m_gOptimizer) {
            torch::serialize::OutputArchive gOpt;
            m_gOptimizer->save(gOpt);
            archive.write("adversarial_optimizer", gOpt);
        }
    }
    void loadState(torch::serialize::InputArchive &archive) override
    {
        if (!m_d)
            return;
        torch::serialize::InputArchive d, dOpt;
        archive.read("discriminator", d);
        m_d->load(d);
        m_d->to(device());
        archive.read("discriminator_optimizer", dOpt);
        m_dOptimizer->load(dOpt);
        torch::Tensor has;
        archive.read("has_adversarial_optimizer", has);
        if (has.item<std::int64_t>()) {
            // The network's Adam is made at its first adversarial step (it needs the network):
            // its state waits until then.
            m_pendingG = std::make_shared<torch::serialize::InputArchive>();
            archive.read("adversarial_optimizer", *m_pendingG);
        }
    }

private:
    torch::Device device() const { return m_d->conv1->weight.device(); }

    double m_temperature, m_weight, m_advWeight, m_lr, m_weightDecay;
    std::size_t m_index = 0, m_peer = 0;
    std::string m_ownFeature, m_peerFeature;
    std::vector<std::int64_t> m_ownShape, m_peerShape;
    AfdDiscriminator m_d{nullptr};
    std::unique_ptr<torch::optim::Adam> m_dOptimizer, m_gOptimizer;
    std::shared_ptr<torch::serialize::InputArchive> m_pendingG;
};

} // namespace

void registerAfdMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 3.0, 0.05, 100.0,
                          "temperature T of the logit KL from the previous peer (scaled by T^2; our choice, 3)"),
        ParamSpec::number("weight", 1.0, 0.0, 100.0, "weight of the logit KL against the cross-entropy"),
        ParamSpec::number("adversarial_weight", 1.0, 0.0, 100.0,
                          "weight of the network's adversarial loss (1 - D(own map))^2 in its adversarial step"),
        ParamSpec::number("adversarial_lr", 2e-5, 0.0, 1.0,
                          "learning rate of the Adam optimisers of the adversarial step: the discriminators' and the "
                          "networks' second update"),
        ParamSpec::number("adversarial_weight_decay", 0.1, 0.0, 10.0,
                          "weight decay (L2) of those Adam optimisers"),
    };
    MethodEntry e{"Online adversarial feature-map distillation (Chung et al. 2020): a cohort whose every network "
                  "learns the previous one's logits and, through a least-squares discriminator, its feature maps",
                  false, std::move(params), [](const nlohmann::json &p) { return std::make_unique<AfdMethod>(p); }};
    e.online = true;
    registry.add("afd", std::move(e));
}

} // namespace kd
