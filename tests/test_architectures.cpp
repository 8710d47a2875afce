// The architecture registry: every registered model builds for 1×28×28 and 3×32×32 inputs,
// returns its named features in order, matches the parameter counts of the PyTorch
// definitions it re-implements (RepDistiller / mdistiller CIFAR models) and reports its
// multiply-accumulates; a backward pass reaches every parameter.

#include "models/ArchitectureRegistry.h"
#include "models/Architectures.h"
#include "core/Error.h"
#include "core/TorchFwd.h"
#include "models/Layers.h"
#include "models/MultiBranchNet.h"

#include <QtTest>

#include <cmath>
#include <iterator>
#include <string>
#include <vector>

namespace {

/// Expected facts about one registered architecture at its default options.
///
/// Exact counts follow from the PyTorch definitions, layer by layer:
///   conv params  = Cout·(Cin/groups)·k² (+ Cout with bias; only VGG and LeNet convs have one)
///   BatchNorm    = 2·C (weight, bias; running statistics are buffers)
///   Linear       = in·out + out
///   conv MACs    = Cout·Hout·Wout·(Cin/groups)·k², Linear MACs = in·out (one image)
/// e.g. CIFAR ResNet, filters f0..f3, n = (depth−2)/6 blocks per stage, C input channels,
/// K classes, stage input widths i1 = f0, i2 = f1, i3 = f2:
///   params = 9·C·f0 + 2·f0 + Σs [9·is·fs + 9·fs²·(2n−1) + 4n·fs]
///            + Σ(s: is≠fs or s>1) (is·fs + 2·fs) + (f3 + 1)·K
///   resnet20, 3→100: 464 + 14,016 + (51,072 + 576) + (203,520 + 2,176) + 6,500 = 278,324
///   resnet20 MACs at 32×32: 442,368 (stem) + 6·2,359,296 (stage 1) + (1,179,648 + 5·2,359,296
///   + 131,072) (stage 2) + (1,179,648 + 5·2,359,296 + 131,072) (stage 3) + 6,400 (fc)
///   = 40,818,944 ≈ 41M, the figure usually quoted for ResNet-20.
/// Wide ResNet, n = (depth−4)/6, widths 16, 16k, 32k, 64k: every block has bn1 over its input
/// width, two 3×3 convs, bn2, and a 1×1 shortcut conv where the width changes; final BN, fc.
/// The other rows were tallied the same way by an independent layer-by-layer script while
/// writing this test and agree with the C++ counts (parameters and MACs).
struct Expected {
    const char *name;
    int stages;
    std::int64_t params3x32x32c100, macs3x32x32;
    std::int64_t params1x28x28c10, macs1x28x28;
    /// Published parameter count for CIFAR-100 in millions (RepDistiller / CRD, mdistiller
    /// tables), 0 where none; checked to within one unit of its last digit (the tables round
    /// or truncate to two decimals).
    double publishedM;
};

const Expected kExpected[] = {
    {"resnet8", 3, 83892, 12507392, 77754, 9345920, 0},
    {"resnet14", 3, 181108, 26663168, 174970, 20183936, 0},
    {"resnet20", 3, 278324, 40818944, 272186, 31021952, 0.27},
    {"resnet32", 3, 472756, 69130496, 466618, 52697984, 0},
    {"resnet44", 3, 667188, 97442048, 661050, 74374016, 0},
    {"resnet56", 3, 861620, 125753600, 855482, 96050048, 0.86},
    {"resnet110", 3, 1736564, 253155584, 1730426, 193592192, 1.73},
    {"resnet8x4", 3, 1233540, 177071104, 1209834, 135101440, 1.23},
    {"resnet32x4", 3, 7433860, 1083040768, 7410154, 828734464, 7.43},
    {"wrn_16_1", 3, 180916, 26663168, 174778, 20183936, 0},
    {"wrn_16_2", 3, 703284, 101118464, 691386, 77184512, 0.70},
    {"wrn_40_1", 3, 569780, 83286272, 563642, 63536000, 0.57},
    {"wrn_40_2", 3, 2255156, 327610880, 2243258, 250592768, 2.26},
    {"wrn_28_4", 3, 5872180, 845620224, 5848762, 647185152, 0},
    {"vgg8", 5, 3965028, 96192512, 3917706, 61208576, 3.96},
    {"vgg11", 5, 9277284, 209438720, 9229962, 132577280, 0},
    {"vgg13", 5, 9462180, 284936192, 9414858, 190380032, 9.46},
    {"vgg16", 5, 14774436, 398182400, 14727114, 261748736, 0},
    {"mobilenetv2", 4, 812836, 6523648, 697258, 5848360, 0.81},
    {"shufflenetv2", 3, 1355528, 44504448, 1263230, 37403556, 1.36},
    {"mlp", 1, 406244, 406016, 101770, 101632, 0},
    {"lenet5", 2, 69656, 659280, 61706, 416520, 0},
    {"cnn_small", 2, 556804, 6140416, 421738, 4241152, 0},
    {"cnn_large", 3, 2216580, 40756224, 1701354, 30735360, 0},
};

const Expected *expectedFor(const std::string &name)
{
    for (const auto &e : kExpected)
        if (name == e.name)
            return &e;
    return nullptr;
}

kd::ArchitectureRegistry builtinArchitectures()
{
    kd::ArchitectureRegistry registry("architecture");
    kd::registerBuiltinArchitectures(registry);
    return registry;
}

std::shared_ptr<kd::FeatureNet> build(const kd::ArchitectureRegistry &registry, const std::string &name,
                                      const kd::InputShape &input, int classes)
{
    const auto &entry = registry.get(name);
    return entry.create(kd::resolveParams(entry.params, nlohmann::json::object(), name), input, classes);
}

std::vector<std::string> expectedFeatureNames(int stages)
{
    std::vector<std::string> names;
    for (int k = 1; k <= stages; ++k) {
        names.push_back("stage" + std::to_string(k) + "_pre");
        names.push_back("stage" + std::to_string(k));
    }
    names.push_back("pre_logits");
    names.push_back("logits");
    return names;
}

QString joined(const std::vector<std::string> &names)
{
    QStringList l;
    for (const auto &n : names)
        l << QString::fromStdString(n);
    return l.join(", ");
}

bool startsWith(const std::string &s, const char *prefix) { return s.rfind(prefix, 0) == 0; }

} // namespace

