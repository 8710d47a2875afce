#include "MainWindow.h"

#include "ProjectDocument.h"
#include "RecentProjectsMenu.h"

#include <plots/AccuracyPlot.h>
#include <views/DistillationView.h>
#include <setup/ExperimentPanel.h>
#include <views/LogPanel.h>
#include <plots/LossPlot.h>
#include <views/ProgressPanel.h>
#include <views/ResultsTable.h>
#include <views/RunSummaryText.h>
#include <session/TrainingSession.h>
#include <plots/MetricsChart.h>
#include <runs/RunsBrowser.h>
#include <runs/RunsChartLink.h>
#include <runs/RunStore.h>

#include <project/ProjectConfig.h>
#include <project/Registries.h>
#include <runs/SeedSpread.h>
#include <training/Experiment.h>
#include <training/StagePlan.h>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QDockWidget>
#include <QFileDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QToolBar>
#include <QVBoxLayout>

#include <cstdio>
#include <exception>

namespace kd::app {

using namespace kd::ui;

MainWindow::MainWindow(QWidget *parent) : QMainWindow(parent), m_session(new TrainingSession(this))
{
    setObjectName(QStringLiteral("MainWindow"));
    m_panel = new ExperimentPanel(m_session->registries());
    auto *dock = new QDockWidget(tr("Experiment"), this);
    dock->setObjectName(QStringLiteral("ExperimentDock"));
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    dock->setWidget(m_panel);
    m_panel->setMinimumWidth(360);
    addDockWidget(Qt::LeftDockWidgetArea, dock);

    // What distillation did inside the networks of the last finished run (analysis files).
    m_distillation = new DistillationView;
    auto *distillationDock = new QDockWidget(tr("Distillation"), this);
    distillationDock->setObjectName(QStringLiteral("DistillationDock"));
    distillationDock->setWidget(m_distillation);
    addDockWidget(Qt::RightDockWidgetArea, distillationDock);
    distillationDock->hide(); // shown when a run with analysis finishes

    m_document = new ProjectDocument(m_panel, this);
    createCentralArea();
    createRunsDock();
    createActions();
    createMenusAndToolBar();
    connectSession();
    connectDocument();

    QSettings settings;
    if (!restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(1440, 900);
    restoreState(settings.value(QStringLiteral("window/state")).toByteArray());
    setRunning(false);
    updateTitle();
    statusBar()->showMessage(tr("Ready. Edit the experiment on the left, then press Start."));
}

MainWindow::~MainWindow() = default;

void MainWindow::createRunsDock()
{
    // The runs browser: every run under runs/ (relative to the working directory, where kdw
    // and the window write by default) and under the project's output_dir.
    m_runsBrowser = new RunsBrowser;
    auto *dock = new QDockWidget(tr("Runs"), this);
    dock->setObjectName(QStringLiteral("RunsDock"));
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable | QDockWidget::DockWidgetClosable);
    dock->setWidget(m_runsBrowser);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {300}, Qt::Vertical); // the plots stay the largest part of the window
    // The window's own output folder: runs that died in it are marked interrupted in their
    // summary.json (folders the user only adds to look at are never written to).
    const QString ownRuns = QDir::current().absoluteFilePath(QStringLiteral("runs"));
    for (const auto &dead : kd::RunStore::markInterruptedRuns(ownRuns.toStdString()))
        std::fprintf(stderr, "kd-workbench: found interrupted run %s; its summary.json now says so\n", dead.c_str());
    m_runsBrowser->addFolder(ownRuns);

