// Registries by name: unknown names list the valid ones, duplicates are errors, every built-in
// architecture builds and returns its named features, parameter counts match hand-computed
// values, and Registries::resolve() checks and fills a project's names and hyperparameters.

#include "models/ArchitectureRegistry.h"
#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "models/FeatureNet.h"
#include "methods/MethodRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "project/Registry.h"
#include "core/TorchFwd.h"
#include "support/TestSupport.h"

#include <QtTest>

#include <functional>

#include <nlohmann/json.hpp>

#include <algorithm>

using nlohmann::json;

namespace {

using kd::test::errorOf;

json parseJson(const QString &text)
{
    return json::parse(text.toStdString());
}

std::shared_ptr<kd::FeatureNet> build(const kd::ArchitectureRegistry &archs, const std::string &name,
                                      const json &options, const kd::InputShape &in, int classes)
{
    const auto &entry = archs.get(name);
    return entry.create(kd::resolveParams(entry.params, options, name), in, classes);
}

} // namespace

class TestRegistries : public QObject {
    Q_OBJECT

private:
    kd::Registries m_reg = kd::Registries::builtin();

private Q_SLOTS:
    void builtinNames();
    void unknownName_listsValidNames_data();
    void unknownName_listsValidNames();
    void duplicateRegistration();
    void registryOfInt();

    void architectureForward_data();
    void architectureForward();
    void parameterCount_data();
    void parameterCount();
    void describeArchitecture_reportsFeatures();
    void archOptions_rejected_data();
    void archOptions_rejected();
    void archOptions_changeTheModel();

    void resolve_fillsDefaults();
    void resolve_rejects_data();
    void resolve_rejects();
    void resolve_methodEntriesCreate();
    void resolve_repeatsProjectFileChecks();
};

void TestRegistries::builtinNames()
{
    // Names come back sorted; the registries hold (at least) these built-ins.
    auto holds = [](const std::vector<std::string> &names, std::initializer_list<const char *> wanted) {
        for (const char *w : wanted)
            if (std::find(names.begin(), names.end(), w) == names.end())
                return false;
        return std::is_sorted(names.begin(), names.end());
    };
    QVERIFY(holds(m_reg.architectures.names(), {"cnn_large", "cnn_small", "lenet5", "mlp"}));
    QVERIFY(holds(m_reg.methods.names(), {"ce", "kd"}));
    QVERIFY(holds(m_reg.datasets.names(), {"fashion-mnist", "idx", "kmnist", "mnist"}));
    QCOMPARE(m_reg.architectures.kind(), std::string("architecture"));
    QVERIFY(m_reg.methods.get("kd").needsTeacher);
    QVERIFY(!m_reg.methods.get("ce").needsTeacher);
    const auto &fashionPaths = m_reg.datasets.get("fashion-mnist").defaultPaths;
    QVERIFY(std::find(fashionPaths.begin(), fashionPaths.end(), "/usr/share/datasets/fashion-mnist")
            != fashionPaths.end());
    for (const auto &name : m_reg.architectures.names())
        QVERIFY2(!m_reg.architectures.get(name).description.empty(), name.c_str());
}

void TestRegistries::unknownName_listsValidNames_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("name");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("architecture") << "architecture" << "resnet18"
        << QStringList{"unknown architecture \"resnet18\"", "cnn_large, cnn_small", "lenet5", "mlp"};
    QTest::newRow("architecture, case matters") << "architecture" << "MLP"
        << QStringList{"\"MLP\"", "mlp"};
    QTest::newRow("method") << "method" << "magic" << QStringList{"unknown method \"magic\"", "ce", "kd"};
    QTest::newRow("dataset") << "dataset" << "cifar-10"
        << QStringList{"unknown dataset \"cifar-10\"", "fashion-mnist", "idx", "kmnist", "mnist"};
    QTest::newRow("empty name") << "method" << "" << QStringList{"unknown method \"\"", "ce", "kd"};
}

