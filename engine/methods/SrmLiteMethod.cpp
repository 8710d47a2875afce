#include "methods/BuiltinMethods.h"

#include "core/Error.h"
#include "methods/Connector.h"
#include "methods/FeatureKdMethod.h"
#include "methods/FeatureLosses.h"
#include "methods/SrmLosses.h"

namespace kd {

namespace {

namespace F = torch::nn::functional;

/// One SRM feature pair: the student head (1×1 conv + BN into the teacher's channel space,
/// Linear + BN for vectors) and the teacher dictionary with its usage statistics. The
/// dictionary is a buffer: it is estimated from teacher features, never optimised.
class SrmPairImpl : public torch::nn::Module {
public:
    SrmPairImpl(std::int64_t studentChannels, std::int64_t teacherChannels, std::int64_t atoms, bool spatial)
    {
        connector = register_module("connector", Connector(studentChannels, teacherChannels, spatial));
        dictionary = register_buffer("dictionary", torch::zeros({atoms, teacherChannels}));
        usage = register_buffer("usage", torch::full({atoms}, 1.0 / double(atoms)));
        initialised = register_buffer("initialised", torch::zeros({1}, torch::kInt64));
    }
    Connector connector{nullptr};
    torch::Tensor dictionary, usage, initialised;
};
TORCH_MODULE(SrmPair);

/// A one-stage stand-in for sparse representation matching (Tran, Gabbouj & Iosifidis 2021),
/// kept as "srm_lite" beside the paper's three-phase "srm" (SrmMethod.cpp): in one training stage,
/// per feature pair, the teacher's channel vectors are coded over a dictionary of M atoms
/// (top-k similarities); the student, through its head, predicts at every position which
/// atoms are active (pixel-level labels) and, averaged over the image, their histogram
/// (image-level labels). See docs/METHODS.md for what differs from the paper's two stages.
class SrmLiteMethod : public FeatureKdMethod {
public:
    explicit SrmLiteMethod(const nlohmann::json &p)
        : FeatureKdMethod("srm_lite", p)
        , m_atoms(p.at("dictionary_size").get<int>())
        , m_k(p.at("top_k").get<int>())
        , m_temperature(p.at("temperature").get<double>())
        , m_dictionaryEpochs(p.at("dictionary_epochs").get<int>())
        , m_decay(p.at("dictionary_decay").get<double>())
    {
        if (m_k > m_atoms)
            throw Error("method \"srm_lite\": top_k = " + std::to_string(m_k) + " exceeds dictionary_size = "
                        + std::to_string(m_atoms) + "; choose top_k <= dictionary_size");
        m_terms = {{"srm_pixel", p.at("pixel_weight").get<double>()},
                   {"srm_image", p.at("image_weight").get<double>()}};
    }

protected:
    void setupPairs(const MethodSetup &) override
    {
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto &pair = m_pairs[i];
            requireSameKind(pair, m_name);
            m_state.push_back(module().register_module(
                "pair" + std::to_string(i),
                SrmPair(pair.studentShape[0], pair.teacherShape[0], m_atoms, pair.studentShape.size() == 3)));
        }
    }

