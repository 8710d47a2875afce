// GUI tests (Qt Test, QT_QPA_PLATFORM=offscreen): the experiment editor round-trips and
// validates projects, the plots count what they are fed, and the training session runs,
// stops and tears down a real tiny Fashion-MNIST experiment without blocking the GUI.

#include <core/Priority.h>
#include <plots/AccuracyPlot.h>
#include <setup/DatasetEditor.h>
#include <setup/ExperimentPanel.h>
#include <views/LogPanel.h>
#include <plots/LossPlot.h>
#include <MainWindow.h>
#include <plots/ChartPlot.h>
#include <plots/MetricsChart.h>
#include <runs/RunsBrowser.h>
#include <runs/RunsTableModel.h>
#include <views/DistillationView.h>
#include <setup/MethodEditor.h>
#include <setup/ModelListEditor.h>
#include <setup/ModelEditor.h>
#include <setup/ParamEditor.h>
#include <setup/RegistryComboBox.h>
#include <views/ProgressPanel.h>
#include <views/ResultsTable.h>
#include <views/RunSummaryText.h>
#include <session/TrainingSession.h>

#include <project/ProjectConfig.h>
#include <project/Registries.h>
#include <runs/RunReader.h>
#include <training/StagePlan.h>

#include "../support/TestSupport.h"

#include <QAbstractItemView>
#include <QCheckBox>
#include <QDir>
#include <QDockWidget>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <memory>

using namespace kd::ui;
using kd::test::readJson;
using kd::test::readLines;
using json = nlohmann::json;

Q_DECLARE_METATYPE(kd::Project)

namespace {

const QString FashionMnistDir = QStringLiteral("/usr/share/datasets/fashion-mnist");

/// With KD_SCREENSHOT_DIR set, saves a PNG of `w` there (to look at what the user sees).
void saveScreenshot(QWidget &w, const QString &name)
{
    const QString dir = qEnvironmentVariable("KD_SCREENSHOT_DIR");
    if (!dir.isEmpty())
        QVERIFY2(w.grab().save(dir + '/' + name), qPrintable(dir + '/' + name));
}

/// The tiny real experiment of the session tests: 2000 training and 1000 test images,
/// one epoch each for a small CNN teacher and an MLP student, plus the scratch baseline.
kd::Project tinyProject(const QString &outputDir, int teacherEpochs = 1)
{
    kd::Project p;
    p.name = "gui-test";
    p.device = "cpu";
    p.threads = 1;
    p.outputDir = outputDir.toStdString();
    p.dataset.name = "fashion-mnist";
    p.dataset.path = FashionMnistDir.toStdString();
    p.dataset.limit = 2000;
    p.dataset.testLimit = 1000;
    p.teacher.arch = "cnn_small";
    p.teacher.archOptions = {{"width", 8}};
    p.teacher.train.epochs = teacherEpochs;
    p.teacher.train.batchSize = 64;
    p.teacher.train.logEvery = 5;
    p.student.arch = "mlp";
    p.student.train.epochs = 1;
    p.student.train.batchSize = 64;
    p.student.train.logEvery = 5;
    p.method.name = "kd";
    p.baseline = true;
    return p;
}

QString dump(const kd::Project &p)
{
    return QString::fromStdString(p.toJson().dump(2));
}

kd::MetricRecord stepRecord(const std::string &role, int step, std::vector<std::pair<std::string, double>> losses)
{
    kd::MetricRecord r;
    r.role = role;
    r.kind = kd::MetricRecord::Kind::Step;
    r.epoch = 1;
    r.step = step;
    r.losses = std::move(losses);
    return r;
}

kd::MetricRecord epochRecord(const std::string &role, int epoch, double train, double test)
{
    kd::MetricRecord r;
    r.role = role;
    r.kind = kd::MetricRecord::Kind::Epoch;
    r.epoch = epoch;
    r.trainAcc = train;
    r.testAcc = test;
    return r;
}

} // namespace

class TestGui : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void panelRoundTrip_data();
    void panelRoundTrip();
    void panelShowsTheCohortForOnlineMethods();
    void panelRejectsInvalid_data();
    void panelRejectsInvalid();
    void paramEditorsFromSpecs();
    void paramEditorListsAndUnknownKeys();
    void modelEditorShowsParameterCount();
    void editorsSwitchingChoiceDropStaleOptions();
    void featureParamsOfferNetworkFeatures();
    void teacherListsFollowMethod();
    void datasetEditorProbesFiles();

    void plotsCountPoints();
    void accuracyPlotDrawsBranchesAndEnsemble();
    void progressAndSummaryText();
    void resultsTableFollowsRun();

    void sessionRunsTinyExperiment();
    void sessionStopsMidRun();
    void sessionDestroyedMidRun();
    void sessionReportsFailure();

    void mainWindowOpensAndValidates();
    void mainWindowFollowsItsRunLive();
    void mainWindowClosedMidRunLeavesAResumableRun();
    void mainWindowShowsWorkerErrorsInADialog();

private:
    void requireDataset();
    kd::Registries m_registries = kd::Registries::builtin();
};

void TestGui::initTestCase()
{
    // Keep recent-file lists and window geometry out of the user's real settings.
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("KD Workbench Tests"));
    QCoreApplication::setApplicationName(QStringLiteral("test_gui"));
}

void TestGui::requireDataset()
{
    if (!QFile::exists(FashionMnistDir + QStringLiteral("/train-images-idx3-ubyte.gz")))
        QSKIP("Fashion-MNIST is not installed in /usr/share/datasets/fashion-mnist");
}

// --- ExperimentPanel -------------------------------------------------------------------

