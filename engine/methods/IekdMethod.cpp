#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"
#include "methods/IekdLosses.h"
#include "methods/KdLosses.h"

#include <algorithm>
#include <cmath>

namespace kd {

namespace {

namespace nn = torch::nn;

/// The authors' three-conv "Coder" (model/auto_encoder.py): LeakyReLU(0.1) → [3×3 conv (no
/// bias) → BN → LeakyReLU(0.1)] × 3, widths in → in → out → out; convolutions start
/// N(0, 2/(9·out)), BN at weight 1, bias 0.
class CoderImpl : public nn::Module {
public:
    CoderImpl(std::int64_t in, std::int64_t out)
    {
        const std::int64_t widths[4] = {in, in, out, out};
        for (int i = 0; i < 3; ++i) {
            m_convs.push_back(register_module(
                "conv" + std::to_string(i),
                nn::Conv2d(nn::Conv2dOptions(widths[i], widths[i + 1], 3).padding(1).bias(false))));
            m_bns.push_back(register_module("bn" + std::to_string(i), nn::BatchNorm2d(widths[i + 1])));
            torch::NoGradGuard noGrad;
            m_convs.back()->weight.normal_(0.0, std::sqrt(2.0 / (9.0 * double(widths[i + 1]))));
        }
    }
    torch::Tensor forward(torch::Tensor x)
    {
        x = torch::leaky_relu(x, 0.1);
        for (std::size_t i = 0; i < m_convs.size(); ++i)
            x = torch::leaky_relu(m_bns[i]->forward(m_convs[i]->forward(x)), 0.1);
        return x;
    }

private:
    std::vector<nn::Conv2d> m_convs;
    std::vector<nn::BatchNorm2d> m_bns;
};
TORCH_MODULE(Coder);

/// IE-KD's trainable parts: the teacher-factor auto-encoder (encoder C_t → k, decoder
/// k → C_t) and the student's inheritance and exploration encoders (each half → k).
class IekdStateImpl : public nn::Module {
public:
    IekdStateImpl(std::int64_t teacherChannels, std::int64_t inheritChannels, std::int64_t exploreChannels,
                  std::int64_t factorChannels)
    {
        teacherEncoder = register_module("teacher_encoder", Coder(teacherChannels, factorChannels));
        teacherDecoder = register_module("teacher_decoder", Coder(factorChannels, teacherChannels));
        inheritEncoder = register_module("inherit_encoder", Coder(inheritChannels, factorChannels));
        exploreEncoder = register_module("explore_encoder", Coder(exploreChannels, factorChannels));
    }
    Coder teacherEncoder{nullptr}, teacherDecoder{nullptr}, inheritEncoder{nullptr}, exploreEncoder{nullptr};
};
TORCH_MODULE(IekdState);

/// Inheritance and exploration KD (Huang et al., CVPR 2021) in one training stage: the
/// teacher's feature is encoded into a factor by an auto-encoder trained on it (reconstruction
/// term; the teacher stays frozen); the student's feature is split by channels into an
/// inheritance half, whose encoded factor is pulled to the teacher factor, and an exploration
/// half, whose factor is pushed away from it.
class IekdMethod : public FeatureKdMethod {
public:
    explicit IekdMethod(const nlohmann::json &p)
        : FeatureKdMethod("iekd", p)
        , m_distance(parseIekdDistance(p.at("distance").get<std::string>()))
        , m_factorRate(p.at("factor_rate").get<double>())
        , m_autoencoderEpochs(p.at("autoencoder_epochs").get<int>())
        , m_autoencoderFraction(p.at("autoencoder_fraction").get<double>())
        , m_mutual(p.at("mutual").get<bool>())
        , m_mutualWeight(p.at("mutual_weight").get<double>())
        , m_mutualTemperature(p.at("mutual_temperature").get<double>())
    {
        // The mutual form's partner moves as it trains: an auto-encoder pre-trained and frozen
        // on its early features would encode a stale partner, so it trains jointly throughout.
        m_requestedAutoencoderEpochs = m_autoencoderEpochs;
        if (m_mutual)
            m_autoencoderEpochs = 0;
        m_terms = {{"inherit", p.at("inherit_weight").get<double>()},
                   {"explore", p.at("explore_weight").get<double>()},
                   {"recon", p.at("recon_weight").get<double>()}};
    }

    std::vector<std::string> setupNotes() const override { return m_notes; }
    bool needsTeacher() const override { return !m_mutual; }
    std::vector<std::string> termNames() const override
    {
        auto names = FeatureKdMethod::termNames();
        if (m_mutual)
            names.push_back("mutual_kl");
        return names;
    }