void TestRegistries::unknownName_listsValidNames()
{
    QFETCH(QString, kind);
    QFETCH(QString, name);
    QFETCH(QStringList, needles);
    const auto n = name.toStdString();
    std::string msg;
    if (kind == "architecture")
        msg = errorOf([&] { m_reg.architectures.get(n); });
    else if (kind == "method")
        msg = errorOf([&] { m_reg.methods.get(n); });
    else
        msg = errorOf([&] { m_reg.datasets.get(n); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
    QVERIFY(!m_reg.architectures.contains(n) || kind != "architecture");
}

void TestRegistries::duplicateRegistration()
{
    kd::ArchitectureRegistry archs("architecture");
    kd::registerBuiltinArchitectures(archs);
    KD_VERIFY_ERROR(kd::registerBuiltinArchitectures(archs), "duplicate architecture", "\"mlp\"");
    KD_VERIFY_ERROR(archs.add("mlp", kd::ArchitectureEntry{}), "duplicate architecture \"mlp\"");
    // The first registration stays.
    QVERIFY(archs.get("mlp").create != nullptr);

    kd::MethodRegistry methods("method");
    kd::registerBuiltinMethods(methods);
    KD_VERIFY_ERROR(methods.add("kd", kd::MethodEntry{}), "duplicate method \"kd\"");
    kd::DatasetRegistry datasets("dataset");
    kd::registerBuiltinDatasets(datasets);
    KD_VERIFY_ERROR(kd::registerBuiltinDatasets(datasets), "duplicate dataset");
}

void TestRegistries::registryOfInt()
{
    kd::Registry<int> r("widget");
    r.add("b", 2);
    r.add("a", 1);
    KD_VERIFY_ERROR(r.add("a", 3), "duplicate widget \"a\"", "already registered");
    QCOMPARE(r.get("a"), 1);
    KD_VERIFY_ERROR(r.add("", 4), "empty name");
    KD_VERIFY_ERROR(r.get("c"), "unknown widget \"c\"", "valid widgets: a, b");
    QCOMPARE(r.names(), (std::vector<std::string>{"a", "b"}));
    QCOMPARE(r.joinedNames(), std::string("a, b"));
    QVERIFY(r.contains("b"));
    QVERIFY(!r.contains("B"));
}

// ---------------------------------------------------------------------------------------
// architectures

void TestRegistries::architectureForward_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("classes");
    QTest::addColumn<int>("stages");
    const std::pair<const char *, int> archs[] = {{"mlp", 1}, {"lenet5", 2}, {"cnn_small", 2}, {"cnn_large", 3}};
    for (const auto &[arch, stages] : archs)
        for (const auto &[c, s] : {std::pair{1, 28}, std::pair{3, 32}})
            for (int classes : {10, 100})
                QTest::addRow("%s %dx%dx%d, %d classes", arch, c, s, s, classes)
                    << QString(arch) << c << s << classes << stages;
}

void TestRegistries::architectureForward()
{
    QFETCH(QString, arch);
    QFETCH(int, channels);
    QFETCH(int, size);
    QFETCH(int, classes);
    QFETCH(int, stages);
    torch::manual_seed(0);
    auto net = build(m_reg.architectures, arch.toStdString(), json::object(), {channels, size, size}, classes);
    QVERIFY(net);
    net->eval();
    torch::NoGradGuard noGrad;
    const std::int64_t n = 3;
    const auto f = net->forwardFeatures(torch::randn({n, channels, size, size}));

    // In network order: stage1..stageN (other features, e.g. "stageK_pre", may sit between),
    // then pre_logits, then logits.
    std::vector<std::string> stageNames, names;
    for (const auto &kv : f.items()) {
        names.push_back(kv.first);
        const auto &name = kv.first;
        if (name.size() > 5 && name.rfind("stage", 0) == 0
            && name.find_first_not_of("0123456789", 5) == std::string::npos)
            stageNames.push_back(name);
        QCOMPARE(kv.second.size(0), n);
        QVERIFY2(torch::isfinite(kv.second).all().item<bool>(), kv.first.c_str());
    }
    std::vector<std::string> expectedStages;
    for (int i = 1; i <= stages; ++i)
        expectedStages.push_back("stage" + std::to_string(i));
    QCOMPARE(stageNames, expectedStages);
    QVERIFY(names.size() >= 2);
    QCOMPARE(names[names.size() - 2], std::string("pre_logits"));
    QCOMPARE(names.back(), std::string("logits"));
    // A stage's pre-activation variant, where provided, has the stage's shape.
    for (const auto &s : expectedStages)
        if (f.has(s + "_pre"))
            QCOMPARE(f.get(s + "_pre").sizes().vec(), f.get(s).sizes().vec());
    // Stage outputs are post-ReLU in these architectures.
    for (const auto &s : expectedStages)
        QVERIFY2(f.get(s).min().item<double>() >= 0.0, s.c_str());
    QCOMPARE(f.logits().sizes().vec(), (std::vector<std::int64_t>{n, classes}));
    QCOMPARE(f.get("pre_logits").dim(), 2);
    QVERIFY(torch::equal(net->forward(torch::zeros({1, channels, size, size})),
                         net->forwardFeatures(torch::zeros({1, channels, size, size})).logits()));
    // Different inputs, different logits: the network is wired through.
    QVERIFY(!torch::allclose(f.logits()[0], f.logits()[1]));
    KD_VERIFY_ERROR(f.get("stage9"), "no feature \"stage9\"", "pre_logits", "logits");
}

void TestRegistries::parameterCount_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<QString>("options");
    QTest::addColumn<int>("channels");
    QTest::addColumn<int>("size");
    QTest::addColumn<int>("classes");
    QTest::addColumn<qint64>("expected");
    // mlp: 784·128 + 128 + 128·10 + 10
    QTest::newRow("mlp 1x28x28") << "mlp" << "{}" << 1 << 28 << 10 << qint64(101770);
    // 784·64 + 64 + 64·32 + 32 + 32·10 + 10
    QTest::newRow("mlp hidden [64,32]") << "mlp" << R"({"hidden": [64, 32]})" << 1 << 28 << 10 << qint64(52650);
    // 3072·128 + 128 + 128·100 + 100
    QTest::newRow("mlp 3x32x32, 100 classes") << "mlp" << "{}" << 3 << 32 << 100 << qint64(406244);
    QTest::newRow("mlp dropout adds nothing") << "mlp" << R"({"dropout": 0.5})" << 1 << 28 << 10 << qint64(101770);
    // lenet5 at 28x28 (padding 2): conv1 1·6·25+6 = 156, conv2 6·16·25+16 = 2416,
    // fc1 16·5·5·120+120 = 48120, fc2 120·84+84 = 10164, fc3 84·10+10 = 850.
    QTest::newRow("lenet5 1x28x28") << "lenet5" << "{}" << 1 << 28 << 10 << qint64(61706);
    // at 3x32x32 (no padding): conv1 3·6·25+6 = 456; fc3 84·100+100 = 8500
    QTest::newRow("lenet5 3x32x32, 100 classes") << "lenet5" << "{}" << 3 << 32 << 100
                                                 << qint64(456 + 2416 + 48120 + 10164 + 8500);
    // cnn_small (width 32): conv 1·32·9 + BN 64; conv 32·64·9 + BN 128; fc 64·7·7·128+128;
    // head 128·10+10
    QTest::newRow("cnn_small 1x28x28") << "cnn_small" << "{}" << 1 << 28 << 10
                                       << qint64(288 + 64 + 18432 + 128 + 401536 + 1290);
    // width 8: conv 1·8·9 + 16; conv 8·16·9 + 32; fc 16·7·7·128+128; head 1290
    QTest::newRow("cnn_small width 8") << "cnn_small" << R"({"width": 8})" << 1 << 28 << 10
                                       << qint64(72 + 16 + 1152 + 32 + 100480 + 1290);
    // cnn_large: conv 1·32·9 + 64 (no pool), conv 32·64·9 + 128 (pool → 14),
    // conv 64·128·9 + 256 (pool → 7), fc 128·7·7·256+256, head 256·10+10
    QTest::newRow("cnn_large 1x28x28") << "cnn_large" << "{}" << 1 << 28 << 10
                                       << qint64(288 + 64 + 18432 + 128 + 73728 + 256 + 1605888 + 2570);
}