void TestGui::panelRoundTrip_data()
{
    QTest::addColumn<QString>("json");
    QTest::newRow("defaults") << dump(kd::Project());

    kd::Project p;
    p.name = "round-trip";
    p.seed = 123456789012ULL;
    p.device = "cuda:1";
    p.threads = 3;
    p.outputDir = "/tmp/kd-runs";
    p.evalBatchSize = 500;
    p.baseline = false;
    p.dataset.path = "/data/fashion";
    p.dataset.limit = 5000;
    p.dataset.testLimit = 700;
    p.dataset.valSplit = 0.1;
    p.dataset.normalize = false;
    p.teacher.arch = "cnn_small";
    p.teacher.archOptions = {{"width", 16}};
    p.teacher.checkpoint = "/tmp/teacher.pt";
    p.teacher.train.optimizer = "adam";
    p.teacher.train.lr = 0.001;
    p.teacher.train.beta1 = 0.85;
    p.teacher.train.beta2 = 0.995;
    p.teacher.train.lrSchedule = "cosine";
    p.teacher.train.lrMin = 1e-5;
    p.teacher.train.epochs = 7;
    p.teacher.train.batchSize = 64;
    p.teacher.train.weightDecay = 0.0;
    p.teacher.train.logEvery = 7;
    p.student.arch = "mlp";
    p.student.archOptions = {{"hidden", {256, 64}}, {"dropout", 0.25}};
    p.student.train.nesterov = true;
    p.student.train.lr = 0.1;
    p.student.train.momentum = 0.95;
    p.student.train.lrSchedule = "step";
    p.student.train.lrStepEpochs = 3;
    p.student.train.lrGamma = 0.5;
    p.student.train.weightDecay = 5e-4;
    p.method.params = {{"temperature", 3.5}, {"alpha", 0.7}};
    p.teacherCache = "off";
    p.teacherCacheMaxMB = 64;
    p.memoryFormat = "contiguous";
    p.precision = "bf16";
    p.dataset.labels = "coarse";
    p.dataset.imageSize = 32;
    p.dataset.channels = 3;
    p.dataset.testSplit = 0.25;
    p.dataset.randomCropPadding = 4;
    p.dataset.horizontalFlip = true;
    kd::ModelSpec extra;
    extra.arch = "cnn_small";
    extra.archOptions = {{"width", 8}};
    extra.checkpoint = "/tmp/t1.pt";
    extra.generalist = true;
    extra.train.epochs = 2;
    p.teachers = {extra};
    extra.checkpoint.clear();
    extra.generalist = false;
    extra.arch = "lenet5";
    extra.archOptions = nlohmann::json::object();
    p.teachers.push_back(extra);
    p.assistants = {extra};
    p.hasProxy = true;
    p.proxy.name = "mnist";
    p.proxy.limit = 100;
    QTest::newRow("every field changed") << dump(p);

    kd::Project ensemble;
    ensemble.method.name = "ensemble";
    ensemble.teachers = {extra, extra};
    QTest::newRow("multi-teacher") << dump(ensemble);

    kd::Project ce;
    ce.method.name = "ce";
    ce.teacher.archOptions = {{"width", 4}};
    QTest::newRow("method without teacher") << dump(ce);

    // Every project file shipped in projects/ must survive the editor unchanged.
    const QDir projects(QStringLiteral(KD_SOURCE_DIR "/projects"));
    for (const QString &file : projects.entryList({QStringLiteral("*.json")}, QDir::Files)) {
        const auto loaded = kd::Project::load(projects.filePath(file).toStdString());
        QTest::newRow(qPrintable(QStringLiteral("projects/") + file)) << dump(loaded);
    }
}

void TestGui::panelRoundTrip()
{
    QFETCH(QString, json);
    const kd::Project input = kd::Project::fromJson(nlohmann::json::parse(json.toStdString()));
    ExperimentPanel panel(m_registries);
    QSignalSpy changed(&panel, &ExperimentPanel::changed);
    panel.setProject(input);
    QCOMPARE(dump(panel.project()), json);
    QCOMPARE(changed.count(), 0); // loading is not an edit
}

void TestGui::panelShowsTheCohortForOnlineMethods()
{
    ExperimentPanel panel(m_registries);
    panel.show();
    panel.setProject(kd::Project::load(KD_SOURCE_DIR "/projects/fashion-mnist-dml.json"));
    auto *tabs = panel.findChild<QTabWidget *>();
    QVERIFY(tabs);
    QCOMPARE(tabs->tabText(3), QStringLiteral("Peers"));
    tabs->setCurrentIndex(3);
    QCOMPARE(panel.peersEditor()->count(), 2);
    QVERIFY(panel.peersEditor()->isVisibleTo(&panel));
    QVERIFY(panel.validate().isEmpty());
    panel.resize(420, 700);
    saveScreenshot(panel, QStringLiteral("gui-peers.png"));
    // A peer removed: the cohort is refused with the engine's message, shown in the panel.
    auto p = panel.project();
    p.peers.pop_back();
    panel.setProject(p);
    QVERIFY2(panel.validate().contains(QStringLiteral("at least 2 in \"peers\"")), qPrintable(panel.errorText()));
    // Back to teacher → student: the peers' box stays visible while it holds peers (nothing
    // in the project is hidden), and the Student tab is the student again.
    p = panel.project();
    p.method.name = "kd";
    p.method.params = nlohmann::json::object();
    p.peers.clear();
    panel.setProject(p);
    QCOMPARE(tabs->tabText(3), QStringLiteral("Student"));
    QVERIFY(!panel.peersEditor()->isVisibleTo(&panel));
}

void TestGui::panelRejectsInvalid_data()
{
    QTest::addColumn<kd::Project>("project");
    QTest::addColumn<QString>("expected");

    auto row = [](const char *name, auto edit, const char *expected) {
        kd::Project p;
        edit(p);
        QTest::newRow(name) << p << QString::fromLatin1(expected);
    };
    row("unknown method", [](kd::Project &p) { p.method.name = "distill_magic"; }, "unknown method \"distill_magic\"");
    row("method value out of range", [](kd::Project &p) { p.method.params = {{"temperature", -1.0}}; },
        "method.temperature");
    row("unknown method key", [](kd::Project &p) { p.method.params = {{"gamma", 1}}; }, "method.gamma");
    row("unknown architecture", [](kd::Project &p) { p.student.arch = "resnet9000"; },
        "unknown architecture \"resnet9000\"");
    row("bad arch option", [](kd::Project &p) { p.student.archOptions = {{"hidden", {0}}}; },
        "student.arch_options.hidden");
    row("wrong option type", [](kd::Project &p) { p.teacher.archOptions = {{"width", "wide"}}; },
        "teacher.arch_options.width");
    row("nesterov with adam", [](kd::Project &p) {
        p.teacher.train.optimizer = "adam";
        p.teacher.train.nesterov = true;
    }, "nesterov");
    row("name with slash", [](kd::Project &p) { p.name = "a/b"; }, "name");
    row("unknown dataset", [](kd::Project &p) { p.dataset.name = "cifar-1000"; }, "unknown dataset");
    row("takd without assistants", [](kd::Project &p) { p.method.name = "takd"; }, "assistant");
    row("assistants with kd", [](kd::Project &p) {
        p.assistants.resize(1);
        p.assistants[0].arch = "mlp";
    }, "assistants are used only by method \"takd\"");
    row("missing checkpoint", [](kd::Project &p) { p.teacher.checkpoint = "/nonexistent/teacher.pt"; },
        "teacher.checkpoint");
}

