// Runs browser tests (Qt Test, QT_QPA_PLATFORM=offscreen): a temporary runs folder holds run
// directories written by the engine's own kd::RunStore (the writer `kdw` and the window use)
// plus damaged ones; the browser must list them with the right status, sort numbers as
// numbers, filter, hide columns, follow runs that appear, grow or disappear, group seeds,
// diff configs and export CSV. With kdw built, a run written by kdw in another process is
// picked up too. KD_SCREENSHOT_DIR=dir saves the dock with seed groups and the config diff
// (KD_SCREENSHOT_RUNS=folder takes the runs for them from there, e.g. real kdw runs).

#include <MainWindow.h>
#include <plots/ChartPlot.h>
#include <plots/MetricsChart.h>
#include <runs/ConfigDiffView.h>
#include <runs/RunsBrowser.h>
#include <runs/RunsChartLink.h>
#include <runs/RunsFilterProxy.h>
#include <runs/RunsTableModel.h>

#include <project/ProjectConfig.h>
#include <runs/RunStore.h>

#include <QAction>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QMenu>
#include <QHeaderView>
#include <QMenuBar>
#include <QProcess>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <memory>

using namespace kd::ui;
using Col = RunsTableModel::Column;

namespace {

/// The project of the fixture runs: one setting per (method, temperature), seeds vary.
kd::Project fixtureProject(int seed, double temperature, const std::string &method = "kd")
{
    kd::Project p;
    p.name = "browser-test";
    p.seed = std::uint64_t(seed);
    p.device = "cpu";
    p.threads = 1;
    p.dataset.limit = 300;
    p.dataset.testLimit = 200;
    p.teacher.arch = "cnn_small";
    p.student.arch = "mlp";
    p.method.name = method;
    if (method == "kd")
        p.method.params = {{"alpha", 0.9}, {"temperature", temperature}};
    return p;
}

struct Accuracies {
    double teacher, student, scratch;
};

kd::MetricRecord record(const std::string &role, kd::MetricRecord::Kind kind, int epoch, std::int64_t step, double testAcc)
{
    kd::MetricRecord r;
    r.role = role;
    r.kind = kind;
    r.epoch = epoch;
    r.step = step;
    r.wallSeconds = 0.5 * double(step);
    r.losses = {{"loss", 2.0 / double(step + 1)}, {"kd", 1.0 / double(step + 1)}};
    r.lr = 0.05;
    if (kind == kd::MetricRecord::Kind::Epoch)
        r.testAcc = testAcc;
    return r;
}

/// Two epochs per role, as the trainer logs them: step rows, then the epoch row.
void appendEpoch(kd::RunStore &store, const std::string &role, int epoch, double testAcc)
{
    store.appendMetric(record(role, kd::MetricRecord::Kind::Step, epoch, epoch * 10 - 5, NAN));
    store.appendMetric(record(role, kd::MetricRecord::Kind::Step, epoch, epoch * 10, NAN));
    store.appendMetric(record(role, kd::MetricRecord::Kind::Epoch, epoch, epoch * 10, testAcc));
}

kd::RunSummary summaryOf(const std::string &dir, const std::string &status, const Accuracies &acc)
{
    kd::RunSummary s;
    s.runDir = dir;
    s.status = status;
    s.device = "cpu (1 thread)";
    s.wallSeconds = 30;
    const std::pair<const char *, double> roles[] = {
        {"teacher", acc.teacher}, {"student", acc.student}, {"student_scratch", acc.scratch}};
    for (const auto &[role, value] : roles) {
        kd::RoleSummary r;
        r.role = role;
        r.arch = std::string(role) == "teacher" ? "cnn_small" : "mlp";
        r.method = std::string(role) == "student" ? "kd" : "ce";
        r.params = std::string(role) == "teacher" ? 50000 : 101770;
        r.finalTestAcc = value;
        r.bestTestAcc = value;
        r.trainSeconds = 10;
        r.epochsDone = 2;
        r.completed = status == "completed";
        s.roles.push_back(r);
    }
    return s;
}

/// A finished run directory written by the engine's RunStore.
QString writeRun(const QString &folder, const QString &name, const kd::Project &project, const Accuracies &acc,
                 const std::string &status = "completed")
{
    const QString dir = QDir(folder).filePath(name);
    kd::RunStore store(dir.toStdString(), project.toJson(), {"loss", "kd"});
    for (const char *role : {"teacher", "student", "student_scratch"}) {
        const double final = std::string(role) == "teacher" ? acc.teacher : (std::string(role) == "student" ? acc.student : acc.scratch);
        appendEpoch(store, role, 1, final - 0.05);
        appendEpoch(store, role, 2, final);
    }
    store.writeSummary(summaryOf(dir.toStdString(), status, acc));
    return dir;
}

void truncateFile(const QString &path, qint64 keep)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadWrite));
    QVERIFY(f.resize(keep));
}

