// kd::AnalysisReader on a real tiny run directory written by kdw, and on damaged copies of its
// files; kd::softTargets against golden values from scripts/soft_targets_golden.py (torch's
// softmax and kl_div) and the identities a temperature must satisfy.

#include "support/TestSupport.h"
#include <analysis/SoftTargets.h>
#include <core/Error.h>
#include <runs/AnalysisReader.h>
#include <runs/RunReader.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <filesystem>
#include <numeric>

namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string> &problems, const std::string &part)
{
    for (const auto &p : problems)
        if (p.find(part) != std::string::npos)
            return true;
    return false;
}

void writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    f.write(bytes);
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestAnalysisReader : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_run;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_run = m_tmp.filePath(QStringLiteral("run"));
        const QString problem = kd::test::runKdwIn(KDW_EXECUTABLE, KD_SOURCE_DIR, kd::test::tinyAnalysedRunArgs(m_run));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }

    void epochsOfTheRun()
    {
        QCOMPARE(kd::analysedEpochs(m_run.toStdString()), (std::vector<int>{1, 2}));
        QVERIFY(kd::analysedEpochs(m_tmp.filePath("nothing-here").toStdString()).empty());
    }

    void epochFileAgreesWithItself()
    {
        const auto a = kd::readEpochAnalysis(m_run.toStdString(), 2);
        QVERIFY2(a.problems.empty(), a.problems.empty() ? "" : a.problems.front().c_str());
        QCOMPARE(a.epoch, 2);
        QCOMPARE(int(a.classNames.size()), 10);
        const kd::RoleAnalysis *s = a.role("student");
        const kd::RoleAnalysis *scratch = a.role("student_scratch");
        QVERIFY(s && scratch);
        QCOMPARE(s->teacher, std::string("teacher"));
        // The scratch baseline is measured against the student's teacher too.
        QCOMPARE(scratch->teacher, std::string("teacher"));
        QVERIFY(std::isfinite(scratch->agreement));
        QCOMPARE(scratch->teacherConfusion, s->teacherConfusion);

        // Confusion: 10 × 10, 200 test images; per-class accuracy and test acc follow from it.
        QCOMPARE(int(s->confusion.size()), 10);
        double total = 0, diagonal = 0;
        for (int r = 0; r < 10; ++r) {
            QCOMPARE(int(s->confusion[r].size()), 10);
            const double row = std::accumulate(s->confusion[r].begin(), s->confusion[r].end(), 0.0);
            total += row;
            diagonal += s->confusion[r][r];
            if (row > 0)
                QVERIFY(std::abs(s->perClassAccuracy[r] - s->confusion[r][r] / row) < 1e-9);
        }
        QCOMPARE(total, 200.0);
        QVERIFY(std::abs(s->testAcc - diagonal / total) < 1e-9);
        QCOMPARE(int(s->teacherConfusion.size()), 10);

        // Calibration: 15 bins over all test images; ECE is the count-weighted gap of the bins.
        QCOMPARE(int(s->calibration.bins.size()), 15);
        double ece = 0;
        std::int64_t n = 0;
        for (const auto &b : s->calibration.bins) {
            n += b.count;
            if (b.count > 0)
                ece += double(b.count) * std::abs(b.accuracy - b.meanConfidence);
        }
        QCOMPARE(n, std::int64_t(200));
        QVERIFY(std::abs(ece / 200.0 - s->calibration.ece) < 1e-9);
        QCOMPARE(s->ece, s->calibration.ece);
        QCOMPARE(int(s->teacherCalibration.bins.size()), 15);

        for (double v : {s->agreement, s->klTeacherStudent, s->cev, s->sde})
            QVERIFY(std::isfinite(v));
        QVERIFY(s->agreement >= 0 && s->agreement <= 1 && s->klTeacherStudent >= 0);

        // CKA: teacher features × student features, each value in [0, 1].
        QVERIFY(!s->cka.empty());
        QCOMPARE(s->cka.values.size(), s->cka.teacherFeatures.size());
        for (const auto &row : s->cka.values) {
            QCOMPARE(row.size(), s->cka.studentFeatures.size());
            for (double v : row)
                QVERIFY(v >= -1e-6 && v <= 1 + 1e-6);
        }

        // Feature maps of both models exist on disk, named by role and stage.
        QVERIFY(!s->featureMaps.empty() && !s->teacherFeatureMaps.empty());
        for (const auto &m : s->featureMaps) {
            QVERIFY2(fs::is_regular_file(m.path), m.path.c_str());
            QVERIFY(m.path.find("features/epoch002/student_" + m.stage + ".png") != std::string::npos);
        }
        for (const auto &m : s->teacherFeatureMaps)
            QVERIFY(m.path.find("features/epoch002/teacher_" + m.stage + ".png") != std::string::npos);

        // Per-class KD gain: student − scratch per-class accuracy.
        QCOMPARE(int(a.perClassKdGain.size()), 10);
        for (int c = 0; c < 10; ++c)
            QVERIFY(std::abs(a.perClassKdGain[c] - (s->perClassAccuracy[c] - scratch->perClassAccuracy[c])) < 1e-9);

        // The same test accuracy as metrics.csv's epoch row.
        const auto metrics = kd::readMetrics(m_run.toStdString());
        const auto *block = metrics.find("student", "epoch");
        QVERIFY(block && block->column("test_acc") && block->column("agreement"));
        QVERIFY(std::abs(block->column("test_acc")->back() - s->testAcc) < 1e-4);
        QVERIFY(std::abs(block->column("agreement")->back() - s->agreement) < 1e-4);
    }

    void probeOfTheRun()
    {
        const auto p = kd::readProbeAnalysis(m_run.toStdString());
        QVERIFY2(p.problems.empty(), p.problems.empty() ? "" : p.problems.front().c_str());
        QVERIFY(p.found);
        QCOMPARE(int(p.classNames.size()), 10);
        QVERIFY(!p.labels.empty());
        QCOMPARE(p.imagePaths.size(), p.labels.size());
        for (const auto &path : p.imagePaths)
            QVERIFY2(fs::is_regular_file(path), path.c_str());
        const kd::ProbeLogits *t = p.teacher("teacher");
        const kd::ProbeLogits *s = p.student("student");
        QVERIFY(t && s && !p.teacher("student"));
        QCOMPARE(t->logits.size(), p.labels.size());
        QCOMPARE(int(t->logits.front().size()), 10);
        QCOMPARE(s->epoch, 2);
        QCOMPARE(s->logits, kd::readEpochAnalysis(m_run.toStdString(), 2).role("student")->probeLogits);
    }

    void damagedFilesAreReportedNotThrown()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QDir().mkpath(dir.filePath("analysis"));
        const QString good = readFile(m_run + "/analysis/epoch002.json");
        QVERIFY(!good.isEmpty());

        // A file torn in the middle (a run writing it now).
        writeFile(dir.filePath("analysis/epoch001.json"), good.left(good.size() / 2).toUtf8());
        // Names that are not epochs are not listed.
        writeFile(dir.filePath("analysis/epoch01x.json"), "{}");
        writeFile(dir.filePath("analysis/epoch003.json.tmp"), "{}");
        QCOMPARE(kd::analysedEpochs(dir.path().toStdString()), (std::vector<int>{1}));
        auto a = kd::readEpochAnalysis(dir.path().toStdString(), 1);
        QVERIFY(contains(a.problems, "not valid JSON"));
        QVERIFY(a.roles.empty());

        // Missing epoch.
        a = kd::readEpochAnalysis(dir.path().toStdString(), 7);
        QVERIFY(contains(a.problems, "does not exist"));

        // Wrong shapes: a ragged confusion, a CKA that does not fit its names, null numbers, a
        // string where a list belongs. The rest of the role is still read.
        writeFile(dir.filePath("analysis/epoch004.json"), R"({"epoch": 4, "class_names": ["a", "b"],
            "per_class_kd_gain": "oops",
            "roles": {"student": {"teacher": "teacher", "test_acc": 0.5, "ece": null, "agreement": 0.75,
              "confusion": [[1, 2], [3]], "per_class_accuracy": [0.5, null],
              "calibration": {"ece": null, "bins": [{"lower": 0, "upper": 0.5, "count": 3, "mean_confidence": null, "accuracy": 1}]},
              "cka": {"teacher_features": ["stage1"], "student_features": ["stage1", "stage2"], "matrix": [[0.5]]},
              "feature_maps": [{"stage": "stage1", "file": "features/epoch004/student_stage1.png"}, {"stage": "x"}]},
              "other": 5}})");
        a = kd::readEpochAnalysis(dir.path().toStdString(), 4);
        QVERIFY(contains(a.problems, "\"confusion\" is not a matrix"));
        QVERIFY(contains(a.problems, "CKA matrix does not match"));
        QVERIFY(contains(a.problems, "\"per_class_kd_gain\" is not a list"));
        const auto *s = a.role("student");
        QVERIFY(s);
        QCOMPARE(s->testAcc, 0.5);
        QCOMPARE(s->agreement, 0.75);
        QVERIFY(std::isnan(s->ece));
        QVERIFY(s->confusion.empty());
        QVERIFY(s->cka.empty());
        QCOMPARE(int(s->perClassAccuracy.size()), 2);
        QVERIFY(std::isnan(s->perClassAccuracy[1]));
        QCOMPARE(int(s->calibration.bins.size()), 1);
        QCOMPARE(s->calibration.bins[0].count, std::int64_t(3));
        QVERIFY(std::isnan(s->calibration.bins[0].meanConfidence));
        QCOMPARE(int(s->featureMaps.size()), 1); // the entry without a file is dropped
        QVERIFY(QString::fromStdString(s->featureMaps[0].path).startsWith(QDir(dir.path()).absolutePath()));
        QVERIFY(a.role("other")); // a role that is not an object reads as empty, NaN numbers
        QVERIFY(std::isnan(a.role("other")->testAcc));

        // A JSON array instead of an object; no "roles".
        writeFile(dir.filePath("analysis/epoch005.json"), "[1, 2]");
        QVERIFY(contains(kd::readEpochAnalysis(dir.path().toStdString(), 5).problems, "not a JSON object"));
        writeFile(dir.filePath("analysis/epoch006.json"), R"({"epoch": 5})");
        a = kd::readEpochAnalysis(dir.path().toStdString(), 6);
        QVERIFY(contains(a.problems, "no \"roles\""));
        QVERIFY(contains(a.problems, "says it is epoch 5"));

        // Probe: missing, then damaged logits.
        auto p = kd::readProbeAnalysis(dir.path().toStdString());
        QVERIFY(!p.found && contains(p.problems, "does not exist"));
        writeFile(dir.filePath("analysis/probe.json"), R"({"class_names": ["a", "b"], "labels": [0, null],
            "images": ["features/probe/0.png"], "teachers": {"teacher": [[1, 2], [3]]},
            "students": {"student": {"epoch": 3, "logits": [[1, 2], [0, 1]]}}})");
        p = kd::readProbeAnalysis(dir.path().toStdString());
        QVERIFY(p.found);
        QCOMPARE(p.labels, (std::vector<int>{0, -1}));
        QVERIFY(contains(p.problems, "probe teacher teacher"));
        QVERIFY(p.teacher("teacher") && p.teacher("teacher")->logits.empty());
        QCOMPARE(p.student("student")->epoch, 3);
        QCOMPARE(int(p.student("student")->logits.size()), 2);
    }

    void softTargetsMatchTorch()
    {
        struct Case {
            std::vector<double> t, s;
            double temperature;
            std::vector<double> pt, ps;
            double ht, hs, kdTerm;
        };
        // scripts/soft_targets_golden.py
        const std::vector<Case> cases = {
            {{1.0, 2.0, 3.0}, {3.0, 1.0, 0.5}, 1.0, {0.090030573170380448, 0.24472847105479761, 0.66524095577482178}, {0.8214090194651259, 0.11116562230242114, 0.067425358232452923}, 0.83239558183993878, 0.58762873710559171, 1.5168978466263279},
            {{2.5, -1.0, 0.3, 4.0}, {1.0, 0.0, 0.2, 2.0}, 4.0, {0.28995565390498196, 0.12087149950403335, 0.16728985953922934, 0.42188298705175525}, {0.25762857846748188, 0.20064133865204778, 0.21092844006309142, 0.33080164281737895}, 1.2775931499319257, 1.3658819616209974, 0.58957279581922339},
            {{10.0, -3.0, 0.0, 1.0, 2.0}, {0.5, 0.4, 0.3, 0.2, 0.1}, 20.0, {0.29099165769630914, 0.1519109659730454, 0.17649536211341518, 0.18554447283425338, 0.1950575413829769}, {0.20200498325648034, 0.20099747919930677, 0.19999500008958185, 0.19899752086527553, 0.19800501658935532}, 1.5829685181996411, 1.6094129128403436, 10.281288188086846},
        };
        for (const auto &c : cases) {
            const auto r = kd::softTargets(c.t, c.s, c.temperature);
            for (std::size_t i = 0; i < c.pt.size(); ++i) {
                QVERIFY(std::abs(r.teacher[i] - c.pt[i]) < 1e-12);
                QVERIFY(std::abs(r.student[i] - c.ps[i]) < 1e-12);
            }
            QVERIFY(std::abs(r.teacherEntropy - c.ht) < 1e-12);
            QVERIFY(std::abs(r.studentEntropy - c.hs) < 1e-12);
            QVERIFY(std::abs(r.kdTerm - c.kdTerm) < 1e-10);
            QVERIFY(std::abs(r.kdTerm - c.temperature * c.temperature * r.kl) < 1e-12);
            QVERIFY(std::abs(r.kl - kd::klDivergence(r.teacher, r.student)) < 1e-12);
        }
    }

    void softTargetIdentities()
    {
        const std::vector<double> z = {3.0, -1.0, 0.5, 7.0};
        // Equal logits: KL and the KD term are 0 at any T.
        for (double t : {1.0, 4.0, 20.0}) {
            const auto r = kd::softTargets(z, z, t);
            QCOMPARE(r.kl, 0.0);
            QCOMPARE(r.kdTerm, 0.0);
            QCOMPARE(r.teacherEntropy, r.studentEntropy);
            QVERIFY(std::abs(std::accumulate(r.teacher.begin(), r.teacher.end(), 0.0) - 1.0) < 1e-12);
        }
        // A shift of every logit changes nothing.
        const auto a = kd::softmaxAt(z, 2.0), b = kd::softmaxAt({z[0] + 100, z[1] + 100, z[2] + 100, z[3] + 100}, 2.0);
        for (std::size_t i = 0; i < z.size(); ++i)
            QVERIFY(std::abs(a[i] - b[i]) < 1e-12);
        // T → large: uniform, entropy → log C; entropy grows with T.
        const auto u = kd::softmaxAt(z, 1e7);
        for (double p : u)
            QVERIFY(std::abs(p - 0.25) < 1e-6);
        QVERIFY(std::abs(kd::entropyNats(u) - std::log(4.0)) < 1e-9);
        double previous = -1;
        for (int t = 1; t <= 20; ++t) {
            const double h = kd::entropyNats(kd::softmaxAt(z, t));
            QVERIFY(h > previous);
            previous = h;
        }
        // A one-hot distribution has entropy 0; T → 0⁺ picks the argmax.
        QCOMPARE(kd::entropyNats({0.0, 1.0, 0.0}), 0.0);
        QVERIFY(kd::softmaxAt(z, 1e-3)[3] > 1 - 1e-12);
        // Two classes: KL has its closed form.
        const auto two = kd::softTargets({0.0, 1.0}, {0.0, -1.0}, 1.0);
        const double p = 1 / (1 + std::exp(-1.0)), q = 1 / (1 + std::exp(1.0));
        QVERIFY(std::abs(two.kl - (p * std::log(p / q) + (1 - p) * std::log((1 - p) / (1 - q)))) < 1e-12);
        // Very confident, opposite models: the softmax underflows to 0 but the KD term stays finite.
        const auto far = kd::softTargets({0.0, 1000.0}, {1000.0, 0.0}, 1.0);
        QVERIFY(std::isfinite(far.kl));
        QVERIFY(std::abs(far.kl - 1000.0) < 1e-9);
        QVERIFY(std::isinf(kd::klDivergence({0.0, 1.0}, {1.0, 0.0})));
    }

    void softTargetErrors()
    {
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::softTargets({1, 2}, {1, 2, 3}, 1.0));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::softTargets({}, {}, 1.0));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::softmaxAt({1, 2}, 0.0));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::softmaxAt({1, 2}, -3.0));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::softmaxAt({1, NAN}, 1.0));
        QVERIFY_THROWS_EXCEPTION(kd::Error, kd::klDivergence({1.0}, {0.5, 0.5}));
        QVERIFY(kd::softmaxAt({}, 2.0).empty());
    }
};

QTEST_GUILESS_MAIN(TestAnalysisReader)
#include "test_analysis_reader.moc"