void TestGui::panelRejectsInvalid()
{
    // Built in code, not parsed: fromJson() would reject some of these before the panel.
    QFETCH(kd::Project, project);
    QFETCH(QString, expected);
    ExperimentPanel panel(m_registries);
    panel.show();
    panel.setProject(project);
    QVERIFY2(panel.isErrorVisible(), "an invalid project must show its problem at once");
    QVERIFY2(panel.errorText().contains(expected), qPrintable(panel.errorText()));
    QVERIFY(!panel.validate().isEmpty());
    // The editor keeps the bad value, so the message matches what the project says,
    // rather than silently replacing it.
    QCOMPARE(dump(panel.project()), dump(project));

    // Back to a valid project: the error line goes away.
    panel.setProject(kd::Project());
    QVERIFY(!panel.isErrorVisible());
    QVERIFY(panel.validate().isEmpty());
}

void TestGui::paramEditorsFromSpecs()
{
    ExperimentPanel panel(m_registries);
    ParamEditor *params = panel.methodEditor()->paramEditor();
    const auto &specs = m_registries.methods.get("kd").params;
    QCOMPARE(params->rowCount(), int(specs.size()));
    for (const auto &spec : specs) {
        QWidget *editor = params->editorFor(QString::fromStdString(spec.key));
        QVERIFY2(editor, spec.key.c_str());
        QVERIFY(editor->toolTip().contains(QString::fromStdString(spec.help)));
        QVERIFY(editor->toolTip().contains(QString::fromStdString(kd::describeRange(spec))));
    }
    auto *temperature = qobject_cast<QDoubleSpinBox *>(params->editorFor(QStringLiteral("temperature")));
    QVERIFY(temperature);
    QCOMPARE(temperature->value(), 4.0);
    QCOMPARE(temperature->minimum(), 0.05);

    QSignalSpy changed(&panel, &ExperimentPanel::changed);
    temperature->setValue(2.5);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(panel.project().method.params.at("temperature").get<double>(), 2.5);
    QVERIFY(!panel.project().method.params.contains("alpha")); // untouched: the engine's default
}

void TestGui::paramEditorListsAndUnknownKeys()
{
    ParamEditor editor;
    editor.setSpecs(m_registries.architectures.get("mlp").params);
    editor.setValues({{"hidden", {64, 32}}, {"bogus", 1}});
    auto *hidden = qobject_cast<QLineEdit *>(editor.editorFor(QStringLiteral("hidden")));
    QVERIFY(hidden);
    QCOMPARE(hidden->text(), QStringLiteral("64,32"));
    QCOMPARE(editor.values(), (nlohmann::json{{"hidden", {64, 32}}, {"bogus", 1}}));

    hidden->setText(QStringLiteral("256, 128 ,10"));
    Q_EMIT hidden->editingFinished();
    QCOMPARE(editor.values().at("hidden"), (nlohmann::json{256, 128, 10}));

    // Unparsable text is kept as text, so validation names the field and what it expects.
    hidden->setText(QStringLiteral("12,a"));
    Q_EMIT hidden->editingFinished();
    QVERIFY(editor.values().at("hidden").is_string());
    kd::Project p;
    p.student.archOptions = editor.values();
    p.student.archOptions.erase("bogus");
    try {
        m_registries.resolve(p);
        QFAIL("resolve() accepted a malformed list");
    } catch (const kd::Error &e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("student.arch_options.hidden")), e.what());
    }
}

void TestGui::modelEditorShowsParameterCount()
{
    ModelEditor editor(m_registries.architectures, ModelEditor::NoOptions);
    kd::ModelSpec spec;
    spec.arch = "mlp";
    spec.archOptions = {{"hidden", {10}}};
    editor.setSpec(spec);
    editor.updateInfoNow();
    // 784*10+10 + 10*10+10 = 7960 parameters
    QVERIFY2(editor.infoText().contains(QLocale().toString(7960)), qPrintable(editor.infoText()));

    spec.archOptions = {{"hidden", {10}}, {"dropout", 2.0}}; // out of range
    editor.setSpec(spec);
    editor.updateInfoNow();
    QVERIFY2(editor.infoText().contains(QStringLiteral("Cannot build")), qPrintable(editor.infoText()));
}

