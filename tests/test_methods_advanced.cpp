// The advanced KD methods (srm_lite, london, iekd) and the LMA activation: every pure piece against
// golden values from scripts/gen_method_golden_advanced.py (python3-torch, the same LibTorch
// 1.13; its "srm" keys are srm_lite's, the former one-stage stand-in; the paper's srm is
// tests/test_srm.cpp), whole srm_lite / london methods against golden values, gradients into the student and
// its adapters but never into the frozen teacher, the methods' persistent state (SRM's
// online dictionary, LONDON's power-iteration vectors), refusals, LMA on every registered
// architecture, and a short training run of each method through kd::Experiment.

#include "models/ArchitectureRegistry.h"
#include "models/Architectures.h"
#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "training/Experiment.h"
#include "methods/MethodRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "core/TorchFwd.h"
#include "methods/IekdLosses.h"
#include "methods/LondonLosses.h"
#include "methods/SrmLosses.h"
#include "models/Activation.h"
#include "models/Lma.h"
#include "support/MethodFixture.h"
#include "support/TestSupport.h"
#include "support/TensorChecks.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace {

using kd::test::tensorOf;
using kd::test::labelsOf;
using kd::test::termOf;

using kd::test::errorOf;

using nlohmann::json;


std::int64_t lmaModules(torch::nn::Module &net, std::int64_t *params = nullptr)
{
    std::int64_t n = 0, p = 0;
    for (const auto &m : net.modules(/*include_self=*/false))
        if (auto *lma = m->as<kd::LmaImpl>()) {
            ++n;
            p += lma->slopes.numel();
        }
    if (params)
        *params = p;
    return n;
}

/// Activation sites of every registered architecture at its default options, counted from
/// the definitions (docs/ARCHITECTURES.md): with LMA each one gains K slopes.
struct Sites {
    const char *arch;
    std::int64_t sites;
};
const Sites kSites[] = {
    // stem + 2 per basic block (3n blocks, n = (depth − 2)/6)
    {"resnet8", 7}, {"resnet14", 13}, {"resnet20", 19}, {"resnet32", 31}, {"resnet44", 43}, {"resnet56", 55},
    {"resnet110", 109}, {"resnet8x4", 7}, {"resnet32x4", 31},
    // 2 per pre-activation block (3n, n = (depth − 4)/6) + the final one
    {"wrn_16_1", 13}, {"wrn_16_2", 13}, {"wrn_40_1", 37}, {"wrn_40_2", 37}, {"wrn_28_4", 25},
    // one per conv
    {"vgg8", 5}, {"vgg11", 8}, {"vgg13", 10}, {"vgg16", 13},
    // stem + head + 2 per inverted residual (17 blocks)
    {"mobilenetv2", 36},
    // stem + head + 3 per down block (3) + 2 per basic block (13)
    {"shufflenetv2", 37},
    {"mlp", 1}, {"lenet5", 4}, {"cnn_small", 3}, {"cnn_large", 4},
};

const char *kNewMethods[] = {"srm_lite", "london", "iekd"};

} // namespace

class TestMethodsAdvanced : public kd::test::MethodFixture {
    Q_OBJECT

private:
    kd::LossTerms runOnce(kd::DistillationMethod &method, kd::FeatureNet &student, kd::FeatureNet &teacher,
                          int epoch = 1, kd::Features *studentOut = nullptr)
    {
        return runStep(method, student, teacher, {8, epoch}, studentOut);
    }
    /// Copies golden parameters (and buffers) into a method's module by name.
    static void load(torch::nn::Module &module, const json &values)
    {
        torch::NoGradGuard noGrad;
        auto params = module.named_parameters();
        auto buffers = module.named_buffers();
        for (const auto &[name, value] : values.items()) {
            if (params.contains(name))
                params[name].copy_(tensorOf(value));
            else if (buffers.contains(name))
                buffers[name].copy_(tensorOf(value));
            else
                QFAIL(("no parameter or buffer " + name).c_str());
        }
    }

private Q_SLOTS:
    void initTestCase();

    void registry_holdsNewMethodsWithHelp();

    void lmaQuantiles_matchGolden();
    void lmaFunction_matchesGolden_data();
    void lmaFunction_matchesGolden();
    void lmaModule_statisticsAndInitialisation();

    void srmPieces_matchGolden();
    void srmDictionaryStep_matchesGolden_data();
    void srmDictionaryStep_matchesGolden();
    void srmMethod_matchesGolden();

    void transmittingMatrix_matchesGolden_data();
    void transmittingMatrix_matchesGolden();
    void powerIteration_matchesGoldenAndSvd_data();
    void powerIteration_matchesGoldenAndSvd();
    void batchedPowerIteration_matchesGoldenAndSvd_data();
    void batchedPowerIteration_matchesGoldenAndSvd();
    void lipschitzLoss_matchesGolden_data();
    void lipschitzLoss_matchesGolden();
    void londonMethod_matchesGolden();
    void londonFspMethod_matchesGolden_data();
    void londonFspMethod_matchesGolden();

    void iekdLosses_matchGolden_data();
    void iekdLosses_matchGolden();

    void gradients_reachStudentAndAdaptersNotTeacher_data();
    void gradients_reachStudentAndAdaptersNotTeacher();
    void srm_dictionaryLearnedThenFrozen();
    void london_powerVectorsPersist();
    void london_fspGradientsReachStudentNotTeacher_data();
    void london_fspGradientsReachStudentNotTeacher();
    void london_lateWeight();
    void iekd_splitsStudentChannels();
    void iekd_autoencoderEpochsThenFrozen();
    void refusals_data();
    void refusals();

    void lma_everyArchitecture_data();
    void lma_everyArchitecture();
    void lma_reluDefaultUnchanged_data();
    void lma_reluDefaultUnchanged();
    void lma_stageFeaturesAndSegments();
    void lma_badOptionsRejected_data();
    void lma_badOptionsRejected();

    void endToEnd_newMethodsTrain_data();
    void endToEnd_newMethodsTrain();
};

void TestMethodsAdvanced::initTestCase()
{
    const std::string problem = prepare("method_golden_advanced.json", "gen_method_golden_advanced.py");
    QVERIFY2(problem.empty(), problem.c_str());
}

void TestMethodsAdvanced::registry_holdsNewMethodsWithHelp()
{
    for (const char *name : kNewMethods) {
        QVERIFY2(m_methods.contains(name), name);
        const auto &e = m_methods.get(name);
        QVERIFY2(!e.description.empty(), name);
        QVERIFY(e.needsTeacher);
        for (const auto &p : e.params) {
            QVERIFY2(!p.help.empty(), (std::string(name) + "." + p.key).c_str());
            QVERIFY(kd::resolveParams(e.params, json{{p.key, p.defaultValue}}, name).is_object());
        }
        QCOMPARE(create(name)->termNames().front(), std::string("ce"));
    }
    QCOMPARE(create("srm_lite")->termNames(), (std::vector<std::string>{"ce", "srm_pixel", "srm_image"}));
    QCOMPARE(create("srm_lite", {{"kd_weight", 0.9}})->termNames(),
             (std::vector<std::string>{"ce", "kd", "srm_pixel", "srm_image"}));
    QCOMPARE(create("london")->termNames(), (std::vector<std::string>{"ce", "lipschitz", "feature"}));
    QCOMPARE(create("london", {{"feature_loss", "none"}})->termNames(), (std::vector<std::string>{"ce", "lipschitz"}));
    QCOMPARE(create("iekd")->termNames(), (std::vector<std::string>{"ce", "inherit", "explore", "recon"}));
    // The papers name themselves in the help texts.
    QVERIFY(m_methods.get("srm_lite").description.find("Tran") != std::string::npos);
    QVERIFY(m_methods.get("london").description.find("Shang") != std::string::npos);
    QVERIFY(m_methods.get("iekd").description.find("Huang") != std::string::npos);
    // LONDON's fsp transmitting matrices (the default) and its ofd feature term read the
    // pre-activation stages as well; gram with a hint needs only the stages.
    QCOMPARE(create("london")->studentFeatures(), (std::vector<std::string>{"stage1", "stage1_pre", "logits"}));
    QCOMPARE(create("london", {{"feature_loss", "hint"}})->studentFeatures(),
             (std::vector<std::string>{"stage1", "stage1_pre", "logits"}));
    QCOMPARE(create("london", {{"feature_loss", "hint"}, {"transmitting_matrix", "gram"}})->studentFeatures(),
             (std::vector<std::string>{"stage1", "logits"}));
    // The defaults are the authors' (42Shawn/LONDON).
    const auto defaults = kd::resolveParams(m_methods.get("london").params, json::object(), "london");
    QCOMPARE(defaults.at("transmitting_matrix").get<std::string>(), std::string("fsp"));
    QCOMPARE(defaults.at("lipschitz_loss").get<std::string>(), std::string("mse"));
    QCOMPARE(defaults.at("lipschitz_weight").get<double>(), 0.004);
    QCOMPARE(defaults.at("power_iterations").get<int>(), 10);
}