void TestRegistries::parameterCount()
{
    QFETCH(QString, arch);
    QFETCH(QString, options);
    QFETCH(int, channels);
    QFETCH(int, size);
    QFETCH(int, classes);
    QFETCH(qint64, expected);
    const kd::InputShape in{channels, size, size};
    auto net = build(m_reg.architectures, arch.toStdString(), parseJson(options), in, classes);
    QCOMPARE(qint64(net->parameterCount()), expected);
    const auto info = kd::describeArchitecture(m_reg.architectures, arch.toStdString(),
                                               parseJson(options), in, classes);
    QCOMPARE(qint64(info.params), expected);
}

void TestRegistries::describeArchitecture_reportsFeatures()
{
    using Shapes = std::vector<std::pair<std::string, std::string>>;
    // The features without a "_pre" variant name (those are checked in architectureForward).
    auto mainFeatures = [](const kd::ArchitectureInfo &info) {
        Shapes out;
        for (const auto &kv : info.features)
            if (kv.first.size() < 4 || kv.first.compare(kv.first.size() - 4, 4, "_pre") != 0)
                out.push_back(kv);
        return out;
    };
    auto info = kd::describeArchitecture(m_reg.architectures, "lenet5", json::object(), {1, 28, 28}, 10);
    QCOMPARE(mainFeatures(info), (Shapes{{"stage1", "6x14x14"}, {"stage2", "16x5x5"}, {"pre_logits", "84"},
                                    {"logits", "10"}}));
    info = kd::describeArchitecture(m_reg.architectures, "mlp", parseJson(R"({"hidden": [20, 30]})"),
                                    {1, 28, 28}, 7);
    QCOMPARE(mainFeatures(info), (Shapes{{"stage1", "20"}, {"stage2", "30"}, {"pre_logits", "30"}, {"logits", "7"}}));
    info = kd::describeArchitecture(m_reg.architectures, "cnn_large", json::object(), {3, 32, 32}, 100);
    QCOMPARE(mainFeatures(info), (Shapes{{"stage1", "32x32x32"}, {"stage2", "64x16x16"}, {"stage3", "128x8x8"},
                                    {"pre_logits", "256"}, {"logits", "100"}}));
    KD_VERIFY_ERROR(kd::describeArchitecture(m_reg.architectures, "alexnet", json::object(), {1, 28, 28}, 10),
                    "unknown architecture \"alexnet\"", "mlp");
}

