#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "methods/FeatureLosses.h"
#include "methods/FeatureSelection.h"
#include "methods/KdLosses.h"
#include "methods/SrmCodebook.h"

#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace kd {

namespace {

namespace nn = torch::nn;

/// Codewords and intercept of one stage, as the authors' layers hold them (Layers.py): centers
/// [C, K] from kaiming_uniform_ (fan-in K), one intercept from U(−1, 1). The teacher's
/// dictionary (SparseRep) and the student's prediction head (GlobalLocalPred) have this form.
class CodewordsImpl : public nn::Module {
public:
    CodewordsImpl(std::int64_t channels, std::int64_t codewords)
    {
        centers = register_parameter("centers", torch::empty({channels, codewords}));
        intercept = register_parameter("intercept", torch::empty({1}));
        torch::NoGradGuard noGrad;
        nn::init::kaiming_uniform_(centers);
        intercept.uniform_(-1.0, 1.0);
    }
    torch::Tensor centers, intercept;
};
TORCH_MODULE(Codewords);

enum class Target { GlobalLocal, Global, Local };

Target parseTarget(const std::string &s)
{
    if (s == "global-local")
        return Target::GlobalLocal;
    if (s == "global")
        return Target::Global;
    return Target::Local;
}

std::string percent(double x)
{
    std::ostringstream os;
    os << std::fixed << std::setprecision(1) << 100.0 * x << " %";
    return os.str();
}

/// Knowledge distillation by sparse representation matching (Tran, Gabbouj & Iosifidis), the
/// authors' procedure (viebboy/SRM, cifar100/code) in three phases of the student's stage:
///  1. dictionary learning: per chosen stage, K codewords learned on the frozen teacher's
///     feature by the MSE of its top-k sparse reconstruction (its own Adam, as
///     `train_codeword`); the student does not train;
///  2. student initialisation: sigmoid similarity heads on the student's stages predict the
///     teacher's image-level labels (mean of the top-k-sparsified similarities; BCE) and
///     pixel-level labels (the best codeword; CE), as `srm_init`;
///  3. KD: (1 − α)·CE + α·T²·KL, the heads dropped, as `knowledge_distil`.
class SrmMethod : public DistillationMethod {
public:
    explicit SrmMethod(const nlohmann::json &p)
        : m_studentSpec(p.at("student_features").get<std::string>())
        , m_teacherSpec(p.at("teacher_features").get<std::string>())
        , m_codewordMultiplier(p.at("codeword_multiplier").get<double>())
        , m_sparsityMultiplier(p.at("sparsity_multiplier").get<double>())
        , m_target(parseTarget(p.at("target").get<std::string>()))
        , m_dictionaryEpochs(p.at("dictionary_epochs").get<int>())
        , m_initEpochs(p.at("init_epochs").get<int>())
        , m_kdEpochs(p.at("kd_epochs").get<int>())
        , m_dictionaryLr(p.at("dictionary_lr").get<double>())
        , m_alpha(p.at("alpha").get<double>())
        , m_temperature(p.at("temperature").get<double>())
    {
        if (m_dictionaryEpochs + m_initEpochs + m_kdEpochs == 0)
            throw Error("method \"srm\": dictionary_epochs, init_epochs and kd_epochs are all 0; give the phases "
                        "their lengths (authors: 100, 160, 200)");
        if (m_initEpochs > 0 && m_dictionaryEpochs == 0)
            throw Error("method \"srm\": init_epochs = " + std::to_string(m_initEpochs)
                        + " trains the student on labels from the teacher's dictionary, but dictionary_epochs = 0 "
                          "leaves it untrained; give dictionary_epochs > 0 (authors: 100) or set init_epochs = 0");
        if (m_dictionaryEpochs > 0 && m_initEpochs == 0)
            throw Error("method \"srm\": dictionary_epochs = " + std::to_string(m_dictionaryEpochs)
                        + " learns a dictionary that only the student initialisation uses, but init_epochs = 0; "
                          "give init_epochs > 0 (authors: 160) or set dictionary_epochs = 0 (plain KD)");
    }

    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override
    {
        std::vector<std::string> out{"ce", "kd", "srm_dict"};
        if (m_target != Target::Local)
            out.push_back("srm_image");
        if (m_target != Target::Global)
            out.push_back("srm_pixel");
        return out;
    }
    std::vector<std::string> studentFeatures() const override { return features(m_studentSpec, true); }
    std::vector<std::string> teacherFeatures() const override { return features(m_teacherSpec, false); }
    std::shared_ptr<nn::Module> trainableModule() override { return m_heads; }