    /// The mutual form (IE-DML): two peers, each the other's teacher. Peer k's "teacher"
    /// shapes are its partner's; its auto-encoder encodes the partner's feature.
    void setup(const MethodSetup &setup) override
    {
        if (!m_mutual) {
            FeatureKdMethod::setup(setup);
            return;
        }
        if (setup.cohort.size() != 2)
            throw Error("iekd's mutual form trains two peers, each the other's teacher (the paper's IE-KD with deep "
                        "mutual learning); list exactly two in \"peers\" (this project lists "
                        + std::to_string(setup.cohort.size()) + ")");
        m_index = setup.cohortIndex;
        auto own = setup;
        own.teacher = setup.cohort.at(1 - m_index);
        FeatureKdMethod::setup(own);
        m_notes.insert(m_notes.begin(),
                       "iekd (mutual): peer" + std::to_string(m_index + 1) + " inherits from and explores away from peer"
                           + std::to_string(2 - m_index) + "'s auto-encoded " + m_pairs[0].teacher + ", with DML's KL at T "
                           + std::to_string(m_mutualTemperature).substr(0, 4)
                           + "; the auto-encoder trains jointly (no pre-training: its partner keeps learning)"
                           + (m_requestedAutoencoderEpochs > 0
                                  ? " — autoencoder_epochs = " + std::to_string(m_requestedAutoencoderEpochs)
                                        + " does not apply to the mutual form"
                                  : std::string()));
    }

    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        if (!m_mutual)
            return FeatureKdMethod::compute(s, t, labels, ctx);
        if (!ctx.cohort || ctx.cohort->size() != 2)
            throw Error("iekd's mutual form trains a cohort of two peers: list them in \"peers\"");
        // The partner is a target: its features are read without gradient.
        Features partner;
        for (const auto &kv : ctx.cohort->at(1 - m_index).items())
            partner.add(kv.first, kv.second.detach());
        auto out = FeatureKdMethod::compute(s, &partner, labels, ctx);
        const auto kl = hintonKdLoss(s.logits(), partner.logits(), m_mutualTemperature);
        out.total = out.total + m_mutualWeight * kl;
        out.terms.emplace_back("mutual_kl", kl);
        return out;
    }

    /// Epochs of the auto-encoder phase in a stage of `epochs`: the authors' 30 epochs
    /// (autoencoder_epochs), but at most autoencoder_fraction of the stage (their 30 : 160),
    /// at least 1, and never the whole stage (one epoch or none: joint training).
    int autoencoderPhase(int epochs) const
    {
        if (m_autoencoderEpochs <= 0 || epochs <= 1)
            return 0;
        const int scaled = std::max(1, int(std::lround(m_autoencoderFraction * double(epochs))));
        return std::min({m_autoencoderEpochs, scaled, epochs - 1});
    }

protected:
    bool trainsStudent(const StepContext &ctx) const override { return ctx.epoch > autoencoderPhase(ctx.epochs); }

    void setupPairs(const MethodSetup &setup) override
    {
        if (m_autoencoderEpochs > 0 && m_terms[2].weight <= 0)
            throw Error("method \"iekd\": autoencoder_epochs = " + std::to_string(m_autoencoderEpochs)
                        + " pre-trains the teacher auto-encoder on its reconstruction loss alone, which "
                          "recon_weight = 0 switches off; set recon_weight > 0 or autoencoder_epochs = 0");
        m_notes.clear();
        if (setup.epochs > 0 && m_autoencoderEpochs > 0) {
            const int n = autoencoderPhase(setup.epochs);
            if (n == 0)
                m_notes.push_back("iekd: a stage of one epoch has no room for the auto-encoder pre-training; it "
                                  "trains jointly with the student");
            else
                m_notes.push_back("iekd: auto-encoder pre-training for " + std::to_string(n) + " of "
                                  + std::to_string(setup.epochs) + " epochs (the authors: 30 epochs before 160 of "
                                  "distillation; here min(autoencoder_epochs = " + std::to_string(m_autoencoderEpochs)
                                  + ", autoencoder_fraction x epochs)), the student learns nothing in them and "
                                  "distils for the remaining " + std::to_string(setup.epochs - n));
        }
        if (m_pairs.size() != 1)
            throw Error("method \"iekd\" distils one feature pair (the teacher's factor and the student's split "
                        "feature); student_features and teacher_features must each name one stage, e.g. \"last\"");
        const auto &pair = m_pairs[0];
        requireSpatial(pair, m_name);
        const auto cs = pair.studentShape[0];
        if (cs < 2)
            throw Error("method \"iekd\" splits the student feature \"" + pair.student + "\" into inheritance and "
                        "exploration channels, but it has only one channel; choose a wider stage");
        m_inherit = cs / 2;
        const auto factor = std::max<std::int64_t>(1, std::llround(double(pair.teacherShape[0]) * m_factorRate));
        m_state = module().register_module("iekd", IekdState(pair.teacherShape[0], m_inherit, cs - m_inherit, factor));
    }

    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &ctx) override
    {
        const auto [fs, ftRaw] = poolToCommonSize(s.get(m_pairs[0].student), t.get(m_pairs[0].teacher));
        const auto ft = ftRaw.detach();
        const int phase = autoencoderPhase(ctx.epochs);
        if (ctx.epoch <= phase) {
            // Phase 1 (the authors' auto-encoder pre-training): reconstruction only; the
            // inheritance and exploration terms are zero and trainsStudent() keeps CE out of
            // the total, so only the auto-encoder learns.
            const auto recon = iekdReconstructionLoss(m_state->teacherDecoder->forward(m_state->teacherEncoder->forward(ft)), ft);
            const auto zero = torch::zeros({}, recon.options());
            return {zero, zero, recon};
        }
        torch::Tensor target, recon;
        if (phase > 0) {
            // Phase 2: the auto-encoder is frozen (eval mode, no gradient, no decay: its
            // gradients are dropped so the optimiser skips it) and only encodes the target.
            freezeAutoencoder();
            torch::NoGradGuard noGrad;
            target = m_state->teacherEncoder->forward(ft);
            recon = torch::zeros({}, ft.options());
        } else {
            const auto teacherFactor = m_state->teacherEncoder->forward(ft);
            recon = iekdReconstructionLoss(m_state->teacherDecoder->forward(teacherFactor), ft);
            // The factor is a target for the student: its encoder learns from reconstruction only.
            target = teacherFactor.detach();
        }
        const auto inherit = m_state->inheritEncoder->forward(fs.narrow(1, 0, m_inherit));
        const auto explore = m_state->exploreEncoder->forward(fs.narrow(1, m_inherit, fs.size(1) - m_inherit));
        return {iekdInheritLoss(inherit, target, m_distance), iekdExploreLoss(explore, target, m_distance), recon};
    }

