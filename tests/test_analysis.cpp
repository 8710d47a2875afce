// The distillation views: linear CKA and the bias metrics against golden values from
// scripts/gen_cka_golden.py (python3-torch), agreement / KL / ECE / confusion / CEV / SDE on
// hand-made predictions whose answers follow from the definitions, the probe choice, the
// feature-map drawing, and a tiny real experiment whose run directory then holds them.
#include "analysis/ClassificationMetrics.h"
#include "analysis/Cka.h"
#include "analysis/FeatureMaps.h"
#include "analysis/ProbeSet.h"
#include "core/Error.h"
#include "project/Registries.h"
#include "training/Experiment.h"
#include "support/TestSupport.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <set>

using nlohmann::json;

namespace {

using kd::test::readJson;
using kd::test::readLines;

const char *kFashion = "/usr/share/datasets/fashion-mnist";

torch::Tensor tensorOf(const json &values, const json &shape)
{
    const auto v = values.get<std::vector<double>>();
    return torch::tensor(v, torch::kFloat64).reshape(shape.get<std::vector<std::int64_t>>());
}

class Quiet : public kd::ExperimentObserver {
public:
    std::vector<std::string> logs;
    void onLog(Level, const std::string &text) override { logs.push_back(text); }
};

json tinyProject(const QString &outDir)
{
    return {
        {"name", "tiny-analysis"},
        {"seed", 5},
        {"threads", 1},
        {"output_dir", outDir.toStdString()},
        {"dataset", {{"name", "fashion-mnist"}, {"limit", 600}, {"test_limit", 300}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", {{"epochs", 1}, {"batch_size", 50}, {"lr", 0.05}}}}},
        {"student", {{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}}, {"train", {{"epochs", 2}, {"batch_size", 50}, {"lr", 0.05}}}}},
        {"method", {{"name", "kd"}, {"temperature", 4.0}, {"alpha", 0.9}}},
        {"baseline", true},
    };
}

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT

    json m_golden;

private Q_SLOTS:
    void initTestCase()
    {
        const std::string path = std::string(KD_TEST_DATA_DIR) + "/cka_golden.json";
        std::ifstream in(path);
        QVERIFY2(in.good(), ("missing " + path + "; run /usr/bin/python3 scripts/gen_cka_golden.py").c_str());
        m_golden = json::parse(in);
        QVERIFY(m_golden.at("cka").size() >= 4);
        QVERIFY(m_golden.at("bias").size() >= 3);
    }

    void ckaMatchesGolden()
    {
        for (const auto &c : m_golden.at("cka")) {
            const auto x = tensorOf(c.at("x"), c.at("x_shape"));
            const auto y = tensorOf(c.at("y"), c.at("y_shape"));
            const double expected = c.at("cka").get<double>();
            const double got = kd::linearCka(x, y);
            QVERIFY2(std::abs(got - expected) < 1e-9,
                     qPrintable(QString("%1: %2 vs %3").arg(QString::fromStdString(c.at("name"))).arg(got, 0, 'g', 15).arg(expected, 0, 'g', 15)));
            // Symmetric, and float32 inputs (what models give) agree closely.
            QVERIFY(std::abs(kd::linearCka(y, x) - expected) < 1e-9);
            QVERIFY(std::abs(kd::linearCka(x.to(torch::kFloat32), y.to(torch::kFloat32)) - expected) < 1e-5);
        }
    }

    void ckaMatrixAndInvariances()
    {
        const auto &cases = m_golden.at("cka");
        const auto x0 = tensorOf(cases[0].at("x"), cases[0].at("x_shape"));
        const auto y0 = tensorOf(cases[0].at("y"), cases[0].at("y_shape"));
        const auto m = kd::linearCkaMatrix({x0, y0}, {y0, x0, x0 * 7.0 + 3.0});
        QCOMPARE(m.size(), std::size_t(6));
        const double g = cases[0].at("cka").get<double>();
        QVERIFY(std::abs(m[0] - g) < 1e-9);     // (x, y)
        QVERIFY(std::abs(m[1] - 1.0) < 1e-12);  // (x, x)
        QVERIFY(std::abs(m[2] - 1.0) < 1e-12);  // isotropic scale and shift: still 1
        QVERIFY(std::abs(m[3] - 1.0) < 1e-12);  // (y, y)
        QVERIFY(std::abs(m[4] - g) < 1e-9);     // (y, x)
        // A constant representation has no similarity to speak of.
        QVERIFY(std::isnan(kd::linearCka(torch::ones({8, 3}), y0)));
    }

    void biasMatchesGolden()
    {
        for (const auto &c : m_golden.at("bias")) {
            const int k = c.at("classes").get<int>();
            const auto b = kd::compressionBias(c.at("teacher_confusion").get<std::vector<std::int64_t>>(),
                                               c.at("student_confusion").get<std::vector<std::int64_t>>(), k);
            const double cev = c.at("cev").get<double>(), sde = c.at("sde").get<double>();
            QVERIFY2(std::abs(b.cev - cev) < 1e-9 * std::max(1.0, cev),
                     qPrintable(QString("%1: cev %2 vs %3").arg(QString::fromStdString(c.at("name"))).arg(b.cev).arg(cev)));
            QVERIFY(std::abs(b.sde - sde) < 1e-9 * std::max(1.0, sde));
            QCOMPARE(b.classesUsed, k);
            const auto fpr = c.at("fpr_change").get<std::vector<double>>();
            for (int i = 0; i < k; ++i)
                QVERIFY(std::abs(b.fprChange[std::size_t(i)] - fpr[std::size_t(i)]) < 1e-9 * std::max(1.0, std::abs(fpr[std::size_t(i)])));
        }
    }

    void biasByHand()
    {
        // Teacher [[8,2],[2,8]]: both classes have FPR = FNR = 0.2. Student [[6,4],[2,8]]:
        // class 0 FPR 0.2 (+0 %), FNR 0.4 (+100 %); class 1 FPR 0.4 (+100 %), FNR 0.2 (+0 %).
        // Points (0, 100) and (100, 0), centroid (50, 50): CEV = (4 · 2500) / (2 · 2) = 2500;
        // each point is 100/√2 from the diagonal: SDE = 100/√2.
        const auto b = kd::compressionBias({8, 2, 2, 8}, {6, 4, 2, 8}, 2);
        QCOMPARE(b.classesUsed, 2);
        QVERIFY(std::abs(b.fprChange[0] - 0.0) < 1e-12 && std::abs(b.fnrChange[0] - 100.0) < 1e-12);
        QVERIFY(std::abs(b.fprChange[1] - 100.0) < 1e-12 && std::abs(b.fnrChange[1] - 0.0) < 1e-12);
        QVERIFY(std::abs(b.cev - 2500.0) < 1e-9);
        QVERIFY(std::abs(b.sde - 100.0 / std::sqrt(2.0)) < 1e-9);
        // The same errors as the teacher: no induced bias at all.
        const auto same = kd::compressionBias({8, 2, 2, 8}, {8, 2, 2, 8}, 2);
        QCOMPARE(same.cev, 0.0);
        QCOMPARE(same.sde, 0.0);
        // Errors that grow by the same factor everywhere (every rate doubles): all points at
        // (100, 100), on the diagonal and at the centroid.
        const auto uniform = kd::compressionBias({18, 1, 1, 1, 18, 1, 1, 1, 18}, {16, 2, 2, 2, 16, 2, 2, 2, 16}, 3);
        QVERIFY(std::abs(uniform.cev) < 1e-9 && std::abs(uniform.sde) < 1e-9);
        QVERIFY(std::abs(uniform.fprChange[1] - 100.0) < 1e-9);
        // A class the teacher never gets wrong has no relative change: it is left out.
        const auto perfect = kd::compressionBias({10, 0, 0, 0, 8, 2, 0, 2, 8}, {9, 1, 0, 0, 8, 2, 0, 2, 8}, 3);
        QVERIFY(std::isnan(perfect.fnrChange[0]));
        QCOMPARE(perfect.classesUsed, 2);
        QVERIFY(std::isfinite(perfect.cev));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kd::compressionBias({1, 2, 3}, {1, 2, 3, 4}, 2));
    }