// ---------------------------------------------------------------------------------------
// LMA

void TestMethodsAdvanced::lmaQuantiles_matchGolden()
{
    for (const auto &[k, values] : m_golden.at("lma").at("quantiles").items()) {
        const auto got = kd::lmaQuantiles(std::stoi(k));
        const auto want = values.get<std::vector<double>>();
        QCOMPARE(got.size(), want.size());
        for (std::size_t i = 0; i < got.size(); ++i)
            QVERIFY2(std::abs(got[i] - want[i]) < 1e-12, qPrintable(QString("K=%1 i=%2: %3 vs %4")
                                                                       .arg(k.c_str()).arg(i).arg(got[i]).arg(want[i])));
    }
    QVERIFY_THROWS_EXCEPTION(kd::Error, kd::lmaQuantiles(1));
}

void TestMethodsAdvanced::lmaFunction_matchesGolden_data()
{
    kd::test::addCaseRows(m_golden.at("lma").at("cases"));
}

void TestMethodsAdvanced::lmaFunction_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("lma").at("cases").at(std::size_t(index));
    auto x = tensorOf(c["x"]).requires_grad_(true);
    auto slopes = tensorOf(c["slopes"]).requires_grad_(true);
    const int k = c["segments"];
    const auto b = kd::lmaBoundaries(c["mean"].get<double>(), c["std"].get<double>(), k, x);
    CHECK_CLOSE(b, tensorOf(c["boundaries"]), "boundaries");
    const auto y = kd::lmaFunction(x, slopes, b);
    CHECK_CLOSE(y, tensorOf(c["y"]), "LMA values");
    (tensorOf(c["weights"]) * y).sum().backward();
    CHECK_CLOSE(x.grad(), tensorOf(c["grad_x"]), "gradient in x");
    CHECK_CLOSE(slopes.grad(), tensorOf(c["grad_slopes"]), "gradient in the slopes");
}

void TestMethodsAdvanced::lmaModule_statisticsAndInitialisation()
{
    torch::manual_seed(3);
    kd::Lma lma(6);
    lma->to(torch::kFloat64);
    QCOMPARE(lma->slopes.sizes().vec(), std::vector<std::int64_t>{6});
    // A fresh LMA is relu(x − mean) for an even K: slopes 0,0,0,1,1,1.
    CHECK_CLOSE(lma->slopes, torch::tensor({0.0, 0.0, 0.0, 1.0, 1.0, 1.0}, torch::kFloat64), "initial slopes");
    const auto x = torch::randn({4, 3, 5, 5}, torch::kFloat64) * 2.0 + 0.7;
    lma->train();
    const auto y = lma->forward(x);
    const double mean = x.mean().item<double>();
    const double var = x.var(/*unbiased=*/false).item<double>();
    CHECK_CLOSE(y, torch::relu(x - mean), "fresh LMA in training");
    CHECK_CLOSE(y, kd::lmaFunction(x, lma->slopes, kd::lmaBoundaries(mean, std::sqrt(var + 1e-5), 6, x)),
                "training uses the batch statistics");
    CHECK_CLOSE(lma->runningMean, torch::tensor({0.1 * mean}, torch::kFloat64), "running mean (momentum 0.1)");
    CHECK_CLOSE(lma->runningVar, torch::tensor({0.9 + 0.1 * var}, torch::kFloat64), "running variance");
    // Evaluation uses the running estimates; the batch's statistics do not move them.
    lma->eval();
    const auto z = lma->forward(x);
    const double rm = lma->runningMean.item<double>(), rv = lma->runningVar.item<double>();
    CHECK_CLOSE(z, kd::lmaFunction(x, lma->slopes, kd::lmaBoundaries(rm, std::sqrt(rv + 1e-5), 6, x)),
                "evaluation uses the running statistics");
    QCOMPARE(lma->runningMean.item<double>(), rm);
    // The shared slopes' gradient is averaged over the 3 channels (the value is lmaFunction's).
    lma->train();
    const auto w = torch::randn_like(x);
    (w * lma->forward(x)).sum().backward();
    auto k = lma->slopes.detach().clone().requires_grad_(true);
    const double m2 = x.mean().item<double>(), v2 = x.var(false).item<double>();
    (w * kd::lmaFunction(x, k, kd::lmaBoundaries(m2, std::sqrt(v2 + 1e-5), 6, x))).sum().backward();
    CHECK_CLOSE(lma->slopes.grad(), k.grad() / 3.0, "slope gradient averaged over channels");
    // Odd K: the middle segment starts at slope 0.5. Buffers are not parameters.
    kd::Lma odd(5);
    CHECK_CLOSE(odd->slopes, torch::tensor({0.0, 0.0, 0.5, 1.0, 1.0}), "odd K");
    QCOMPARE(odd->parameters().size(), std::size_t(1));
    QCOMPARE(odd->buffers().size(), std::size_t(2));
}

// ---------------------------------------------------------------------------------------
// SRM

void TestMethodsAdvanced::srmPieces_matchGolden()
{
    const auto &c = m_golden.at("srm");
    const auto vectors = kd::srmPixelVectors(tensorOf(c["feature"]));
    CHECK_CLOSE(vectors, tensorOf(c["vectors"]), "pixel vectors (position-major)");
    const auto dictionary = tensorOf(c["dictionary"]);
    const std::int64_t k = c["top_k"], positions = c["positions"];
    const auto codes = kd::srmSparseCodes(vectors, dictionary, k);
    CHECK_CLOSE(codes.codes, tensorOf(c["codes"]), "sparse codes");
    CHECK_CLOSE(codes.indices, tensorOf(c["indices"]), "active atoms");
    QCOMPARE((codes.codes != 0).sum(1).eq(k).all().item<bool>(), true);
    const auto labels = kd::srmPixelLabels(codes.indices, dictionary.size(0));
    CHECK_CLOSE(labels, tensorOf(c["pixel_labels"]), "pixel labels");
    const auto image = kd::srmImageLabels(labels, positions);
    CHECK_CLOSE(image, tensorOf(c["image_labels"]), "image labels");
    CHECK_CLOSE(image.sum(1), torch::ones({image.size(0)}, torch::kFloat64), "image labels are distributions");

    auto logits = tensorOf(c["logits"]).requires_grad_(true);
    const auto pixel = kd::srmPixelLoss(logits, labels);
    CHECK_CLOSE(pixel, c["pixel_loss"].get<double>(), "pixel loss");
    pixel.backward();
    CHECK_CLOSE(logits.grad(), tensorOf(c["grad_pixel"]), "pixel loss gradient");
    logits.grad().zero_();
    const auto imageLoss = kd::srmImageLoss(logits, image, positions);
    CHECK_CLOSE(imageLoss, c["image_loss"].get<double>(), "image loss");
    imageLoss.backward();
    CHECK_CLOSE(logits.grad(), tensorOf(c["grad_image"]), "image loss gradient");
    // Predicting the labels exactly costs nothing (KL, not cross-entropy).
    CHECK_CLOSE(kd::srmPixelLoss(labels.clamp_min(1e-300).log(), labels), 0.0, "pixel loss at the labels");

    // A tiny temperature makes the softmax underflow to exact zeros: the losses stay finite
    // (log of the mean distribution in log space; 0·log 0 terms are 0), gradients too.
    auto sharp = (tensorOf(c["logits"]).to(torch::kFloat32) * 1e4f).requires_grad_(true);
    const auto sharpImage = kd::srmImageLoss(sharp, image.to(torch::kFloat32), positions);
    const auto sharpPixel = kd::srmPixelLoss(sharp, labels.to(torch::kFloat32));
    QVERIFY2(std::isfinite(sharpImage.item<double>()), qPrintable(QString::number(sharpImage.item<double>())));
    QVERIFY(std::isfinite(sharpPixel.item<double>()));
    (sharpImage + sharpPixel).backward();
    QVERIFY(torch::isfinite(sharp.grad()).all().item<bool>());
}