/// Picking another architecture or method in the editors does what `kdw run --set` does:
/// the previous choice's own options go (with a note), shared ones stay.
void TestGui::editorsSwitchingChoiceDropStaleOptions()
{
    auto pick = [](QWidget *editor, const QString &name) {
        auto *box = editor->findChild<RegistryComboBox *>();
        QVERIFY(box);
        const int i = box->findText(name);
        QVERIFY2(i >= 0, qPrintable(name));
        box->setCurrentIndex(i);
    };
    ModelEditor model(m_registries.architectures, ModelEditor::NoOptions);
    kd::ModelSpec spec;
    spec.arch = "mlp";
    spec.archOptions = {{"hidden", {128}}, {"activation", "lma"}};
    model.setSpec(spec);
    QVERIFY(model.noteText().isEmpty());
    QSignalSpy modelChanged(&model, &ModelEditor::changed);
    pick(&model, QStringLiteral("cnn_small"));
    QCOMPARE(modelChanged.count(), 1);
    QCOMPARE(model.spec().arch, std::string("cnn_small"));
    QCOMPARE(model.spec().archOptions, nlohmann::json({{"activation", "lma"}})); // cnn_small has activation too
    QVERIFY2(model.noteText().contains(QStringLiteral("arch_options.hidden = [128] dropped")), qPrintable(model.noteText()));
    QVERIFY(model.noteText().contains(QStringLiteral("activation = \"lma\" kept")));
    {
        kd::Project p;
        p.student = model.spec();
        QVERIFY(!m_registries.resolve(p).student.archOptions.contains("hidden"));
    }
    model.setSpec(spec); // loading a project clears the note
    QVERIFY(model.noteText().isEmpty());

    MethodEditor method(m_registries.methods);
    kd::MethodOptions kd;
    kd.name = "kd";
    kd.params = {{"temperature", 2.0}, {"alpha", 0.5}};
    method.setOptions(kd);
    pick(&method, QStringLiteral("fitnet"));
    QCOMPARE(method.options().name, std::string("fitnet"));
    QVERIFY2(method.options().params.empty(), method.options().params.dump().c_str());
    QVERIFY(method.noteText().contains(QStringLiteral("method.alpha = 0.5 dropped: an option of method \"kd\", not of \"fitnet\"")));
    QVERIFY(method.noteText().contains(QStringLiteral("method.temperature = 2.0 dropped")));
    method.setOptions(kd);
    pick(&method, QStringLiteral("dkd")); // declares temperature and alpha as well
    QCOMPARE(method.options().params, nlohmann::json({{"temperature", 2.0}, {"alpha", 0.5}}));
}

void TestGui::featureParamsOfferNetworkFeatures()
{
    ExperimentPanel panel(m_registries);
    kd::Project p;
    p.teacher.arch = "cnn_large";
    p.student.arch = "cnn_small";
    p.method.name = "at";
    panel.setProject(p);
    panel.studentEditor()->updateInfoNow();
    panel.teacherEditor()->updateInfoNow();
    ParamEditor *params = panel.methodEditor()->paramEditor();
    const QStringList student = params->featureChoices(QStringLiteral("student_features"));
    const QStringList teacher = params->featureChoices(QStringLiteral("teacher_features"));
    QVERIFY2(student.contains(QStringLiteral("all")) && student.contains(QStringLiteral("stage2")),
             qPrintable(student.join(',')));
    QVERIFY(!student.contains(QStringLiteral("stage3"))); // cnn_small has two stages
    QVERIFY2(teacher.contains(QStringLiteral("stage3")) && teacher.contains(QStringLiteral("pre_logits")),
             qPrintable(teacher.join(',')));
    QVERIFY(params->featureChoices(QStringLiteral("beta")).isEmpty());

    // Picking an offered name, or typing a list, sets the value; unedited keys stay unset.
    auto *box = qobject_cast<QComboBox *>(params->editorFor(QStringLiteral("student_features")));
    QVERIFY(box && box->isEditable());
    QCOMPARE(box->currentText(), QStringLiteral("all")); // the default
    QSignalSpy changed(&panel, &ExperimentPanel::changed);
    box->setCurrentIndex(box->findText(QStringLiteral("stage2")));
    Q_EMIT box->activated(box->currentIndex());
    QCOMPARE(changed.count(), 1);
    QCOMPARE(panel.project().method.params.at("student_features").get<std::string>(), std::string("stage2"));
    box->setEditText(QStringLiteral("stage1,stage2"));
    Q_EMIT box->lineEdit()->editingFinished();
    QCOMPARE(panel.project().method.params.at("student_features").get<std::string>(), std::string("stage1,stage2"));
    QVERIFY(!panel.project().method.params.contains("teacher_features"));

    // Another student architecture changes the offer, not the typed value.
    kd::ModelSpec lenet;
    lenet.arch = "lenet5";
    panel.studentEditor()->setSpec(lenet);
    panel.studentEditor()->updateInfoNow();
    QVERIFY(params->featureChoices(QStringLiteral("student_features")).contains(QStringLiteral("stage1")));
    QCOMPARE(box->currentText(), QStringLiteral("stage1,stage2"));

    // KD_SCREENSHOT_DIR=dir: save the method page and the open list, to look at.
    if (const QString dir = qEnvironmentVariable("KD_SCREENSHOT_DIR"); !dir.isEmpty()) {
        panel.resize(420, 700);
        panel.show();
        panel.methodEditor()->grab().save(dir + QStringLiteral("/method-editor.png"));
        box->showPopup();
        QCoreApplication::processEvents();
        box->view()->window()->grab().save(dir + QStringLiteral("/feature-list.png"));
        box->hidePopup();
    }
}

void TestGui::teacherListsFollowMethod()
{
    ExperimentPanel panel(m_registries);
    panel.show();
    kd::Project p;
    p.method.name = "ensemble";
    panel.setProject(p);
    QVERIFY(panel.teacherEditor()->isHidden()); // unused by a multi-teacher method
    QVERIFY2(panel.errorText().contains(QStringLiteral("ensemble")), qPrintable(panel.errorText()));

    QSignalSpy changed(&panel, &ExperimentPanel::changed);
    ModelListEditor *teachers = panel.teachersEditor();
    teachers->addEntry();
    teachers->addEntry();
    QCOMPARE(changed.count(), 2);
    QCOMPARE(panel.project().teachers.size(), std::size_t(2));
    QVERIFY2(panel.validate().isEmpty(), qPrintable(panel.validate()));

    // Each entry has its own Remove button.
    QPushButton *remove = nullptr;
    for (QPushButton *b : teachers->findChildren<QPushButton *>())
        if (b->text() == QStringLiteral("Remove"))
            remove = b;
    QVERIFY(remove);
    remove->click();
    QCOMPARE(panel.project().teachers.size(), std::size_t(1));
    QVERIFY(!panel.validate().isEmpty()); // an ensemble of one

    // Back to a single-teacher method: the teacher editor returns, the list stays visible
    // because it still holds an entry (and validation says it must go).
    p.method.name = "kd";
    p.teachers = panel.project().teachers;
    panel.setProject(p);
    QVERIFY(!panel.teacherEditor()->isHidden());
    QVERIFY2(panel.errorText().contains(QStringLiteral("teachers")), qPrintable(panel.errorText()));
}

