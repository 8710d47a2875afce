// bench_charts: how fluid the metrics chart stays with large series. Not a test: it prints
// figures for docs/PERFORMANCE.md.
//
//   QT_QPA_PLATFORM=offscreen build/release/bench/bench_charts [--points N] [--series S]
//                                                               [--seconds T] [--size WxH]
//
// 1. Pan/zoom: S series × N points in the chart, the x range moved and zoomed every frame,
//    each frame a full replot (decimation + drawing + widget repaint): replots per second,
//    mean and longest frame; with smoothing off and on (smoothing also draws the raw series).
//    For comparison the same data handed whole to plain QCustomPlot graphs (its own adaptive
//    sampling only).
// 2. Live growth: S series start empty; a producer thread generates points as fast as a very
//    busy run would never log them (N points per series over ~T seconds) into a buffer under a
//    mutex; a 30 Hz GUI timer drains it into the chart (appendPoints + coalesced queued
//    replots) while a 1 ms heartbeat timer records the GUI thread's longest stall.
// 3. A real session: the Runs browser watches a folder of 200 finished runs (written by the
//    engine's RunStore) while a real `kdw run` of the quick example streams into the same
//    folder; the run is the browser's current run, so its curves grow live in the Compare
//    chart (RunsChartLink) beside three finished runs and the S × N synthetic series. A timer
//    (--drag-hz, default 30: the target rate) pans and zooms the chart as a mouse drag does
//    (axis range + queued replot), and the 1 ms heartbeat records the longest GUI stall.
//
//   phase 3 options: [--kdw PATH] [--project FILE] [--runs 200] [--live-seconds 20]
//                    [--kdw-threads N]   (0 = kdw's default, all hardware threads)
//                    [--kdw-priority background|normal]   (default background: `kdw
//                    --background`, the priority the window gives its own training)
//                    [--drag-hz 30]

#include <plots/ChartPlot.h>
#include <plots/MetricsChart.h>
#include <runs/RunsBrowser.h>
#include <runs/RunsChartLink.h>
#include <runs/RunsTableModel.h>

#include <project/ProjectConfig.h>
#include <runs/RunStore.h>

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace kd::ui;

namespace {

struct Options {
    std::size_t points = 1000000;
    int series = 4;
    double seconds = 5.0;
    int width = 1280, height = 720;
    QString kdw = QStringLiteral(KDW_EXECUTABLE);
    QString project = QStringLiteral(KD_SOURCE_DIR "/projects/fashion-mnist-quick.json");
    int runs = 200;
    double liveSeconds = 20;
    int kdwThreads = 0;
    bool kdwBackground = true;
    int dragHz = 30;
    bool onlyLive = false;
};

const char *const Roles[] = {"teacher", "student", "student_scratch", "student"};

/// A loss-like curve: decay, noise and a rare spike (what decimation must not lose).
double lossValue(std::size_t i, std::size_t n, int s, std::mt19937 &rng)
{
    std::normal_distribution<double> noise(0.0, 0.05);
    const double t = double(i) / double(std::max<std::size_t>(n, 1));
    double v = 0.2 + 0.1 * s + 2.0 * std::exp(-6.0 * t) + noise(rng);
    if (i % 99991 == 777)
        v += 3.0;
    return v;
}

ChartSeries makeSeries(int s, std::size_t n)
{
    ChartSeries c;
    c.name = QStringLiteral("loss");
    c.runId = QStringLiteral("run-%1").arg(s / 2);
    c.role = QString::fromLatin1(Roles[s % 4]);
    c.x.startUnix = 1.7e9;
    std::mt19937 rng(unsigned(s + 1));
    c.x.step.resize(n);
    c.x.epoch.resize(n);
    c.x.relativeTime.resize(n);
    c.y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        c.x.step[i] = double(i + 1);
        c.x.epoch[i] = 1.0 + 20.0 * double(i) / double(n);
        c.x.relativeTime[i] = 0.01 * double(i);
        c.y[i] = lossValue(i, n, s, rng);
    }
    return c;
}