void appendText(const QString &path, const QByteArray &text)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::Append));
    f.write(text);
}

QString cell(const RunsBrowser &b, int proxyRow, int column)
{
    return b.proxy()->index(proxyRow, column).data().toString();
}

int proxyRowOf(const RunsBrowser &b, const QString &name)
{
    for (int r = 0; r < b.proxy()->rowCount(); ++r)
        if (cell(b, r, Col::Name) == name)
            return r;
    return -1;
}

QStringList column(const RunsBrowser &b, int c)
{
    QStringList out;
    for (int r = 0; r < b.proxy()->rowCount(); ++r)
        out << cell(b, r, c);
    return out;
}

/// Waits for the browser to show `count` rows after its next scans.
bool waitForRows(RunsBrowser &b, int count, int timeoutMs = 15000)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        if (b.model()->rowCount() == count)
            return true;
        QTest::qWait(50);
    }
    return b.model()->rowCount() == count;
}

} // namespace

class TestRunsBrowser : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void listsRunsAndDamagedOnes();
    void sortsNumbersNumerically();
    void filtersByTextAndColumn();
    void hidesColumnsAndRemembers();
    void followsRunsAppearingGrowingAndRemoved();
    void groupsSeedsAndCompares();
    void comparisonChartDrawsSeedGroupBands();
    void groupNamesSaySettingsApart();
    void diffsConfigs();
    void exportsCsv();
    void picksUpKdwRunFromAnotherProcess();
    void mainWindowHasRunsDock();
    void screenshots();

private:
    /// The fixture folder: kd T=4 over seeds 1..3, kd T=2 over seeds 1..3, one run with a
    /// 9.5 % student (sorting), and damaged runs.
    void writeFixture(const QString &folder);
    std::unique_ptr<QTemporaryDir> m_dir;
};

void TestRunsBrowser::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("KD Workbench Tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_runs_browser"));
}