void TestGui::datasetEditorProbesFiles()
{
    DatasetEditor editor(m_registries.datasets);
    kd::DatasetOptions options;
    options.path = "/nonexistent/folder";
    editor.setOptions(options);
    QVERIFY2(editor.statusText().contains(QStringLiteral("not found")), qPrintable(editor.statusText()));
    options.path.clear();
    editor.setOptions(options);
    if (QFile::exists(FashionMnistDir))
        QVERIFY2(editor.statusText().startsWith(QStringLiteral("✓")), qPrintable(editor.statusText()));
}

// --- Plots and text ----------------------------------------------------------------------

void TestGui::plotsCountPoints()
{
    LossPlot loss;
    AccuracyPlot accuracy;
    QVector<kd::MetricRecord> batch;
    for (int s = 1; s <= 10; ++s) {
        batch << stepRecord("teacher", s * 5, {{"loss", 2.0 / s}, {"ce", 2.0 / s}});
        batch << stepRecord("student", s * 5, {{"loss", 1.5 / s}, {"ce", 1.0 / s}, {"kd", 0.5 / s}});
    }
    batch << epochRecord("teacher", 1, 0.7, 0.75) << epochRecord("student", 1, 0.6, NAN);
    loss.addRecords(batch);
    accuracy.addRecords(batch);
    // Teacher: total only (its single term equals the total); student: total, ce, kd.
    QCOMPARE(loss.pointCount(), 10 + 3 * 10);
    QCOMPARE(loss.seriesNames().size(), 4);
    QVERIFY(loss.seriesNames().contains(QStringLiteral("student (KD) · kd")));
    QCOMPARE(accuracy.pointCount(), 3);
    QVERIFY(accuracy.seriesNames().contains(QStringLiteral("teacher · test")));
    QCOMPARE(accuracy.graph(0)->data()->begin()->value, 70.0); // fractions shown as percent

    loss.clear();
    accuracy.clear();
    QCOMPARE(loss.pointCount(), 0);
    QCOMPARE(accuracy.pointCount(), 0);
}

/// A multi-branch student's epoch record carries every branch's and the ensemble's test
/// accuracy as extra metrics: each is a curve of its own beside the student's train and test.
void TestGui::accuracyPlotDrawsBranchesAndEnsemble()
{
    AccuracyPlot accuracy;
    auto r = epochRecord("student", 1, 0.6, 0.5);
    r.extra = {{"branch1_acc", 0.5}, {"branch2_acc", 0.55}, {"ensemble_acc", 0.58}, {"kl_to_teacher", 0.3}};
    accuracy.addRecords({r});
    QCOMPARE(accuracy.pointCount(), 2 + 3); // not the KL, which is no accuracy
    const auto names = accuracy.seriesNames();
    for (const char *n : {"student (KD) · branch1 (test)", "student (KD) · branch2 (test)", "student (KD) · ensemble (test)"})
        QVERIFY2(names.contains(QString::fromUtf8(n)), n);
    QSet<QRgb> colours;
    for (int i = 0; i < accuracy.graphCount(); ++i)
        if (accuracy.graph(i)->name().endsWith(QStringLiteral("(test)"))) {
            colours.insert(accuracy.graph(i)->pen().color().rgb());
            QCOMPARE(accuracy.graph(i)->pen().style(), Qt::DashDotLine);
        }
    QCOMPARE(colours.size(), 3); // one shade each
    auto ensemble = std::find_if(names.begin(), names.end(), [](const QString &n) { return n.contains(QStringLiteral("ensemble")); });
    QVERIFY(ensemble != names.end());
    QCOMPARE(accuracy.graph(int(ensemble - names.begin()))->data()->begin()->value, 58.0);
}

void TestGui::progressAndSummaryText()
{
    kd::ProgressInfo p;
    p.role = "student";
    p.stageIndex = 1;
    p.stageCount = 2;
    p.epoch = 2;
    p.epochs = 5;
    p.stepInEpoch = 40;
    p.stepsPerEpoch = 469;
    p.overallFraction = 0.5;
    p.etaSeconds = 65;
    p.imagesPerSecond = 2310;
    ProgressPanel panel;
    panel.setProgress(p);
    QVERIFY2(panel.text().contains(QStringLiteral("epoch 2/5")), qPrintable(panel.text()));
    QVERIFY(panel.text().contains(QStringLiteral("stage 2/2")));
    QVERIFY(panel.text().contains(QStringLiteral("ETA 1:05")));
    QCOMPARE(panel.percent(), 50);
    QCOMPARE(ProgressPanel::formatDuration(3723), QStringLiteral("1:02:03"));

    kd::RunSummary s;
    s.status = "completed";
    s.wallSeconds = 72;
    for (const auto &[role, accuracy] : {std::pair<const char *, double>{"teacher", 0.881},
                                         {"student", 0.842}, {"student_scratch", 0.830}}) {
        kd::RoleSummary r;
        r.role = role;
        r.bestTestAcc = r.finalTestAcc = accuracy;
        r.completed = true;
        s.roles.push_back(r);
    }
    const QString line = formatRunSummary(s);
    QVERIFY2(line.contains(QStringLiteral("student (KD) 84.2 % vs scratch 83.0 % (+1.2 pts)")), qPrintable(line));
    QVERIFY(line.startsWith(QStringLiteral("completed in 1:12")));
}

void TestGui::resultsTableFollowsRun()
{
    kd::Project p;
    p.baseline = true;
    ResultsTable table;
    table.reset(kd::planStages(m_registries.resolve(p), m_registries.methods));
    QCOMPARE(table.rowCount(), 3);
    QCOMPARE(table.cell(QStringLiteral("student"), QStringLiteral("Status")), QStringLiteral("waiting"));
    table.setStage(QStringLiteral("teacher"), 0, 3);
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("Status")), QStringLiteral("training"));

    kd::MetricRecord r = epochRecord("teacher", 1, 0.70, 0.80);
    r.extra = {{"robust_acc", 0.45}, {"margin", 1.5}};
    table.addRecords({r, epochRecord("teacher", 2, 0.75, 0.78)});
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("Test")), QStringLiteral("78.0 %"));
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("Best")), QStringLiteral("80.0 %"));
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("robust_acc")), QStringLiteral("45.0 %"));
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("margin")), QStringLiteral("1.5"));

    kd::RunSummary summary;
    summary.status = "stopped";
    kd::RoleSummary teacher;
    teacher.role = "teacher";
    teacher.params = 1234;
    teacher.completed = true;
    summary.roles.push_back(teacher);
    table.setSummary(summary);
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("Status")), QStringLiteral("done"));
    QCOMPARE(table.cell(QStringLiteral("student"), QStringLiteral("Status")), QStringLiteral("not run"));
    QCOMPARE(table.cell(QStringLiteral("teacher"), QStringLiteral("Params")), QLocale().toString(1234));
}