    void agreementConfusionAccuracy()
    {
        const std::vector<std::int64_t> labels{0, 1, 2, 2, 1, 0, 2};
        const std::vector<std::int64_t> student{0, 2, 2, 1, 1, 0, 2};
        const std::vector<std::int64_t> teacher{0, 2, 2, 2, 0, 1, 2};
        QCOMPARE(kd::agreement(student, teacher), 4.0 / 7.0); // positions 0, 1, 2, 6
        QCOMPARE(kd::agreement(student, student), 1.0);
        QVERIFY(std::isnan(kd::agreement({}, {})));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kd::agreement({1}, {1, 2}));

        const auto m = kd::confusionMatrix(labels, student, 3);
        QCOMPARE(m, (std::vector<std::int64_t>{2, 0, 0, /**/ 0, 1, 1, /**/ 0, 1, 2}));
        const auto acc = kd::perClassAccuracy(m, 3);
        QCOMPARE(acc[0], 1.0);
        QCOMPARE(acc[1], 0.5);
        QCOMPARE(acc[2], 2.0 / 3.0);
        // A class without examples has no accuracy.
        const auto empty = kd::perClassAccuracy(kd::confusionMatrix({0, 0}, {0, 1}, 3), 3);
        QCOMPARE(empty[0], 0.5);
        QVERIFY(std::isnan(empty[2]));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kd::confusionMatrix({0, 3}, {0, 1}, 3));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kd::confusionMatrix({0}, {0, 1}, 3));
    }

    void klByHand()
    {
        // Teacher logits (0, 0): p_t = (1/2, 1/2). Student (ln 3, 0): p_s = (3/4, 1/4).
        // KL = ½ ln(½ / ¾) + ½ ln(½ / ¼) = ½ ln(4/3). A second, identical pair adds 0.
        const double kl = kd::meanKlDivergence({0, 0, 5, -1}, {std::log(3.0), 0, 5, -1}, 2);
        QVERIFY(std::abs(kl - 0.5 * std::log(4.0 / 3.0) / 2.0) < 1e-12);
        // Softmax ignores a constant shift of the logits.
        QVERIFY(std::abs(kd::meanKlDivergence({0, 0}, {std::log(3.0) + 40, 40}, 2) - 0.5 * std::log(4.0 / 3.0)) < 1e-12);
        QCOMPARE(kd::meanKlDivergence({1, 2, 3}, {1, 2, 3}, 3), 0.0);
        // Large logits stay finite (log-sum-exp).
        QVERIFY(std::isfinite(kd::meanKlDivergence({1000, 0}, {0, 1000}, 2)));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, kd::meanKlDivergence({1, 2, 3}, {1, 2}, 3));
    }

    void eceByHand()
    {
        // Two bins used: 0.95 (one right, one wrong: acc ½, gap 0.45) and 0.55 (both right:
        // acc 1, gap 0.45). ECE = ½·0.45 + ½·0.45 = 0.45.
        const auto c = kd::expectedCalibrationError({0.95, 0.95, 0.55, 0.55}, {true, false, true, true});
        QCOMPARE(int(c.bins.size()), 15);
        QVERIFY(std::abs(c.ece - 0.45) < 1e-12);
        QCOMPARE(c.bins[14].count, std::int64_t(2));
        QCOMPARE(c.bins[14].accuracy, 0.5);
        QVERIFY(std::abs(c.bins[14].meanConfidence - 0.95) < 1e-12);
        QCOMPARE(c.bins[8].count, std::int64_t(2)); // (8/15, 9/15] holds 0.55
        QCOMPARE(c.bins[8].accuracy, 1.0);
        QVERIFY(std::abs(c.bins[0].lower) < 1e-15 && std::abs(c.bins[14].upper - 1.0) < 1e-15);
        // Perfectly calibrated: confidence 0.75 and three of four right.
        QVERIFY(std::abs(kd::expectedCalibrationError({0.75, 0.75, 0.75, 0.75}, {true, true, true, false}).ece) < 1e-12);
        // A bin's upper edge belongs to it: 0.2 = 3/15 is in bin 2, (2/15, 3/15].
        const auto edge = kd::expectedCalibrationError({0.2, 1.0}, {false, true});
        QCOMPARE(edge.bins[2].count, std::int64_t(1));
        QCOMPARE(edge.bins[14].count, std::int64_t(1));
        QVERIFY(std::abs(edge.ece - 0.1) < 1e-12); // ½·|0 − 0.2| + ½·|1 − 1|
        std::int64_t total = 0;
        for (const auto &b : edge.bins)
            total += b.count;
        QCOMPARE(total, std::int64_t(2));
    }

    void probeIsBalancedSeededAndCapped()
    {
        std::vector<std::int64_t> labels;
        for (int i = 0; i < 500; ++i)
            labels.push_back(i % 10);
        const auto a = kd::chooseProbeIndices(labels, 10, 4, 64, 42);
        QCOMPARE(int(a.size()), 40);
        std::vector<int> perClass(10, 0);
        std::int64_t lastClass = -1;
        for (auto i : a) {
            ++perClass[std::size_t(labels[std::size_t(i)])];
            QVERIFY(labels[std::size_t(i)] >= lastClass); // ordered by class
            lastClass = labels[std::size_t(i)];
        }
        for (int c : perClass)
            QCOMPARE(c, 4);
        QCOMPARE(std::set<std::int64_t>(a.begin(), a.end()).size(), a.size());
        QCOMPARE(kd::chooseProbeIndices(labels, 10, 4, 64, 42), a);
        QVERIFY(kd::chooseProbeIndices(labels, 10, 4, 64, 43) != a);
        // 100 classes × 4 would be 400: capped at 64, every class first gets one, then 2nd.
        std::vector<std::int64_t> many;
        for (int i = 0; i < 1000; ++i)
            many.push_back(i % 100);
        const auto capped = kd::chooseProbeIndices(many, 100, 4, 64, 1);
        QCOMPARE(int(capped.size()), 64);
        QCOMPARE(std::set<std::int64_t>(capped.begin(), capped.end()).size(), std::size_t(64));
        std::set<std::int64_t> classes;
        for (auto i : capped)
            classes.insert(many[std::size_t(i)]);
        QCOMPARE(int(classes.size()), 64);
        // A class with fewer images than asked gives what it has.
        const auto few = kd::chooseProbeIndices({0, 0, 0, 1}, 2, 4, 64, 3);
        QCOMPARE(int(few.size()), 4);
    }

    void featureMapsDrawStrongestChannelsAndAttention()
    {
        // Three 1×8×8 inputs; a 4-channel 4×4 stage where channel 2 is by far the strongest
        // and every image's energy sits in the top-left corner.
        auto inputs = torch::linspace(-1, 1, 3 * 64).reshape({3, 1, 8, 8});
        auto features = torch::zeros({3, 4, 4, 4});
        features.select(1, 2).fill_(0.5);
        features.select(1, 2).select(1, 0).select(1, 0).fill_(9.0);
        features.select(1, 0).fill_(0.1);
        features.select(1, 1).select(1, 3).select(1, 3).fill_(0.2);
        kd::FeatureMapOptions opt;
        opt.channels = 2;
        const std::vector<std::int64_t> rows{0, 2};
        const auto img = kd::renderStageMaps(inputs, features, rows, {0.5f}, {0.5f}, opt);
        const int cell = kd::featureCellSize(8, 8, opt);
        QCOMPARE(cell, 56); // 8 × 7 ≥ 56
        QCOMPARE(img.width, 4 * cell + 5 * 2);   // input, attention, 2 channels
        QCOMPARE(img.height, 2 * cell + 3 * 2);  // two rows
        QCOMPARE(img.pixels.size(), std::size_t(img.width) * img.height * 3);
        // Attention cell (column 1): JET is red where the energy is (top-left), blue far from it.
        const int ax = 2 + cell + 2, ay = 2;
        QVERIFY(img.at(ax + 2, ay + 2, 0) > img.at(ax + 2, ay + 2, 2));
        QVERIFY(img.at(ax + cell - 3, ay + cell - 3, 2) > img.at(ax + cell - 3, ay + cell - 3, 0));
        // The first channel column shows channel 2: VIRIDIS bright yellow at its peak
        // (top-left), dark elsewhere.
        const int cx = 2 + 2 * (cell + 2);
        QVERIFY(img.at(cx + 2, ay + 2, 0) > 200 && img.at(cx + 2, ay + 2, 1) > 200);
        QVERIFY(img.at(cx + cell - 3, ay + cell - 3, 1) < img.at(cx + 2, ay + 2, 1));
        // The input cell is the denormalised image: 0.5·x + 0.5 in grey.
        const double x0 = 0.5 * inputs[0][0][0][0].item<double>() + 0.5;
        QVERIFY(std::abs(img.at(2, 2, 0) - std::round(x0 * 255)) <= 1);

        QTemporaryDir tmp;
        const std::string path = tmp.filePath("maps.png").toStdString();
        kd::writePng(img, path);
        const auto back = kd::readPng(path);
        QCOMPARE(back.width, img.width);
        QCOMPARE(back.height, img.height);
        QVERIFY(back.pixels == img.pixels); // PNG is lossless
        QVERIFY(kd::readPng(tmp.filePath("missing.png").toStdString()).empty());
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::writePng(img, tmp.filePath("no/such/dir/x.png").toStdString()));
    }

    void projectOptionsAreStrict()
    {
        auto j = tinyProject("runs");
        auto p = kd::Project::fromJson(j);
        QCOMPARE(p.analysis.enabled, true);
        QCOMPARE(p.analysis.probePerClass, 4);
        QCOMPARE(p.analysis.featureMaps, true);
        j["analysis"] = {{"enabled", false}, {"probe_per_class", 2}, {"feature_maps", false}};
        p = kd::Project::fromJson(j);
        QCOMPARE(p.analysis.enabled, false);
        QCOMPARE(p.analysis.probePerClass, 2);
        QCOMPARE(p.analysis.featureMaps, false);
        QCOMPARE(kd::Project::fromJson(p.toJson()).toJson(), p.toJson());
        auto expectError = [&](const json &analysis, const char *needle) {
            auto bad = tinyProject("runs");
            bad["analysis"] = analysis;
            try {
                kd::Project::fromJson(bad);
                QFAIL("accepted a bad analysis section");
            } catch (const kd::Error &e) {
                QVERIFY2(QString(e.what()).contains(needle), e.what());
            }
        };
        expectError({{"probe_per_class", 0}}, "analysis.probe_per_class");
        expectError({{"probe_per_class", 65}}, "analysis.probe_per_class");
        expectError({{"enable", true}}, "analysis.enable");
        expectError({{"feature_maps", "yes"}}, "analysis.feature_maps");
    }

    void tinyRunWritesTheViews()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        const auto registries = kd::Registries::builtin();
        kd::Experiment exp(kd::Project::fromJson(tinyProject(tmp.path())), registries);
        Quiet obs;
        std::atomic<bool> stop{false};
        const QString run = tmp.filePath("run");
        const auto summary = exp.run(obs, stop, run.toStdString());
        QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));

        // metrics.csv: the analysis columns, filled on the student's and the baseline's
        // epoch rows (the baseline is compared with the student's teacher), empty elsewhere.
        const auto lines = readLines(run + "/metrics.csv");
        const auto header = lines.first().split(',');
        QVERIFY(lines.first().endsWith(",img_per_s,agreement,kl_teacher_student,ece,cev,sde"));
        const int ag = int(header.indexOf("agreement")), kl = int(header.indexOf("kl_teacher_student")),
                  ece = int(header.indexOf("ece")), cev = int(header.indexOf("cev")), sde = int(header.indexOf("sde"));
        int analysed = 0;
        for (const auto &line : lines.mid(1)) {
            const auto cells = line.split(',');
            QCOMPARE(cells.size(), header.size());
            const bool epochRow = cells[1] == "epoch";
            const bool learner = cells[0] == "student" || cells[0] == "student_scratch";
            if (!epochRow || !learner) {
                QVERIFY2(cells[ag].isEmpty(), qPrintable(line));
                continue;
            }
            ++analysed;
            const double a = cells[ag].toDouble(), k = cells[kl].toDouble(), e = cells[ece].toDouble();
            QVERIFY2(a >= 0 && a <= 1, qPrintable(line));
            QVERIFY2(k >= 0 && std::isfinite(k), qPrintable(line));
            QVERIFY2(e >= 0 && e <= 1, qPrintable(line));
            QVERIFY2(!cells[cev].isEmpty() && cells[cev].toDouble() >= 0, qPrintable(line));
            QVERIFY2(!cells[sde].isEmpty() && cells[sde].toDouble() >= 0, qPrintable(line));
        }
        QCOMPARE(analysed, 4); // two epochs of the student and of the baseline

        // probe.json: 4 images per class from the 300 test images, with logits.
        const auto probe = readJson(run + "/analysis/probe.json");
        const auto indices = probe.at("indices").get<std::vector<std::int64_t>>();
        const auto labels = probe.at("labels").get<std::vector<std::int64_t>>();
        QCOMPARE(int(indices.size()), 40);
        QCOMPARE(labels.size(), indices.size());
        for (auto i : indices)
            QVERIFY(i >= 0 && i < 300);
        QCOMPARE(int(probe.at("class_names").size()), 10);
        QCOMPARE(int(probe.at("teachers").at("teacher").size()), 40);
        QCOMPARE(int(probe.at("teachers").at("teacher")[0].size()), 10);
        QCOMPARE(probe.at("students").at("student").at("epoch").get<int>(), 2);
        QCOMPARE(int(probe.at("students").at("student_scratch").at("logits").size()), 40);
        QCOMPARE(int(probe.at("images").size()), 40);
        const auto first = kd::readPng((run + "/" + QString::fromStdString(probe.at("images")[0].get<std::string>())).toStdString());
        QCOMPARE(first.width, 56); // 28 × 2
        QCOMPARE(first.height, 56);

        for (int epoch : {1, 2}) {
            const QString name = QString("epoch%1").arg(epoch, 3, 10, QChar('0'));
            const auto file = readJson(run + "/analysis/" + name + ".json");
            QCOMPARE(file.at("epoch").get<int>(), epoch);
            for (const char *role : {"student", "student_scratch"}) {
                const auto &r = file.at("roles").at(role);
                QCOMPARE(QString::fromStdString(r.at("teacher").get<std::string>()), QStringLiteral("teacher"));
                for (const char *key : {"confusion", "teacher_confusion"}) {
                    const auto &m = r.at(key);
                    QCOMPARE(int(m.size()), 10);
                    std::int64_t total = 0;
                    for (const auto &row : m) {
                        QCOMPARE(int(row.size()), 10);
                        for (const auto &v : row)
                            total += v.get<std::int64_t>();
                    }
                    QCOMPARE(total, std::int64_t(300));
                }
                QCOMPARE(int(r.at("per_class_accuracy").size()), 10);
                const auto &bins = r.at("calibration").at("bins");
                QCOMPARE(int(bins.size()), 15);
                std::int64_t counted = 0;
                for (const auto &b : bins)
                    counted += b.at("count").get<std::int64_t>();
                QCOMPARE(counted, std::int64_t(300));
                const auto &cka = r.at("cka");
                const auto tf = cka.at("teacher_features").get<std::vector<std::string>>();
                const auto sf = cka.at("student_features").get<std::vector<std::string>>();
                QVERIFY(tf.size() >= 3); // cnn_small: stage1..3, pre_logits, logits
                QCOMPARE(int(cka.at("matrix").size()), int(tf.size()));
                for (const auto &row : cka.at("matrix")) {
                    QCOMPARE(row.size(), sf.size());
                    for (const auto &v : row)
                        QVERIFY(v.get<double>() >= -1e-9 && v.get<double>() <= 1 + 1e-9);
                }
                QVERIFY(r.at("agreement").get<double>() >= 0 && r.at("agreement").get<double>() <= 1);
                QCOMPARE(int(r.at("probe_logits").size()), 40);
                // Feature maps: one file per stage of the model and of its teacher, decodable,
                // rows of cells for the first probe image of each class.
                const auto &maps = r.at("feature_maps");
                QVERIFY(maps.size() >= 2);
                QCOMPARE(r.at("teacher_feature_maps").size(), maps.size());
                for (const auto &m : maps) {
                    const QString path = run + "/" + QString::fromStdString(m.at("file").get<std::string>());
                    QVERIFY2(path.endsWith(QString("/features/%1/%2_%3.png").arg(name, QString(role), QString::fromStdString(m.at("stage").get<std::string>()))), qPrintable(path));
                    const auto png = kd::readPng(path.toStdString());
                    QVERIFY2(!png.empty(), qPrintable(path));
                    QCOMPARE(png.height, 10 * 56 + 11 * 2);
                    QVERIFY(png.width >= 3 * 56);
                }
                QVERIFY(QFile::exists(run + "/features/" + name + "/teacher_stage1.png"));
            }
            // Per-class KD gain = student − scratch per-class accuracy.
            const auto gain = file.at("per_class_kd_gain").get<std::vector<double>>();
            const auto s = file.at("roles").at("student").at("per_class_accuracy").get<std::vector<double>>();
            const auto b = file.at("roles").at("student_scratch").at("per_class_accuracy").get<std::vector<double>>();
            QCOMPARE(int(gain.size()), 10);
            for (int c = 0; c < 10; ++c)
                QVERIFY(std::abs(gain[std::size_t(c)] - (s[std::size_t(c)] - b[std::size_t(c)])) < 1e-12);
        }
        // The log says what the views cost.
        bool timed = false;
        for (const auto &l : obs.logs)
            timed = timed || (l.rfind("analysis: student epoch 1 in ", 0) == 0);
        QVERIFY(timed);
    }

    void disabledWritesNothing()
    {
        if (!QFile::exists(QString(kFashion) + "/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        QTemporaryDir tmp;
        auto j = tinyProject(tmp.path());
        j["analysis"] = {{"enabled", false}};
        j["student"]["train"]["epochs"] = 1;
        j["baseline"] = false;
        const auto registries = kd::Registries::builtin();
        kd::Experiment exp(kd::Project::fromJson(j), registries);
        Quiet obs;
        std::atomic<bool> stop{false};
        const QString run = tmp.filePath("run");
        exp.run(obs, stop, run.toStdString());
        QVERIFY(!QDir(run + "/analysis").exists());
        QVERIFY(!QDir(run + "/features").exists());
        QVERIFY(readLines(run + "/metrics.csv").first().endsWith(",img_per_s"));
    }
};

QTEST_GUILESS_MAIN(TestAnalysis)
#include "test_analysis.moc"