class TestArchitectures : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        torch::manual_seed(0);
        torch::set_num_threads(1); // the budget is one core; also keeps timings comparable
    }

    void registryListsTheZoo()
    {
        const auto registry = builtinArchitectures();
        const auto names = registry.names();
        QCOMPARE(int(names.size()), int(std::size(kExpected)));
        for (const auto &e : kExpected)
            QVERIFY2(registry.contains(e.name), e.name);
        for (const auto &n : names)
            QVERIFY2(!registry.get(n).description.empty(), n.c_str());
    }

    void forwardShapes_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<int>("channels");
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("classes");
        for (const auto &e : kExpected) {
            QTest::addRow("%s 1x28x28/10", e.name) << QString(e.name) << 1 << 28 << 10;
            QTest::addRow("%s 3x32x32/100", e.name) << QString(e.name) << 3 << 32 << 100;
        }
    }

    void forwardShapes()
    {
        QFETCH(QString, arch);
        QFETCH(int, channels);
        QFETCH(int, size);
        QFETCH(int, classes);
        const auto registry = builtinArchitectures();
        const std::string name = arch.toStdString();
        const auto *expected = expectedFor(name);
        QVERIFY(expected);
        auto net = build(registry, name, {channels, size, size}, classes);
        net->eval();
        torch::NoGradGuard noGrad;
        const auto input = torch::randn({2, channels, size, size});
        const auto f = net->forwardFeatures(input);
        // The evaluation forward (features dropped part by part) gives the same logits.
        QVERIFY(torch::equal(net->forwardLogits(input), f.logits()));

        std::vector<std::string> names;
        for (const auto &kv : f.items())
            names.push_back(kv.first);
        const auto want = expectedFeatureNames(expected->stages);
        QVERIFY2(names == want, qPrintable("got " + joined(names) + "; want " + joined(want)));

        QCOMPARE(f.logits().sizes().vec(), (std::vector<std::int64_t>{2, classes}));
        QCOMPARE(f.get("pre_logits").dim(), std::int64_t(2));
        QCOMPARE(f.get("pre_logits").size(0), std::int64_t(2));
        for (const auto &kv : f.items()) {
            QCOMPARE(kv.second.size(0), std::int64_t(2));
            QVERIFY2(torch::isfinite(kv.second).all().item<bool>(), kv.first.c_str());
        }
        for (int k = 1; k <= expected->stages; ++k) {
            const std::string stage = "stage" + std::to_string(k);
            const auto &pre = f.get(stage + "_pre");
            const auto &post = f.get(stage);
            QVERIFY2(pre.sizes() == post.sizes(), stage.c_str());
            if (startsWith(name, "wrn_")) {
                // Pre-activation network: stageK is the residual sum and stageK_pre the BN
                // that feeds the next ReLU; a fresh BN in eval mode divides by sqrt(1 + eps).
                QVERIFY2(torch::allclose(pre, post / std::sqrt(1.0 + 1e-5), 1e-5, 1e-6), stage.c_str());
            } else if (name == "mobilenetv2") {
                QVERIFY2(pre.is_same(post), "linear bottlenecks: stageK_pre is stageK");
            } else {
                QVERIFY2(torch::equal(post, torch::relu(pre)), (stage + " != relu(" + stage + "_pre)").c_str());
            }
        }
    }

    void largerInputs_data()
    {
        QTest::addColumn<QString>("arch");
        for (const auto &e : kExpected)
            QTest::newRow(e.name) << QString(e.name);
    }

    /// Global average pooling before the classifier adapts the models to larger inputs.
    void largerInputs()
    {
        QFETCH(QString, arch);
        const auto registry = builtinArchitectures();
        auto net = build(registry, arch.toStdString(), {3, 64, 48}, 7);
        net->eval();
        torch::NoGradGuard noGrad;
        QCOMPARE(net->forward(torch::randn({1, 3, 64, 48})).sizes().vec(), (std::vector<std::int64_t>{1, 7}));
    }

    void parameterCounts_data()
    {
        QTest::addColumn<QString>("arch");
        for (const auto &e : kExpected)
            QTest::newRow(e.name) << QString(e.name);
    }

    void parameterCounts()
    {
        QFETCH(QString, arch);
        const auto registry = builtinArchitectures();
        const auto *e = expectedFor(arch.toStdString());
        QVERIFY(e);
        const auto cifar100 = build(registry, e->name, {3, 32, 32}, 100)->parameterCount();
        QCOMPARE(cifar100, e->params3x32x32c100);
        QCOMPARE(build(registry, e->name, {1, 28, 28}, 10)->parameterCount(), e->params1x28x28c10);
        if (e->publishedM > 0) {
            const double unit = 0.01e6;
            QVERIFY2(std::abs(double(cifar100) - e->publishedM * 1e6) < unit,
                     qPrintable(QString("%1 params vs published %2M").arg(cifar100).arg(e->publishedM)));
        }
    }

    /// He et al. 2016, Table 6 (CIFAR-10): ResNet-20 0.27M, -56 0.85M, -110 1.7M. The paper
    /// uses zero-padding shortcuts (option A); RepDistiller's 1×1 projections add
    /// 16·32 + 2·32 + 32·64 + 2·64 = 2,752 parameters.
    void cifar10ResNetCounts_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<qint64>("exact");
        QTest::addColumn<double>("publishedM");
        QTest::addColumn<double>("unitM");
        QTest::newRow("resnet20") << QString("resnet20") << qint64(272474) << 0.27 << 0.01;
        QTest::newRow("resnet56") << QString("resnet56") << qint64(855770) << 0.85 << 0.01;
        QTest::newRow("resnet110") << QString("resnet110") << qint64(1730714) << 1.7 << 0.1;
    }

    void cifar10ResNetCounts()
    {
        QFETCH(QString, arch);
        QFETCH(qint64, exact);
        QFETCH(double, publishedM);
        QFETCH(double, unitM);
        const auto registry = builtinArchitectures();
        const auto n = build(registry, arch.toStdString(), {3, 32, 32}, 10)->parameterCount();
        QCOMPARE(qint64(n), exact);
        QVERIFY(std::abs(double(n - 2752) - publishedM * 1e6) < unitM * 1e6);
    }

    void macs_data()
    {
        QTest::addColumn<QString>("arch");
        for (const auto &e : kExpected)
            QTest::newRow(e.name) << QString(e.name);
    }

    void macs()
    {
        QFETCH(QString, arch);
        const auto registry = builtinArchitectures();
        const auto *e = expectedFor(arch.toStdString());
        QVERIFY(e);
        const auto a = kd::describeArchitecture(registry, e->name, nlohmann::json::object(), {3, 32, 32}, 100);
        QCOMPARE(a.params, e->params3x32x32c100);
        QCOMPARE(a.macs, e->macs3x32x32);
        const auto b = kd::describeArchitecture(registry, e->name, nlohmann::json::object(), {1, 28, 28}, 10);
        QCOMPARE(b.macs, e->macs1x28x28);
        QVERIFY(b.macs > 0);
        QCOMPARE(int(a.features.size()), 2 * e->stages + 2);
    }

    void resnet20MacsAreTheQuotedFigure()
    {
        const auto registry = builtinArchitectures();
        const auto info = kd::describeArchitecture(registry, "resnet20", nlohmann::json::object(), {3, 32, 32}, 10);
        QVERIFY2(std::abs(double(info.macs) - 41e6) < 0.5e6, qPrintable(QString::number(info.macs)));
    }

    void macCountingIsScoped()
    {
        kd::Linear fc(10, 4);
        torch::NoGradGuard noGrad;
        const auto x = torch::randn({3, 10});
        fc(x); // not counting: must not crash or count anywhere
        kd::MacCounting outer;
        fc(x);
        QCOMPARE(outer.macs(), std::int64_t(3 * 10 * 4)); // the whole batch
        {
            kd::MacCounting inner;
            fc(x);
            fc(x);
            QCOMPARE(inner.macs(), std::int64_t(2 * 120));
        }
        QCOMPARE(outer.macs(), std::int64_t(120));
    }

    void featureShapesMatchRepDistiller_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QStringList>("shapes"); // stage1..stageN, pre_logits at 3×32×32
        QTest::newRow("resnet20") << QString("resnet20") << QStringList{"16x32x32", "32x16x16", "64x8x8", "64"};
        QTest::newRow("resnet8x4") << QString("resnet8x4") << QStringList{"64x32x32", "128x16x16", "256x8x8", "256"};
        QTest::newRow("wrn_40_2") << QString("wrn_40_2") << QStringList{"32x32x32", "64x16x16", "128x8x8", "128"};
        QTest::newRow("vgg13") << QString("vgg13")
                               << QStringList{"64x32x32", "128x16x16", "256x8x8", "512x4x4", "512x4x4", "512"};
        QTest::newRow("mobilenetv2") << QString("mobilenetv2")
                                     << QStringList{"12x16x16", "16x8x8", "48x4x4", "160x2x2", "1280"};
        QTest::newRow("shufflenetv2") << QString("shufflenetv2")
                                      << QStringList{"116x16x16", "232x8x8", "464x4x4", "1024"};
    }

    void featureShapesMatchRepDistiller()
    {
        QFETCH(QString, arch);
        QFETCH(QStringList, shapes);
        const auto registry = builtinArchitectures();
        const auto info = kd::describeArchitecture(registry, arch.toStdString(), nlohmann::json::object(), {3, 32, 32}, 100);
        QStringList got;
        for (const auto &kv : info.features)
            if (kv.first != "logits" && kv.first.find("_pre", kv.first.size() - 4) == std::string::npos)
                got << QString::fromStdString(kv.second);
        QCOMPARE(got, shapes);
    }

    void backwardReachesEveryParameter_data()
    {
        QTest::addColumn<QString>("arch");
        // One or two of each family; the large ones (resnet110, resnet32x4, wrn_28_4,
        // vgg11-16) only add time.
        for (const char *n : {"resnet8", "resnet8x4", "wrn_16_2", "vgg8", "mobilenetv2", "shufflenetv2", "mlp",
                              "lenet5", "cnn_small", "cnn_large"})
            QTest::newRow(n) << QString(n);
    }

    /// A loss over logits and every stage feature, in training mode: all parameters get
    /// finite, non-zero gradients, and no feature was modified in place after autograd saved
    /// it (backward would throw).
    void backwardReachesEveryParameter()
    {
        QFETCH(QString, arch);
        const auto registry = builtinArchitectures();
        auto net = build(registry, arch.toStdString(), {3, 32, 32}, 10);
        net->train();
        const auto x = torch::randn({2, 3, 32, 32});
        const auto y = torch::tensor({1, 7}, torch::kLong);
        const auto f = net->forwardFeatures(x);
        auto loss = torch::nn::functional::cross_entropy(f.logits(), y);
        for (const auto &kv : f.items())
            if (startsWith(kv.first, "stage"))
                loss = loss + 1e-3 * kv.second.pow(2).mean();
        loss.backward();
        for (const auto &p : net->named_parameters()) {
            const auto &g = p.value().grad();
            QVERIFY2(g.defined(), p.key().c_str());
            QVERIFY2(torch::isfinite(g).all().item<bool>(), p.key().c_str());
            QVERIFY2(g.abs().sum().item<double>() > 0, p.key().c_str());
        }
    }

    /// The zoo keeps PyTorch's parameter names, so state dicts line up with RepDistiller's.
    void parameterNamesFollowPyTorch()
    {
        const auto registry = builtinArchitectures();
        auto has = [](const std::shared_ptr<kd::FeatureNet> &net, const char *name) {
            return net->named_parameters().contains(name) || net->named_buffers().contains(name);
        };
        auto resnet = build(registry, "resnet20", {3, 32, 32}, 100);
        QVERIFY(has(resnet, "conv1.weight"));
        QVERIFY(has(resnet, "layer2.0.downsample.0.weight"));
        QVERIFY(has(resnet, "layer3.2.bn2.running_var"));
        QVERIFY(has(resnet, "fc.bias"));
        auto wrn = build(registry, "wrn_40_2", {3, 32, 32}, 100);
        QVERIFY(has(wrn, "block2.layer.0.convShortcut.weight"));
        QVERIFY(has(wrn, "block3.layer.5.bn1.weight"));
        QVERIFY(has(wrn, "bn1.weight"));
        auto vgg = build(registry, "vgg13", {3, 32, 32}, 100);
        QVERIFY(has(vgg, "block0.3.weight"));
        QVERIFY(has(vgg, "block4.4.running_mean"));
        QVERIFY(has(vgg, "classifier.weight"));
        auto mbv2 = build(registry, "mobilenetv2", {3, 32, 32}, 100);
        QVERIFY(has(mbv2, "conv1.0.weight"));
        QVERIFY(has(mbv2, "blocks.6.0.conv.7.bias"));
        QVERIFY(has(mbv2, "conv2.1.weight"));
        QVERIFY(has(mbv2, "classifier.0.weight"));
        auto shv2 = build(registry, "shufflenetv2", {3, 32, 32}, 100);
        QVERIFY(has(shv2, "layer1.0.conv5.weight"));
        QVERIFY(has(shv2, "layer2.7.bn3.bias"));
        QVERIFY(has(shv2, "linear.weight"));
        // The original models keep their names, so existing checkpoints load.
        auto cnn = build(registry, "cnn_small", {1, 28, 28}, 10);
        QVERIFY(has(cnn, "block1.0.weight"));
        QVERIFY(has(cnn, "block2.1.running_mean"));
    }

    void partsCoverEveryTensorOnce_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("activation");
        for (const auto &e : kExpected)
            for (const char *act : {"relu", "lma"})
                QTest::addRow("%s %s", e.name, act) << QString(e.name) << QString(act);
    }

    /// Every parameter and buffer belongs to exactly one part (stem, stages, head), with the
    /// LMA activations' own parameters too, so a split moves each weight to trunk or branch.
    void partsCoverEveryTensorOnce()
    {
        QFETCH(QString, arch);
        QFETCH(QString, activation);
        const auto registry = builtinArchitectures();
        const auto &entry = registry.get(arch.toStdString());
        auto net = entry.create(kd::resolveParams(entry.params, {{"activation", activation.toStdString()}}, "arch"),
                                {3, 32, 32}, 10);
        QCOMPARE(net->stageCount(), expectedFor(arch.toStdString())->stages);
        std::vector<std::string> names;
        for (const auto &kv : net->named_parameters())
            names.push_back(kv.key());
        for (const auto &kv : net->named_buffers())
            names.push_back(kv.key());
        for (const auto &name : names) {
            int claims = 0;
            for (int part = 0; part <= net->headPart(); ++part)
                for (const auto &path : net->partModules(part))
                    if (startsWith(name, (path + ".").c_str()))
                        ++claims;
            QVERIFY2(claims == 1, qPrintable(QString::fromStdString(name) + " is claimed by " + QString::number(claims) + " parts"));
            QVERIFY(kd::partOfTensor(*net, name) >= 0);
        }
    }

    void multiBranchSplits_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QString>("split");
        QTest::addColumn<int>("branches");
        // ONE / FFL / OKDDip / PCL split a ResNet or WRN after the second of three stages,
        // MCL after the first, the student ensemble after the stem.
        QTest::newRow("resnet8 after stage2") << "resnet8" << "stage2" << 3;
        QTest::newRow("wrn_16_2 after stage2") << "wrn_16_2" << "stage2" << 2;
        QTest::newRow("vgg8 after stage3") << "vgg8" << "stage3" << 2;
        QTest::newRow("resnet8 after stage1") << "resnet8" << "stage1" << 2;
        QTest::newRow("mobilenetv2 after the stem") << "mobilenetv2" << "stem" << 2;
        QTest::newRow("shufflenetv2 after stage1") << "shufflenetv2" << "stage1" << 2;
        QTest::newRow("cnn_small after stage1") << "cnn_small" << "stage1" << 4;
        QTest::newRow("lenet5: heads only") << "lenet5" << "stage2" << 2;
        QTest::newRow("mlp after the stem") << "mlp" << "stem" << 2;
    }

    /// A trunk and N branches: parameters held once, each branch standalone computes what it
    /// computes inside the network, and a branch's loss reaches the trunk and that branch only.
    void multiBranchSplits()
    {
        QFETCH(QString, arch);
        QFETCH(QString, split);
        QFETCH(int, branches);
        const auto registry = builtinArchitectures();
        const std::string name = arch.toStdString();
        auto make = [&] { return build(registry, name, {3, 32, 32}, 10); };
        kd::BranchLayout layout;
        layout.branches = branches;
        layout.split = kd::BranchLayout::parseSplit(split.toStdString());
        layout.deployed = branches - 1;
        torch::manual_seed(5);
        const auto plain = make();
        torch::manual_seed(5);
        kd::MultiBranchNet net(make, layout, name);

        // Parameters: the trunk once, a tail per branch; trunk + one tail is the plain model.
        std::int64_t tails = 0;
        for (int b = 0; b < branches; ++b) {
            QCOMPARE(net.tailParameters(b), net.tailParameters(0));
            tails += net.tailParameters(b);
        }
        QCOMPARE(net.parameterCount(), net.trunkParameters() + tails);
        QCOMPARE(net.trunkParameters() + net.tailParameters(0), plain->parameterCount());
        QVERIFY(net.tailParameters(0) > 0);

        // Features and standalone branches (eval mode: BN on running statistics).
        net.eval();
        const auto x = torch::randn({3, 3, 32, 32});
        {
            torch::NoGradGuard noGrad;
            const auto f = net.forwardFeatures(x);
            QVERIFY(f.has("trunk"));
            QVERIFY(f.get("logits").is_same(f.get("branch" + std::to_string(branches) + ".logits")));
            // Branch 1 holds the trunk and starts from the plain model's weights (same seed).
            plain->eval();
            QVERIFY(torch::allclose(plain->forwardFeatures(x).logits(), f.get("branch1.logits"), 1e-5, 1e-6));
            for (int b = 0; b < branches; ++b) {
                auto alone = net.extractBranch(b, make);
                alone->eval();
                const auto want = f.get("branch" + std::to_string(b + 1) + ".logits");
                QVERIFY2(torch::allclose(alone->forwardFeatures(x).logits(), want, 1e-5, 1e-6),
                         qPrintable("branch " + QString::number(b + 1)));
                QCOMPARE(alone->parameterCount(), plain->parameterCount());
            }
            // Each branch has weights of its own.
            QVERIFY(!torch::allclose(f.get("branch1.logits"), f.get("branch2.logits")));
        }

        // Gradients: branch 2's loss reaches the trunk (inside branch1) and branch 2's tail.
        net.train();
        net.forwardFeatures(x).get("branch2.logits").pow(2).sum().backward();
        for (const auto &kv : net.named_parameters()) {
            const std::string key = kv.key();
            const auto dot = key.find('.');
            const std::string owner = key.substr(0, dot);
            const int part = kd::partOfTensor(*plain, key.substr(dot + 1));
            const bool trunk = owner == "branch1" && part <= layout.split;
            const bool reached = kv.value().grad().defined() && kv.value().grad().abs().sum().item<double>() > 0;
            if (trunk || owner == "branch2")
                QVERIFY2(reached, key.c_str());
            else
                QVERIFY2(!reached, key.c_str());
        }
    }

    void multiBranchRefusals()
    {
        const auto registry = builtinArchitectures();
        auto make = [&] { return build(registry, "resnet8", {3, 32, 32}, 10); };
        kd::BranchLayout layout;
        layout.split = 4;
        try {
            kd::MultiBranchNet net(make, layout, "resnet8");
            QFAIL("a split after a stage that does not exist was accepted");
        } catch (const kd::Error &e) {
            QVERIFY2(std::string(e.what()).find("stage1..stage3") != std::string::npos, e.what());
        }
        layout.split = 2;
        layout.branches = 1;
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::MultiBranchNet(make, layout, "resnet8"));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::BranchLayout::parseSplit("layer2"));
        QCOMPARE(kd::BranchLayout::parseSplit("stem"), 0);
        QCOMPARE(kd::BranchLayout::parseSplit("stage3"), 3);
    }

    void badConfigurationsSayWhatToDo()
    {
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::ResNet({3, 32, 32}, 10, 21, {16, 16, 32, 64}));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::WideResNet({3, 32, 32}, 10, 15, 2));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::Vgg({3, 4, 4}, 10, {{8}, {8}, {8}, {8}, {8}}));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::ShuffleNetV2({3, 32, 32}, 10, 0.7));
    }
};

QTEST_GUILESS_MAIN(TestArchitectures)
#include "test_architectures.moc"
