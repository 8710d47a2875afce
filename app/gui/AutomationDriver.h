#pragma once

#include <runs/Metrics.h>

#include <QObject>
#include <QString>
#include <QTimer>

namespace kd::app {

class MainWindow;

/// What the hidden command-line options ask for (used for docs screenshots and tests).
struct AutomationOptions {
    bool start = false;           ///< --start: press Start once the window is up
    QString screenshotPath;       ///< --screenshot PATH: save a PNG of the window
    double screenshotAfter = 5.0; ///< --screenshot-after S: seconds into the run (or after launch)
    bool quitWhenDone = false;    ///< --quit-when-done: exit when the run ends (and the shot is taken)
};

/// Drives the window from the command line: starts the run, grabs the screenshot N seconds
/// into it (or when it ends, if sooner) and quits when everything asked for is done.
/// Exit code: 0, or 1 when the run failed, could not start or the screenshot was not saved.
class AutomationDriver : public QObject {
    Q_OBJECT

public:
    AutomationDriver(MainWindow *window, AutomationOptions options, QObject *parent = nullptr);

    /// Call once the window is shown (and its project opened).
    void begin();

private:
    void takeScreenshot();
    void runEnded(bool ok);
    void quitIfDone();

    MainWindow *m_window;
    AutomationOptions m_options;
    QTimer m_screenshotTimer;
    bool m_screenshotTaken = false;
    bool m_runEnded = false;
    int m_exitCode = 0;
};

} // namespace kd::app
