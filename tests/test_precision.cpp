// Mixed precision (training/Precision.h): which precision a project gets on this device and
// why, the errors for combinations that cannot run, autocast scopes, fp32 loss terms from bf16
// forwards, fp16's loss scaler, and whole runs in bf16 on the CPU. (The CUDA side — fp16 with
// loss scaling, bf16 tensor cores — is kd_cuda_check's, run by scripts/gpu-check.sh.)

#include "support/MethodFixture.h"
#include "support/RunRecorder.h"
#include "support/TestSupport.h"

#include "core/Error.h"
#include "methods/DistillationMethod.h"
#include "project/ProjectConfig.h"
#include "training/Precision.h"
#include "training/Trainer.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <map>

using nlohmann::json;

class TestPrecision : public kd::test::MethodFixture {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        kd::registerBuiltinMethods(m_methods);
        kd::registerBuiltinArchitectures(m_archs);
        at::set_num_threads(1);
    }

    void selection_data();
    void selection();
    void errors();
    void autocastScope();
    void lossTermsStayFp32_data();
    void lossTermsStayFp32();
    void lossScaler();
    void projectKeys();
    void bf16RunOnCpu();
    void fp16OnCpuFailsBeforeTraining();
};

void TestPrecision::selection_data()
{
    QTest::addColumn<QString>("requested");
    QTest::newRow("fp32") << "fp32";
    QTest::newRow("bf16") << "bf16";
    QTest::newRow("auto") << "auto";
}

void TestPrecision::selection()
{
    QFETCH(QString, requested);
    const auto cpu = torch::Device(torch::kCPU);
    const auto p = kd::choosePrecision(requested.toStdString(), cpu);
    QCOMPARE(QString::fromStdString(p.requested), requested);
    const bool hardware = !kd::cpuBf16Support().empty();
    if (requested == "fp32") {
        QVERIFY(p.kind == kd::Precision::Kind::Fp32);
        QCOMPARE(p.dtype(), torch::kFloat32);
    } else if (requested == "bf16") {
        QVERIFY(p.kind == kd::Precision::Kind::Bf16);
        QCOMPARE(p.dtype(), torch::kBFloat16);
        // Without AVX-512 BF16 / AMX the user is told it will be slow, not refused.
        QCOMPARE(p.reason.find("emulated") != std::string::npos, !hardware);
    } else {
        // auto: bf16 exactly where this CPU computes it in hardware, and the reason says which.
        QCOMPARE(p.kind == kd::Precision::Kind::Bf16, hardware);
        QVERIFY2(p.reason.rfind("auto: ", 0) == 0, p.reason.c_str());
        if (hardware)
            QVERIFY2(p.describe().find(kd::cpuBf16Support()) != std::string::npos, p.describe().c_str());
    }
    QVERIFY(!p.lossScaling());
}

void TestPrecision::errors()
{
    const auto cpu = torch::Device(torch::kCPU);
    const auto fp16 = kd::test::errorOf([&] { kd::choosePrecision("fp16", cpu); });
    QVERIFY2(fp16.find("needs a CUDA device") != std::string::npos && fp16.find("\"bf16\"") != std::string::npos,
             fp16.c_str());
    const auto bad = kd::test::errorOf([&] { kd::choosePrecision("fp8", cpu); });
    QVERIFY2(bad.find("\"fp8\" is not valid") != std::string::npos, bad.c_str());
}

void TestPrecision::autocastScope()
{
    torch::manual_seed(0);
    auto net = model("cnn_small", json{{"width", 8}});
    const auto x = torch::randn({4, 1, 28, 28});
    const auto bf16 = kd::choosePrecision("bf16", torch::kCPU);
    const auto fp32 = kd::choosePrecision("fp32", torch::kCPU);
    torch::NoGradGuard noGrad;
    {
        kd::AutocastScope scope(fp32, torch::kCPU);
        QCOMPARE(net->forwardFeatures(x).logits().scalar_type(), torch::kFloat32);
    }
    kd::Features half;
    {
        kd::AutocastScope outer(bf16, torch::kCPU);
        {
            kd::AutocastScope inner(bf16, torch::kCPU); // nested: leaving it keeps the outer one
        }
        half = net->forwardFeatures(x);
    }
    QCOMPARE(half.logits().scalar_type(), torch::kBFloat16);
    // After the scope, the same forward is fp32 again.
    const auto full = net->forwardFeatures(x);
    QCOMPARE(full.logits().scalar_type(), torch::kFloat32);
    const auto converted = kd::toFloat32(half);
    QCOMPARE(converted.items().size(), half.items().size());
    for (const auto &kv : converted.items())
        QCOMPARE(kv.second.scalar_type(), torch::kFloat32);
    // bf16 keeps 8 bits of mantissa: the logits agree to a few percent of their spread.
    const double spread = full.logits().std().item<double>();
    QVERIFY((converted.logits() - full.logits()).abs().max().item<double>() < 0.1 * spread);
}