    std::vector<torch::Tensor> featureTerms(const Features &s, const Features &t, const torch::Tensor &,
                                            const StepContext &ctx) override
    {
        torch::Tensor pixel, image;
        for (std::size_t i = 0; i < m_pairs.size(); ++i) {
            const auto [fs, ft] = poolToCommonSize(s.get(m_pairs[i].student), t.get(m_pairs[i].teacher));
            const std::int64_t positions = ft.dim() == 4 ? ft.size(2) * ft.size(3) : 1;
            auto &st = *m_state[i];
            const auto teacherVectors = srmPixelVectors(ft.detach());
            updateDictionary(st, teacherVectors, ctx);

            torch::Tensor labels, imageLabels;
            {
                torch::NoGradGuard noGrad;
                const auto codes = srmSparseCodes(teacherVectors, st.dictionary, m_k);
                labels = srmPixelLabels(codes.indices, m_atoms);
                imageLabels = srmImageLabels(labels, positions);
            }
            const auto projected = F::normalize(srmPixelVectors(st.connector->forward(fs)),
                                                F::NormalizeFuncOptions().p(2).dim(1));
            const auto logits = projected.matmul(st.dictionary.to(projected.dtype()).t()) / m_temperature;
            const auto lp = srmPixelLoss(logits, labels);
            const auto li = srmImageLoss(logits, imageLabels, positions);
            pixel = pixel.defined() ? pixel + lp : lp;
            image = image.defined() ? image + li : li;
        }
        return {pixel, image};
    }

private:
    /// Seeds the dictionary with random teacher vectors on the first batch; then, during the
    /// first `dictionary_epochs` epochs, one spherical k-means step per batch.
    void updateDictionary(SrmPairImpl &st, const torch::Tensor &vectors, const StepContext &ctx)
    {
        torch::NoGradGuard noGrad;
        const auto x = F::normalize(vectors.to(st.dictionary.dtype()), F::NormalizeFuncOptions().p(2).dim(1));
        if (st.initialised.item<std::int64_t>() == 0) {
            const auto n = x.size(0);
            const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
            const auto rows = n >= m_atoms ? torch::randperm(n, opts).narrow(0, 0, m_atoms)
                                           : torch::randint(0, n, {m_atoms}, opts);
            // Fewer positions than atoms repeat rows; a little noise keeps the atoms apart.
            auto seed = x.index_select(0, rows) + 1e-3 * torch::randn({m_atoms, x.size(1)}, x.options());
            st.dictionary.copy_(F::normalize(seed, F::NormalizeFuncOptions().p(2).dim(1)));
            st.initialised.fill_(1);
        }
        if (ctx.epoch <= m_dictionaryEpochs) {
            const auto step = srmDictionaryStep(st.dictionary, st.usage, x, m_decay, 0.01 / double(m_atoms));
            st.dictionary.copy_(step.dictionary);
            st.usage.copy_(step.usage);
        }
    }

    std::int64_t m_atoms, m_k;
    double m_temperature;
    int m_dictionaryEpochs;
    double m_decay;
    std::vector<SrmPair> m_state;
};

std::vector<ParamSpec> srmLiteParams()
{
    return featureMethodParams(
        "last", "last", "whose heads predict the teacher's sparse codes (maps: per position; vectors: one position)",
        {ParamSpec::number("pixel_weight", 1.0, 0.0, 1000.0,
                           "weight of the pixel-level loss: KL from the teacher's top-k atom labels to the student's "
                           "atom distribution at each position (SRM, Tran et al. 2021)"),
         ParamSpec::number("image_weight", 1.0, 0.0, 1000.0,
                           "weight of the image-level loss: KL from the teacher's atom histogram of the image to the "
                           "student's mean atom distribution (SRM, Tran et al. 2021)"),
         ParamSpec::integer("dictionary_size", 64, 2, 4096, "atoms M of the teacher dictionary (SRM's codewords)"),
         ParamSpec::integer("top_k", 4, 1, 256, "active atoms per position in the sparse codes (<= dictionary_size)"),
         ParamSpec::number("temperature", 0.1, 0.001, 10.0,
                           "temperature of the student's atom logits cos(head(s), atom) / temperature"),
         ParamSpec::integer("dictionary_epochs", 1, 0, 100000,
                            "epochs during which the dictionary is learned online from teacher features (k-means "
                            "steps), then frozen; 0 keeps the first batch's random teacher vectors"),
         ParamSpec::number("dictionary_decay", 0.9, 0.0, 0.9999,
                           "moving-average decay of the online dictionary (spherical k-means) updates")});
}

} // namespace

void registerSrmLiteMethod(MethodRegistry &registry)
{
    registry.add("srm_lite",
                 {"One-stage stand-in for sparse representation matching (Tran, Gabbouj & Iosifidis 2021; the paper's "
                  "method is \"srm\"): CE (+ KD) + the student predicts the teacher's sparse codes over an online "
                  "k-means dictionary per position (pixel-level) and per image (image-level)",
                  true, srmLiteParams(), [](const nlohmann::json &p) { return std::make_unique<SrmLiteMethod>(p); }});
}

} // namespace kd
