#pragma once

#include <runs/Metrics.h>

#include <QMainWindow>

class QAction;

namespace kd::ui {
class AccuracyPlot;
class DistillationView;
class ExperimentPanel;
class LogPanel;
class LossPlot;
class ProgressPanel;
class ResultsTable;
class RunsBrowser;
class TrainingSession;
} // namespace kd::ui

namespace kd::app {

class ProjectDocument;
class RecentProjectsMenu;

/// The workbench window. It only composes: the experiment editor in a dock, plots,
/// progress and log in the centre, and the training session that connects them. The
/// session is the one object that talks to the engine, ProjectDocument owns the file
/// handling; this class creates the pieces and wires their signals.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget *parent = nullptr);
    ~MainWindow() override;

    /// Loads a project file; on failure shows why (dialog and stderr), keeps the current
    /// project and returns false.
    bool openProject(const QString &path);
    /// Validates the edited project and starts it; false (with the reason shown) if invalid
    /// or already running.
    bool startRun();
    /// Continues the stopped, interrupted or failed run in `runDir` from its newest
    /// checkpoint; false (with the reason in the log) while a run is in progress.
    bool resumeRun(const QString &runDir);

    kd::ui::TrainingSession *session() const { return m_session; }
    kd::ui::ExperimentPanel *experimentPanel() const { return m_panel; }
    ProjectDocument *document() const { return m_document; }
    kd::ui::RunsBrowser *runsBrowser() const { return m_runsBrowser; }
    QString projectPath() const;

public Q_SLOTS:
    void stopRun();
    void about();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void createCentralArea();
    void createActions();
    void createMenusAndToolBar();
    void connectDocument();
    void connectSession();
    void updateTitle();
    void setRunning(bool running);
    void runFinished(const kd::RunSummary &summary);
    void runFailed(const QString &message, const QString &runDir);
    /// The answer to Start or Resume while a run is in progress.
    void refuseWhileRunning(const QString &what);
    void updateResumeAction();
    void showError(const QString &title, const QString &message);
    void createRunsDock();
    void openRunWithDialog();

    kd::ui::TrainingSession *m_session;
    kd::ui::ExperimentPanel *m_panel = nullptr;
    ProjectDocument *m_document = nullptr;
    kd::ui::LossPlot *m_lossPlot = nullptr;
    kd::ui::AccuracyPlot *m_accuracyPlot = nullptr;
    kd::ui::ProgressPanel *m_progress = nullptr;
    kd::ui::LogPanel *m_log = nullptr;
    kd::ui::ResultsTable *m_results = nullptr;
    kd::ui::DistillationView *m_distillation = nullptr; ///< the finished run's distillation views
    RecentProjectsMenu *m_recent = nullptr;
    kd::ui::RunsBrowser *m_runsBrowser = nullptr;
    QAction *m_openRunAction = nullptr;
    QAction *m_addRunsFolderAction = nullptr;
    QAction *m_newAction = nullptr;
    QAction *m_openAction = nullptr;
    QAction *m_saveAction = nullptr;
    QAction *m_saveAsAction = nullptr;
    QAction *m_quitAction = nullptr;
    QAction *m_startAction = nullptr;
    QAction *m_stopAction = nullptr;
    QAction *m_resumeAction = nullptr;
    QAction *m_aboutAction = nullptr;
};

} // namespace kd::app