void TestMethodsAdvanced::srmDictionaryStep_matchesGolden_data()
{
    kd::test::addCaseRows(m_golden.at("srm").at("dictionary_steps"));
}

void TestMethodsAdvanced::srmDictionaryStep_matchesGolden()
{
    QFETCH(int, index);
    const auto &s = m_golden.at("srm").at("dictionary_steps").at(std::size_t(index));
    const auto dictionary = tensorOf(m_golden.at("srm").at("dictionary"));
    const auto step = kd::srmDictionaryStep(dictionary, tensorOf(s["usage"]), tensorOf(s["vectors"]),
                                            s["decay"].get<double>(), s["dead_usage"].get<double>());
    CHECK_CLOSE(step.dictionary, tensorOf(s["dictionary_out"]), "dictionary");
    CHECK_CLOSE(step.usage, tensorOf(s["usage_out"]), "usage");
    CHECK_CLOSE(step.dictionary.norm(2, 1), torch::ones({dictionary.size(0)}, torch::kFloat64), "unit atoms");
}

void TestMethodsAdvanced::srmMethod_matchesGolden()
{
    const auto &c = m_golden.at("srm_method");
    const auto &e = c["expected"];
    auto sFeat = tensorOf(c["student_feature"]).requires_grad_(true);
    const auto tFeat = tensorOf(c["teacher_feature"]);
    const auto logits = tensorOf(c["logits"]);
    auto m = create("srm_lite", {{"student_features", "stage1"}, {"teacher_features", "stage1"}, {"kd_weight", 0.0},
                            {"dictionary_epochs", 0}, {"top_k", c["top_k"]}, {"dictionary_size", c["dictionary_size"]},
                            {"temperature", c["temperature"]}, {"pixel_weight", c["pixel_weight"]},
                            {"image_weight", c["image_weight"]}});
    QCOMPARE(m->termNames(), (std::vector<std::string>{"ce", "srm_pixel", "srm_image"}));
    kd::MethodSetup setup;
    setup.student = {{"stage1", sFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    setup.teacher = {{"stage1", tFeat.sizes().slice(1).vec()}, {"logits", {logits.size(1)}}};
    m->setup(setup);
    auto module = m->trainableModule();
    QVERIFY(module);
    module->to(torch::kFloat64);
    module->train();
    QCOMPARE(module->named_parameters().size(), c["params"].size());
    load(*module, c["params"]);
    // A dictionary already in place (initialised) and frozen (dictionary_epochs 0).
    load(*module, {{"pair0.dictionary", c["dictionary"]}});
    module->named_buffers()["pair0.initialised"].fill_(1);
    kd::Features fs, ft;
    fs.add("stage1", sFeat);
    fs.add("logits", logits);
    ft.add("stage1", tFeat);
    ft.add("logits", torch::zeros_like(logits));
    const auto loss = m->compute(fs, &ft, labelsOf(c["labels"]), kd::StepContext{});
    CHECK_CLOSE(termOf(loss, "ce"), e["ce"].get<double>(), "ce");
    CHECK_CLOSE(termOf(loss, "srm_pixel"), e["srm_pixel"].get<double>(), "srm_pixel");
    CHECK_CLOSE(termOf(loss, "srm_image"), e["srm_image"].get<double>(), "srm_image");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    CHECK_CLOSE(sFeat.grad(), tensorOf(e["grad_student_feature"]), "gradient into the student feature");
    CHECK_CLOSE(module->named_parameters()["pair0.connector.conv.weight"].grad(), tensorOf(e["grad_conv_weight"]),
                "gradient into the head");
    CHECK_CLOSE(module->named_buffers()["pair0.dictionary"], tensorOf(c["dictionary"]), "frozen dictionary");
}

// ---------------------------------------------------------------------------------------
// LONDON

void TestMethodsAdvanced::transmittingMatrix_matchesGolden_data()
{
    // "london": the engine's batch matrices; "london_fsp": the authors' per-image FSP matrices.
    QTest::addColumn<QString>("section");
    QTest::addColumn<int>("index");
    for (const char *section : {"london", "london_fsp"}) {
        const auto &cases = m_golden.at(section).at("transmitting");
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i].at("name").get<std::string>().c_str()) << QString(section) << int(i);
    }
}

void TestMethodsAdvanced::transmittingMatrix_matchesGolden()
{
    QFETCH(QString, section);
    QFETCH(int, index);
    const auto &c = m_golden.at(section.toStdString()).at("transmitting").at(std::size_t(index));
    auto a = tensorOf(c["f_in"]).requires_grad_(true);
    auto b = tensorOf(c["f_out"]).requires_grad_(true);
    const auto m = kd::transmittingMatrix(a, b, kd::parseTransmittingKind(c["kind"]), c["ridge"].get<double>());
    CHECK_CLOSE(m, tensorOf(c["matrix"]), "transmitting matrix");
    (tensorOf(c["weights"]) * m).sum().backward();
    CHECK_CLOSE(a.grad(), tensorOf(c["grad_in"]), "gradient into the input stage");
    CHECK_CLOSE(b.grad(), tensorOf(c["grad_out"]), "gradient into the output stage");
}

void TestMethodsAdvanced::powerIteration_matchesGoldenAndSvd_data()
{
    kd::test::addCaseRows(m_golden.at("london").at("power"));
}

void TestMethodsAdvanced::powerIteration_matchesGoldenAndSvd()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("london").at("power").at(std::size_t(index));
    auto m = tensorOf(c["matrix"]).requires_grad_(true);
    const auto u = tensorOf(c["u"]), v = tensorOf(c["v"]);
    const auto r = kd::spectralNormPowerIteration(m, u, v, c["iterations"].get<int>());
    CHECK_CLOSE(r.sigma, c["sigma"].get<double>(), "sigma after the given iterations");
    CHECK_CLOSE(r.u, tensorOf(c["u_out"]), "u");
    CHECK_CLOSE(r.v, tensorOf(c["v_out"]), "v");
    r.sigma.backward();
    CHECK_CLOSE(m.grad(), tensorOf(c["grad_matrix"]), "dsigma/dM = u v^T");
    // Persisted vectors converge: enough further iterations give the SVD's largest singular value.
    auto again = kd::spectralNormPowerIteration(m.detach(), r.u, r.v, 500);
    const double svd = c["svd_sigma"].get<double>();
    QVERIFY2(std::abs(again.sigma.item<double>() - svd) < 1e-8 * svd,
             qPrintable(QString("power iteration %1 vs SVD %2").arg(again.sigma.item<double>(), 0, 'g', 17).arg(svd, 0, 'g', 17)));
    // And it is the largest singular value of torch's own SVD too.
    const auto s = torch::linalg_svdvals(m.detach());
    QVERIFY(std::abs(s[0].item<double>() - svd) < 1e-12 * svd);
}

void TestMethodsAdvanced::batchedPowerIteration_matchesGoldenAndSvd_data()
{
    kd::test::addCaseRows(m_golden.at("london_fsp").at("power"));
}

void TestMethodsAdvanced::batchedPowerIteration_matchesGoldenAndSvd()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("london_fsp").at("power").at(std::size_t(index));
    auto m = tensorOf(c["matrix"]).requires_grad_(true);
    const auto start = tensorOf(c["start"]);
    const auto sigma = kd::batchedSpectralNorm(m, start, c["iterations"].get<int>());
    CHECK_CLOSE(sigma, tensorOf(c["sigma"]), "sigma per image after the given iterations");
    (tensorOf(c["weights"]) * sigma).sum().backward();
    CHECK_CLOSE(m.grad(), tensorOf(c["grad_matrix"]), "gradient through every iteration");
    // Enough iterations give each matrix's largest singular value, from any start.
    const auto svd = tensorOf(c["svd_sigma"]);
    for (const auto &from : {start, torch::rand(start.sizes(), torch::kFloat64)}) {
        const auto converged = kd::batchedSpectralNorm(m.detach(), from, 200);
        QVERIFY2(torch::allclose(converged, svd, 1e-10, 0.0), qPrintable(QString::number(
                     (converged - svd).abs().max().item<double>(), 'g', 17)));
    }
    QVERIFY(torch::allclose(torch::linalg_svdvals(m.detach()).select(1, 0), svd, 1e-12, 0.0));
    // Refusals name the shapes.
    const auto msg = errorOf([&] { kd::batchedSpectralNorm(m.detach(), start.t(), 3); });
    QVERIFY2(msg.find("[N, a, b]") != std::string::npos, msg.c_str());
}