void TestPrecision::lossTermsStayFp32_data()
{
    QTest::addColumn<QString>("method");
    for (const char *m : {"kd", "at", "fitnet", "rkd", "sp", "pkt", "nst", "dkd"})
        QTest::newRow(m) << m;
}

void TestPrecision::lossTermsStayFp32()
{
    // The Trainer's path: the forwards under bf16 autocast, then toFloat32, then compute() in
    // fp32. Every term is fp32, finite, and within 5 % (+0.01 absolute) of the all-fp32 value.
    QFETCH(QString, method);
    torch::manual_seed(1);
    auto teacher = model("cnn_small", json{{"width", 16}});
    auto student = model("cnn_small", json{{"width", 8}});
    teacher->eval();
    auto m = create(method.toStdString());
    m->setup(setupFor(*student, *teacher));
    const auto x = torch::randn({32, 1, 28, 28});
    const auto y = torch::arange(32, torch::kInt64) % 10;
    kd::StepContext ctx;
    ctx.epoch = 1;
    ctx.epochs = 2;
    ctx.totalSteps = 10;
    ctx.indices = torch::arange(32, torch::kInt64);
    ctx.inputs = x;
    ctx.student = student.get();
    ctx.teacher = teacher.get();
    const auto forwardBoth = [&](const kd::Precision &p, kd::Features &t, kd::Features &s) {
        {
            kd::AutocastScope scope(p, torch::kCPU);
            {
                torch::NoGradGuard noGrad;
                t = teacher->forwardFeatures(x);
            }
            s = student->forwardFeatures(x);
        }
        if (p.mixed()) {
            t = kd::toFloat32(t);
            s = kd::toFloat32(s);
        }
    };
    kd::Features t32, s32, t16, s16;
    forwardBoth(kd::choosePrecision("fp32", torch::kCPU), t32, s32);
    forwardBoth(kd::choosePrecision("bf16", torch::kCPU), t16, s16);
    const auto full = m->compute(s32, &t32, y, ctx);
    const auto mixed = m->compute(s16, &t16, y, ctx);
    QCOMPARE(mixed.terms.size(), full.terms.size());
    QCOMPARE(mixed.total.scalar_type(), torch::kFloat32);
    for (std::size_t k = 0; k < full.terms.size(); ++k) {
        const auto &name = full.terms[k].first;
        QCOMPARE(mixed.terms[k].second.scalar_type(), torch::kFloat32);
        const double a = full.terms[k].second.item<double>(), b = mixed.terms[k].second.item<double>();
        QVERIFY2(std::isfinite(b), name.c_str());
        QVERIFY2(std::abs(a - b) <= 0.05 * std::abs(a) + 0.01,
                 (name + ": fp32 " + std::to_string(a) + " vs bf16 forwards " + std::to_string(b)).c_str());
    }
    mixed.total.backward(); // the fp32 loss back through the bf16 forward
    for (const auto &p : student->parameters())
        if (p.grad().defined())
            QVERIFY(torch::isfinite(p.grad()).all().item<bool>());
}

void TestPrecision::lossScaler()
{
    kd::LossScaler off(false);
    QCOMPARE(off.scale(), 1.0);
    QVERIFY(!off.update(true));

    kd::LossScaler s(true, 1024.0, 3);
    QCOMPARE(s.scale(), 1024.0);
    QVERIFY(s.update(true)); // overflow: halve
    QCOMPARE(s.scale(), 512.0);
    QVERIFY(!s.update(false));
    QVERIFY(!s.update(false));
    QVERIFY(s.update(false)); // third good step in a row: double
    QCOMPARE(s.scale(), 1024.0);
    QCOMPARE(s.goodSteps(), 0);
    for (int i = 0; i < 20; ++i)
        s.update(true);
    QCOMPARE(s.scale(), 1.0); // never below 1: then an overflow is a real non-finite value

    auto w = torch::ones({3}, torch::requires_grad());
    (w.sum() * 8.0).backward();
    kd::LossScaler eight(true, 8.0, 10);
    eight.unscale({w});
    QVERIFY(torch::allclose(w.grad(), torch::ones({3})));
}