/// The GUI thread's pulse: a 1 ms timer whose gaps are the stalls (every gap kept).
struct Heartbeat {
    QElapsedTimer clock;
    qint64 lastBeat = 0;
    std::vector<double> gaps;
    QTimer timer;

    Heartbeat()
    {
        clock.start();
        lastBeat = clock.nsecsElapsed();
        timer.setTimerType(Qt::PreciseTimer);
        timer.setInterval(1);
        QObject::connect(&timer, &QTimer::timeout, [this] {
            const qint64 now = clock.nsecsElapsed();
            gaps.push_back((now - lastBeat) / 1e6);
            lastBeat = now;
        });
    }
    void start()
    {
        lastBeat = clock.nsecsElapsed();
        timer.start();
    }
    double seconds() const { return clock.nsecsElapsed() / 1e9; }
    /// "longest GUI stall …, 99th percentile …, N beats".
    void print()
    {
        std::sort(gaps.begin(), gaps.end());
        const double longest = gaps.empty() ? 0 : gaps.back();
        const double p99 = gaps.empty() ? 0 : gaps[std::size_t(0.99 * double(gaps.size() - 1))];
        std::printf("    heartbeat (1 ms timer): longest GUI stall %.1f ms, 99th percentile %.1f ms, %zu beats\n",
                    longest, p99, gaps.size());
    }
};

struct FrameStats {
    int frames = 0;
    double seconds = 0, longestMs = 0;
};

/// Moves and zooms the x range every frame (a pan across the data at changing zoom, from
/// the whole range down to 1 % of it) and replots immediately, for `seconds`.
FrameStats panAndZoom(QCustomPlot *plot, double x0, double x1, double seconds)
{
    FrameStats st;
    QElapsedTimer total, frame;
    total.start();
    const double full = x1 - x0;
    while (total.elapsed() < seconds * 1000.0) {
        const double phase = st.frames * 0.05;
        const double width = full * (0.01 + 0.99 * 0.5 * (1.0 + std::cos(phase * 0.37)));
        const double centre = x0 + full * 0.5 * (1.0 + std::sin(phase));
        plot->xAxis->setRange(centre - width / 2, centre + width / 2);
        frame.start();
        plot->replot(QCustomPlot::rpImmediateRefresh);
        QCoreApplication::processEvents();
        st.longestMs = std::max(st.longestMs, frame.nsecsElapsed() / 1e6);
        ++st.frames;
    }
    st.seconds = total.nsecsElapsed() / 1e9;
    return st;
}

void printFrames(const char *what, const FrameStats &st)
{
    std::printf("  %-52s %6.1f replots/s  (%d in %.1f s, mean %.1f ms, longest %.1f ms)\n", what,
                st.frames / st.seconds, st.frames, st.seconds, 1000.0 * st.seconds / std::max(st.frames, 1),
                st.longestMs);
    std::fflush(stdout);
}

void benchPanZoom(const Options &o)
{
    MetricsChart chart;
    chart.resize(o.width, o.height);
    chart.show();
    for (int s = 0; s < o.series; ++s)
        chart.addSeries(makeSeries(s, o.points));
    QCoreApplication::processEvents();
    ChartPlot *plot = chart.plot();
    plot->resetView();
    plot->replot(QCustomPlot::rpImmediateRefresh);
    const double x0 = 1, x1 = double(o.points);

    printFrames("chart, min/max decimation, smoothing off", panAndZoom(plot, x0, x1, o.seconds));
    QElapsedTimer t;
    t.start();
    chart.setSmoothing(0.9);
    plot->replot(QCustomPlot::rpImmediateRefresh);
    std::printf("  %-52s %6.1f ms\n", "first replot after smoothing 0 -> 0.9 (all series)", t.nsecsElapsed() / 1e6);
    printFrames("chart, min/max decimation, smoothing 0.9 (+ raw)", panAndZoom(plot, x0, x1, o.seconds));
}

