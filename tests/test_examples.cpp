// The example projects do what the README says: the quick example's KD student beats its
// scratch twin. Run end to end through kdw, as a user runs it (teacher trained too).
#include "support/TestSupport.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

namespace {

/// The smallest gain (percentage points) the test accepts. Measured by scripts/examples.py
/// (docs/RESULTS.md, "Example projects"), the quick example over seeds 1–5 on the 2-core
/// machine: gains +1.11 (seed 1, the one run here), +0.74, +1.49, +1.12, +1.89 — mean +1.27,
/// sd 0.44. Seed 1 is deterministic on one platform; elsewhere float differences can move it
/// about as much as a new seed would. The margin sits below the lowest seed and 2.2 sd below
/// the mean, so such noise passes it with ~98 % odds, while KD that stopped helping fails it.
constexpr double QuickMarginPoints = 0.3;

} // namespace

class TestExamples : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void quickStudentBeatsScratch()
    {
        if (!QFile::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))
            QSKIP("Fashion-MNIST is not installed (scripts/install-deps.sh installs it)");
        QTemporaryDir tmp;
        const QString out = tmp.filePath("quick");
        // Seed 1 is one of the measured seeds; 2 threads as on the machine that measured it.
        const QString problem = kd::test::runKdwIn(KDW_EXECUTABLE, KD_SOURCE_DIR,
                                                   {"run", "projects/fashion-mnist-quick.json", "--set", "seed=1", "--set",
                                                    "threads=2", "--quiet", "--out", out},
                                                   900000);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const auto summary = kd::test::readJson(out + "/summary.json");
        QCOMPARE(QString::fromStdString(summary["status"].get<std::string>()), QStringLiteral("completed"));
        const double student = summary["models"]["student"]["final_test_acc"].get<double>();
        const double scratch = summary["models"]["student_scratch"]["final_test_acc"].get<double>();
        const double gain = 100.0 * (student - scratch);
        qInfo("quick example, seed 1: KD student %.2f %%, scratch %.2f %%, gain %+.2f pt (measured: +1.11)",
              100 * student, 100 * scratch, gain);
        QVERIFY2(gain > QuickMarginPoints,
                 qPrintable(QStringLiteral("KD student %1 %, scratch %2 %: gain %3 pt, below the %4 pt margin")
                                .arg(100 * student, 0, 'f', 2).arg(100 * scratch, 0, 'f', 2).arg(gain, 0, 'f', 2)
                                .arg(QuickMarginPoints)));
    }
};

QTEST_GUILESS_MAIN(TestExamples)
#include "test_examples.moc"