void TestMethodsAdvanced::lipschitzLoss_matchesGolden_data()
{
    kd::test::addCaseRows(m_golden.at("london").at("lipschitz"));
}

void TestMethodsAdvanced::lipschitzLoss_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = m_golden.at("london").at("lipschitz").at(std::size_t(index));
    // Per transition a scalar (one estimate per batch) or a list (one per image).
    auto valueOf = [](const json &j) {
        return j.is_array() ? torch::tensor(j.get<std::vector<double>>(), torch::kFloat64)
                            : torch::tensor(j.get<double>(), torch::kFloat64);
    };
    std::vector<torch::Tensor> sv, tv;
    for (const auto &x : c["student"])
        sv.push_back(valueOf(x).requires_grad_(true));
    for (const auto &x : c["teacher"])
        tv.push_back(valueOf(x));
    const auto loss = kd::lipschitzLoss(sv, tv, kd::parseLipschitzDistance(c["distance"]));
    CHECK_CLOSE(loss, c["loss"].get<double>(), "Lipschitz loss");
    loss.backward();
    const auto &grads = c["grad_student"];
    for (std::size_t i = 0; i < sv.size(); ++i)
        CHECK_CLOSE(sv[i].grad(), valueOf(grads[i]), "gradient " + std::to_string(i));
}

void TestMethodsAdvanced::londonMethod_matchesGolden()
{
    const auto &c = m_golden.at("london_method");
    const auto &e = c["expected"];
    auto s1 = tensorOf(c["s1"]).requires_grad_(true);
    auto s2 = tensorOf(c["s2"]).requires_grad_(true);
    const auto t1 = tensorOf(c["t1"]), t2 = tensorOf(c["t2"]);
    const auto logits = tensorOf(c["logits"]);
    // The engine's variant: one Gram matrix per batch, kept power vectors, product distance.
    auto m = create("london", {{"feature_loss", "none"}, {"lipschitz_weight", c["weight"]},
                               {"power_iterations", c["iterations"]}, {"transmitting_matrix", "gram"},
                               {"lipschitz_loss", "product"}});
    kd::MethodSetup setup;
    setup.student = {{"stage1", s1.sizes().slice(1).vec()}, {"stage2", s2.sizes().slice(1).vec()},
                     {"logits", {logits.size(1)}}};
    setup.teacher = {{"stage1", t1.sizes().slice(1).vec()}, {"stage2", t2.sizes().slice(1).vec()},
                     {"logits", {logits.size(1)}}};
    m->setup(setup);
    auto module = m->trainableModule();
    QVERIFY(module);
    QVERIFY(module->parameters().empty()); // no feature term: only power-iteration buffers
    module->to(torch::kFloat64);
    load(*module, c["buffers"]);
    module->named_buffers()["power_s0.warm"].fill_(1);
    module->named_buffers()["power_t0.warm"].fill_(1);
    kd::Features fs, ft;
    fs.add("stage1", s1);
    fs.add("stage2", s2);
    fs.add("logits", logits);
    ft.add("stage1", t1);
    ft.add("stage2", t2);
    const auto loss = m->compute(fs, &ft, labelsOf(c["labels"]), kd::StepContext{});
    CHECK_CLOSE(termOf(loss, "ce"), e["ce"].get<double>(), "ce");
    CHECK_CLOSE(termOf(loss, "lipschitz"), e["lipschitz"].get<double>(), "lipschitz");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    CHECK_CLOSE(s1.grad(), tensorOf(e["grad_s1"]), "gradient into stage1");
    CHECK_CLOSE(s2.grad(), tensorOf(e["grad_s2"]), "gradient into stage2");
    const auto buffers = module->named_buffers();
    for (const char *name : {"power_s0.u", "power_s0.v", "power_t0.u", "power_t0.v"})
        CHECK_CLOSE(buffers[name], tensorOf(e[name]), std::string("persisted ") + name);
}

void TestMethodsAdvanced::londonFspMethod_matchesGolden_data()
{
    QTest::addColumn<int>("index");
    const auto &cases = m_golden.at("london_fsp_method");
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::newRow(("feature_loss " + cases[i].at("feature_loss").get<std::string>()).c_str()) << int(i);
}

