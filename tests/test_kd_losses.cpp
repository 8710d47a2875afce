// Numerical parity of the KD losses with PyTorch: golden values in tests/data/kd_golden.json
// come from scripts/gen_kd_golden.py (python3-torch, the same LibTorch 1.13), as torchdistill
// checks its losses against stored values.

#include "models/Architectures.h"
#include "methods/DistillationMethod.h"
#include "methods/KdLosses.h"
#include "methods/MethodRegistry.h"
#include "project/ParamSpec.h"
#include "core/TorchFwd.h"
#include "support/TensorChecks.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace {

using kd::test::labelsOf;
using kd::test::matrixOf;
using kd::test::mismatch;

using nlohmann::json;


kd::Features logitsFeatures(const torch::Tensor &logits)
{
    kd::Features f;
    f.add("logits", logits);
    return f;
}

} // namespace

class TestKdLosses : public QObject {
    Q_OBJECT

private:
    json m_golden;
    kd::MethodRegistry m_methods{"method"};

    const json &goldenCase(int index) const { return m_golden.at("cases").at(std::size_t(index)); }
    void addCaseRows();
    std::unique_ptr<kd::DistillationMethod> createMethod(const std::string &name,
                                                          const json &params) const;

private Q_SLOTS:
    void initTestCase();

    void hintonKdLoss_matchesGolden_data() { addCaseRows(); }
    void hintonKdLoss_matchesGolden();
    void crossEntropyLoss_matchesGolden_data() { addCaseRows(); }
    void crossEntropyLoss_matchesGolden();
    void lossGradient_matchesGolden_data() { addCaseRows(); }
    void lossGradient_matchesGolden();
    void kdMethod_matchesGolden_data() { addCaseRows(); }
    void kdMethod_matchesGolden();

    void kdMethod_defaultsAreT4Alpha09();
    void kdLoss_float32ExtremeTeacherIsFinite();
    void kdLoss_isTemperatureSensitive();
    void ceMethod_returnsSingleCeTerm();
    void teacherUnderNoGrad_getsNoGradient();
};

void TestKdLosses::initTestCase()
{
    const std::string path = std::string(KD_TEST_DATA_DIR) + "/kd_golden.json";
    std::ifstream in(path);
    QVERIFY2(in.good(), ("cannot open " + path + "; regenerate it with "
                         "/usr/bin/python3 scripts/gen_kd_golden.py").c_str());
    m_golden = json::parse(in);
    QVERIFY(m_golden.at("cases").is_array());
    QVERIFY2(m_golden.at("cases").size() >= 8, "the golden file should hold several cases");
    kd::registerBuiltinMethods(m_methods);
}

void TestKdLosses::addCaseRows()
{
    kd::test::addCaseRows(m_golden.at("cases"));
}

std::unique_ptr<kd::DistillationMethod> TestKdLosses::createMethod(const std::string &name,
                                                                   const json &params) const
{
    const auto &entry = m_methods.get(name);
    return entry.create(kd::resolveParams(entry.params, params, "method"));
}

void TestKdLosses::hintonKdLoss_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    const auto kdLoss = kd::hintonKdLoss(matrixOf(c["student"]), matrixOf(c["teacher"]),
                                         c["temperature"].get<double>());
    QCOMPARE(kdLoss.dim(), 0);
    QCOMPARE(kdLoss.scalar_type(), torch::kFloat64);
    const auto err = mismatch(kdLoss, c["expected"]["kd"].get<double>());
    QVERIFY2(err.empty(), err.c_str());
}

void TestKdLosses::crossEntropyLoss_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    const auto ce = kd::crossEntropyLoss(matrixOf(c["student"]), labelsOf(c["labels"]));
    QCOMPARE(ce.dim(), 0);
    const auto err = mismatch(ce, c["expected"]["ce"].get<double>());
    QVERIFY2(err.empty(), err.c_str());
}

void TestKdLosses::lossGradient_matchesGolden()
{
    // The free functions composed as the method does, differentiated by autograd.
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    const double alpha = c["alpha"].get<double>();
    auto s = matrixOf(c["student"]).requires_grad_(true);
    const auto t = matrixOf(c["teacher"]);
    const auto total = (1.0 - alpha) * kd::crossEntropyLoss(s, labelsOf(c["labels"]))
        + alpha * kd::hintonKdLoss(s, t, c["temperature"].get<double>());
    auto err = mismatch(total, c["expected"]["total"].get<double>());
    QVERIFY2(err.empty(), ("total: " + err).c_str());
    total.backward();
    QVERIFY(s.grad().defined());
    err = mismatch(s.grad(), matrixOf(c["expected"]["grad_student"]));
    QVERIFY2(err.empty(), ("gradient: " + err).c_str());
}