// --- TrainingSession with a real tiny run ------------------------------------------------

void TestGui::sessionRunsTinyExperiment()
{
    requireDataset();
    QTemporaryDir out;
    QVERIFY(out.isValid());
    TrainingSession session;
    LossPlot loss;
    AccuracyPlot accuracy;
    ProgressPanel progress;
    LogPanel log;
    ResultsTable results;
    const kd::Project project = tinyProject(out.path());
    results.reset(kd::planStages(m_registries.resolve(project), m_registries.methods));
    connect(&session, &TrainingSession::metricsArrived, &results, &ResultsTable::addRecords);
    connect(&session, &TrainingSession::stageStarted, &results, &ResultsTable::setStage);
    connect(&session, &TrainingSession::finished, &results, &ResultsTable::setSummary);
    connect(&session, &TrainingSession::metricsArrived, &loss, &LossPlot::addRecords);
    connect(&session, &TrainingSession::metricsArrived, &accuracy, &AccuracyPlot::addRecords);
    connect(&session, &TrainingSession::progressChanged, &progress, &ProgressPanel::setProgress);
    connect(&session, &TrainingSession::logMessage, &log, &LogPanel::appendMessage);
    QSignalSpy metrics(&session, &TrainingSession::metricsArrived);
    QSignalSpy progressSpy(&session, &TrainingSession::progressChanged);
    QSignalSpy stages(&session, &TrainingSession::stageStarted);
    QSignalSpy logs(&session, &TrainingSession::logMessage);
    QSignalSpy running(&session, &TrainingSession::runningChanged);
    QSignalSpy finished(&session, &TrainingSession::finished);
    QSignalSpy failed(&session, &TrainingSession::failed);

    // The GUI thread must stay responsive: a 10 ms timer measures the longest gap between
    // its ticks while the run goes on in the background.
    QElapsedTimer sinceTick;
    qint64 longestGap = 0;
    QTimer ticker;
    ticker.setInterval(10);
    connect(&ticker, &QTimer::timeout, this, [&] {
        longestGap = std::max(longestGap, sinceTick.restart());
    });

    const int guiNice = kd::currentThreadNice();
    QVERIFY(session.start(project));
    QVERIFY(session.isRunning());
    QVERIFY(!session.start(tinyProject(out.path()))); // one run at a time
    sinceTick.start();
    ticker.start();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() > 0, 480000);
    ticker.stop();
    if (!failed.isEmpty())
        QFAIL(qPrintable(failed.first().first().toString()));

    QVERIFY(metrics.count() > 0);
    QVERIFY(progressSpy.count() > 0);
    // The device in use is shown beside the progress (tinyProject trains on the CPU).
    QVERIFY2(progress.text().contains(QStringLiteral("cpu (")), qPrintable(progress.text()));
    QVERIFY(stages.count() >= 2);
    QVERIFY(logs.count() > 0);
    QVERIFY(loss.pointCount() > 0);
    QVERIFY(accuracy.pointCount() > 0);
    QVERIFY(!log.toPlainText().isEmpty());
    // Training ran at background priority; the GUI thread kept its own.
    QVERIFY2(log.toPlainText().contains(QStringLiteral("training at background CPU priority (nice ")),
             qPrintable(log.toPlainText().left(2000)));
    QCOMPARE(kd::currentThreadNice(), guiNice);
    QCOMPARE(running.count(), 2);
    QCOMPARE(running.at(0).at(0).toBool(), true);
    QCOMPARE(running.at(1).at(0).toBool(), false);
    QVERIFY(!session.isRunning());

    const auto summary = finished.first().first().value<kd::RunSummary>();
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("completed"));
    for (const char *role : {"teacher", "student", "student_scratch"}) {
        const kd::RoleSummary *r = summary.find(role);
        QVERIFY2(r, role);
        QVERIFY2(r->completed, role);
        QVERIFY2(std::isfinite(r->finalTestAcc) && r->finalTestAcc > 0.2, role);
    }
    QVERIFY(QFile::exists(QDir(QString::fromStdString(summary.runDir)).filePath(QStringLiteral("summary.json"))));
    QVERIFY(QString::fromStdString(summary.runDir).startsWith(out.path()));
    // Every role's accuracy arrived through the session, and the plot shows all three.
    for (const char *label : {"teacher · test", "student (KD) · test", "student (scratch) · test"})
        QVERIFY2(accuracy.seriesNames().contains(QString::fromUtf8(label)), label);
    QCOMPARE(results.rowCount(), 3);
    for (const char *role : {"teacher", "student", "student_scratch"}) {
        QCOMPARE(results.cell(QString::fromLatin1(role), QStringLiteral("Status")), QStringLiteral("done"));
        QVERIFY2(results.cell(QString::fromLatin1(role), QStringLiteral("Best")).endsWith(QStringLiteral("%")), role);
    }
    QVERIFY2(longestGap < 1000, qPrintable(QStringLiteral("GUI thread blocked for %1 ms").arg(longestGap)));
}