void TestMethodsAdvanced::londonFspMethod_matchesGolden()
{
    // The authors' LONDON at the engine's defaults (fsp, mse, weight 0.004) on three stages;
    // with ofd the student's stage k enters transition k through its OFD connector.
    QFETCH(int, index);
    const auto &c = m_golden.at("london_fsp_method").at(std::size_t(index));
    const auto &e = c["expected"];
    const bool ofd = c["feature_loss"] == "ofd";
    const auto logits = tensorOf(c["logits"]);
    torch::manual_seed(31); // the random start vectors; 100 iterations converge from any start
    auto m = create("london", {{"feature_loss", c["feature_loss"]}, {"power_iterations", c["power_iterations"]}});
    kd::MethodSetup setup;
    kd::Features fs, ft;
    std::vector<torch::Tensor> sPre;
    for (int k = 1; k <= 3; ++k) {
        const auto stage = "stage" + std::to_string(k);
        auto s = tensorOf(c["s_pre"][std::size_t(k - 1)]).requires_grad_(true);
        const auto t = tensorOf(c["t_pre"][std::size_t(k - 1)]);
        sPre.push_back(s);
        setup.student.emplace_back(stage, s.sizes().slice(1).vec());
        setup.student.emplace_back(stage + "_pre", s.sizes().slice(1).vec());
        setup.teacher.emplace_back(stage, t.sizes().slice(1).vec());
        setup.teacher.emplace_back(stage + "_pre", t.sizes().slice(1).vec());
        fs.add(stage, torch::relu(s));
        fs.add(stage + "_pre", s);
        ft.add(stage, torch::relu(t));
        ft.add(stage + "_pre", t);
    }
    setup.student.push_back({"logits", {logits.size(1)}});
    setup.teacher.push_back({"logits", {logits.size(1)}});
    fs.add("logits", logits);
    m->setup(setup);
    auto module = m->trainableModule();
    if (ofd) {
        QVERIFY(module);
        module->to(torch::kFloat64);
        module->train();
        load(*module, c["params"]);
        for (const auto &b : module->named_buffers())
            QVERIFY2(b.key().find("power_") == std::string::npos, b.key().c_str()); // no kept vectors for fsp
    } else {
        QVERIFY(!module); // fsp without a feature term keeps no state
    }
    const auto loss = m->compute(fs, &ft, labelsOf(c["labels"]), kd::StepContext{});
    CHECK_CLOSE(termOf(loss, "ce"), e["ce"].get<double>(), "ce");
    CHECK_CLOSE(termOf(loss, "lipschitz"), e["lipschitz"].get<double>(), "lipschitz");
    if (ofd)
        CHECK_CLOSE(termOf(loss, "feature"), e["feature"].get<double>(), "feature");
    CHECK_CLOSE(loss.total, e["total"].get<double>(), "total");
    loss.total.backward();
    for (int k = 1; k <= 3; ++k)
        CHECK_CLOSE(sPre[std::size_t(k - 1)].grad(), tensorOf(e["grad_s" + std::to_string(k)]),
                    "gradient into stage" + std::to_string(k) + "_pre");
    if (ofd) {
        const auto params = module->named_parameters();
        for (int i = 0; i < 3; ++i) {
            const auto name = "pair" + std::to_string(i) + ".connector.conv.weight";
            CHECK_CLOSE(params[name].grad(), tensorOf(e["grad_" + name]), "gradient into " + name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// IE-KD

void TestMethodsAdvanced::iekdLosses_matchGolden_data()
{
    QTest::addColumn<int>("index");
    const auto &cases = m_golden.at("iekd").at("cases");
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::newRow((cases[i]["distance"].get<std::string>() + " " + cases[i]["part"].get<std::string>()).c_str())
            << int(i);
    QTest::newRow("reconstruction") << -1;
}

void TestMethodsAdvanced::iekdLosses_matchGolden()
{
    QFETCH(int, index);
    if (index < 0) {
        const auto &r = m_golden.at("iekd").at("recon");
        auto x = tensorOf(r["reconstruction"]).requires_grad_(true);
        const auto loss = kd::iekdReconstructionLoss(x, tensorOf(r["input"]));
        CHECK_CLOSE(loss, r["loss"].get<double>(), "reconstruction loss");
        loss.backward();
        CHECK_CLOSE(x.grad(), tensorOf(r["grad"]), "reconstruction gradient");
        return;
    }
    const auto &c = m_golden.at("iekd").at("cases").at(std::size_t(index));
    auto s = tensorOf(c["student"]).requires_grad_(true);
    const auto t = tensorOf(c["teacher"]);
    const auto d = kd::parseIekdDistance(c["distance"]);
    const auto loss = c["part"] == "inherit" ? kd::iekdInheritLoss(s, t, d) : kd::iekdExploreLoss(s, t, d);
    CHECK_CLOSE(loss, c["loss"].get<double>(), "loss");
    loss.backward();
    CHECK_CLOSE(s.grad(), tensorOf(c["grad_student"]), "gradient");
}

// ---------------------------------------------------------------------------------------
// Methods on real models

void TestMethodsAdvanced::gradients_reachStudentAndAdaptersNotTeacher_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("params");
    QTest::addColumn<QString>("feature"); // a student feature the distillation terms must reach
    // ce_weight 0 (and kd_weight 0, the default): only the method's own terms produce gradients.
    QTest::newRow("srm_lite") << "srm_lite" << R"({"ce_weight": 0.0})" << "stage3";
    QTest::newRow("srm_lite all stages") << "srm_lite" << R"({"ce_weight": 0.0, "student_features": "all", "teacher_features": "all"})"
                                    << "stage1";
    QTest::newRow("london ofd") << "london" << R"({"ce_weight": 0.0})" << "stage1_pre";
    QTest::newRow("london lipschitz only") << "london" << R"({"ce_weight": 0.0, "feature_loss": "none"})"
                                           << "stage1_pre";
    QTest::newRow("london gram, product, lipschitz only")
        << "london"
        << R"({"ce_weight": 0.0, "feature_loss": "none", "transmitting_matrix": "gram", "lipschitz_loss": "product"})"
        << "stage1";
    QTest::newRow("london hint, least squares, per stage")
        << "london"
        << R"({"ce_weight": 0.0, "feature_loss": "hint", "transmitting_matrix": "least_squares", "lipschitz_loss": "per_stage"})"
        << "stage2";
    // Joint training: the default auto-encoder phase would leave the student without gradient
    // in epoch 1 (tested in test_methods_fidelity).
    QTest::newRow("iekd") << "iekd" << R"({"ce_weight": 0.0, "autoencoder_epochs": 0})" << "stage3";
    QTest::newRow("iekd cos") << "iekd" << R"({"ce_weight": 0.0, "distance": "cos", "autoencoder_epochs": 0})"
                              << "stage3";
}

void TestMethodsAdvanced::gradients_reachStudentAndAdaptersNotTeacher()
{
    QFETCH(QString, method);
    QFETCH(QString, params);
    QFETCH(QString, feature);
    torch::manual_seed(5);
    auto teacher = model("cnn_small", {{"width", 8}}); // stage1 8x14x14, stage2 16x7x7
    auto student = model("resnet8");                   // stage1 16x28x28, stage2 32x14x14, stage3 64x7x7
    teacher->eval();
    student->train();
    auto m = create(method.toStdString(), json::parse(params.toStdString()));
    m->setup(setupFor(*student, teacher.get()));
    if (auto extra = m->trainableModule())
        extra->train();
    kd::Features out;
    const auto loss = runOnce(*m, *student, *teacher, 1, &out);
    QVERIFY(std::isfinite(loss.total.item<double>()));
    QCOMPARE(loss.terms.size(), m->termNames().size());
    for (const auto &kv : loss.terms)
        QVERIFY2(std::isfinite(kv.second.item<double>()), kv.first.c_str());
    loss.total.backward();

    const auto &f = out.get(feature.toStdString());
    QVERIFY2(f.grad().defined() && f.grad().abs().sum().item<double>() > 0,
             ("no gradient reached the student feature " + feature.toStdString()).c_str());
    const auto first = student->named_parameters()[0];
    QVERIFY2(first.value().grad().defined() && first.value().grad().abs().sum().item<double>() > 0,
             ("student " + first.key() + " got no gradient").c_str());
    for (const auto &p : teacher->named_parameters())
        QVERIFY2(!p.value().grad().defined(), ("teacher " + p.key() + " got a gradient").c_str());
    auto extra = m->trainableModule();
    // LONDON with fsp matrices and no feature term keeps no state at all.
    if (!extra) {
        QVERIFY(method == "london" && params.contains("\"none\"") && !params.contains("gram"));
        return;
    }
    // Every method here has trainable adapters but LONDON without a feature term (buffers only).
    QCOMPARE(extra->parameters().empty(), params.contains("\"none\""));
    for (const auto &p : extra->named_parameters())
        QVERIFY2(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0,
                 ("adapter " + p.key() + " got no gradient").c_str());
}

void TestMethodsAdvanced::srm_dictionaryLearnedThenFrozen()
{
    torch::manual_seed(11);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("resnet8");
    teacher->eval();
    auto m = create("srm_lite", {{"dictionary_size", 16}, {"top_k", 3}, {"dictionary_epochs", 1}});
    m->setup(setupFor(*student, teacher.get()));
    auto module = m->trainableModule();
    auto buffers = module->named_buffers();
    QVERIFY(buffers.contains("pair0.dictionary") && buffers.contains("pair0.usage"));
    QCOMPARE(buffers["pair0.dictionary"].sizes().vec(), (std::vector<std::int64_t>{16, 16}));
    for (const auto &p : module->named_parameters())
        QVERIFY2(p.key().find("dictionary") == std::string::npos, "the dictionary must not be a parameter");
    QCOMPARE(module->named_parameters()["pair0.connector.conv.weight"].sizes().vec(),
             (std::vector<std::int64_t>{16, 64, 1, 1})); // student stage3 → teacher stage2 channels
    // Epoch 1: seeded from the first batch, then moved by every batch; atoms stay unit vectors.
    runOnce(*m, *student, *teacher, 1);
    const auto afterFirst = module->named_buffers()["pair0.dictionary"].clone();
    QCOMPARE(module->named_buffers()["pair0.initialised"].item<std::int64_t>(), std::int64_t(1));
    QVERIFY(torch::allclose(afterFirst.norm(2, 1), torch::ones({16}), 1e-5, 1e-5));
    runOnce(*m, *student, *teacher, 1);
    const auto afterSecond = module->named_buffers()["pair0.dictionary"].clone();
    QVERIFY(!torch::equal(afterFirst, afterSecond));
    // Epoch 2: frozen.
    runOnce(*m, *student, *teacher, 2);
    QVERIFY(torch::equal(afterSecond, module->named_buffers()["pair0.dictionary"]));
}

void TestMethodsAdvanced::london_powerVectorsPersist()
{
    torch::manual_seed(12);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("resnet8");
    teacher->eval();
    auto m = create("london", {{"feature_loss", "none"}, {"lipschitz_loss", "per_stage"},
                               {"transmitting_matrix", "gram"}});
    m->setup(setupFor(*student, teacher.get()));
    auto module = m->trainableModule();
    // Student stage1 (16) → stage2 (32); teacher stage1 (8) → stage2 (16): one transition each.
    auto buffers = module->named_buffers();
    QCOMPARE(buffers["power_s0.u"].sizes().vec(), std::vector<std::int64_t>{32});
    QCOMPARE(buffers["power_s0.v"].sizes().vec(), std::vector<std::int64_t>{16});
    QCOMPARE(buffers["power_t0.u"].sizes().vec(), std::vector<std::int64_t>{16});
    QCOMPARE(buffers["power_t0.v"].sizes().vec(), std::vector<std::int64_t>{8});
    QVERIFY(module->parameters().empty());
    QVERIFY(!buffers.contains("power_s1.u"));
    const auto u0 = buffers["power_s0.u"].clone();
    QCOMPARE(buffers["power_s0.warm"].item<std::int64_t>(), std::int64_t(0));

    // The first step runs the warm-up iterations; the vectors are kept.
    const auto x = torch::rand({8, 1, 28, 28});
    kd::Features t;
    {
        torch::NoGradGuard noGrad;
        t = teacher->forwardFeatures(x);
    }
    auto s = student->forwardFeatures(x);
    kd::StepContext ctx;
    const auto loss = m->compute(s, &t, torch::zeros({8}, torch::kInt64), ctx);
    QVERIFY(std::isfinite(termOf(loss, "lipschitz").item<double>()));
    buffers = module->named_buffers();
    QCOMPARE(buffers["power_s0.warm"].item<std::int64_t>(), std::int64_t(1));
    QVERIFY(!torch::equal(u0, buffers["power_s0.u"]));
    // After the warm-up, the kept vectors give the transmitting matrix's top singular value.
    const auto mt = kd::transmittingMatrix(t.get("stage1"), t.get("stage2"), kd::TransmittingKind::Gram);
    const auto top = torch::linalg_svdvals(mt)[0].item<double>();
    const auto again = kd::spectralNormPowerIteration(mt, buffers["power_t0.u"], buffers["power_t0.v"], 0);
    QVERIFY2(std::abs(again.sigma.item<double>() - top) < 1e-3 * top,
             qPrintable(QString("%1 vs %2").arg(again.sigma.item<double>()).arg(top)));
}

void TestMethodsAdvanced::london_fspGradientsReachStudentNotTeacher_data()
{
    QTest::addColumn<QString>("featureLoss");
    QTest::newRow("ofd") << "ofd";
    QTest::newRow("none") << "none";
}

void TestMethodsAdvanced::london_fspGradientsReachStudentNotTeacher()
{
    // The authors' path (fsp, mse) with a teacher whose features carry a graph (no
    // NoGradGuard): the Lipschitz term alone reaches the student's pre-activation stages and
    // — through the student's stage 1 entering transition 1 via its OFD connector — that
    // connector, never the teacher.
    QFETCH(QString, featureLoss);
    torch::manual_seed(14);
    auto teacher = model("cnn_small", {{"width", 8}}); // stage1 8x14x14, stage2 16x7x7
    auto student = model("resnet8");                   // stage1 16x28x28, stage2 32x14x14
    teacher->eval();
    student->train();
    auto m = create("london", {{"ce_weight", 0.0}, {"feature_loss", featureLoss.toStdString()}});
    m->setup(setupFor(*student, teacher.get()));
    const auto x = torch::randn({8, 1, 28, 28});
    const auto t = teacher->forwardFeatures(x);
    QVERIFY(t.get("stage2_pre").requires_grad());
    auto s = student->forwardFeatures(x);
    for (const char *name : {"stage1_pre", "stage2_pre"})
        const_cast<torch::Tensor &>(s.get(name)).retain_grad();
    const auto loss = m->compute(s, &t, torch::zeros({8}, torch::kInt64), kd::StepContext{});
    const auto &lip = termOf(loss, "lipschitz");
    QVERIFY(std::isfinite(lip.item<double>()) && lip.item<double>() > 0);
    lip.backward({}, /*retain_graph=*/true);
    for (const char *name : {"stage1_pre", "stage2_pre"}) {
        const auto &g = s.get(name).grad();
        QVERIFY2(g.defined() && g.abs().sum().item<double>() > 0, name);
    }
    const auto first = student->named_parameters()[0];
    QVERIFY2(first.value().grad().defined() && first.value().grad().abs().sum().item<double>() > 0,
             ("student " + first.key() + " got no gradient").c_str());
    if (featureLoss == "ofd") {
        const auto params = m->trainableModule()->named_parameters();
        const auto &g0 = params["pair0.connector.conv.weight"].grad();
        QVERIFY(g0.defined() && g0.abs().sum().item<double>() > 0);
        // The last stage's connector only serves the feature term.
        const auto &g1 = params["pair1.connector.conv.weight"].grad();
        QVERIFY(!g1.defined() || g1.abs().sum().item<double>() == 0);
        termOf(loss, "feature").backward(); // the feature term leaves the teacher alone too
    }
    for (const auto &p : teacher->named_parameters())
        QVERIFY2(!p.value().grad().defined() || p.value().grad().abs().sum().item<double>() == 0,
                 ("teacher " + p.key() + " got a gradient").c_str());
}

void TestMethodsAdvanced::london_lateWeight()
{
    // lipschitz_late_factor scales the term's weight from lipschitz_late_start of the epochs
    // on (the authors: alpha 0.8 -> 0.2 at 60%, 0-based epoch >= 0.6 epochs).
    torch::manual_seed(15);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("resnet8");
    teacher->eval();
    auto m = create("london", {{"ce_weight", 0.0}, {"feature_loss", "none"}, {"lipschitz_late_factor", 0.25}});
    m->setup(setupFor(*student, teacher.get()));
    const auto x = torch::randn({8, 1, 28, 28});
    kd::Features t;
    {
        torch::NoGradGuard noGrad;
        t = teacher->forwardFeatures(x);
    }
    const auto s = student->forwardFeatures(x);
    for (const auto &[epoch, factor] : std::vector<std::pair<int, double>>{{1, 1.0}, {6, 1.0}, {7, 0.25}, {10, 0.25}}) {
        kd::StepContext ctx;
        ctx.epoch = epoch;
        ctx.epochs = 10;
        const auto loss = m->compute(s, &t, torch::zeros({8}, torch::kInt64), ctx);
        const double lip = termOf(loss, "lipschitz").item<double>();
        QVERIFY(lip > 0);
        QVERIFY2(std::abs(loss.total.item<double>() - 0.004 * factor * lip) < 1e-5 * 0.004 * lip,
                 qPrintable(QString("epoch %1: total %2, lipschitz %3").arg(epoch).arg(loss.total.item<double>())
                                .arg(lip)));
    }
}

void TestMethodsAdvanced::iekd_splitsStudentChannels()
{
    torch::manual_seed(13);
    auto teacher = model("cnn_small", {{"width", 8}}); // last stage 16x7x7 → factor 8 channels
    auto student = model("resnet8");                   // last stage 64x7x7 → halves of 32
    auto m = create("iekd", {{"autoencoder_epochs", 0}}); // joint: the IE terms act from epoch 1
    m->setup(setupFor(*student, teacher.get()));
    QCOMPARE(m->studentFeatures(), (std::vector<std::string>{"stage3", "logits"}));
    QCOMPARE(m->teacherFeatures(), std::vector<std::string>{"stage2"});
    const auto params = m->trainableModule()->named_parameters();
    QCOMPARE(params["iekd.teacher_encoder.conv0.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 16, 3, 3}));
    QCOMPARE(params["iekd.teacher_encoder.conv2.weight"].sizes().vec(), (std::vector<std::int64_t>{8, 8, 3, 3}));
    QCOMPARE(params["iekd.teacher_decoder.conv2.weight"].sizes().vec(), (std::vector<std::int64_t>{16, 16, 3, 3}));
    QCOMPARE(params["iekd.inherit_encoder.conv0.weight"].sizes().vec(), (std::vector<std::int64_t>{32, 32, 3, 3}));
    QCOMPARE(params["iekd.explore_encoder.conv1.weight"].sizes().vec(), (std::vector<std::int64_t>{8, 32, 3, 3}));
    // The inheritance term reads only the first half of the channels, the exploration term the second.
    teacher->eval();
    kd::Features out;
    const auto loss = runOnce(*m, *student, *teacher, 1, &out);
    termOf(loss, "inherit").backward();
    const auto g = out.get("stage3").grad();
    QVERIFY(g.narrow(1, 0, 32).abs().sum().item<double>() > 0);
    QCOMPARE(g.narrow(1, 32, 32).abs().sum().item<double>(), 0.0);
    // The exploration term is a negative distance (l1): pushing apart lowers it.
    QVERIFY(termOf(loss, "explore").item<double>() < 0);
    QVERIFY(termOf(loss, "recon").item<double>() > 0);
}

void TestMethodsAdvanced::iekd_autoencoderEpochsThenFrozen()
{
    // The authors' two phases inside the stage: first the auto-encoder alone (the student's
    // IE terms are zero), then it is frozen and only encodes the target. (runOnce's stage
    // has 2 epochs: a phase of 1.)
    torch::manual_seed(17);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto student = model("cnn_small", {{"width", 8}});
    teacher->eval();
    auto m = create("iekd", {{"autoencoder_epochs", 1}});
    m->setup(setupFor(*student, teacher.get()));
    auto module = m->trainableModule();
    torch::optim::SGD opt(module->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(5e-4));

    const auto phase1 = runOnce(*m, *student, *teacher, /*epoch=*/1);
    QCOMPARE(termOf(phase1, "inherit").item<double>(), 0.0);
    QCOMPARE(termOf(phase1, "explore").item<double>(), 0.0);
    QVERIFY(termOf(phase1, "recon").item<double>() > 0);
    opt.zero_grad();
    phase1.total.backward();
    const auto encoderWeight = module->named_parameters()["iekd.teacher_encoder.conv0.weight"];
    QVERIFY(encoderWeight.grad().defined() && encoderWeight.grad().abs().sum().item<double>() > 0);
    opt.step();

    module->train(); // as the trainer does at every epoch
    const auto before = encoderWeight.detach().clone();
    const auto phase2 = runOnce(*m, *student, *teacher, /*epoch=*/2);
    QCOMPARE(termOf(phase2, "recon").item<double>(), 0.0);
    QVERIFY(termOf(phase2, "inherit").item<double>() != 0.0);
    opt.zero_grad();
    phase2.total.backward();
    opt.step();
    // Frozen: no gradient, and neither momentum nor weight decay moved it.
    QVERIFY(!encoderWeight.requires_grad());
    QVERIFY(torch::equal(encoderWeight.detach(), before));
    QVERIFY(!module->named_modules()["iekd.teacher_encoder"]->is_training());
    // The student's encoders still learn.
    QVERIFY(module->named_parameters()["iekd.inherit_encoder.conv0.weight"].grad().abs().sum().item<double>() > 0);
}

void TestMethodsAdvanced::refusals_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("params");
    QTest::addColumn<QString>("student");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("london with one pair") << "london" << R"({"student_features": "stage2", "teacher_features": "stage2"})"
                                          << "resnet8" << QStringList{"\"london\"", "at least two", "all"};
    QTest::newRow("iekd on an mlp") << "iekd" << "{}" << "mlp" << QStringList{"\"iekd\"", "spatial", "[128]"};
    QTest::newRow("iekd with two pairs") << "iekd" << R"({"student_features": "stage1,stage2", "teacher_features": "stage1,stage2"})"
                                         << "resnet8" << QStringList{"\"iekd\"", "one feature pair"};
    QTest::newRow("srm_lite map onto vector") << "srm_lite" << R"({"teacher_features": "pre_logits"})" << "resnet8"
                                         << QStringList{"\"srm_lite\"", "map to a map"};
    QTest::newRow("london ofd on pre_logits") << "london"
                                              << R"({"student_features": "stage3,pre_logits", "teacher_features": "stage2,pre_logits"})"
                                              << "resnet8" << QStringList{"pre_logits_pre"};
}

void TestMethodsAdvanced::refusals()
{
    QFETCH(QString, method);
    QFETCH(QString, params);
    QFETCH(QString, student);
    QFETCH(QStringList, needles);
    auto teacher = model("cnn_small", {{"width", 8}});
    auto s = model(student.toStdString());
    auto m = create(method.toStdString(), json::parse(params.toStdString()));
    const auto msg = errorOf([&] { m->setup(setupFor(*s, teacher.get())); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &n : needles)
        QVERIFY2(msg.find(n.toStdString()) != std::string::npos, ("\"" + n.toStdString() + "\" not in: " + msg).c_str());
    // Parameter combinations refused at construction.
    const auto topK = errorOf([&] { create("srm_lite", {{"top_k", 9}, {"dictionary_size", 8}}); });
    QVERIFY2(topK.find("top_k") != std::string::npos && topK.find("dictionary_size") != std::string::npos, topK.c_str());
    const auto kind = errorOf([&] { create("london", {{"transmitting_matrix", "svd"}}); });
    QVERIFY2(kind.find("transmitting_matrix") != std::string::npos && kind.find("gram") != std::string::npos,
             kind.c_str());
}

// ---------------------------------------------------------------------------------------
// LMA on every architecture

void TestMethodsAdvanced::lma_everyArchitecture_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<qint64>("sites");
    for (const auto &s : kSites)
        QTest::newRow(s.arch) << QString(s.arch) << qint64(s.sites);
}

void TestMethodsAdvanced::lma_everyArchitecture()
{
    QFETCH(QString, arch);
    QFETCH(qint64, sites);
    const std::string name = arch.toStdString();
    QVERIFY(m_archs.contains(name));
    auto relu = model(name);
    auto lma = model(name, {{"activation", "lma"}});
    std::int64_t lmaParams = 0;
    QCOMPARE(qint64(lmaModules(*lma, &lmaParams)), sites);
    QCOMPARE(lmaModules(*relu), std::int64_t(0));
    // Exactly K = 6 slopes more per site; the rest of the model is the same.
    QCOMPARE(lmaParams, std::int64_t(sites * 6));
    QCOMPARE(lma->parameterCount(), relu->parameterCount() + sites * 6);
    QCOMPARE(lma->named_buffers().size(), relu->named_buffers().size() + std::size_t(2 * sites));
    // The same features, in training (batch statistics) and evaluation (running ones).
    const auto x = torch::randn({2, 1, 28, 28});
    lma->train();
    const auto f = lma->forwardFeatures(x);
    auto loss = torch::nn::functional::cross_entropy(f.logits(), torch::tensor({1, 7}, torch::kLong));
    loss.backward();
    std::int64_t withGrad = 0;
    for (const auto &m : lma->modules(false))
        if (auto *l = m->as<kd::LmaImpl>())
            withGrad += l->slopes.grad().defined() && l->slopes.grad().abs().sum().item<double>() > 0;
    QCOMPARE(withGrad, std::int64_t(sites)); // every LMA is on the path to the logits
    lma->eval();
    relu->eval();
    torch::NoGradGuard noGrad;
    const auto fe = lma->forwardFeatures(x);
    const auto fr = relu->forwardFeatures(x);
    QCOMPARE(fe.items().size(), fr.items().size());
    for (std::size_t i = 0; i < fe.items().size(); ++i) {
        QCOMPARE(fe.items()[i].first, fr.items()[i].first);
        QCOMPARE(fe.items()[i].second.sizes(), fr.items()[i].second.sizes());
        QVERIFY2(torch::isfinite(fe.items()[i].second).all().item<bool>(), fe.items()[i].first.c_str());
    }
}

void TestMethodsAdvanced::lma_reluDefaultUnchanged_data()
{
    QTest::addColumn<QString>("arch");
    for (const char *n : {"resnet8", "wrn_16_1", "vgg8", "mobilenetv2", "shufflenetv2", "mlp", "lenet5", "cnn_small",
                          "cnn_large"})
        QTest::newRow(n) << QString(n);
}

void TestMethodsAdvanced::lma_reluDefaultUnchanged()
{
    QFETCH(QString, arch);
    const std::string name = arch.toStdString();
    // "relu" (explicitly, with any lma_segments) builds exactly the default model: same
    // parameter names and values (same random initialisation), same outputs.
    torch::manual_seed(21);
    auto byDefault = model(name);
    torch::manual_seed(21);
    auto relu = model(name, {{"activation", "relu"}, {"lma_segments", 9}});
    const auto a = byDefault->named_parameters(), b = relu->named_parameters();
    QCOMPARE(a.size(), b.size());
    for (const auto &p : a) {
        QVERIFY2(b.contains(p.key()), p.key().c_str());
        QVERIFY2(torch::equal(p.value(), b[p.key()]), p.key().c_str());
    }
    QCOMPARE(byDefault->named_buffers().size(), relu->named_buffers().size());
    QCOMPARE(byDefault->named_modules().size(), relu->named_modules().size());
    const auto x = torch::randn({2, 1, 28, 28});
    for (const bool training : {true, false}) {
        byDefault->train(training);
        relu->train(training);
        torch::NoGradGuard noGrad;
        const auto fa = byDefault->forwardFeatures(x), fb = relu->forwardFeatures(x);
        for (std::size_t i = 0; i < fa.items().size(); ++i)
            QVERIFY2(torch::equal(fa.items()[i].second, fb.items()[i].second), fa.items()[i].first.c_str());
    }
}

void TestMethodsAdvanced::lma_stageFeaturesAndSegments()
{
    torch::manual_seed(22);
    // stageK is the stage's final activation of stageK_pre (ResNet: the last block's act2).
    auto net = model("resnet8", {{"activation", "lma"}});
    net->eval();
    torch::NoGradGuard noGrad;
    const auto f = net->forwardFeatures(torch::randn({2, 1, 28, 28}));
    const auto modules = net->named_modules();
    for (int k = 1; k <= 3; ++k) {
        const auto key = "layer" + std::to_string(k) + ".0.act2";
        QVERIFY2(modules.contains(key), key.c_str());
        auto *lma = modules[key]->as<kd::LmaImpl>();
        QVERIFY(lma);
        const auto s = "stage" + std::to_string(k);
        QVERIFY2(torch::equal(f.get(s), lma->forward(f.get(s + "_pre"))), s.c_str());
    }
    QVERIFY(net->named_parameters().contains("act.slopes"));           // the stem
    QVERIFY(net->named_parameters().contains("layer2.0.act1.slopes")); // inside a block
    // lma_segments sets K everywhere; MobileNetV2 keeps its Sequential indices.
    auto three = model("mobilenetv2", {{"activation", "lma"}, {"lma_segments", 3}});
    std::int64_t p = 0;
    QCOMPARE(lmaModules(*three, &p), std::int64_t(36));
    QCOMPARE(p, std::int64_t(36 * 3));
    QVERIFY(three->named_parameters().contains("conv1.2.slopes"));
    QVERIFY(three->named_parameters().contains("blocks.6.0.conv.5.slopes"));
    auto vgg = model("vgg13", {{"activation", "lma"}});
    QVERIFY(vgg->named_parameters().contains("block0.2.slopes")); // the inner one in the ReLU's place
    QVERIFY(vgg->named_parameters().contains("act0.slopes"));     // the block's final one
    // describeArchitecture: more parameters, the same MACs (activations are not counted).
    const auto lmaInfo = kd::describeArchitecture(m_archs, "resnet8", {{"activation", "lma"}}, {1, 28, 28}, 10);
    const auto reluInfo = kd::describeArchitecture(m_archs, "resnet8", json::object(), {1, 28, 28}, 10);
    QCOMPARE(lmaInfo.params, reluInfo.params + 7 * 6);
    QCOMPARE(lmaInfo.macs, reluInfo.macs);
}

void TestMethodsAdvanced::lma_badOptionsRejected_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<QString>("options");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("unknown activation") << "resnet8" << R"({"activation": "gelu"})"
                                        << QStringList{"resnet8.activation", "\"gelu\"", "\"relu\"", "\"lma\""};
    QTest::newRow("activation not a string") << "cnn_small" << R"({"activation": 1})"
                                             << QStringList{"cnn_small.activation", "\"relu\""};
    QTest::newRow("one segment") << "mlp" << R"({"activation": "lma", "lma_segments": 1})"
                                 << QStringList{"mlp.lma_segments", "[2, 16]"};
    QTest::newRow("too many segments") << "vgg8" << R"({"activation": "lma", "lma_segments": 17})"
                                       << QStringList{"vgg8.lma_segments", "[2, 16]"};
    QTest::newRow("fractional segments") << "lenet5" << R"({"lma_segments": 4.5})"
                                         << QStringList{"lenet5.lma_segments", "integer"};
    QTest::newRow("misspelt key") << "wrn_16_1" << R"({"activaton": "lma"})"
                                  << QStringList{"unknown key wrn_16_1.activaton", "activation, lma_segments"};
}

void TestMethodsAdvanced::lma_badOptionsRejected()
{
    QFETCH(QString, arch);
    QFETCH(QString, options);
    QFETCH(QStringList, needles);
    const auto msg = errorOf([&] { model(arch.toStdString(), json::parse(options.toStdString())); });
    for (const auto &n : needles)
        QVERIFY2(msg.find(n.toStdString()) != std::string::npos, ("\"" + n.toStdString() + "\" not in: " + msg).c_str());
    // The engine's own check, for options that bypass the registry.
    auto direct = errorOf([] { kd::ActivationOptions::fromParams({{"activation", "swish"}}); });
    QVERIFY2(direct.find("\"swish\"") != std::string::npos && direct.find("\"lma\"") != std::string::npos,
             direct.c_str());
    direct = errorOf([] { kd::ActivationOptions::fromParams({{"activation", "lma"}, {"lma_segments", 40}}); });
    QVERIFY2(direct.find("lma_segments = 40") != std::string::npos, direct.c_str());
    direct = errorOf([] { kd::ResNet({1, 28, 28}, 10, 8, {16, 16, 32, 64}, {kd::ActivationOptions::Kind::Lma, 1}); });
    QVERIFY2(direct.find("lma_segments") != std::string::npos, direct.c_str());
}

// ---------------------------------------------------------------------------------------
// End to end

void TestMethodsAdvanced::endToEnd_newMethodsTrain_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("methodParams");
    QTest::addColumn<QString>("studentOptions");
    QTest::newRow("srm_lite") << "srm_lite" << "{}" << "{}";
    QTest::newRow("srm_lite + kd") << "srm_lite" << R"({"kd_weight": 0.9, "ce_weight": 0.1})" << "{}";
    QTest::newRow("london") << "london" << "{}" << "{}";
    QTest::newRow("iekd") << "iekd" << "{}" << "{}";
    QTest::newRow("iekd, lma student") << "iekd" << "{}" << R"({"activation": "lma"})";
}

void TestMethodsAdvanced::endToEnd_newMethodsTrain()
{
    QFETCH(QString, method);
    QFETCH(QString, methodParams);
    QFETCH(QString, studentOptions);
    static QTemporaryDir tmp;
    static std::string teacherCheckpoint;
    static int runs = 0;
    json j = {
        {"name", "m"},
        {"seed", 1},
        {"threads", 1},
        {"baseline", false},
        {"output_dir", tmp.path().toStdString()},
        {"dataset", {{"name", "synthetic"}, {"limit", 512}, {"test_limit", 256}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
                     {"train", {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}}}}},
        {"student", {{"arch", "resnet8"}, {"arch_options", json::parse(studentOptions.toStdString())},
                     {"train", {{"epochs", 1}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 2}}}}},
    };
    // Method parameters sit beside the name in the project file.
    j["method"] = json::parse(methodParams.toStdString());
    j["method"]["name"] = method.toStdString();
    // Train the teacher once and reuse its checkpoint.
    if (!teacherCheckpoint.empty())
        j["teacher"]["checkpoint"] = teacherCheckpoint;
    const auto runDir = tmp.filePath(QString("run%1").arg(runs++)).toStdString();
    kd::RunSummary summary;
    try {
        summary = kd::test::runProject(j, runDir);
    } catch (const std::exception &e) {
        QFAIL(e.what());
    }
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    const auto *student = summary.find("student");
    QVERIFY(student && student->completed);
    QVERIFY(std::isfinite(student->finalTestAcc));
    if (teacherCheckpoint.empty())
        teacherCheckpoint = runDir + "/teacher.pt";

    // Every term is a metrics.csv column with finite values in the student's rows.
    QFile csv(QString::fromStdString(runDir + "/metrics.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const auto lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    const auto header = lines.first().split(',');
    auto m = create(method.toStdString(), json::parse(methodParams.toStdString()));
    for (const auto &term : m->termNames()) {
        const int col = int(header.indexOf(QString::fromStdString("loss_" + term)));
        QVERIFY2(col >= 0, ("no column loss_" + term).c_str());
        int rows = 0;
        for (const auto &line : lines.mid(1)) {
            const auto cells = line.split(',');
            if (cells[0] != "student")
                continue;
            bool ok = false;
            const double v = cells[col].toDouble(&ok);
            QVERIFY2(ok && std::isfinite(v), qPrintable(line));
            ++rows;
        }
        QVERIFY(rows >= 2);
    }
}

QTEST_GUILESS_MAIN(TestMethodsAdvanced)
#include "test_methods_advanced.moc"