    void setup(const MethodSetup &setup) override
    {
        if (setup.teacher.empty())
            throw Error("method \"srm\" needs the teacher's feature shapes");
        m_pairs = pairFeatures(setup, m_studentSpec, m_teacherSpec, "srm");
        m_dictionary = std::make_shared<nn::Module>("srm_dictionary");
        m_heads = std::make_shared<nn::Module>("srm_heads");
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, "srm");
            const auto ct = pair.teacherShape[0];
            const auto codewords = srm::codewordCount(ct, m_codewordMultiplier);
            const auto k = srm::sparsity(ct, m_codewordMultiplier, m_sparsityMultiplier);
            m_k.push_back(k);
            const auto name = "stage" + std::to_string(i);
            m_teacherCodewords.push_back(m_dictionary->register_module(name, Codewords(ct, codewords)));
            m_studentHeads.push_back(m_heads->register_module(name, Codewords(pair.studentShape[0], codewords)));
        }
        m_dictionary->to(setup.device);
        m_heads->to(setup.device);
        // The dictionary has its own optimiser (the authors' train_codeword: Adam, no weight
        // decay); it is not part of trainableModule(), so the student's never touches it.
        m_dictionaryOptimizer = std::make_unique<torch::optim::Adam>(
            m_dictionary->parameters(), torch::optim::AdamOptions(m_dictionaryLr).weight_decay(0.0));
        m_isSetUp = true;
    }

    /// The dictionary and its optimiser are the method's own; the phase and its running loss
    /// make the resumed log lines match.
    void saveState(torch::serialize::OutputArchive &archive) override
    {
        torch::serialize::OutputArchive dict, opt;
        m_dictionary->save(dict);
        m_dictionaryOptimizer->save(opt);
        archive.write("dictionary", dict);
        archive.write("dictionary_optimizer", opt);
        archive.write("phase", torch::tensor({std::int64_t(m_phase), m_phaseSteps}, torch::kInt64));
        archive.write("phase_sum", torch::tensor({m_phaseSum}, torch::kFloat64));
    }

    void loadState(torch::serialize::InputArchive &archive) override
    {
        torch::serialize::InputArchive dict, opt;
        archive.read("dictionary", dict);
        archive.read("dictionary_optimizer", opt);
        m_dictionary->load(dict);
        m_dictionaryOptimizer->load(opt);
        torch::Tensor phase, sum;
        archive.read("phase", phase);
        archive.read("phase_sum", sum);
        m_phase = int(phase[0].item<std::int64_t>());
        m_phaseSteps = phase[1].item<std::int64_t>();
        m_phaseSum = sum[0].item<double>();
        if (m_phase == 3)
            for (auto &p : m_heads->parameters())
                p.set_requires_grad(false);
    }

    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &ctx) override
    {
        if (!t)
            throw Error("method \"srm\" needs the teacher's features, but none were given");
        if (!m_isSetUp)
            throw std::logic_error("method \"srm\": compute() before setup()");
        if (!m_planned || m_plan.totalSteps != ctx.totalSteps)
            plan(ctx);
        const int phase = ctx.step < m_plan.dictionaryEnd ? 1 : ctx.step < m_plan.initEnd ? 2 : 3;
        if (phase != m_phase)
            enterPhase(phase, ctx);

        const auto zero = torch::zeros({}, s.logits().options()).detach();
        Values v{zero, zero, zero, zero, zero};
        torch::Tensor total;
        if (phase == 1) {
            v.dict = learnDictionary(*t, ctx);
            // The student takes no step: the total is a constant leaf, so the trainer's
            // backward reaches no parameter and its optimiser skips them (no gradient yet).
            total = torch::full({}, v.dict.item<double>(), s.logits().options().requires_grad(true));
        } else if (phase == 2) {
            initTerms(s, *t, v);
            total = torch::zeros({}, s.logits().options());
            if (m_target != Target::Local)
                total = total + v.image;
            if (m_target != Target::Global)
                total = total + v.pixel;
        } else {
            v.ce = crossEntropyLoss(s.logits(), labels);
            v.kd = hintonKdLoss(s.logits(), t->logits(), m_temperature);
            total = (1.0 - m_alpha) * v.ce + m_alpha * v.kd;
        }
        m_phaseSum += total.item<double>();
        ++m_phaseSteps;
        if (ctx.step + 1 == m_plan.totalSteps)
            logPhaseDone(ctx); // the stage's last step ends the last phase

        LossTerms out;
        out.total = total;
        out.terms = {{"ce", v.ce}, {"kd", v.kd}, {"srm_dict", v.dict}};
        if (m_target != Target::Local)
            out.terms.emplace_back("srm_image", v.image);
        if (m_target != Target::Global)
            out.terms.emplace_back("srm_pixel", v.pixel);
        return out;
    }