void benchPlainQCustomPlot(const Options &o)
{
    QCustomPlot plot;
    plot.resize(o.width, o.height - 30);
    plot.setNoAntialiasingOnDrag(true);
    plot.setPlottingHint(QCP::phFastPolylines, true);
    plot.show();
    for (int s = 0; s < o.series; ++s) {
        const ChartSeries c = makeSeries(s, o.points);
        QVector<QCPGraphData> data(qsizetype(c.y.size()));
        for (std::size_t i = 0; i < c.y.size(); ++i)
            data[qsizetype(i)] = QCPGraphData(c.x.step[i], c.y[i]);
        QCPGraph *g = plot.addGraph();
        g->data()->set(data, true);
        g->setAdaptiveSampling(true);
    }
    plot.rescaleAxes();
    plot.replot(QCustomPlot::rpImmediateRefresh);
    printFrames("plain QCustomPlot, all points, adaptive sampling", panAndZoom(&plot, 1, double(o.points), o.seconds));
}

void benchLiveGrowth(const Options &o)
{
    MetricsChart chart;
    chart.resize(o.width, o.height);
    chart.show();
    QStringList keys;
    for (int s = 0; s < o.series; ++s) {
        ChartSeries c = makeSeries(s, 0);
        chart.addSeries(c);
        keys << c.key();
    }
    chart.setSmoothing(0.6);
    QCoreApplication::processEvents();

    // The producer: points for every series into a buffer, at a steady rate.
    std::mutex mutex;
    std::vector<ChartPoints> pending(std::size_t(o.series));
    std::atomic<bool> stop{false};
    const double duration = std::max(2.0, 2.0 * o.seconds);
    const double perSecond = double(o.points) / duration;
    std::thread producer([&] {
        std::vector<std::mt19937> rng;
        for (int s = 0; s < o.series; ++s)
            rng.emplace_back(unsigned(100 + s));
        std::size_t made = 0;
        QElapsedTimer clock;
        clock.start();
        while (!stop && made < o.points) {
            const std::size_t due = std::min(o.points, std::size_t(clock.nsecsElapsed() / 1e9 * perSecond));
            if (due > made) {
                std::lock_guard<std::mutex> lock(mutex);
                for (int s = 0; s < o.series; ++s) {
                    ChartPoints &p = pending[std::size_t(s)];
                    for (std::size_t i = made; i < due; ++i) {
                        p.x.step.push_back(double(i + 1));
                        p.x.epoch.push_back(1.0 + 20.0 * double(i) / double(o.points));
                        p.x.relativeTime.push_back(0.01 * double(i));
                        p.y.push_back(lossValue(i, o.points, s, rng[std::size_t(s)]));
                    }
                }
                made = due;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
    });

    // GUI thread: 1 ms heartbeat and a 30 Hz drain.
    Heartbeat heartbeat;
    int replots = 0;
    QObject::connect(chart.plot(), &QCustomPlot::afterReplot, [&] { ++replots; });
    std::size_t drained = 0;
    double longestDrainMs = 0;
    QTimer drain;
    drain.setInterval(33);
    QObject::connect(&drain, &QTimer::timeout, [&] {
        QElapsedTimer t;
        t.start();
        std::vector<ChartPoints> batch(std::size_t(o.series));
        {
            std::lock_guard<std::mutex> lock(mutex);
            batch.swap(pending);
        }
        for (int s = 0; s < o.series; ++s)
            chart.appendPoints(keys[s], batch[std::size_t(s)]);
        drained += batch[0].y.size();
        longestDrainMs = std::max(longestDrainMs, t.nsecsElapsed() / 1e6);
        if (drained >= o.points)
            QCoreApplication::quit();
    });
    QTimer::singleShot(int(1000 * (duration + 30)), [] { QCoreApplication::quit(); }); // a safety net
    heartbeat.start();
    drain.start();
    QCoreApplication::exec();
    stop = true;
    producer.join();
    const double seconds = heartbeat.seconds();
    std::printf("  live growth to %d x %zu points in %.1f s (smoothing 0.6, following the data):\n",
                o.series, drained, seconds);
    std::printf("    %d replots (%.1f/s), longest drain+append %.1f ms\n", replots, replots / seconds, longestDrainMs);
    heartbeat.print();
    std::fflush(stdout);
}

/// A finished run as the engine writes one: 3 roles × `epochs` epochs of 50 step rows and
/// an epoch row each.
void writeFinishedRun(const QString &dir, int index, int epochs)
{
    kd::Project p;
    p.name = "bench-runs";
    p.seed = std::uint64_t(index % 10 + 1);
    p.device = "cpu";
    p.teacher.arch = "cnn_small";
    p.student.arch = "mlp";
    p.method.name = "kd";
    p.method.params["temperature"] = 1.0 + double(index / 10); // 20 settings × 10 seeds
    p.method.params["alpha"] = 0.9;
    kd::RunStore store(dir.toStdString(), p.toJson(), {"loss", "kd"});
    std::mt19937 rng(unsigned(index + 7));
    kd::RunSummary summary;
    summary.runDir = dir.toStdString();
    summary.status = "completed";
    summary.device = "cpu (2 threads)";
    summary.wallSeconds = 60;
    for (const char *role : {"teacher", "student", "student_scratch"}) {
        std::int64_t step = 0;
        double acc = 0;
        for (int e = 1; e <= epochs; ++e) {
            for (int i = 0; i < 50; ++i) {
                kd::MetricRecord r;
                r.role = role;
                r.epoch = e;
                r.step = ++step;
                r.wallSeconds = 0.1 * double(step);
                const double loss = lossValue(std::size_t(step), std::size_t(50 * epochs), 1, rng);
                r.losses = {{"loss", loss}, {"kd", 0.5 * loss}};
                r.lr = 0.05;
                r.imagesPerSecond = 1000;
                store.appendMetric(r);
            }
            kd::MetricRecord r;
            r.role = role;
            r.kind = kd::MetricRecord::Kind::Epoch;
            r.epoch = e;
            r.step = step;
            r.wallSeconds = 0.1 * double(step);
            acc = 0.9 - 0.3 / double(e) + 0.002 * double(index % 10);
            r.testAcc = acc;
            store.appendMetric(r);
        }
        kd::RoleSummary rs;
        rs.role = role;
        rs.arch = std::string(role) == "teacher" ? "cnn_small" : "mlp";
        rs.method = std::string(role) == "student" ? "kd" : "ce";
        rs.finalTestAcc = rs.bestTestAcc = acc;
        rs.epochsDone = epochs;
        rs.completed = true;
        summary.roles.push_back(rs);
    }
    store.writeSummary(summary);
}

int benchRealSession(const Options &o)
{
    QTemporaryDir root;
    const QString folder = QDir(root.path()).filePath(QStringLiteral("runs"));
    QDir().mkpath(folder);
    QElapsedTimer prep;
    prep.start();
    for (int i = 0; i < o.runs; ++i)
        writeFinishedRun(QDir(folder).filePath(QStringLiteral("run%1").arg(i, 3, 10, QLatin1Char('0'))), i, 10);
    std::printf("  real session: %d finished runs written in %.1f s\n", o.runs, prep.nsecsElapsed() / 1e9);

    QWidget window;
    window.resize(o.width + 700, o.height);
    auto *layout = new QHBoxLayout(&window);
    auto *browser = new RunsBrowser;
    auto *chart = new MetricsChart;
    layout->addWidget(browser, 1);
    layout->addWidget(chart, 2);
    RunsChartLink link(browser, chart);
    for (int s = 0; s < o.series; ++s)
        chart->addSeries(makeSeries(s, o.points));
    window.show();
    int scans = 0;
    QObject::connect(browser, &RunsBrowser::runsUpdated, [&](int) { ++scans; });
    browser->addFolder(folder);
    QElapsedTimer wait;
    wait.start();
    while (browser->model()->runs().size() < std::size_t(o.runs) && wait.elapsed() < 60000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    std::printf("  browser lists %zu runs %.1f s after the folder was added\n", browser->model()->runs().size(),
                wait.nsecsElapsed() / 1e9);
    QStringList finished;
    for (int i : {0, 57, 123})
        finished << RunsTableModel::normalizeDir(QDir(folder).filePath(QStringLiteral("run%1").arg(i, 3, 10, QLatin1Char('0'))));
    browser->selectDirs(finished);

    // The live run, in another process, into the watched folder.
    const QString liveDir = QDir(folder).filePath(QStringLiteral("live-kdw"));
    QProcess kdw;
    QStringList args{QStringLiteral("run"), o.project, QStringLiteral("--out"), liveDir, QStringLiteral("--quiet")};
    if (o.kdwThreads > 0)
        args << QStringLiteral("--set") << QStringLiteral("threads=%1").arg(o.kdwThreads);
    if (o.kdwBackground)
        args << QStringLiteral("--background");
    // Long enough to stream for the whole measurement (the quick example as shipped can end
    // within it on a fast machine).
    args << QStringLiteral("--set") << QStringLiteral("teacher.train.epochs=30");
    kdw.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    kdw.setStandardOutputFile(QProcess::nullDevice());
    kdw.start(o.kdw, args);
    if (!kdw.waitForStarted(10000)) {
        std::fprintf(stderr, "bench_charts: cannot start %s (pass --kdw PATH)\n", qPrintable(o.kdw));
        return 1;
    }
    // Wait until the live run has written its first metrics rows, then make it current.
    wait.restart();
    while (wait.elapsed() < 120000 && kdw.state() == QProcess::Running) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        QFile metrics(QDir(liveDir).filePath(QStringLiteral("metrics.csv")));
        if (metrics.size() > 2000)
            break;
    }
    // Making it current selects it (a user's click): timed on its own, then the streaming
    // window starts once its first curves are drawn.
    QElapsedTimer selectClock;
    selectClock.start();
    browser->setCurrentRun(liveDir);
    const QString liveKey = RunsTableModel::normalizeDir(liveDir) + QStringLiteral("/teacher/loss");
    while (!chart->plot()->series(liveKey) && selectClock.elapsed() < 20000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    const double selectMs = selectClock.nsecsElapsed() / 1e6;
    int liveUpdates = 0;
    qsizetype livePoints = 0;
    QObject::connect(browser, &RunsBrowser::seriesUpdated, [&](const QString &dir, const QVector<RunSeries> &series) {
        if (dir != RunsTableModel::normalizeDir(liveDir))
            return;
        ++liveUpdates;
        for (const RunSeries &s : series)
            if (s.role == QLatin1String("teacher") && s.column == QLatin1String("loss") && s.kind == QLatin1String("step"))
                livePoints = s.y.size();
    });
    chart->setMetric(QStringLiteral("loss"));
    chart->plot()->replot(QCustomPlot::rpImmediateRefresh); // the switch itself is not streaming
    QCoreApplication::processEvents();

    Heartbeat heartbeat;
    int replots = 0;
    double longestReplotMs = 0;
    QElapsedTimer replotClock;
    QObject::connect(chart->plot(), &QCustomPlot::beforeReplot, [&] { replotClock.start(); });
    QObject::connect(chart->plot(), &QCustomPlot::afterReplot, [&] {
        ++replots;
        longestReplotMs = std::max(longestReplotMs, replotClock.nsecsElapsed() / 1e6);
    });
    int frame = 0;
    const double full = double(o.points);
    QTimer drag;
    drag.setTimerType(Qt::PreciseTimer);
    drag.setInterval(1000 / std::max(1, o.dragHz));
    QObject::connect(&drag, &QTimer::timeout, [&] {
        const double phase = ++frame * 0.05;
        const double width = full * (0.01 + 0.99 * 0.5 * (1.0 + std::cos(phase * 0.37)));
        const double centre = full * 0.5 * (1.0 + std::sin(phase));
        chart->plot()->xAxis->setRange(centre - width / 2, centre + width / 2);
        chart->plot()->replot(QCustomPlot::rpQueuedReplot);
    });
    QTimer::singleShot(int(1000 * o.liveSeconds), [] { QCoreApplication::quit(); });
    const bool runningAtStart = kdw.state() == QProcess::Running;
    heartbeat.start();
    drag.start();
    QCoreApplication::exec();
    drag.stop();
    heartbeat.timer.stop();
    const double seconds = heartbeat.seconds();
    const bool runningAtEnd = kdw.state() == QProcess::Running;
    kdw.kill();
    kdw.waitForFinished(10000);

    std::printf("  over %.1f s, kdw %s (threads %s, %s priority), %zu runs listed, %d scans, chart %zu points:\n",
                seconds, runningAtStart && runningAtEnd ? "training throughout" : "NOT training throughout",
                o.kdwThreads > 0 ? qPrintable(QString::number(o.kdwThreads)) : "default",
                o.kdwBackground ? "background" : "normal",
                browser->model()->runs().size(), scans, chart->plot()->pointCount());
    std::printf("    %d replots (%.1f/s) under a %d Hz drag, longest replot %.1f ms\n", replots, replots / seconds,
                o.dragHz, longestReplotMs);
    std::printf("    live run: made current and its curves drawn in %.0f ms (before the window); then %d series updates,"
                " teacher loss at %lld points\n", selectMs, liveUpdates, (long long)livePoints);
    heartbeat.print();
    std::fflush(stdout);
    return 0;
}

bool parse(int argc, char **argv, Options &o)
{
    for (int i = 1; i < argc; ++i) {
        const bool more = i + 1 < argc;
        if (!std::strcmp(argv[i], "--points") && more)
            o.points = std::size_t(std::atoll(argv[++i]));
        else if (!std::strcmp(argv[i], "--series") && more)
            o.series = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--seconds") && more)
            o.seconds = std::max(0.5, std::atof(argv[++i]));
        else if (!std::strcmp(argv[i], "--size") && more && std::sscanf(argv[++i], "%dx%d", &o.width, &o.height) == 2)
            continue;
        else if (!std::strcmp(argv[i], "--kdw") && more)
            o.kdw = QString::fromLocal8Bit(argv[++i]);
        else if (!std::strcmp(argv[i], "--project") && more)
            o.project = QString::fromLocal8Bit(argv[++i]);
        else if (!std::strcmp(argv[i], "--runs") && more)
            o.runs = std::max(0, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--live-seconds") && more)
            o.liveSeconds = std::max(1.0, std::atof(argv[++i]));
        else if (!std::strcmp(argv[i], "--kdw-threads") && more)
            o.kdwThreads = std::max(0, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--kdw-priority") && more
                 && (!std::strcmp(argv[i + 1], "background") || !std::strcmp(argv[i + 1], "normal")))
            o.kdwBackground = !std::strcmp(argv[++i], "background");
        else if (!std::strcmp(argv[i], "--drag-hz") && more)
            o.dragHz = std::clamp(std::atoi(argv[++i]), 1, 1000);
        else if (!std::strcmp(argv[i], "--only-live"))
            o.onlyLive = true;
        else {
            std::fprintf(stderr, "usage: bench_charts [--points N] [--series S] [--seconds T] [--size WxH]\n"
                                 "                    [--kdw PATH] [--project FILE] [--runs N] [--live-seconds T]\n"
                                 "                    [--kdw-threads N] [--kdw-priority background|normal]\n"
                                 "                    [--drag-hz 30] [--only-live]\n");
            return false;
        }
    }
    return o.points > 0;
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    Options o;
    if (!parse(argc, argv, o))
        return 2;
    std::printf("bench_charts: %d series x %zu points, %dx%d, platform %s, %u hardware threads\n", o.series,
                o.points, o.width, o.height, qPrintable(QGuiApplication::platformName()),
                std::thread::hardware_concurrency());
    if (!o.onlyLive) {
        benchPanZoom(o);
        benchPlainQCustomPlot(o);
        benchLiveGrowth(o);
    }
    return benchRealSession(o);
}
