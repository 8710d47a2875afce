// kd-workbench: the KD Workbench window. Composition only; see MainWindow.

#include "AutomationDriver.h"
#include "MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>

#include <cstdio>

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("KD Workbench"));
    QApplication::setApplicationName(QStringLiteral("KD Workbench"));
    QApplication::setApplicationVersion(QStringLiteral(KD_VERSION));
    QIcon icon(QStringLiteral(":/icons/kd-workbench.png"));
    icon.addFile(QStringLiteral(":/icons/kd-workbench-64.png"));
    QApplication::setWindowIcon(icon);

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Knowledge-distillation experiments: train a "
                                                    "teacher, distil a student, compare with scratch."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("project"), QStringLiteral("Project file (.json) to open."),
                                 QStringLiteral("[PROJECT.json]"));
    auto hidden = [](QCommandLineOption option) {
        option.setFlags(QCommandLineOption::HiddenFromHelp);
        return option;
    };
    const QCommandLineOption start = hidden({QStringLiteral("start"), QStringLiteral("Press Start after opening.")});
    const QCommandLineOption shot = hidden({QStringLiteral("screenshot"), QStringLiteral("Save a PNG of the window."),
                                            QStringLiteral("PATH")});
    const QCommandLineOption shotAfter = hidden({QStringLiteral("screenshot-after"),
                                                 QStringLiteral("Seconds into the run for --screenshot."),
                                                 QStringLiteral("SECONDS"), QStringLiteral("5")});
    const QCommandLineOption quit = hidden({QStringLiteral("quit-when-done"),
                                            QStringLiteral("Exit when the run (and screenshot) is done.")});
    parser.addOptions({start, shot, shotAfter, quit});
    parser.process(app);

    kd::app::AutomationOptions options;
    options.start = parser.isSet(start);
    options.screenshotPath = parser.value(shot);
    options.quitWhenDone = parser.isSet(quit);
    bool ok = false;
    options.screenshotAfter = parser.value(shotAfter).toDouble(&ok);
    if (!ok || options.screenshotAfter < 0) {
        std::fprintf(stderr, "kd-workbench: --screenshot-after expects seconds, got \"%s\"\n",
                     qPrintable(parser.value(shotAfter)));
        return 2;
    }
    if (parser.positionalArguments().size() > 1) {
        std::fprintf(stderr, "kd-workbench: give at most one project file\n");
        return 2;
    }

    kd::app::MainWindow window;
    if (!options.screenshotPath.isEmpty())
        window.resize(1440, 900); // the documented screenshot size, whatever was saved
    window.show();
    if (!parser.positionalArguments().isEmpty() && !window.openProject(parser.positionalArguments().first())) {
        // The window stays open with the default project, but a script gets a failure and
        // the default project never runs in place of the one that was asked for.
        if (options.quitWhenDone)
            return 1;
        if (options.start)
            std::fprintf(stderr, "kd-workbench: not starting, the project could not be opened\n");
        options.start = false;
    }

    kd::app::AutomationDriver driver(&window, options);
    driver.begin();
    return app.exec();
}