    // The selected runs' curves overlaid (one colour per run, line style per role), and the
    // distillation views of the first selected run.
    auto *chart = new MetricsChart;
    chart->setObjectName(QStringLiteral("CompareChart"));
    auto *chartDock = new QDockWidget(tr("Compare runs"), this);
    chartDock->setObjectName(QStringLiteral("CompareDock"));
    chartDock->setWidget(chart);
    addDockWidget(Qt::BottomDockWidgetArea, chartDock);
    splitDockWidget(dock, chartDock, Qt::Horizontal);
    auto *link = new RunsChartLink(m_runsBrowser, chart, this);
    auto *bandBox = new QComboBox;
    bandBox->setObjectName(QStringLiteral("bandKindBox"));
    bandBox->addItem(tr("band ± sd"), int(ChartBand::Kind::MeanSd));
    bandBox->addItem(tr("band min–max"), int(ChartBand::Kind::MinMax));
    bandBox->setToolTip(tr("How a selected seed group (Runs ▸ Seed groups) is drawn: its mean curve inside a band "
                           "of ± one sample standard deviation, or of the lowest and highest run"));
    connect(bandBox, &QComboBox::currentIndexChanged, link, [link, bandBox](int) {
        link->setBandKind(ChartBand::Kind(bandBox->currentData().toInt()));
    });
    chart->addControl(bandBox);
    connect(m_runsBrowser, &RunsBrowser::runsSelected, this, [this](const QStringList &dirs) {
        if (!dirs.isEmpty() && !m_session->isRunning())
            m_distillation->setRunDirectory(dirs.first());
    });
    connect(m_document, &ProjectDocument::opened, this, [this] {
        const QString out = QString::fromStdString(m_panel->project().outputDir);
        if (!out.isEmpty())
            m_runsBrowser->addFolder(QDir::current().absoluteFilePath(out));
    });
}

void MainWindow::openRunWithDialog()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Run"), m_runsBrowser->folders().value(0));
    if (dir.isEmpty())
        return;
    m_runsBrowser->openRun(dir);
    m_runsBrowser->selectDirs({dir});
}

void MainWindow::createCentralArea()
{
    m_lossPlot = new LossPlot;
    m_accuracyPlot = new AccuracyPlot;
    m_progress = new ProgressPanel;
    m_log = new LogPanel;
    m_results = new ResultsTable;

    auto *plots = new QSplitter(Qt::Horizontal);
    plots->addWidget(m_lossPlot);
    plots->addWidget(m_accuracyPlot);
    plots->setChildrenCollapsible(false);

    auto *tables = new QSplitter(Qt::Horizontal);
    tables->addWidget(m_results);
    tables->addWidget(m_log);
    tables->setChildrenCollapsible(false);
    tables->setSizes({620, 460});

    auto *bottom = new QWidget;
    auto *bottomLayout = new QVBoxLayout(bottom);
    bottomLayout->setContentsMargins(0, 4, 0, 0);
    bottomLayout->addWidget(m_progress);
    bottomLayout->addWidget(tables, 1);

    auto *split = new QSplitter(Qt::Vertical);
    split->addWidget(plots);
    split->addWidget(bottom);
    split->setChildrenCollapsible(false);
    split->setContentsMargins(4, 4, 4, 4);
    split->setSizes({560, 260}); // plots first: they are what one watches during a run
    setCentralWidget(split);
}