void TestPrecision::projectKeys()
{
    json j = {{"precision", "auto"},
              {"dataset", {{"name", "synthetic"}}},
              {"teacher", {{"arch", "cnn_small"}}},
              {"student", {{"arch", "mlp"}, {"train", {{"precision", "fp32"}}}}}};
    const auto p = kd::Project::fromJson(j);
    QCOMPARE(QString::fromStdString(p.precision), QStringLiteral("auto"));
    QCOMPARE(QString::fromStdString(p.teacher.train.precision), QStringLiteral("inherit"));
    QCOMPARE(QString::fromStdString(p.student.train.precision), QStringLiteral("fp32"));
    const auto back = p.toJson();
    QCOMPARE(back["precision"].get<std::string>(), std::string("auto"));
    QCOMPARE(back["student"]["train"]["precision"].get<std::string>(), std::string("fp32"));
    j["precision"] = "half";
    const auto e = kd::test::errorOf([&] { kd::Project::fromJson(j); });
    QVERIFY2(e.find("precision") != std::string::npos && e.find("bf16") != std::string::npos, e.c_str());
}

void TestPrecision::bf16RunOnCpu()
{
    // A whole distillation in bf16 on the CPU (teacher and student stages, the project's
    // precision), the log saying what was chosen, against the same run in fp32: both learn, to
    // the same accuracy within 5 points (measured: 0.898 and 0.898).
    QTemporaryDir tmp;
    json j = {{"name", "bf16"},
              {"seed", 2},
              {"threads", 1},
              {"baseline", false},
              {"output_dir", tmp.path().toStdString()},
              {"dataset", {{"name", "synthetic"}, {"limit", 512}, {"test_limit", 256}}},
              {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}},
                           {"train", {{"epochs", 2}, {"batch_size", 64}, {"lr", 0.05}}}}},
              {"student", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}},
                           {"train", {{"epochs", 2}, {"batch_size", 64}, {"lr", 0.05}}}}},
              {"method", {{"name", "at"}}}};
    const auto registries = kd::Registries::builtin();
    std::map<std::string, double> acc;
    for (const std::string precision : {"fp32", "bf16"}) {
        j["precision"] = precision;
        kd::Experiment exp(kd::Project::fromJson(j), registries);
        kd::test::RunRecorder rec;
        std::atomic<bool> stop{false};
        const auto summary = exp.run(rec, stop, tmp.filePath(QString::fromStdString(precision)).toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
        int precisionLines = 0;
        for (const auto &l : rec.logs)
            if (l.find(": precision bf16") != std::string::npos)
                ++precisionLines;
        QCOMPARE(precisionLines, precision == "bf16" ? 2 : 0); // one per stage: teacher, student
        const auto *student = summary.find("student");
        QVERIFY(student && student->completed);
        acc[precision] = student->finalTestAcc;
        for (const auto &r : rec.metrics)
            if (r.kind == kd::MetricRecord::Kind::Step)
                for (const auto &kv : r.losses)
                    QVERIFY2(std::isfinite(kv.second), kv.first.c_str());
    }
    QVERIFY2(acc["bf16"] > 0.6, std::to_string(acc["bf16"]).c_str()); // chance is 0.1
    QVERIFY2(std::abs(acc["bf16"] - acc["fp32"]) <= 0.05,
             ("fp32 " + std::to_string(acc["fp32"]) + ", bf16 " + std::to_string(acc["bf16"])).c_str());
}

void TestPrecision::fp16OnCpuFailsBeforeTraining()
{
    QTemporaryDir tmp;
    json j = {{"name", "fp16"},
              {"device", "cpu"},
              {"output_dir", tmp.path().toStdString()},
              {"dataset", {{"name", "synthetic"}, {"limit", 128}}},
              {"teacher", {{"arch", "cnn_small"}, {"train", {{"epochs", 1}, {"precision", "fp16"}}}}},
              {"student", {{"arch", "mlp"}, {"train", {{"epochs", 1}}}}}};
    const auto registries = kd::Registries::builtin();
    kd::Experiment exp(kd::Project::fromJson(j), registries);
    kd::test::RunRecorder rec;
    std::atomic<bool> stop{false};
    const auto e = kd::test::errorOf([&] { exp.run(rec, stop, tmp.filePath("run").toStdString()); });
    QVERIFY2(e.find("precision \"fp16\" needs a CUDA device") != std::string::npos, e.c_str());
    for (const auto &r : rec.metrics)
        QVERIFY2(r.kind != kd::MetricRecord::Kind::Step, "no step may run before the precision is checked");
}

QTEST_GUILESS_MAIN(TestPrecision)
#include "test_precision.moc"
