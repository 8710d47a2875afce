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

#include <plots/ChartPlot.h>
#include <plots/MetricsChart.h>

#include <QApplication>
#include <QElapsedTimer>
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
    QElapsedTimer clock;
    clock.start();
    qint64 lastBeat = clock.nsecsElapsed();
    double longestGapMs = 0;
    std::vector<double> gaps;
    QTimer heartbeat;
    heartbeat.setTimerType(Qt::PreciseTimer);
    heartbeat.setInterval(1);
    QObject::connect(&heartbeat, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        const double gap = (now - lastBeat) / 1e6;
        gaps.push_back(gap);
        longestGapMs = std::max(longestGapMs, gap);
        lastBeat = now;
    });
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
    const double seconds = clock.nsecsElapsed() / 1e9;
    std::sort(gaps.begin(), gaps.end());
    const double p99 = gaps.empty() ? 0 : gaps[std::size_t(0.99 * double(gaps.size() - 1))];
    std::printf("  live growth to %d x %zu points in %.1f s (smoothing 0.6, following the data):\n",
                o.series, drained, seconds);
    std::printf("    %d replots (%.1f/s), longest drain+append %.1f ms\n", replots, replots / seconds, longestDrainMs);
    std::printf("    heartbeat (1 ms timer): longest GUI stall %.1f ms, 99th percentile %.1f ms, %zu beats\n",
                longestGapMs, p99, gaps.size());
    std::fflush(stdout);
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
        else {
            std::fprintf(stderr, "usage: bench_charts [--points N] [--series S] [--seconds T] [--size WxH]\n");
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
    benchPanZoom(o);
    benchPlainQCustomPlot(o);
    benchLiveGrowth(o);
    return 0;
}