void TestRunsBrowser::init()
{
    QSettings().clear();
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestRunsBrowser::writeFixture(const QString &folder)
{
    const double students4[] = {0.80, 0.82, 0.84};
    const double students2[] = {0.70, 0.71, 0.72};
    for (int seed = 1; seed <= 3; ++seed) {
        writeRun(folder, QStringLiteral("t4-seed%1").arg(seed), fixtureProject(seed, 4.0),
                 {0.90, students4[seed - 1], 0.78 + 0.01 * seed});
        writeRun(folder, QStringLiteral("t2-seed%1").arg(seed), fixtureProject(seed, 2.0),
                 {0.90, students2[seed - 1], 0.78 + 0.01 * seed});
    }
    writeRun(folder, QStringLiteral("low"), fixtureProject(7, 8.0), {0.90, 0.095, 0.10});

    // Damaged: summary.json cut mid-way, config.json cut mid-way.
    const QString cutSummary = writeRun(folder, QStringLiteral("cut-summary"), fixtureProject(9, 4.0), {0.9, 0.8, 0.8});
    truncateFile(QDir(cutSummary).filePath(QStringLiteral("summary.json")), 40);
    const QString cutConfig = writeRun(folder, QStringLiteral("cut-config"), fixtureProject(10, 4.0), {0.9, 0.8, 0.8});
    truncateFile(QDir(cutConfig).filePath(QStringLiteral("config.json")), 30);
    // A torn last metrics line (a writer killed mid-row): the run itself is fine.
    const QString torn = writeRun(folder, QStringLiteral("torn-metrics"), fixtureProject(11, 4.0), {0.9, 0.81, 0.8});
    appendText(QDir(torn).filePath(QStringLiteral("metrics.csv")), "student,epoch,3,30,1");
    // An empty directory is not a run.
    QVERIFY(QDir(folder).mkdir(QStringLiteral("empty")));
}

void TestRunsBrowser::listsRunsAndDamagedOnes()
{
    writeFixture(m_dir->path());
    RunsBrowser browser;
    QSignalSpy updated(&browser, &RunsBrowser::runsUpdated);
    browser.addFolder(m_dir->path());
    QVERIFY(updated.wait(10000));
    // 6 seed runs + low + cut-summary + cut-config + torn-metrics; "empty" is not a run.
    QCOMPARE(browser.model()->rowCount(), 10);
    QCOMPARE(proxyRowOf(browser, QStringLiteral("empty")), -1);

    auto status = [&](const char *name) { return cell(browser, proxyRowOf(browser, QLatin1String(name)), Col::Status); };
    QCOMPARE(status("t4-seed1"), QStringLiteral("completed"));
    QCOMPARE(status("cut-summary"), QStringLiteral("damaged"));
    QCOMPARE(status("cut-config"), QStringLiteral("damaged"));
    QCOMPARE(status("torn-metrics"), QStringLiteral("completed"));

    // A damaged run says why, in its problem column and its tooltip.
    const int cut = proxyRowOf(browser, QStringLiteral("cut-summary"));
    const QString problem = cell(browser, cut, Col::Problem);
    QVERIFY2(problem.contains(QStringLiteral("summary.json")), qPrintable(problem));
    QVERIFY(browser.proxy()->index(cut, Col::Name).data(Qt::ToolTipRole).toString().contains(problem));
    QVERIFY(cell(browser, proxyRowOf(browser, QStringLiteral("cut-config")), Col::Problem).contains(QStringLiteral("config.json")));

    // Set-up and results as the user reads them.
    const int t4 = proxyRowOf(browser, QStringLiteral("t4-seed2"));
    QCOMPARE(cell(browser, t4, Col::Method), QStringLiteral("kd"));
    QCOMPARE(cell(browser, t4, Col::Hyperparams), QStringLiteral("T=4 α=0.9"));
    QCOMPARE(cell(browser, t4, Col::Seed), QStringLiteral("2"));
    QCOMPARE(cell(browser, t4, Col::Dataset), QStringLiteral("fashion-mnist"));
    QCOMPARE(cell(browser, t4, Col::Teacher), QStringLiteral("cnn_small"));
    QCOMPARE(cell(browser, t4, Col::Student), QStringLiteral("mlp"));
    QCOMPARE(cell(browser, t4, Col::StudentAcc), QStringLiteral("82.00"));
    QCOMPARE(cell(browser, t4, Col::ScratchAcc), QStringLiteral("80.00"));
    QCOMPARE(cell(browser, t4, Col::KdGain), QStringLiteral("+2.00"));
    QCOMPARE(cell(browser, t4, Col::StudentParams), QStringLiteral("101.8 k"));
    QCOMPARE(cell(browser, t4, Col::TrainTime), QStringLiteral("30 s"));

    // An empty directory opened on its own is listed, as damaged, with the reason.
    QVERIFY(browser.openRun(QDir(m_dir->path()).filePath(QStringLiteral("empty"))));
    QVERIFY(waitForRows(browser, 11));
    const int empty = proxyRowOf(browser, QStringLiteral("empty"));
    QCOMPARE(cell(browser, empty, Col::Status), QStringLiteral("damaged"));
    QVERIFY(!cell(browser, empty, Col::Problem).isEmpty());
    QVERIFY(!browser.openRun(QDir(m_dir->path()).filePath(QStringLiteral("no-such-dir"))));
}

void TestRunsBrowser::sortsNumbersNumerically()
{
    writeFixture(m_dir->path());
    RunsBrowser browser;
    browser.addFolder(m_dir->path());
    QVERIFY(waitForRows(browser, 10));

    browser.table()->sortByColumn(Col::StudentAcc, Qt::AscendingOrder);
    QStringList acc = column(browser, Col::StudentAcc);
    // 9.50 before 70.00 (text order would put it last); runs without a value last.
    QCOMPARE(acc.first(), QStringLiteral("9.50"));
    QCOMPARE(acc.mid(1, 3), (QStringList{QStringLiteral("70.00"), QStringLiteral("71.00"), QStringLiteral("72.00")}));
    QVERIFY(acc.last().isEmpty());
    QVERIFY(!acc[acc.size() - 3].isEmpty()); // two damaged runs without results, at the end
    browser.table()->sortByColumn(Col::StudentAcc, Qt::DescendingOrder);
    acc = column(browser, Col::StudentAcc);
    QCOMPARE(acc.first(), QStringLiteral("84.00"));
    QCOMPARE(acc[acc.size() - 3], QStringLiteral("9.50"));
    QVERIFY(acc.last().isEmpty());

    browser.table()->sortByColumn(Col::Seed, Qt::AscendingOrder);
    const QStringList seeds = column(browser, Col::Seed);
    // cut-config has no readable config, so no seed: last.
    QCOMPARE(seeds.mid(6, 4), (QStringList{QStringLiteral("7"), QStringLiteral("9"), QStringLiteral("11"), QString()}));
}

void TestRunsBrowser::filtersByTextAndColumn()
{
    writeFixture(m_dir->path());
    RunsBrowser browser;
    browser.addFolder(m_dir->path());
    QVERIFY(waitForRows(browser, 10));
    auto shown = [&] { return browser.proxy()->rowCount(); };

    browser.setFilterText(QStringLiteral("T=2"));
    QCOMPARE(shown(), 3);
    browser.setFilterText(QStringLiteral("t4 seed:3"));
    QCOMPARE(shown(), 1);
    QCOMPARE(cell(browser, 0, Col::Name), QStringLiteral("t4-seed3"));
    browser.setFilterText(QStringLiteral("seed:1")); // equals, so 11 is not matched
    QCOMPARE(shown(), 2);
    browser.setFilterText(QStringLiteral("status:damaged"));
    QCOMPARE(shown(), 2);
    browser.setFilterText(QStringLiteral("-status:damaged student_acc>=80"));
    QCOMPARE(shown(), 4); // t4 ×3 and torn-metrics (81 %)
    browser.setFilterText(QStringLiteral("kd_gain<0"));
    QCOMPARE(shown(), 4); // the T=2 runs and "low"
    browser.setFilterText(QStringLiteral("method=kd hparams:\"T=8\""));
    QCOMPARE(shown(), 1);
    QVERIFY(browser.proxy()->queryProblem().isEmpty());
    browser.setFilterText(QStringLiteral("colour:red"));
    QVERIFY(browser.proxy()->queryProblem().contains(QStringLiteral("colour")));
    QCOMPARE(shown(), 0);
    browser.setFilterText(QString());
    QCOMPARE(shown(), 10);
}

void TestRunsBrowser::hidesColumnsAndRemembers()
{
    writeRun(m_dir->path(), QStringLiteral("one"), fixtureProject(1, 4), {0.9, 0.8, 0.8});
    {
        RunsBrowser browser;
        QVERIFY(browser.isColumnVisible(Col::Seed));
        QVERIFY(!browser.isColumnVisible(Col::Dir)); // hidden until asked for
        QVERIFY(!browser.isColumnVisible(Col::Runs)); // n only means something for groups
        browser.setColumnVisible(Col::Seed, false);
        QVERIFY(browser.table()->horizontalHeader()->isSectionHidden(Col::Seed));
        browser.setGrouped(true);
        QVERIFY(browser.isColumnVisible(Col::Runs));
    }
    RunsBrowser again; // remembered through QSettings
    QVERIFY(!again.isColumnVisible(Col::Seed));
    again.setColumnVisible(Col::Seed, true);
    QVERIFY(again.isColumnVisible(Col::Seed));
}

void TestRunsBrowser::followsRunsAppearingGrowingAndRemoved()
{
    const QString folder = m_dir->path();
    writeRun(folder, QStringLiteral("a"), fixtureProject(1, 4), {0.9, 0.8, 0.79});
    RunsBrowser browser;
    browser.setPollIntervals(60000, 200); // a change must be seen by watching, not by the slow poll
    QSignalSpy selected(&browser, &RunsBrowser::runsSelected);
    QSignalSpy series(&browser, &RunsBrowser::seriesUpdated);
    browser.addFolder(folder);
    QVERIFY(waitForRows(browser, 1));
    browser.selectDirs({QDir(folder).filePath(QStringLiteral("a"))});
    QCOMPARE(selected.count(), 1);
    QCOMPARE(browser.selectedDirs().size(), 1);

    // A run being written appears while the browser is open: listed as running.
    const QString liveDir = QDir(folder).filePath(QStringLiteral("live"));
    kd::Project liveProject = fixtureProject(2, 4);
    auto live = std::make_unique<kd::RunStore>(liveDir.toStdString(), liveProject.toJson(), std::vector<std::string>{"loss", "kd"});
    appendEpoch(*live, "teacher", 1, 0.85);
    live->writeSummary(summaryOf(liveDir.toStdString(), "running", {0.85, NAN, NAN}));
    QVERIFY(waitForRows(browser, 2));
    QTRY_COMPARE_WITH_TIMEOUT(cell(browser, proxyRowOf(browser, QStringLiteral("live")), Col::Status),
                              QStringLiteral("running"), 10000);
    // The selection survived the update.
    QCOMPARE(browser.table()->selectionModel()->selectedRows().size(), 1);
    QCOMPARE(cell(browser, browser.table()->selectionModel()->selectedRows().first().row(), Col::Name), QStringLiteral("a"));

    // Selected, its curves arrive and grow as it writes.
    browser.selectDirs({liveDir});
    auto teacherTestAcc = [&]() -> int {
        for (int i = series.count() - 1; i >= 0; --i) {
            if (!series.at(i).at(0).toString().endsWith(QLatin1String("/live")))
                continue;
            for (const RunSeries &s : series.at(i).at(1).value<QVector<RunSeries>>())
                if (s.role == QLatin1String("teacher") && s.kind == QLatin1String("epoch") && s.column == QLatin1String("test_acc"))
                    return int(s.y.size());
            return 0;
        }
        return -1;
    };
    QTRY_COMPARE_WITH_TIMEOUT(teacherTestAcc(), 1, 10000);
    appendEpoch(*live, "teacher", 2, 0.9);
    QTRY_COMPARE_WITH_TIMEOUT(teacherTestAcc(), 2, 10000);
    for (const RunSeries &s : series.last().at(1).value<QVector<RunSeries>>()) {
        QCOMPARE(s.step.size(), s.y.size());
        QCOMPARE(s.epoch.size(), s.y.size());
        QCOMPARE(s.wallSeconds.size(), s.y.size());
        if (s.role == QLatin1String("teacher") && s.column == QLatin1String("test_acc"))
            QCOMPARE(s.y.last(), 0.9);
    }

    // It finishes: completed, with its results.
    live->writeSummary(summaryOf(liveDir.toStdString(), "completed", {0.9, 0.83, 0.8}));
    live.reset();
    QTRY_COMPARE_WITH_TIMEOUT(cell(browser, proxyRowOf(browser, QStringLiteral("live")), Col::Status),
                              QStringLiteral("completed"), 10000);
    QCOMPARE(cell(browser, proxyRowOf(browser, QStringLiteral("live")), Col::StudentAcc), QStringLiteral("83.00"));

    // Removed from disk: gone from the table, and from the selection.
    QVERIFY(QDir(liveDir).removeRecursively());
    QVERIFY(waitForRows(browser, 1));
    QCOMPARE(proxyRowOf(browser, QStringLiteral("live")), -1);
    QTRY_VERIFY(browser.selectedDirs().isEmpty());
}

void TestRunsBrowser::groupsSeedsAndCompares()
{
    writeFixture(m_dir->path());
    RunsBrowser browser;
    browser.addFolder(m_dir->path());
    QVERIFY(waitForRows(browser, 10));
    browser.setGrouped(true);
    // t4 ×3, t2 ×3, low, torn-metrics (another seed of the T=4 setting: joins that group),
    // the two damaged runs alone.
    QCOMPARE(browser.model()->rowCount(), 5);
    browser.setFilterText(QStringLiteral("T=2"));
    QCOMPARE(browser.proxy()->rowCount(), 1);
    QCOMPARE(cell(browser, 0, Col::Runs), QStringLiteral("3"));
    QCOMPARE(cell(browser, 0, Col::Seed), QStringLiteral("1, 2, 3"));
    QCOMPARE(cell(browser, 0, Col::Name), QStringLiteral("browser-test · T=2 α=0.9 ×3"));
    // students 70, 71, 72 %: mean 71.00, sd 1.00; scratch 79, 80, 81: gain −9 ± 0.
    QCOMPARE(cell(browser, 0, Col::StudentAcc), QStringLiteral("71.00 ± 1.00"));
    QCOMPARE(cell(browser, 0, Col::ScratchAcc), QStringLiteral("80.00 ± 1.00"));
    QCOMPARE(cell(browser, 0, Col::KdGain), QStringLiteral("-9.00 ± 0.00"));
    QCOMPARE(cell(browser, 0, Col::Status), QStringLiteral("3 completed"));

    // One group selected: its KD gain with interval and p-value.
    browser.selectDirs(browser.model()->dirsAt(browser.proxy()->mapToSource(browser.proxy()->index(0, 0)).row()));
    QString text = browser.comparisonText();
    // Golden sentences: scripts/golden_runs_browser.py (SciPy's Welch test).
    QVERIFY2(text.contains(QStringLiteral("-9.00 pt [-11.27, -6.73], p < 0.001 — significant at 5 %")), qPrintable(text));

    // Two groups: the difference of their students. T=4 has 80, 82, 84 and torn-metrics 81.
    browser.setFilterText(QStringLiteral("n>=3"));
    QCOMPARE(browser.proxy()->rowCount(), 2);
    browser.table()->sortByColumn(Col::StudentAcc, Qt::DescendingOrder);
    QCOMPARE(cell(browser, 0, Col::StudentAcc), QStringLiteral("81.75 ± 1.71"));
    browser.table()->selectAll();
    text = browser.comparisonText();
    // 81.75 − 71.00 = +10.75 points.
    QVERIFY2(text.contains(QStringLiteral("+10.75 pt [8.08, 13.42], p < 0.001 — significant at 5 %")), qPrintable(text));
    // ... and the T=4 group's own KD gain, which is not distinguishable from seed noise.
    QVERIFY2(text.contains(QStringLiteral("+1.75 pt [-0.81, 4.31], p = 0.13 — not significant at 5 % (the interval includes 0)")),
             qPrintable(text));
    QVERIFY(text.contains(QStringLiteral("n = 4 vs 3")));
    QCOMPARE(browser.selectedDirs().size(), 7);

    // Back to single runs: the same runs stay selected.
    browser.setFilterText(QString());
    browser.setGrouped(false);
    QCOMPARE(browser.model()->rowCount(), 10);
    QCOMPARE(browser.table()->selectionModel()->selectedRows().size(), 7);
}

void TestRunsBrowser::comparisonChartDrawsSeedGroupBands()
{
    const QString folder = m_dir->path();
    QStringList dirs;
    for (int seed : {1, 2, 3})
        dirs << writeRun(folder, QStringLiteral("t2-seed%1").arg(seed), fixtureProject(seed, 2.0),
                         {0.90, 0.70 + 0.01 * (seed - 1), 0.79 + 0.01 * (seed - 1)});
    dirs << writeRun(folder, QStringLiteral("low"), fixtureProject(7, 8.0), {0.90, 0.095, 0.10});
    for (QString &d : dirs)
        d = RunsTableModel::normalizeDir(d);
    RunsBrowser browser;
    MetricsChart chart;
    RunsChartLink link(&browser, &chart);
    browser.addFolder(folder);
    QVERIFY(waitForRows(browser, 4));
    ChartPlot *plot = chart.plot();

    // Single runs: one curve per run and role; the chart opens on test accuracy.
    browser.selectDirs({dirs[0], dirs[1]});
    const QString member0 = dirs[0] + QStringLiteral("/student/test_acc");
    QTRY_VERIFY(plot->series(member0) && plot->series(dirs[1] + QStringLiteral("/student/test_acc")));
    QCOMPARE(plot->metric(), QStringLiteral("test_acc"));
    QVERIFY(plot->bandKeys().isEmpty());

    // The seed group: its mean curve inside a ± sd band, and no member curves.
    browser.setGrouped(true);
    const int row = proxyRowOf(browser, QStringLiteral("browser-test · T=2 α=0.9 ×3"));
    QVERIFY(row >= 0);
    browser.selectDirs(browser.model()->dirsAt(browser.proxy()->mapToSource(browser.proxy()->index(row, 0)).row()));
    QCOMPARE(browser.selectedGroups().size(), 1);
    const QString group = browser.selectedGroups().front().id;
    const QString meanKey = group + QStringLiteral("/student/test_acc");
    const QString bandKey = QStringLiteral("band:") + meanKey;
    // Members' series arrive one run at a time: wait until all three are in the band.
    QTRY_VERIFY(plot->band(bandKey) && plot->series(meanKey)
                && plot->band(bandKey)->label.contains(QStringLiteral("3 of 3 runs")));
    QVERIFY(!plot->series(member0));
    QVERIFY(plot->series(group + QStringLiteral("/student_scratch/test_acc")));
    // Students reach 65/66/67 % after epoch 1 and 70/71/72 % after epoch 2 (writeRun).
    const ChartSeries *mean = plot->series(meanKey);
    QCOMPARE(int(mean->y.size()), 2);
    QVERIFY(std::abs(mean->y[0] - 0.66) < 1e-9 && std::abs(mean->y[1] - 0.71) < 1e-9);
    const ChartBand *band = plot->band(bandKey);
    QVERIFY(std::abs(band->lower[1] - 0.70) < 1e-9 && std::abs(band->upper[1] - 0.72) < 1e-9);
    QCOMPARE(band->x.epoch, (std::vector<double>{1, 2}));
    QVERIFY2(band->label.contains(QStringLiteral("3 of 3 runs, ± sd")), qPrintable(band->label));

    // Min–max instead of ± sd (for three evenly spaced values both bounds happen to agree).
    link.setBandKind(ChartBand::Kind::MinMax);
    band = plot->band(bandKey);
    QVERIFY(band);
    QCOMPARE(band->kind, ChartBand::Kind::MinMax);
    QVERIFY2(band->label.contains(QStringLiteral("min–max")), qPrintable(band->label));

    // A member of another setting selected beside the group stays a curve of its own.
    QStringList both = browser.selectedDirs();
    both << dirs[3];
    browser.selectDirs(both);
    QTRY_VERIFY(plot->series(dirs[3] + QStringLiteral("/student/test_acc")));
    QVERIFY(plot->band(bandKey));

    // Ungrouped again: the band and mean leave, the members come back as curves.
    browser.setGrouped(false);
    QTRY_VERIFY(!plot->band(bandKey) && !plot->series(meanKey) && plot->series(member0));
    QCOMPARE(plot->metric(), QStringLiteral("test_acc"));
}

void TestRunsBrowser::groupNamesSaySettingsApart()
{
    const QString folder = m_dir->path();
    for (int seed : {1, 2}) {
        writeRun(folder, QStringLiteral("short-seed%1").arg(seed), fixtureProject(seed, 2.0), {0.9, 0.7, 0.7});
        kd::Project longer = fixtureProject(seed, 2.0);
        longer.student.train.epochs = 7;
        longer.student.train.limit = 500;
        longer.threads = 2; // does not change results: never named
        writeRun(folder, QStringLiteral("long-seed%1").arg(seed), longer, {0.9, 0.75, 0.7});
    }
    RunsBrowser browser;
    browser.addFolder(folder);
    QVERIFY(waitForRows(browser, 4));
    browser.setGrouped(true);
    QCOMPARE(browser.model()->rowCount(), 2);
    const QStringList names = column(browser, Col::Name);
    const QString shortName = QStringLiteral("browser-test · T=2 α=0.9 · student.train.epochs=%1 student.train.limit=0 ×2")
                                  .arg(fixtureProject(1, 2.0).student.train.epochs);
    QVERIFY2(names.contains(shortName), qPrintable(names.join(QStringLiteral(" | "))));
    QVERIFY2(names.contains(QStringLiteral("browser-test · T=2 α=0.9 · student.train.epochs=7 student.train.limit=500 ×2")),
             qPrintable(names.join(QStringLiteral(" | "))));
}

void TestRunsBrowser::diffsConfigs()
{
    const QString folder = m_dir->path();
    writeRun(folder, QStringLiteral("a"), fixtureProject(1, 4), {0.9, 0.8, 0.8});
    writeRun(folder, QStringLiteral("b"), fixtureProject(2, 2), {0.9, 0.8, 0.8});
    kd::Project c = fixtureProject(1, 4);
    c.student.train.lr = 0.01;
    writeRun(folder, QStringLiteral("c"), c, {0.9, 0.8, 0.8});
    RunsBrowser browser;
    browser.addFolder(folder);
    QVERIFY(waitForRows(browser, 3));
    ConfigDiffView *diff = browser.configDiff();

    browser.selectDirs({QDir(folder).filePath(QStringLiteral("a"))});
    QVERIFY(diff->keys().isEmpty());
    QVERIFY(diff->message().contains(QStringLiteral("two or more")));

    browser.selectDirs({QDir(folder).filePath(QStringLiteral("a")), QDir(folder).filePath(QStringLiteral("b"))});
    // Only the keys that differ: the temperature and the seed (the name is the same).
    const QStringList keys = diff->keys();
    QCOMPARE(keys.size(), 2);
    QVERIFY2(keys.last() == QStringLiteral("seed") && keys.first().endsWith(QStringLiteral("temperature")), qPrintable(keys.join(' ')));
    QCOMPARE(diff->table()->columnCount(), 2);
    const int aColumn = diff->table()->horizontalHeaderItem(0)->text() == QStringLiteral("a") ? 0 : 1;
    QCOMPARE(diff->value(QStringLiteral("seed"), aColumn), QStringLiteral("1"));
    QCOMPARE(diff->value(QStringLiteral("seed"), 1 - aColumn), QStringLiteral("2"));

    browser.selectDirs({QDir(folder).filePath(QStringLiteral("a")), QDir(folder).filePath(QStringLiteral("c"))});
    QCOMPARE(diff->keys(), QStringList{QStringLiteral("student.train.lr")});
}

void TestRunsBrowser::exportsCsv()
{
    writeFixture(m_dir->path());
    RunsBrowser browser;
    browser.addFolder(m_dir->path());
    QVERIFY(waitForRows(browser, 10));
    browser.setFilterText(QStringLiteral("T=4 -status:damaged"));
    browser.table()->sortByColumn(Col::Seed, Qt::AscendingOrder);
    browser.setColumnVisible(Col::Date, false);
    const QString path = QDir(m_dir->path()).filePath(QStringLiteral("table.csv"));
    QString error;
    QVERIFY2(browser.exportCsv(path, &error), qPrintable(error));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly | QIODevice::Text));
    const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 4); // header, t4 seeds 1..3, torn-metrics (seed 11)
    QVERIFY(lines[0].startsWith(QStringLiteral("Name,Status,Dataset,")));
    QVERIFY(!lines[0].contains(QStringLiteral("Date")));
    QVERIFY(!lines[0].contains(QStringLiteral("Directory")));
    QVERIFY2(lines[1].startsWith(QStringLiteral("t4-seed1,completed,fashion-mnist,cnn_small,mlp,kd,T=4 α=0.9,1,90.00,80.00,79.00,+1.00,")),
             qPrintable(lines[1]));
    QVERIFY(lines[4].startsWith(QStringLiteral("torn-metrics,")));
    QVERIFY(!browser.exportCsv(QStringLiteral("/nonexistent-dir/x.csv"), &error));
    QVERIFY(error.contains(QStringLiteral("/nonexistent-dir/x.csv")));
}