void TestKdLosses::kdMethod_matchesGolden()
{
    QFETCH(int, index);
    const auto &c = goldenCase(index);
    auto method = createMethod("kd", {{"temperature", c["temperature"]}, {"alpha", c["alpha"]}});
    QVERIFY(method->needsTeacher());
    QCOMPARE(method->termNames(), (std::vector<std::string>{"ce", "kd"}));

    auto s = matrixOf(c["student"]).requires_grad_(true);
    const auto student = logitsFeatures(s);
    const auto teacher = logitsFeatures(matrixOf(c["teacher"]));
    auto loss = method->compute(student, &teacher, labelsOf(c["labels"]), kd::StepContext{});

    QVERIFY(loss.total.defined());
    QCOMPARE(loss.terms.size(), std::size_t(2));
    QCOMPARE(loss.terms[0].first, std::string("ce"));
    QCOMPARE(loss.terms[1].first, std::string("kd"));
    auto err = mismatch(loss.terms[0].second, c["expected"]["ce"].get<double>());
    QVERIFY2(err.empty(), ("ce term: " + err).c_str());
    err = mismatch(loss.terms[1].second, c["expected"]["kd"].get<double>());
    QVERIFY2(err.empty(), ("kd term: " + err).c_str());
    err = mismatch(loss.total, c["expected"]["total"].get<double>());
    QVERIFY2(err.empty(), ("total: " + err).c_str());

    loss.total.backward();
    QVERIFY(s.grad().defined());
    err = mismatch(s.grad(), matrixOf(c["expected"]["grad_student"]));
    QVERIFY2(err.empty(), ("gradient: " + err).c_str());
}

void TestKdLosses::kdMethod_defaultsAreT4Alpha09()
{
    // Created from an empty parameter object, the method must use T = 4, alpha = 0.9: it then
    // reproduces the golden case generated with exactly those values.
    const auto &entry = m_methods.get("kd");
    const auto resolved = kd::resolveParams(entry.params, json::object(), "method");
    QCOMPARE(resolved.at("temperature").get<double>(), 4.0);
    QCOMPARE(resolved.at("alpha").get<double>(), 0.9);

    const json *found = nullptr;
    for (const auto &c : m_golden.at("cases"))
        if (c["temperature"].get<double>() == 4.0 && c["alpha"].get<double>() == 0.9)
            found = &c;
    QVERIFY2(found, "the golden file needs a case with T = 4 and alpha = 0.9");
    const auto &c = *found;
    auto method = entry.create(resolved);
    const auto student = logitsFeatures(matrixOf(c["student"]));
    const auto teacher = logitsFeatures(matrixOf(c["teacher"]));
    const auto loss = method->compute(student, &teacher, labelsOf(c["labels"]), kd::StepContext{});
    const auto err = mismatch(loss.total, c["expected"]["total"].get<double>());
    QVERIFY2(err.empty(), err.c_str());
}

void TestKdLosses::kdLoss_float32ExtremeTeacherIsFinite()
{
    // Training runs in float32, where a teacher probability of e^-120 is exactly 0. The loss
    // must stay finite there (0 · log 0 must not become NaN) and close to the float64 value.
    const json *found = nullptr;
    for (const auto &c : m_golden.at("cases"))
        if (c["name"].get<std::string>() == "b6_c10_T0.5_a0.9_teacher_pm30")
            found = &c;
    QVERIFY2(found, "the golden file needs the case b6_c10_T0.5_a0.9_teacher_pm30");
    const auto &c = *found;
    const double T = c["temperature"].get<double>();
    auto s = matrixOf(c["student"]).to(torch::kFloat32).requires_grad_(true);
    const auto t = matrixOf(c["teacher"]).to(torch::kFloat32);
    QVERIFY2((torch::softmax(t / T, 1) == 0).any().item<bool>(),
             "the case should make a float32 teacher probability underflow to 0");

    const auto kdLoss = kd::hintonKdLoss(s, t, T);
    QVERIFY(std::isfinite(kdLoss.item<double>()));
    auto err = mismatch(kdLoss, c["expected"]["kd"].get<double>(), 1e-4);
    QVERIFY2(err.empty(), err.c_str());
    kdLoss.backward();
    QVERIFY(torch::isfinite(s.grad()).all().item<bool>());
}