void TestGui::sessionStopsMidRun()
{
    requireDataset();
    QTemporaryDir out;
    TrainingSession session;
    QSignalSpy metrics(&session, &TrainingSession::metricsArrived);
    QSignalSpy finished(&session, &TrainingSession::finished);
    QSignalSpy failed(&session, &TrainingSession::failed);
    // Long enough that it cannot end by itself before the stop.
    QVERIFY(session.start(tinyProject(out.path(), 50)));
    QTRY_VERIFY_WITH_TIMEOUT(metrics.count() > 0 || failed.count() > 0, 120000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));

    QElapsedTimer sinceStop;
    sinceStop.start();
    session.stop();
    QVERIFY(session.isStopRequested());
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() > 0, 60000);
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
    QVERIFY2(sinceStop.elapsed() < 20000, qPrintable(QString::number(sinceStop.elapsed())));
    const auto summary = finished.first().first().value<kd::RunSummary>();
    QCOMPARE(QString::fromStdString(summary.status), QStringLiteral("stopped"));
    QVERIFY(QFile::exists(QDir(QString::fromStdString(summary.runDir)).filePath(QStringLiteral("summary.json"))));
    QVERIFY(!session.isRunning());

    // The session can run again after a stop (a new run, a new directory).
    QSignalSpy metrics2(&session, &TrainingSession::metricsArrived);
    QVERIFY(session.start(tinyProject(out.path(), 50)));
    QTRY_VERIFY_WITH_TIMEOUT(metrics2.count() > 0, 120000);
    session.stop();
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 2, 60000);
}

void TestGui::sessionDestroyedMidRun()
{
    requireDataset();
    QTemporaryDir out;
    {
        // Destroyed right after start, before the worker may even have begun.
        TrainingSession session;
        QVERIFY(session.start(tinyProject(out.path(), 50)));
    }
    auto session = std::make_unique<TrainingSession>();
    QSignalSpy metrics(session.get(), &TrainingSession::metricsArrived);
    QVERIFY(session->start(tinyProject(out.path(), 50)));
    QTRY_VERIFY_WITH_TIMEOUT(metrics.count() > 0, 120000);
    QElapsedTimer timer;
    timer.start();
    session.reset(); // must stop the run and join the thread, not crash or hang
    QVERIFY2(timer.elapsed() < 20000, qPrintable(QString::number(timer.elapsed())));
}

void TestGui::sessionReportsFailure()
{
    QTemporaryDir out;
    TrainingSession session;
    QSignalSpy finished(&session, &TrainingSession::finished);
    QSignalSpy failed(&session, &TrainingSession::failed);
    QSignalSpy running(&session, &TrainingSession::runningChanged);
    kd::Project p = tinyProject(out.path());
    p.dataset.path = "/nonexistent/fashion";
    QVERIFY(session.start(p));
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, 60000);
    QCOMPARE(finished.count(), 0);
    QVERIFY2(failed.first().first().toString().contains(QStringLiteral("/nonexistent/fashion")),
             qPrintable(failed.first().first().toString()));
    QCOMPARE(running.count(), 2);
    QVERIFY(!session.isRunning());
}

// --- The window's composition -----------------------------------------------------------

void TestGui::mainWindowFollowsItsRunLive()
{
    requireDataset();
    QTemporaryDir out;
    kd::app::MainWindow window;
    window.show();
    kd::Project project = tinyProject(out.path(), 2);
    project.name = "live-window";
    window.experimentPanel()->setProject(project);
    auto *chart = window.findChild<MetricsChart *>(QStringLiteral("CompareChart"));
    auto *distillation = window.findChild<DistillationView *>();
    QVERIFY(chart && distillation);
    RunsBrowser *browser = window.runsBrowser();
    QVERIFY(window.startRun());

    // While it trains: listed, selected (the current run), and its curves grow in the Compare
    // chart from the run directory's metrics.csv.
    const QString runDir = RunsTableModel::normalizeDir(browser->currentRun());
    QVERIFY(!runDir.isEmpty());
    bool listedWhileRunning = false, curvesWhileRunning = false;
    std::size_t pointsSeen = 0;
    QElapsedTimer clock;
    clock.start();
    while (window.session()->isRunning() && clock.elapsed() < 240000) {
        QTest::qWait(50);
        if (!window.session()->isRunning())
            break;
        listedWhileRunning = listedWhileRunning || browser->selectedDirs().contains(runDir);
        if (const ChartSeries *s = chart->plot()->series(runDir + QStringLiteral("/teacher/loss"))) {
            curvesWhileRunning = true;
            pointsSeen = std::max(pointsSeen, s->y.size());
        }
    }
    QVERIFY(!window.session()->isRunning());
    QVERIFY2(listedWhileRunning, "the running run was never selected in the runs browser");
    QVERIFY2(curvesWhileRunning, "the running run's curves never reached the Compare chart");
    QVERIFY(pointsSeen > 0);

    // Finished: no longer pinned, still listed as completed; its distillation views are shown.
    QTRY_VERIFY(browser->currentRun().isEmpty());
    QTRY_VERIFY_WITH_TIMEOUT(browser->model()->runForDir(runDir)
                                 && browser->model()->runForDir(runDir)->state == kd::RunState::Completed, 15000);
    QCOMPARE(RunsTableModel::normalizeDir(distillation->runDirectory()), runDir);
    QVERIFY(!distillation->epochs().empty());
    QVERIFY(window.findChild<QDockWidget *>(QStringLiteral("DistillationDock"))->isVisible());
    // The whole run's curve is in the chart once it has been read again after the end.
    QTRY_VERIFY_WITH_TIMEOUT(chart->plot()->series(runDir + QStringLiteral("/teacher/loss"))
                                 && chart->plot()->series(runDir + QStringLiteral("/teacher/loss"))->y.size() >= pointsSeen,
                             10000);
}