    void freezeAutoencoder()
    {
        for (auto *coder : {&m_state->teacherEncoder, &m_state->teacherDecoder}) {
            (*coder)->eval(); // the trainer puts the method's module in training mode every epoch
            for (auto &p : (*coder)->parameters()) {
                p.set_requires_grad(false);
                p.mutable_grad() = torch::Tensor();
            }
        }
    }

private:
    IekdDistance m_distance;
    double m_factorRate;
    int m_autoencoderEpochs;
    double m_autoencoderFraction;
    bool m_mutual;
    double m_mutualWeight, m_mutualTemperature;
    int m_requestedAutoencoderEpochs = 0;
    std::size_t m_index = 0; ///< the mutual form: this peer's place in the cohort
    std::vector<std::string> m_notes;
    std::int64_t m_inherit = 0;
    IekdState m_state{nullptr};
};

} // namespace

void registerIekdMethod(MethodRegistry &registry)
{
    MethodEntry e{"Inheritance and exploration KD (Huang et al. CVPR 2021): CE + half of the student's channels inherit the "
         "teacher's auto-encoded factor, the other half is pushed away from it, + the auto-encoder's reconstruction",
         true,
         featureMethodParams(
             "last", "last", "(one map each) whose channels are split into inheritance and exploration halves",
             {ParamSpec::number("inherit_weight", 1.0, 0.0, 1e6,
                                "weight of the inheritance loss (IE-KD: 1)"),
              ParamSpec::number("explore_weight", 1.0, 0.0, 1e6,
                                "weight of the exploration loss (IE-KD: 1); it is negative for l1/l2 (a distance "
                                "to be increased)"),
              ParamSpec::number("recon_weight", 1.0, 0.0, 1e6,
                                "weight of the teacher auto-encoder's L1 reconstruction loss (trains only the "
                                "auto-encoder)"),
              ParamSpec::choice("distance", "l1", {"l1", "l2", "cos"},
                                "factor comparison: l1 / l2 distance of L2-normalised factors (inherit d, explore -d; "
                                "IE-KD's FT loss) or cos (inherit 1 - cos, explore |cos|)"),
              ParamSpec::number("factor_rate", 0.5, 0.01, 4.0,
                                "factor channels as a fraction of the teacher's channels (IE-KD: 64 -> 32)"),
              ParamSpec::integer("autoencoder_epochs", 30, 0, 100000,
                                 "epochs in which only the teacher auto-encoder trains (reconstruction; the student "
                                 "is left alone) before it is frozen, as the authors' num_epoch_embedT = 30; at most "
                                 "autoencoder_fraction of the stage's epochs; 0: the auto-encoder trains jointly with "
                                 "the student throughout"),
              ParamSpec::number("autoencoder_fraction", 0.1875, 0.01, 1.0,
                                "most of the stage's epochs the auto-encoder phase may take (at least 1, never all): "
                                "the authors' 30 auto-encoder epochs to 160 of distillation; 1 leaves "
                                "autoencoder_epochs as given"),
              ParamSpec::boolean("mutual", false,
                                 "IE-KD's mutual form: train the project's two \"peers\" together, each the other's "
                                 "teacher (inheritance from and exploration away from the partner's auto-encoded "
                                 "feature, plus deep mutual learning's KL); no teacher stage"),
              ParamSpec::number("mutual_weight", 1.0, 0.0, 1000.0,
                                "the mutual form: weight of the KL to the partner's prediction (DML: 1)"),
              ParamSpec::number("mutual_temperature", 1.0, 0.05, 100.0,
                                "the mutual form: temperature of that KL, scaled by T^2 (DML: 1)")}),
         [](const nlohmann::json &p) { return std::make_unique<IekdMethod>(p); }};
    e.onlineWhen = [](const nlohmann::json &p) { return p.is_object() && p.value("mutual", false); };
    registry.add("iekd", std::move(e));
}

} // namespace kd