void TestRunsBrowser::picksUpKdwRunFromAnotherProcess()
{
    const QString kdw = QStringLiteral(KD_BINARY_DIR "/bin/kdw");
    const QString project = QStringLiteral(KD_SOURCE_DIR "/projects/fashion-mnist-quick.json");
    if (!QFileInfo(kdw).isExecutable() || !QFileInfo::exists(QStringLiteral("/usr/share/datasets/fashion-mnist")))
        QSKIP("needs build/release/bin/kdw and the Fashion-MNIST files");
    RunsBrowser browser;
    browser.addFolder(m_dir->path());
    QVERIFY(waitForRows(browser, 0));
    const QString out = QDir(m_dir->path()).filePath(QStringLiteral("kdw-run"));
    QProcess proc;
    proc.start(kdw, {QStringLiteral("run"), project, QStringLiteral("--set"), QStringLiteral("dataset.limit=300"),
                     QStringLiteral("--set"), QStringLiteral("dataset.test_limit=200"), QStringLiteral("--set"),
                     QStringLiteral("teacher.train.epochs=1"), QStringLiteral("--set"), QStringLiteral("student.train.epochs=1"),
                     QStringLiteral("--set"), QStringLiteral("threads=1"), QStringLiteral("--out"), out});
    QVERIFY(proc.waitForStarted());
    QVERIFY(waitForRows(browser, 1, 60000));
    QTRY_COMPARE_WITH_TIMEOUT(cell(browser, 0, Col::Status), QStringLiteral("completed"), 120000);
    QVERIFY(proc.state() == QProcess::NotRunning || proc.waitForFinished(60000));
    QCOMPARE(proc.exitCode(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(!cell(browser, 0, Col::StudentAcc).isEmpty(), 10000);
    QCOMPARE(cell(browser, 0, Col::Name), QStringLiteral("kdw-run"));
    QCOMPARE(cell(browser, 0, Col::Method), QStringLiteral("kd"));
}

void TestRunsBrowser::mainWindowHasRunsDock()
{
    kd::app::MainWindow window;
    auto *dock = window.findChild<QDockWidget *>(QStringLiteral("RunsDock"));
    QVERIFY(dock);
    QCOMPARE(dock->widget(), window.runsBrowser());
    QStringList fileActions;
    for (QMenu *menu : window.menuBar()->findChildren<QMenu *>())
        if (menu->title() == QStringLiteral("&File"))
            for (QAction *a : menu->actions())
                fileActions << a->text();
    QVERIFY2(fileActions.contains(QStringLiteral("Open &Run…")) && fileActions.contains(QStringLiteral("Add Runs &Folder…")),
             qPrintable(fileActions.join(QStringLiteral(" | "))));
    QVERIFY(window.runsBrowser()->folders().contains(QDir::current().absoluteFilePath(QStringLiteral("runs"))));
}

void TestRunsBrowser::screenshots()
{
    const QString out = qEnvironmentVariable("KD_SCREENSHOT_DIR");
    if (out.isEmpty())
        QSKIP("set KD_SCREENSHOT_DIR to save the screenshots");
    QString runs = qEnvironmentVariable("KD_SCREENSHOT_RUNS");
    if (runs.isEmpty()) {
        runs = m_dir->path();
        writeFixture(runs);
    }
    RunsBrowser browser;
    browser.resize(1280, 640);
    MetricsChart chart;
    chart.resize(1000, 560);
    RunsChartLink link(&browser, &chart);
    browser.addFolder(runs);
    QSignalSpy updated(&browser, &RunsBrowser::runsUpdated);
    QVERIFY(updated.wait(10000));
    browser.show();
    chart.show();
    browser.setGrouped(true);
    browser.table()->sortByColumn(Col::StudentAcc, Qt::DescendingOrder);
    browser.table()->resizeColumnsToContents();
    // The two largest groups, compared.
    QList<int> rows;
    for (int r = 0; r < browser.proxy()->rowCount(); ++r)
        if (browser.model()->membersAt(browser.proxy()->mapToSource(browser.proxy()->index(r, 0)).row()).size() > 1)
            rows << r;
    QItemSelection selection;
    for (int r : rows.mid(0, 2))
        selection.select(browser.proxy()->index(r, 0), browser.proxy()->index(r, 0));
    browser.table()->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    QTest::qWait(200);
    QVERIFY(browser.grab().save(QDir(out).filePath(QStringLiteral("screenshot-runs-browser.png"))));
    // The largest group alone in the comparison chart: its mean test accuracy in a ± sd band.
    if (!rows.isEmpty()) {
        browser.table()->selectionModel()->select(browser.proxy()->index(rows.front(), 0),
                                                  QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        QTRY_VERIFY_WITH_TIMEOUT(!chart.plot()->bandKeys().isEmpty(), 10000);
        chart.setXAxis(ChartXAxis::Epoch);
        QTest::qWait(300);
        QVERIFY(chart.grab().save(QDir(out).filePath(QStringLiteral("screenshot-compare-band.png"))));
    }

    browser.setGrouped(false);
    browser.table()->resizeColumnsToContents();
    browser.tabs()->setCurrentIndex(1);
    QStringList dirs;
    for (int r = 0; r < browser.proxy()->rowCount() && dirs.size() < 3; ++r)
        if (cell(browser, r, Col::Status) == QLatin1String("completed"))
            dirs << browser.model()->dirsAt(browser.proxy()->mapToSource(browser.proxy()->index(r, 0)).row());
    browser.selectDirs(dirs);
    QTest::qWait(200);
    QVERIFY(browser.grab().save(QDir(out).filePath(QStringLiteral("screenshot-config-diff.png"))));
}

QTEST_MAIN(TestRunsBrowser)
#include "test_runs_browser.moc"