void TestGui::mainWindowClosedMidRunLeavesAResumableRun()
{
    requireDataset();
    QTemporaryDir out;
    kd::Project project = tinyProject(out.path(), 50);
    project.name = "closed-mid-run";
    const QString file = out.filePath(QStringLiteral("closed.json"));
    project.save(file.toStdString());
    QString runDir;
    {
        kd::app::MainWindow window;
        window.show();
        QVERIFY(window.openProject(file));
        QVERIFY(window.startRun());
        runDir = window.runsBrowser()->currentRun();
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(runDir + QStringLiteral("/metrics.csv")).size() > 200, 120000);
        // A second Start while it runs is refused with a message, not a crash or a second run.
        auto *log = window.findChild<LogPanel *>();
        QVERIFY(log);
        QVERIFY(!window.startRun());
        QVERIFY2(log->toPlainText().contains(QStringLiteral("Start refused: a run is in progress")),
                 qPrintable(log->toPlainText().right(400)));
        QVERIFY(window.session()->isRunning());

        // Closing the window stops the worker within a batch and writes a checkpoint.
        QElapsedTimer clock;
        clock.start();
        QVERIFY(window.close());
        QTRY_VERIFY_WITH_TIMEOUT(!window.session()->isRunning(), 60000);
        QVERIFY2(clock.elapsed() < 20000, qPrintable(QString::number(clock.elapsed())));
    }
    QCOMPARE(readJson(runDir + QStringLiteral("/summary.json"))["status"], json("stopped"));
    const auto info = kd::readRunInfo(runDir.toStdString());
    QVERIFY(info.resumable);

    // A new window: select the run in the runs browser and resume it; it completes in place.
    kd::app::MainWindow window;
    window.show();
    RunsBrowser *browser = window.runsBrowser();
    browser->addFolder(out.path());
    QTRY_VERIFY_WITH_TIMEOUT(browser->model()->runForDir(RunsTableModel::normalizeDir(runDir)), 15000);
    browser->setCurrentRun(runDir);
    QTRY_COMPARE(browser->resumableSelection(), RunsTableModel::normalizeDir(runDir));
    QMenu *runMenu = nullptr;
    for (auto *m : window.menuBar()->findChildren<QMenu *>())
        if (m->title().remove('&') == QStringLiteral("Run"))
            runMenu = m;
    QVERIFY(runMenu);
    QAction *resume = nullptr;
    for (auto *a : runMenu->actions())
        if (a->text().remove('&').startsWith(QStringLiteral("Resume")))
            resume = a;
    QVERIFY2(resume && resume->isEnabled(), "Run ▸ Resume is missing or disabled with a resumable run selected");
    saveScreenshot(window, QStringLiteral("gui-resume-window.png"));
    runMenu->popup(window.mapToGlobal(QPoint(60, 30)));
    QTRY_VERIFY(runMenu->isVisible());
    saveScreenshot(*runMenu, QStringLiteral("gui-resume-menu.png"));
    runMenu->hide();
    QVERIFY(window.resumeRun(browser->resumableSelection()));
    QVERIFY(window.session()->isRunning());
    QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(runDir + QStringLiteral("/log.txt")).size() > 0
                                 && readLines(runDir + QStringLiteral("/log.txt")).join('\n').contains(QStringLiteral("resumed from checkpoint")),
                             60000);
    window.stopRun(); // 50 teacher epochs: stop it again, it stays resumable
    QTRY_VERIFY_WITH_TIMEOUT(!window.session()->isRunning(), 60000);
    QCOMPARE(readJson(runDir + QStringLiteral("/summary.json"))["status"], json("stopped"));
    QVERIFY(kd::readRunInfo(runDir.toStdString()).resumable);
}

void TestGui::mainWindowShowsWorkerErrorsInADialog()
{
    requireDataset();
    QTemporaryDir out;
    kd::Project project = tinyProject(out.path());
    project.name = "diverges";
    project.teacher.train.lr = 100.0; // the loss becomes NaN within a few steps
    const QString file = out.filePath(QStringLiteral("diverges.json"));
    project.save(file.toStdString());
    kd::app::MainWindow window;
    window.show();
    QVERIFY(window.openProject(file));
    QVERIFY(window.startRun());
    const QString runDir = window.runsBrowser()->currentRun();
    QTRY_VERIFY_WITH_TIMEOUT(!window.session()->isRunning(), 120000);
    QMessageBox *box = nullptr;
    QTRY_VERIFY((box = window.findChild<QMessageBox *>()) != nullptr);
    QVERIFY2(box->text().contains(QStringLiteral("is not finite")) && box->text().contains(QStringLiteral("teacher")),
             qPrintable(box->text()));
    QVERIFY2(box->text().contains(QStringLiteral("Run directory: ") + QDir::toNativeSeparators(runDir)), qPrintable(box->text()));
    QCOMPARE(readJson(runDir + QStringLiteral("/summary.json"))["status"], json("failed"));
    saveScreenshot(*box, QStringLiteral("gui-error-dialog.png"));
    // The window stays usable: the next run starts.
    box->close();
    project.teacher.train.lr = 0.05;
    project.teacher.train.epochs = 50;
    window.experimentPanel()->setProject(project);
    QVERIFY(window.startRun());
    window.stopRun();
    QTRY_VERIFY_WITH_TIMEOUT(!window.session()->isRunning(), 60000);
}

void TestGui::mainWindowOpensAndValidates()
{
    QTemporaryDir dir;
    kd::app::MainWindow window;
    window.show();

    // A broken project file: clear error, the window keeps its (default) project.
    const QString bad = dir.filePath(QStringLiteral("bad.json"));
    {
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\n  \"name\": \"x\",\n  \"seed\": \n}\n");
    }
    QVERIFY(!window.openProject(bad));
    QCOMPARE(dump(window.experimentPanel()->project()), dump(kd::Project()));
    QVERIFY(window.projectPath().isEmpty());

    // A good one: loaded, title shows its name, not modified.
    kd::Project good = tinyProject(dir.path());
    good.name = "window-test";
    const QString goodPath = dir.filePath(QStringLiteral("good.json"));
    good.save(goodPath.toStdString());
    QVERIFY(window.openProject(goodPath));
    QCOMPARE(dump(window.experimentPanel()->project()), dump(kd::Project::load(goodPath.toStdString())));
    QVERIFY(window.windowTitle().contains(QStringLiteral("window-test")));
    QVERIFY(!window.isWindowModified());

    // An edit marks the window modified.
    auto *seed = window.experimentPanel()->findChild<QLineEdit *>(QStringLiteral("seed"));
    QVERIFY(seed);
    QTest::keyClick(seed, Qt::Key_End);
    QTest::keyClicks(seed, QStringLiteral("7"));
    QVERIFY(window.isWindowModified());

    // An invalid project is refused before anything runs.
    kd::Project invalid = good;
    invalid.method.name = "no_such_method";
    window.experimentPanel()->setProject(invalid);
    QVERIFY(!window.startRun());
    QVERIFY(!window.session()->isRunning());
    QVERIFY(window.experimentPanel()->isErrorVisible());
}

QTEST_MAIN(TestGui)
#include "test_gui.moc"