private:
    struct Values {
        torch::Tensor ce, kd, dict, image, pixel;
    };

    std::vector<std::string> features(const std::string &spec, bool student) const
    {
        std::vector<std::string> out;
        auto add = [&](const std::string &n) {
            if (std::find(out.begin(), out.end(), n) == out.end())
                out.push_back(n);
        };
        if (m_isSetUp)
            for (const auto &p : m_pairs)
                add(student ? p.student : p.teacher);
        else
            for (const auto &n : namesBeforeSetup(spec))
                add(n);
        add("logits"); // the student's CE and KD, the teacher's KD targets
        return out;
    }

    void log(const StepContext &ctx, const std::string &line) const
    {
        if (ctx.log && *ctx.log)
            (*ctx.log)(line);
    }

    void plan(const StepContext &ctx)
    {
        m_plan = srm::planPhases(m_dictionaryEpochs, m_initEpochs, m_kdEpochs, ctx.epochs, ctx.totalSteps);
        m_planned = true;
        const int sum = m_dictionaryEpochs + m_initEpochs + m_kdEpochs;
        const auto total = double(std::max<std::int64_t>(1, m_plan.totalSteps));
        std::ostringstream os;
        os << "srm: " << m_pairs.size() << " stage pair(s):";
        for (std::size_t i = 0; i < m_pairs.size(); ++i)
            os << (i ? "," : "") << " " << m_pairs[i].student << "<-" << m_pairs[i].teacher << " ("
               << m_teacherCodewords[i]->centers.size(1) << " codewords, k = " << m_k[i] << ")";
        log(ctx, os.str());
        os.str("");
        os << "srm: phases over the stage's " << m_plan.totalSteps << " steps: dictionary learning "
           << m_plan.dictionaryEnd << ", student initialisation " << m_plan.initEnd - m_plan.dictionaryEnd << ", KD "
           << m_plan.totalSteps - m_plan.initEnd << " steps";
        if (m_plan.scaled)
            os << "; the stage has " << ctx.epochs << " epochs, not the " << sum << " of dictionary_epochs "
               << m_dictionaryEpochs << " + init_epochs " << m_initEpochs << " + kd_epochs " << m_kdEpochs
               << ", so the phases are scaled to fractions " << percent(double(m_plan.dictionaryEnd) / total) << " / "
               << percent(double(m_plan.initEnd - m_plan.dictionaryEnd) / total) << " / "
               << percent(double(m_plan.totalSteps - m_plan.initEnd) / total) << " of the steps";
        log(ctx, os.str());
    }

    static constexpr const char *kPhaseNames[] = {"", "dictionary learning", "student initialisation", "KD"};

    void logPhaseDone(const StepContext &ctx) const
    {
        if (m_phase == 0 || m_phaseSteps == 0)
            return;
        std::ostringstream os;
        os << std::fixed << std::setprecision(6) << "srm: phase " << m_phase << "/3 (" << kPhaseNames[m_phase]
           << ") done, mean loss " << m_phaseSum / double(m_phaseSteps) << " over " << m_phaseSteps << " steps";
        log(ctx, os.str());
    }

    void enterPhase(int phase, const StepContext &ctx)
    {
        const auto *names = kPhaseNames;
        logPhaseDone(ctx);
        if (phase == 3) {
            // The heads are dropped (the authors copy only the student's own layers into the KD
            // model): no gradient, so the optimiser skips them from here on.
            for (auto &p : m_heads->parameters()) {
                p.set_requires_grad(false);
                p.mutable_grad() = torch::Tensor();
            }
        }
        static const char *what[] = {
            "",
            "the codewords learn the teacher's features (MSE of the top-k sparse reconstruction); the student waits",
            "the student and its similarity heads learn the teacher's sparse codes (image-level BCE, pixel-level CE)",
            "(1 - alpha) CE + alpha T^2 KL on the logits"};
        log(ctx, "srm: phase " + std::to_string(phase) + "/3 (" + names[phase] + ") from step "
                     + std::to_string(ctx.step + 1) + ", epoch " + std::to_string(ctx.epoch) + ": " + what[phase]);
        m_phase = phase;
        m_phaseSum = 0;
        m_phaseSteps = 0;
    }

    /// One Adam step of the dictionary on this batch's teacher features; the authors' learning
    /// rates 1e-3 / 1e-4 / 1e-5 over 10 / 60 / 30 of their 100 epochs, as fractions of the phase.
    torch::Tensor learnDictionary(const Features &t, const StepContext &ctx)
    {
        const double f = double(ctx.step) / double(std::max<std::int64_t>(1, m_plan.dictionaryEnd));
        const double lr = m_dictionaryLr * (f < 0.1 ? 1.0 : f < 0.7 ? 0.1 : 0.01);
        for (auto &group : m_dictionaryOptimizer->param_groups())
            group.options().set_lr(lr);
        torch::Tensor loss;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &cw = *m_teacherCodewords[i];
            const auto l = srm::reconstructionLoss(t.get(m_pairs[i].teacher).detach(), cw.centers, cw.intercept, m_k[i]);
            loss = loss.defined() ? loss + l : l;
        }
        m_dictionaryOptimizer->zero_grad();
        loss.backward();
        m_dictionaryOptimizer->step();
        return loss.detach();
    }

    void initTerms(const Features &s, const Features &t, Values &v)
    {
        torch::Tensor image, pixel;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto [fs, ftRaw] = poolToCommonSize(s.get(m_pairs[i].student), t.get(m_pairs[i].teacher));
            torch::Tensor sparse;
            {
                torch::NoGradGuard noGrad;
                const auto &cw = *m_teacherCodewords[i];
                sparse = srm::sparsify(srm::similarity(ftRaw.detach(), cw.centers, cw.intercept), m_k[i]);
            }
            const auto &head = *m_studentHeads[i];
            const auto pred = srm::similarity(fs, head.centers, head.intercept);
            if (m_target != Target::Local) {
                const auto l = srm::imageLoss(pred, srm::imageLabels(sparse));
                image = image.defined() ? image + l : l;
            }
            if (m_target != Target::Global) {
                const auto l = srm::pixelLoss(pred, srm::pixelLabels(sparse));
                pixel = pixel.defined() ? pixel + l : l;
            }
        }
        if (image.defined())
            v.image = image;
        if (pixel.defined())
            v.pixel = pixel;
    }

    std::string m_studentSpec, m_teacherSpec;
    double m_codewordMultiplier, m_sparsityMultiplier;
    Target m_target;
    int m_dictionaryEpochs, m_initEpochs, m_kdEpochs;
    double m_dictionaryLr, m_alpha, m_temperature;

    bool m_isSetUp = false;
    std::vector<FeaturePair> m_pairs;
    std::vector<std::int64_t> m_k;
    std::shared_ptr<nn::Module> m_dictionary, m_heads;
    std::vector<Codewords> m_teacherCodewords, m_studentHeads;
    std::unique_ptr<torch::optim::Adam> m_dictionaryOptimizer;

    bool m_planned = false;
    srm::PhasePlan m_plan;
    int m_phase = 0;
    double m_phaseSum = 0;
    std::int64_t m_phaseSteps = 0;
};