void TestRegistries::archOptions_rejected_data()
{
    QTest::addColumn<QString>("arch");
    QTest::addColumn<QString>("options");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("unknown key") << "mlp" << R"({"hiden": [64]})"
                                 << QStringList{"unknown key student.arch_options.hiden", "hidden, dropout"};
    // lenet5 has only the activation options (LMA); "width" is not one of them.
    QTest::newRow("lenet5 has no width") << "lenet5" << R"({"width": 8})"
        << QStringList{"student.arch_options.width", "valid keys here: activation, lma_segments"};
    QTest::newRow("hidden 0") << "mlp" << R"({"hidden": [64, 0]})"
                              << QStringList{"student.arch_options.hidden", "[1, 65536]"};
    QTest::newRow("hidden too large") << "mlp" << R"({"hidden": [70000]})"
                                      << QStringList{"student.arch_options.hidden", "[1, 65536]"};
    QTest::newRow("hidden empty") << "mlp" << R"({"hidden": []})" << QStringList{"student.arch_options.hidden"};
    QTest::newRow("hidden not a list") << "mlp" << R"({"hidden": 64})" << QStringList{"student.arch_options.hidden"};
    QTest::newRow("hidden fractional") << "mlp" << R"({"hidden": [6.5]})" << QStringList{"student.arch_options.hidden"};
    QTest::newRow("dropout above 0.9") << "mlp" << R"({"dropout": 0.95})"
                                       << QStringList{"student.arch_options.dropout", "[0, 0.9]"};
    QTest::newRow("width below 4") << "cnn_small" << R"({"width": 2})"
                                   << QStringList{"student.arch_options.width", "[4, 1024]"};
    QTest::newRow("width as a string") << "cnn_large" << R"({"width": "64"})"
                                       << QStringList{"student.arch_options.width", "integer"};
    QTest::newRow("options not an object") << "mlp" << "[1, 2]"
                                           << QStringList{"student.arch_options", "JSON object"};
}