void MainWindow::createActions()
{
    auto make = [this](const QString &text, const QKeySequence &key, const QString &tip, auto *receiver, auto slot) {
        auto *action = new QAction(text, this);
        action->setShortcut(key);
        action->setStatusTip(tip);
        action->setToolTip(tip);
        connect(action, &QAction::triggered, receiver, slot);
        return action;
    };
    m_newAction = make(tr("&New"), QKeySequence::New, tr("Start a new project with default settings"), m_document, &ProjectDocument::newProject);
    m_openAction = make(tr("&Open…"), QKeySequence::Open, tr("Open a project file (.json)"), m_document, &ProjectDocument::openWithDialog);
    m_saveAction = make(tr("&Save"), QKeySequence::Save, tr("Save the project"), m_document, &ProjectDocument::save);
    m_saveAsAction = make(tr("Save &As…"), QKeySequence::SaveAs, tr("Save the project under a new name"), m_document, &ProjectDocument::saveAs);
    m_quitAction = make(tr("&Quit"), QKeySequence::Quit, tr("Quit KD Workbench (a running experiment is stopped)"), this, &QWidget::close);
    m_startAction = make(tr("&Start"), QKeySequence(Qt::CTRL | Qt::Key_R),
                         tr("Validate the experiment and run it: teacher, student, baseline"), this, [this] { startRun(); });
    m_stopAction = make(tr("S&top"), QKeySequence(Qt::CTRL | Qt::Key_Period),
                        tr("Stop after the current batch; the run directory stays consistent"), this, &MainWindow::stopRun);
    m_resumeAction = make(tr("&Resume"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R),
                          tr("Continue the run selected in the Runs browser (stopped, failed or interrupted) from its "
                             "newest checkpoint"),
                          this, [this] { resumeRun(m_runsBrowser->resumableSelection()); });
    m_openRunAction = make(tr("Open &Run…"), QKeySequence(), tr("List a run directory in the Runs browser"), this, &MainWindow::openRunWithDialog);
    m_addRunsFolderAction = make(tr("Add Runs &Folder…"), QKeySequence(), tr("Watch a folder of run directories in the Runs browser"),
                                 m_runsBrowser, &RunsBrowser::addFolderWithDialog);
    m_aboutAction = make(tr("&About KD Workbench"), QKeySequence(), tr("Version and licence"), this, &MainWindow::about);
    m_startAction->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    m_stopAction->setIcon(style()->standardIcon(QStyle::SP_MediaStop));
    m_openAction->setIcon(style()->standardIcon(QStyle::SP_DialogOpenButton));
    m_saveAction->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
}