std::vector<ParamSpec> srmParams()
{
    return {
        ParamSpec::features("student_features", "all", ParamSpec::Hint::StudentFeatures,
                            "student stages whose similarity heads learn the teacher's sparse codes: comma-separated "
                            "names (e.g. stage1,stage2,stage3), \"all\" stages or the \"last\" stage (authors: two "
                            "intermediate stages and the last feature map)"),
        ParamSpec::features("teacher_features", "all", ParamSpec::Hint::TeacherFeatures,
                            "teacher stages with a learned dictionary, paired in order with student_features"),
        ParamSpec::number("codeword_multiplier", 2.0, 0.01, 64.0,
                          "codewords per stage = int(teacher channels x this) (authors' CIFAR-100: 2.0, searched in "
                          "{1.5, 2, 3}; ImageNet: 4.0)"),
        ParamSpec::number("sparsity_multiplier", 0.02, 0.0, 1.0,
                          "non-zero codes per position k = int(teacher channels x codeword_multiplier x this), at "
                          "least 1 (authors: 0.02, searched in {0.01, 0.02, 0.03})"),
        ParamSpec::choice("target", "global-local", {"global-local", "global", "local"},
                          "labels of the student initialisation: image-level (global, BCE), pixel-level (local, CE) or "
                          "both (authors: global-local)"),
        ParamSpec::integer("dictionary_epochs", 100, 0, 100000,
                           "phase 1 length: the codewords learn the teacher's features (authors: 100 = 10 + 60 + 30); "
                           "the phases are scaled to fractions of the stage when its epochs differ from the sum"),
        ParamSpec::integer("init_epochs", 160, 0, 100000,
                           "phase 2 length: the student initialisation on the sparse codes (authors: 160 = 30 + 100 + "
                           "30)"),
        ParamSpec::integer("kd_epochs", 200, 0, 100000,
                           "phase 3 length: KD on the logits (authors: 200 = 30 + 100 + 70)"),
        ParamSpec::number("dictionary_lr", 1e-3, 1e-8, 10.0,
                          "Adam learning rate of the codewords (the dictionary's own optimiser, no weight decay), then "
                          "x0.1 after 10 % and x0.01 after 70 % of phase 1 (authors: 1e-3, 1e-4, 1e-5)"),
        ParamSpec::number("alpha", 0.5, 0.0, 1.0,
                          "phase 3: loss = (1 - alpha) CE + alpha T^2 KL (authors' CIFAR-100 grid {0.25, 0.5, 0.75}; "
                          "ImageNet 0.3)"),
        ParamSpec::number("temperature", 4.0, 0.05, 100.0,
                          "phase 3 softmax temperature T (authors' CIFAR-100 grid {2, 4, 8}; ImageNet 4)"),
    };
}

} // namespace

void registerSrmMethod(MethodRegistry &registry)
{
    registry.add("srm",
                 {"Knowledge distillation by sparse representation matching (Tran, Gabbouj & Iosifidis), the authors' "
                  "three phases in the student's stage: codewords learned on the teacher's features, the student "
                  "initialised on the teacher's sparse codes (image-level BCE, pixel-level CE), then KD",
                  true, srmParams(), [](const nlohmann::json &p) { return std::make_unique<SrmMethod>(p); }});
}

} // namespace kd