void TestKdLosses::kdLoss_isTemperatureSensitive()
{
    // Guards against a temperature that is ignored or applied only once (without T²).
    torch::manual_seed(3);
    const auto s = torch::randn({4, 6}, torch::kFloat64) * 3;
    const auto t = torch::randn({4, 6}, torch::kFloat64) * 3;
    const auto k1 = kd::hintonKdLoss(s, t, 1.0).item<double>();
    const auto k4 = kd::hintonKdLoss(s, t, 4.0).item<double>();
    QVERIFY(k1 > 0 && k4 > 0);
    QVERIFY(std::abs(k1 - k4) > 1e-3);
    // KL without T² shrinks roughly as 1/T² for large T; with the T² factor it tends to
    // a constant, so T = 64 and T = 128 give nearly the same value.
    const auto k64 = kd::hintonKdLoss(s, t, 64.0).item<double>();
    const auto k128 = kd::hintonKdLoss(s, t, 128.0).item<double>();
    QVERIFY2(std::abs(k64 - k128) < 0.01 * k64,
             qPrintable(QStringLiteral("T=64: %1, T=128: %2").arg(k64).arg(k128)));
    // Identical logits: exactly no distillation loss.
    QVERIFY(std::abs(kd::hintonKdLoss(s, s, 2.0).item<double>()) < 1e-12);
}

void TestKdLosses::ceMethod_returnsSingleCeTerm()
{
    auto method = createMethod("ce", json::object());
    QVERIFY(!method->needsTeacher());
    QVERIFY(method->teacherFeatures().empty());
    QCOMPARE(method->termNames(), std::vector<std::string>{"ce"});

    const auto &c = goldenCase(2);
    auto s = matrixOf(c["student"]).requires_grad_(true);
    const auto y = labelsOf(c["labels"]);
    const auto loss = method->compute(logitsFeatures(s), nullptr, y, kd::StepContext{});
    QCOMPARE(loss.terms.size(), std::size_t(1));
    QCOMPARE(loss.terms[0].first, std::string("ce"));
    auto err = mismatch(loss.terms[0].second, c["expected"]["ce"].get<double>());
    QVERIFY2(err.empty(), err.c_str());
    err = mismatch(loss.total, kd::crossEntropyLoss(s, y));
    QVERIFY2(err.empty(), err.c_str());
    // Gradient of mean CE: (softmax - onehot) / N.
    loss.total.backward();
    const auto expected = (torch::softmax(s.detach(), 1)
                           - torch::one_hot(y, s.size(1)).to(torch::kFloat64))
        / double(s.size(0));
    err = mismatch(s.grad(), expected);
    QVERIFY2(err.empty(), err.c_str());
}

void TestKdLosses::teacherUnderNoGrad_getsNoGradient()
{
    // The trainer's pattern: teacher in eval mode, its forward under NoGradGuard; the loss
    // then trains the student only.
    torch::manual_seed(11);
    const kd::InputShape shape{1, 28, 28};
    auto teacher = std::make_shared<kd::Mlp>(shape, 10, std::vector<int>{32}, 0.0);
    auto student = std::make_shared<kd::Mlp>(shape, 10, std::vector<int>{16}, 0.0);
    teacher->eval();
    student->train();
    const auto x = torch::randn({8, 1, 28, 28});
    const auto y = torch::arange(8, torch::kInt64) % 10;
    auto method = createMethod("kd", {{"temperature", 4.0}, {"alpha", 0.9}});

    kd::Features teacherOut;
    {
        torch::NoGradGuard noGrad;
        teacherOut = teacher->forwardFeatures(x);
    }
    for (const auto &kv : teacherOut.items())
        QVERIFY2(!kv.second.requires_grad(), kv.first.c_str());

    const auto studentOut = student->forwardFeatures(x);
    QVERIFY(studentOut.logits().requires_grad());
    auto loss = method->compute(studentOut, &teacherOut, y, kd::StepContext{});
    QVERIFY(std::isfinite(loss.total.item<double>()));
    loss.total.backward();

    for (const auto &p : teacher->named_parameters())
        QVERIFY2(!p.value().grad().defined(), ("teacher " + p.key() + " got a gradient").c_str());
    for (const auto &p : student->named_parameters()) {
        QVERIFY2(p.value().grad().defined(), ("student " + p.key() + " got no gradient").c_str());
        QVERIFY2(p.value().grad().abs().sum().item<double>() > 0,
                 ("student " + p.key() + " has an all-zero gradient").c_str());
    }

    // Control: without the guard the same loss does reach the teacher, so the check above
    // is what the guard buys (and would catch a trainer that dropped it).
    const auto teacherOutWithGrad = teacher->forwardFeatures(x);
    const auto studentOut2 = student->forwardFeatures(x);
    method->compute(studentOut2, &teacherOutWithGrad, y, kd::StepContext{}).total.backward();
    bool teacherGotGrad = false;
    for (const auto &p : teacher->parameters())
        teacherGotGrad = teacherGotGrad || p.grad().defined();
    QVERIFY(teacherGotGrad);
}

QTEST_APPLESS_MAIN(TestKdLosses)
#include "test_kd_losses.moc"