void TestRegistries::archOptions_rejected()
{
    QFETCH(QString, arch);
    QFETCH(QString, options);
    QFETCH(QStringList, needles);
    kd::Project p;
    p.student.arch = arch.toStdString();
    p.student.archOptions = parseJson(options);
    const auto msg = errorOf([&] { m_reg.resolve(p); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
}

void TestRegistries::archOptions_changeTheModel()
{
    const kd::InputShape in{1, 28, 28};
    const auto base = build(m_reg.architectures, "mlp", json::object(), in, 10)->parameterCount();
    const auto wide = build(m_reg.architectures, "mlp", parseJson(R"({"hidden": [256]})"), in, 10)->parameterCount();
    QCOMPARE(qint64(wide), qint64(784 * 256 + 256 + 256 * 10 + 10));
    QVERIFY(wide != base);
    const auto narrow = build(m_reg.architectures, "cnn_large", parseJson(R"({"width": 8})"), in, 10);
    QVERIFY(narrow->parameterCount()
            < build(m_reg.architectures, "cnn_large", json::object(), in, 10)->parameterCount());
    // Inputs too small for the architecture: an error, not a crash.
    KD_VERIFY_ERROR(build(m_reg.architectures, "lenet5", json::object(), {1, 8, 8}, 10), "lenet5", "8x8");
    KD_VERIFY_ERROR(build(m_reg.architectures, "cnn_large", json::object(), {1, 2, 2}, 10), "too small");
}

// ---------------------------------------------------------------------------------------
// Registries::resolve

void TestRegistries::resolve_fillsDefaults()
{
    kd::Project p; // method kd, student mlp, teacher cnn_large, empty parameter objects
    QVERIFY(p.method.params.empty());
    const auto r = m_reg.resolve(p);
    QCOMPARE(r.method.name, std::string("kd"));
    QCOMPARE(r.method.params.at("temperature").get<double>(), 4.0);
    QCOMPARE(r.method.params.at("alpha").get<double>(), 0.9);
    // T0 and alpha plus their schedules (constant by default).
    QCOMPARE(r.method.params.size(), std::size_t(6));
    QCOMPARE(r.method.params.at("temperature_schedule").get<std::string>(), std::string("constant"));
    QCOMPARE(r.student.archOptions.at("hidden").get<std::vector<int>>(), std::vector<int>{128});
    QCOMPARE(r.student.archOptions.at("dropout").get<double>(), 0.0);
    QCOMPARE(r.teacher.archOptions.at("width").get<int>(), 32);
    // Given values are kept, others filled in; the input project is untouched.
    p.method.params = {{"alpha", 0.5}};
    p.student.archOptions = {{"hidden", {64, 32}}};
    const auto r2 = m_reg.resolve(p);
    QCOMPARE(r2.method.params.at("alpha").get<double>(), 0.5);
    QCOMPARE(r2.method.params.at("temperature").get<double>(), 4.0);
    QCOMPARE(r2.student.archOptions.at("hidden").get<std::vector<int>>(), (std::vector<int>{64, 32}));
    QCOMPARE(r2.student.archOptions.at("dropout").get<double>(), 0.0);
    QVERIFY(!p.method.params.contains("temperature"));
    // The boundaries of a range are allowed.
    p.method.params = {{"alpha", 1}, {"temperature", 100}};
    QCOMPARE(m_reg.resolve(p).method.params.at("alpha").get<double>(), 1.0);
    p.method = {"ce", json::object()};
    QVERIFY(m_reg.resolve(p).method.params.empty());
}

void TestRegistries::resolve_rejects_data()
{
    QTest::addColumn<QString>("patch");
    QTest::addColumn<QStringList>("needles");
    QTest::newRow("unknown method") << R"({"method": {"name": "magic"}})"
                                    << QStringList{"method.name", "\"magic\"", "ce", "kd"};
    QTest::newRow("alpha 1.5") << R"({"method": {"params": {"alpha": 1.5}}})"
                               << QStringList{"method.alpha", "1.5", "[0, 1]"};
    QTest::newRow("alpha negative") << R"({"method": {"params": {"alpha": -0.1}}})"
                                    << QStringList{"method.alpha", "[0, 1]"};
    QTest::newRow("temperature 0") << R"({"method": {"params": {"temperature": 0}}})"
                                   << QStringList{"method.temperature", "[0.05, 100]"};
    QTest::newRow("temperature as text") << R"({"method": {"params": {"temperature": "4"}}})"
                                         << QStringList{"method.temperature", "a number"};
    QTest::newRow("unknown method param") << R"({"method": {"params": {"beta": 2}}})"
                                          << QStringList{"unknown key method.beta", "temperature, alpha"};
    QTest::newRow("ce takes no params") << R"({"method": {"name": "ce", "params": {"alpha": 0.5}}})"
                                        << QStringList{"method.alpha", "(none)"};
    QTest::newRow("unknown student arch") << R"({"student": {"arch": "alexnet"}})"
                                          << QStringList{"student.arch", "\"alexnet\"", "mlp", "cnn_large"};
    QTest::newRow("unknown teacher arch") << R"({"teacher": {"arch": "resnet"}})"
                                          << QStringList{"teacher.arch", "\"resnet\"", "cnn_small", "lenet5"};
    QTest::newRow("bad teacher option") << R"({"teacher": {"arch_options": {"width": 4096}}})"
                                        << QStringList{"teacher.arch_options.width", "[4, 1024]"};
    QTest::newRow("unknown dataset") << R"({"dataset": {"name": "svhn"}})"
                                     << QStringList{"dataset.name", "\"svhn\"", "fashion-mnist"};
    QTest::newRow("missing teacher checkpoint")
        << R"({"teacher": {"checkpoint": "/nonexistent/teacher.pt"}})"
        << QStringList{"teacher.checkpoint", "/nonexistent/teacher.pt"};
}

void TestRegistries::resolve_rejects()
{
    QFETCH(QString, patch);
    QFETCH(QStringList, needles);
    kd::Project p;
    const auto j = parseJson(patch);
    if (j.contains("method")) {
        p.method.name = j["method"].value("name", p.method.name);
        p.method.params = j["method"].value("params", json::object());
    }
    for (auto *role : {&p.student, &p.teacher}) {
        const char *key = role == &p.student ? "student" : "teacher";
        if (!j.contains(key))
            continue;
        role->arch = j[key].value("arch", role->arch);
        role->archOptions = j[key].value("arch_options", json::object());
        role->checkpoint = j[key].value("checkpoint", std::string());
    }
    if (j.contains("dataset"))
        p.dataset.name = j["dataset"]["name"].get<std::string>();

    const auto msg = errorOf([&] { m_reg.resolve(p); });
    QVERIFY2(msg.rfind("<", 0) != 0, msg.c_str());
    for (const auto &needle : needles)
        QVERIFY2(msg.find(needle.toStdString()) != std::string::npos,
                 ("\"" + needle.toStdString() + "\" not in: " + msg).c_str());
}

void TestRegistries::resolve_repeatsProjectFileChecks()
{
    // Projects built in code (as the GUI does) are checked like project files.
    const auto expectError = [&](const std::function<void(kd::Project &)> &change, const std::string &needle) {
        kd::Project p;
        change(p);
        const auto msg = errorOf([&] { m_reg.resolve(p); });
        QVERIFY2(msg.find(needle) != std::string::npos, ("\"" + needle + "\" not in: " + msg).c_str());
    };
    expectError([](kd::Project &p) { p.student.train.optimizer = "adam"; p.student.train.nesterov = true; },
                "student.train.nesterov");
    expectError([](kd::Project &p) { p.name = "a/b"; }, "name must be");
    expectError([](kd::Project &p) { p.device = "gpu"; }, "\"gpu\" is not valid");
    expectError([](kd::Project &p) { p.teacher.train.lrSchedule = "cosine"; p.teacher.train.lr = 0.01; p.teacher.train.lrMin = 0.1; },
                "teacher.train.lr_min");
    expectError([](kd::Project &p) { p.student.train.batchSize = 0; }, "student.train.batch_size");
    kd::Project ok;
    QCOMPARE(m_reg.resolve(ok).toJson(), m_reg.resolve(m_reg.resolve(ok)).toJson());
}

void TestRegistries::resolve_methodEntriesCreate()
{
    // What resolve() returns is what the entries' factories take.
    kd::Project p;
    p.method.params = {{"temperature", 2.0}};
    const auto r = m_reg.resolve(p);
    auto method = m_reg.methods.get(r.method.name).create(r.method.params);
    QVERIFY(method);
    QVERIFY(method->needsTeacher());
    QCOMPARE(method->teacherFeatures(), std::vector<std::string>{"logits"});
    QCOMPARE(method->studentFeatures(), std::vector<std::string>{"logits"});
    QVERIFY(method->trainableModule() == nullptr);
    auto student = m_reg.architectures.get(r.student.arch).create(r.student.archOptions, {1, 28, 28}, 10);
    QCOMPARE(qint64(student->parameterCount()), qint64(101770));
}

QTEST_APPLESS_MAIN(TestRegistries)
#include "test_registries.moc"