void MainWindow::createMenusAndToolBar()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(m_newAction);
    file->addAction(m_openAction);
    m_recent = new RecentProjectsMenu(this);
    file->addMenu(m_recent);
    file->addSeparator();
    file->addAction(m_openRunAction);
    file->addAction(m_addRunsFolderAction);
    file->addSeparator();
    file->addAction(m_saveAction);
    file->addAction(m_saveAsAction);
    file->addSeparator();
    file->addAction(m_quitAction);
    connect(m_recent, &RecentProjectsMenu::openRequested, this, [this](const QString &path) {
        if (m_document->maybeSave())
            m_document->open(path);
    });

    QMenu *run = menuBar()->addMenu(tr("&Run"));
    run->addAction(m_startAction);
    run->addAction(m_stopAction);
    run->addAction(m_resumeAction);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget *dock : findChildren<QDockWidget *>())
        view->addAction(dock->toggleViewAction());

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(m_aboutAction);

    QToolBar *bar = addToolBar(tr("Run"));
    bar->setObjectName(QStringLiteral("RunToolBar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    bar->setMovable(false);
    bar->addAction(m_openAction);
    bar->addAction(m_saveAction);
    bar->addSeparator();
    bar->addAction(m_startAction);
    bar->addAction(m_stopAction);
}

void MainWindow::connectDocument()
{
    connect(m_document, &ProjectDocument::stateChanged, this, &MainWindow::updateTitle);
    connect(m_document, &ProjectDocument::errorOccurred, this, &MainWindow::showError);
    connect(m_document, &ProjectDocument::openFailed, m_recent, &RecentProjectsMenu::removePath);
    connect(m_document, &ProjectDocument::saved, this, [this](const QString &path) {
        m_recent->addPath(path);
        statusBar()->showMessage(tr("Saved %1").arg(QDir::toNativeSeparators(path)), 5000);
    });
    connect(m_document, &ProjectDocument::opened, this, [this](const QString &path) {
        m_recent->addPath(path);
        statusBar()->showMessage(tr("Opened %1").arg(QDir::toNativeSeparators(path)), 5000);
        if (!m_panel->errorText().isEmpty())
            m_log->appendMessage(tr("The project has a problem: %1").arg(m_panel->errorText()), true);
    });
}

void MainWindow::connectSession()
{
    connect(m_session, &TrainingSession::metricsArrived, m_lossPlot, &LossPlot::addRecords);
    connect(m_session, &TrainingSession::metricsArrived, m_accuracyPlot, &AccuracyPlot::addRecords);
    connect(m_session, &TrainingSession::progressChanged, m_progress, &ProgressPanel::setProgress);
    connect(m_session, &TrainingSession::metricsArrived, m_results, &ResultsTable::addRecords);
    connect(m_session, &TrainingSession::stageStarted, m_progress, &ProgressPanel::setStage);
    connect(m_session, &TrainingSession::stageStarted, m_results, &ResultsTable::setStage);
    connect(m_session, &TrainingSession::finished, m_results, &ResultsTable::setSummary);
    connect(m_session, &TrainingSession::logMessage, m_log, &LogPanel::appendMessage);
    connect(m_session, &TrainingSession::runningChanged, this, &MainWindow::setRunning);
    connect(m_session, &TrainingSession::finished, this, &MainWindow::runFinished);
    connect(m_session, &TrainingSession::failed, this, &MainWindow::runFailed);
    connect(m_runsBrowser, &RunsBrowser::resumeRequested, this, &MainWindow::resumeRun);
    connect(m_runsBrowser, &RunsBrowser::runsSelected, this, &MainWindow::updateResumeAction);
    connect(m_runsBrowser, &RunsBrowser::runsUpdated, this, &MainWindow::updateResumeAction);
    connect(m_session, &TrainingSession::runningChanged, m_runsBrowser, [this](bool running) {
        if (!running)
            m_runsBrowser->setCurrentRun({}); // finished: listed, no longer pinned to the selection
    });
}

bool MainWindow::openProject(const QString &path)
{
    return m_document->open(path);
}

QString MainWindow::projectPath() const
{
    return m_document->path();
}

void MainWindow::refuseWhileRunning(const QString &what)
{
    const QString text = tr("%1 refused: a run is in progress; stop it first (Run ▸ Stop) or wait for it to end.").arg(what);
    m_log->appendMessage(text, true);
    statusBar()->showMessage(text);
    std::fprintf(stderr, "kd-workbench: %s\n", qPrintable(text));
}

bool MainWindow::resumeRun(const QString &runDir)
{
    if (m_session->isRunning()) {
        refuseWhileRunning(tr("Resume"));
        return false;
    }
    if (runDir.isEmpty()) {
        m_log->appendMessage(tr("Resume: select one stopped, failed or interrupted run with checkpoints in the Runs "
                                "browser first."),
                             true);
        return false;
    }
    m_lossPlot->clear();
    m_accuracyPlot->clear();
    m_progress->reset();
    try {
        const kd::Registries &registries = m_session->registries();
        const auto project = kd::resumableProject(runDir.toStdString());
        m_results->reset(kd::planStages(registries.resolve(project), registries.methods));
    } catch (const std::exception &) {
        m_results->reset({}); // the worker reports what is wrong
    }
    m_log->appendMessage(tr("Resuming %1 from its newest checkpoint.").arg(QDir::toNativeSeparators(runDir)));
    statusBar()->showMessage(tr("Resuming…"));
    if (!m_session->resume(runDir))
        return false;
    m_runsBrowser->addFolder(QFileInfo(runDir).absolutePath());
    m_runsBrowser->setCurrentRun(runDir);
    return true;
}

void MainWindow::updateResumeAction()
{
    if (m_resumeAction)
        m_resumeAction->setEnabled(!m_session->isRunning() && !m_runsBrowser->resumableSelection().isEmpty());
}

bool MainWindow::startRun()
{
    if (m_session->isRunning()) {
        refuseWhileRunning(tr("Start"));
        return false;
    }
    const QString problem = m_panel->validate();
    if (!problem.isEmpty()) {
        m_log->appendMessage(tr("Not started: %1").arg(problem), true);
        std::fprintf(stderr, "kd-workbench: not started: %s\n", qPrintable(problem));
        statusBar()->showMessage(tr("Not started: fix the problem shown above the experiment settings."));
        return false;
    }
    m_lossPlot->clear();
    m_accuracyPlot->clear();
    m_progress->reset();
    const kd::Project project = m_panel->project();
    try {
        const kd::Registries &registries = m_session->registries();
        m_results->reset(kd::planStages(registries.resolve(project), registries.methods));
    } catch (const std::exception &) {
        m_results->reset({}); // validate() passed, so the run will say what is wrong
    }
    m_log->appendMessage(tr("Starting \"%1\": teacher %2, student %3, method %4%5.")
                             .arg(QString::fromStdString(project.name), QString::fromStdString(project.teacher.arch),
                                  QString::fromStdString(project.student.arch), QString::fromStdString(project.method.name),
                                  project.baseline ? tr(", with scratch baseline") : QString()));
    statusBar()->showMessage(tr("Running…"));
    // The window picks the run directory, so the runs browser can list and follow it live.
    const QString runDir = QString::fromStdString(kd::makeRunDirectoryPath(project.outputDir, project.name));
    if (!m_session->start(project, runDir))
        return false;
    m_runsBrowser->addFolder(QFileInfo(runDir).absolutePath());
    m_runsBrowser->setCurrentRun(runDir);
    return true;
}

void MainWindow::stopRun()
{
    m_session->stop();
    statusBar()->showMessage(tr("Stopping after the current batch…"));
}

void MainWindow::setRunning(bool running)
{
    m_panel->setEnabled(!running);
    m_startAction->setEnabled(!running);
    m_stopAction->setEnabled(running);
    updateResumeAction();
    m_newAction->setEnabled(!running);
    m_openAction->setEnabled(!running);
    m_recent->setEnabled(!running && !m_recent->paths().isEmpty());
}

void MainWindow::runFinished(const kd::RunSummary &summary)
{
    const QString line = formatRunSummary(summary);
    const bool completed = summary.status == "completed";
    m_progress->setDone(tr("Run %1").arg(line), completed);
    m_log->appendMessage(tr("Run %1").arg(line), !completed);
    m_log->appendMessage(tr("Run directory: %1").arg(QDir::toNativeSeparators(QString::fromStdString(summary.runDir))));
    // Is this one seed's KD gain bigger than the seed-to-seed spread of its setting?
    if (const auto note = kd::seedSpreadNote(summary.runDir).text; !note.empty())
        m_log->appendMessage(tr("KD gain vs seed noise: %1").arg(QString::fromStdString(note)));
    m_distillation->setRunDirectory(QString::fromStdString(summary.runDir));
    if (!m_distillation->epochs().empty())
        m_distillation->parentWidget()->show(); // the dock
    statusBar()->showMessage(tr("Run %1").arg(line));
}

void MainWindow::runFailed(const QString &message, const QString &runDir)
{
    m_progress->setDone(tr("Run failed: %1").arg(message), false);
    statusBar()->showMessage(tr("Run failed: %1").arg(message));
    // A dialog (window-modal, not blocking): the message, and where the run's files are.
    QString text = message;
    if (!runDir.isEmpty())
        text += tr("\n\nRun directory: %1").arg(QDir::toNativeSeparators(runDir));
    showError(tr("Run failed"), text);
}

void MainWindow::updateTitle()
{
    setWindowTitle(tr("%1[*] — KD Workbench").arg(m_document->displayName()));
    setWindowModified(m_document->isModified());
    setWindowFilePath(m_document->path());
}

void MainWindow::showError(const QString &title, const QString &message)
{
    // Also on stderr: under the offscreen platform or in scripts nobody sees the dialog.
    std::fprintf(stderr, "kd-workbench: %s: %s\n", qPrintable(title), qPrintable(message));
    m_log->appendMessage(QStringLiteral("%1: %2").arg(title, message), true);
    auto *box = new QMessageBox(QMessageBox::Critical, title, message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open(); // window-modal but not blocking, so automation and tests never hang on it
}

void MainWindow::about()
{
    QMessageBox::about(this, tr("About KD Workbench"),
                       tr("<h3>KD Workbench %1</h3>"
                          "<p>A workbench for knowledge-distillation experiments: train a teacher, "
                          "distil it into a student, and compare with the student trained from scratch.</p>"
                          "<p>Built with Qt %2, QCustomPlot and LibTorch.</p>")
                           .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion())));
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    if (!m_document->maybeSave()) {
        event->ignore();
        return;
    }
    if (m_session->isRunning())
        m_session->stop(); // the session's destructor waits for the current batch
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/state"), saveState());
    event->accept();
}

} // namespace kd::app
