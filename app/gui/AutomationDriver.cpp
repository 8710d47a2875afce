#include "AutomationDriver.h"

#include "MainWindow.h"

#include <session/TrainingSession.h>

#include <plots/QCustomPlotInclude.h>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QPixmap>

#include <algorithm>
#include <cstdio>

namespace kd::app {

AutomationDriver::AutomationDriver(MainWindow *window, AutomationOptions options, QObject *parent)
    : QObject(parent), m_window(window), m_options(std::move(options))
{
    m_screenshotTimer.setSingleShot(true);
    m_screenshotTimer.setInterval(int(1000.0 * std::max(0.0, m_options.screenshotAfter)));
    connect(&m_screenshotTimer, &QTimer::timeout, this, &AutomationDriver::takeScreenshot);

    ui::TrainingSession *session = window->session();
    connect(session, &ui::TrainingSession::runningChanged, this, [this](bool running) {
        if (running && !m_options.screenshotPath.isEmpty() && !m_screenshotTaken)
            m_screenshotTimer.start();
    });
    connect(session, &ui::TrainingSession::finished, this,
            [this](const kd::RunSummary &summary) { runEnded(summary.status != "failed"); });
    connect(session, &ui::TrainingSession::failed, this, [this](const QString &, const QString &) { runEnded(false); });
}

void AutomationDriver::begin()
{
    if (m_options.start) {
        QTimer::singleShot(0, this, [this] {
            if (!m_window->startRun())
                runEnded(false); // MainWindow has said why
        });
        return;
    }
    m_runEnded = true; // nothing to wait for
    if (!m_options.screenshotPath.isEmpty())
        m_screenshotTimer.start();
    else
        quitIfDone();
}

void AutomationDriver::takeScreenshot()
{
    m_screenshotTimer.stop();
    if (m_screenshotTaken || m_options.screenshotPath.isEmpty())
        return;
    m_screenshotTaken = true;
    // Plots replot on a queued event; draw them now so the picture shows the latest data.
    for (QCustomPlot *plot : m_window->findChildren<QCustomPlot *>())
        plot->replot(QCustomPlot::rpImmediateRefresh);
    const QString path = m_options.screenshotPath;
    QDir().mkpath(QFileInfo(path).absolutePath());
    if (m_window->grab().save(path, "PNG")) {
        std::fprintf(stdout, "kd-workbench: saved screenshot %s\n", qPrintable(QDir::toNativeSeparators(path)));
    } else {
        std::fprintf(stderr, "kd-workbench: cannot write screenshot %s\n", qPrintable(path));
        m_exitCode = 1;
    }
    quitIfDone();
}

void AutomationDriver::runEnded(bool ok)
{
    m_runEnded = true;
    if (!ok)
        m_exitCode = 1;
    // A run shorter than --screenshot-after is pictured as it ends.
    if (!m_options.screenshotPath.isEmpty() && !m_screenshotTaken)
        QTimer::singleShot(0, this, &AutomationDriver::takeScreenshot);
    else
        quitIfDone();
}

void AutomationDriver::quitIfDone()
{
    if (!m_options.quitWhenDone || !m_runEnded)
        return;
    if (!m_options.screenshotPath.isEmpty() && !m_screenshotTaken)
        return;
    const int code = m_exitCode;
    QTimer::singleShot(0, qApp, [code] { QCoreApplication::exit(code); });
}

} // namespace kd::app
