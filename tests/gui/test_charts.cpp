// The metrics chart (QT_QPA_PLATFORM=offscreen): series of several runs and roles, legend
// toggles by mouse, the series and x-axis choices, log scales, smoothing over the faint raw
// series, seed-group bands, live appends, decimation of large series, and every export.
// KD_SCREENSHOT_DIR=dir also saves screenshot-charts.png there (3 runs × 2 roles, smoothing
// on, a seed band) to look at.

#include <plots/ChartExport.h>
#include <plots/ChartPlot.h>
#include <plots/MetricsChart.h>
#include <plots/Smoothing.h>
#include <runs/RunsChartLink.h>

#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QFile>
#include <QImage>
#include <QSlider>
#include <QTemporaryDir>
#include <QToolButton>
#include <QTest>
#include <QXmlStreamReader>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

using namespace kd::ui;

namespace {

/// A loss-like series: decay plus seeded noise, `n` points at steps 10, 20, ...
ChartSeries lossSeries(const QString &run, const QString &role, int n, unsigned seed, double level = 0.3,
                       const QString &name = QStringLiteral("loss"))
{
    ChartSeries s;
    s.name = name;
    s.runId = run;
    s.role = role;
    s.x.startUnix = 1764620000; // 2025-12-01 20:13:20 UTC
    std::mt19937 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.08);
    for (int i = 0; i < n; ++i) {
        s.x.step.push_back(10.0 * (i + 1));
        s.x.epoch.push_back(1.0 + 5.0 * i / n);
        s.x.relativeTime.push_back(1.5 * i);
        s.y.push_back(level + 2.0 * std::exp(-4.0 * i / n) + noise(rng));
    }
    return s;
}

std::vector<double> keysOf(const QCPGraph *g)
{
    std::vector<double> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        out.push_back(it->key);
    return out;
}

std::vector<double> valuesOf(const QCPGraph *g)
{
    std::vector<double> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        out.push_back(it->value);
    return out;
}

/// Clicks the legend entry of `graph` with the mouse, as a user would.
bool clickLegendEntry(ChartPlot *plot, QCPGraph *graph)
{
    plot->replot(QCustomPlot::rpImmediateRefresh); // lays the legend out
    QCPPlottableLegendItem *item = plot->legend->itemWithPlottable(graph);
    if (!item)
        return false;
    QTest::mouseClick(plot, Qt::LeftButton, Qt::NoModifier, item->rect().center());
    return true;
}

/// One CSV line into fields (quotes as RFC 4180 writes them).
QStringList csvFields(const QString &line)
{
    QStringList fields;
    QString field;
    bool quoted = false;
    for (int i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (quoted) {
            if (c == QLatin1Char('"') && i + 1 < line.size() && line[i + 1] == QLatin1Char('"')) {
                field += c;
                ++i;
            } else if (c == QLatin1Char('"')) {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == QLatin1Char('"')) {
            quoted = true;
        } else if (c == QLatin1Char(',')) {
            fields << field;
            field.clear();
        } else {
            field += c;
        }
    }
    fields << field;
    return fields;
}

QByteArray readAll(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

} // namespace

class TestCharts : public QObject {
    Q_OBJECT

private Q_SLOTS:
    /// The runs browser's series become chart series: a run's epoch-row loss must not replace
    /// its step-row loss, and every x axis the run logged travels with the values.
    void runSeriesBecomeChartSeries()
    {
        kd::ui::RunSeries s;
        s.runDir = QStringLiteral("/runs/a");
        s.runName = QStringLiteral("a");
        s.role = QStringLiteral("student");
        s.kind = QStringLiteral("epoch");
        s.column = QStringLiteral("loss");
        s.step = {10, 20};
        s.epoch = {1, 2};
        s.wallSeconds = {3.5, 7.0};
        s.y = {0.9, 0.5};
        auto c = kd::ui::RunsChartLink::toChartSeries(s);
        QCOMPARE(c.name, QStringLiteral("epoch_loss"));
        QCOMPARE(c.key(), QStringLiteral("/runs/a/student/epoch_loss"));
        QCOMPARE(c.x.values(kd::ui::ChartXAxis::Step), (std::vector<double>{10, 20}));
        QCOMPARE(c.x.values(kd::ui::ChartXAxis::RelativeTime), (std::vector<double>{3.5, 7.0}));
        QCOMPARE(c.y, (std::vector<double>{0.9, 0.5}));
        s.kind = QStringLiteral("step");
        QCOMPARE(kd::ui::RunsChartLink::toChartSeries(s).name, QStringLiteral("loss"));
        s.kind = QStringLiteral("epoch");
        s.column = QStringLiteral("test_acc");
        QCOMPARE(kd::ui::RunsChartLink::toChartSeries(s).name, QStringLiteral("test_acc"));
    }

    void seriesAddAndLegendToggle();
    void seriesChoiceListsEveryLoggedName();
    void defaultMetricPrefersAccuracyThenLoss();
    void xAxisSwitchChangesTheData();
    void logScales();
    void smoothingDrawsOverTheRawSeries();
    void largeSeriesAreDecimatedForTheView();
    void liveAppendsContinueTheSeries();
    void badInputIsRefusedAndChangesNothing();
    void seedBands();
    void exportsImages();
    void csvRoundTrip();
    void screenshot();
};

void TestCharts::seriesAddAndLegendToggle()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    ChartPlot *plot = chart.plot();
    const ChartSeries a = lossSeries(QStringLiteral("run-a"), QStringLiteral("student"), 50, 1);
    const ChartSeries b = lossSeries(QStringLiteral("run-b"), QStringLiteral("teacher"), 50, 2);
    QVERIFY(chart.addSeries(a));
    QVERIFY(chart.addSeries(b));
    QCOMPARE(plot->seriesKeys(), (QStringList{a.key(), b.key()}));
    QCOMPARE(plot->legend->itemCount(), 2);
    // Colour by run, line style by role.
    QCOMPARE(plot->lineGraph(a.key())->pen().style(), Qt::SolidLine);
    QCOMPARE(plot->lineGraph(b.key())->pen().style(), Qt::DotLine);
    QVERIFY(plot->lineGraph(a.key())->pen().color() != plot->lineGraph(b.key())->pen().color());

    QVERIFY(clickLegendEntry(plot, plot->lineGraph(a.key())));
    QVERIFY(!plot->isSeriesVisible(a.key()));
    QVERIFY(!plot->lineGraph(a.key())->visible());
    QCOMPARE(plot->shownSeries().size(), std::size_t(1));
    QCOMPARE(plot->legend->itemCount(), 2); // the entry stays, to switch the series back on
    QVERIFY(clickLegendEntry(plot, plot->lineGraph(a.key())));
    QVERIFY(plot->isSeriesVisible(a.key()));
    QVERIFY(plot->lineGraph(a.key())->visible());

    // Replacing a series keeps its place; removing it drops graphs and legend entry.
    QVERIFY(chart.addSeries(lossSeries(QStringLiteral("run-a"), QStringLiteral("student"), 20, 3)));
    QCOMPARE(plot->seriesKeys().size(), 2);
    QCOMPARE(plot->series(a.key())->y.size(), std::size_t(20));
    QVERIFY(chart.removeSeries(a.key()));
    QCOMPARE(plot->seriesKeys(), QStringList{b.key()});
    QCOMPARE(plot->legend->itemCount(), 1);
    QCOMPARE(plot->graphCount(), 2); // b's line and raw graphs
}

void TestCharts::seriesChoiceListsEveryLoggedName()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    auto *box = chart.findChild<QComboBox *>(QStringLiteral("metricBox"));
    QVERIFY(box);
    for (const char *name : {"loss", "test_acc", "loss_kd"}) {
        chart.addSeries(lossSeries(QStringLiteral("r1"), QStringLiteral("student"), 30, 4, 0.3, QLatin1String(name)));
        chart.addSeries(lossSeries(QStringLiteral("r2"), QStringLiteral("student"), 30, 5, 0.3, QLatin1String(name)));
    }
    QStringList items;
    for (int i = 0; i < box->count(); ++i)
        items << box->itemText(i);
    QCOMPARE(items, (QStringList{"loss", "loss_kd", "test_acc"}));
    // Until the user chooses, test accuracy is preferred over whatever came first.
    QCOMPARE(chart.plot()->metric(), QStringLiteral("test_acc"));
    box->setCurrentText(QStringLiteral("loss_kd"));
    QCOMPARE(chart.plot()->metric(), QStringLiteral("loss_kd"));
    // A chosen metric stays chosen when a preferred one appears later.
    chart.addSeries(lossSeries(QStringLiteral("r3"), QStringLiteral("student"), 30, 6, 0.3, QStringLiteral("val_acc")));
    QCOMPARE(chart.plot()->metric(), QStringLiteral("loss_kd"));
    box->setCurrentText(QStringLiteral("test_acc"));
    QCOMPARE(chart.plot()->metric(), QStringLiteral("test_acc"));
    QCOMPARE(chart.plot()->yAxis->label(), QStringLiteral("test_acc"));
    QCOMPARE(chart.plot()->legend->itemCount(), 2);
    for (const ChartSeries *s : chart.plot()->shownSeries())
        QCOMPARE(s->name, QStringLiteral("test_acc"));
    QVERIFY(!chart.plot()->lineGraph(QStringLiteral("r1/student/loss"))->visible());
}

void TestCharts::defaultMetricPrefersAccuracyThenLoss()
{
    ChartPlot plot;
    plot.addSeries(lossSeries(QStringLiteral("r1"), QStringLiteral("student"), 10, 1, 0.3, QStringLiteral("img_per_s")));
    QCOMPARE(plot.metric(), QStringLiteral("img_per_s")); // nothing preferred yet: the first name
    plot.addSeries(lossSeries(QStringLiteral("r1"), QStringLiteral("student"), 10, 1, 0.3, QStringLiteral("loss")));
    QCOMPARE(plot.metric(), QStringLiteral("loss"));
    plot.addSeries(lossSeries(QStringLiteral("r1"), QStringLiteral("student"), 10, 1, 0.3, QStringLiteral("test_acc")));
    QCOMPARE(plot.metric(), QStringLiteral("test_acc"));
    // Removing the shown metric's last series falls back along the same order.
    plot.removeSeries(QStringLiteral("r1/student/test_acc"));
    QCOMPARE(plot.metric(), QStringLiteral("loss"));
    plot.setPreferredMetrics({QStringLiteral("img_per_s")});
    QCOMPARE(plot.metric(), QStringLiteral("img_per_s"));
    plot.clearAll();
    QVERIFY(plot.metric().isEmpty());
}

void TestCharts::xAxisSwitchChangesTheData()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    const ChartSeries s = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 40, 6);
    chart.addSeries(s);
    ChartPlot *plot = chart.plot();
    auto *axisBox = chart.findChild<QComboBox *>(QStringLiteral("xAxisBox"));
    QVERIFY(axisBox);

    plot->replot();
    QCOMPARE(keysOf(plot->lineGraph(s.key())), s.x.step);
    QCOMPARE(plot->xAxis->label(), QStringLiteral("step"));

    axisBox->setCurrentIndex(axisBox->findData(int(ChartXAxis::RelativeTime)));
    QCOMPARE(plot->xAxisKind(), ChartXAxis::RelativeTime);
    plot->replot();
    QCOMPARE(keysOf(plot->lineGraph(s.key())), s.x.relativeTime);
    QVERIFY(plot->xAxis->range().contains(s.x.relativeTime.back()));

    axisBox->setCurrentIndex(axisBox->findData(int(ChartXAxis::WallTime)));
    plot->replot();
    const std::vector<double> wall = keysOf(plot->lineGraph(s.key()));
    QCOMPARE(wall.size(), s.y.size());
    QCOMPARE(wall.front(), s.x.startUnix); // derived from the start and the relative time
    QCOMPARE(wall.back(), s.x.startUnix + s.x.relativeTime.back());
    QVERIFY(!plot->xAxis->ticker().dynamicCast<QCPAxisTickerDateTime>().isNull());

    chart.setXAxis(ChartXAxis::Epoch);
    QCOMPARE(axisBox->currentData().toInt(), int(ChartXAxis::Epoch)); // the control follows
    plot->replot();
    QCOMPARE(keysOf(plot->lineGraph(s.key())), s.x.epoch);
    QCOMPARE(valuesOf(plot->lineGraph(s.key())), s.y);
}

void TestCharts::logScales()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    ChartSeries s = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 30, 7);
    s.y[3] = 0.0;  // not drawable on a log axis
    s.y[4] = -1.0;
    chart.addSeries(s);
    ChartPlot *plot = chart.plot();
    auto *logY = chart.findChild<QCheckBox *>(QStringLiteral("logY"));
    auto *logX = chart.findChild<QCheckBox *>(QStringLiteral("logX"));
    QVERIFY(logX && logY);

    logY->setChecked(true);
    QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLogarithmic);
    QVERIFY(plot->yAxis->range().lower > 0);
    plot->replot();
    const std::vector<double> v = valuesOf(plot->lineGraph(s.key()));
    QVERIFY(std::isnan(v[3]) && std::isnan(v[4]));
    QCOMPARE(v[5], s.y[5]);

    logX->setChecked(true);
    QCOMPARE(plot->xAxis->scaleType(), QCPAxis::stLogarithmic);
    QVERIFY(plot->xAxis->range().lower > 0);
    QVERIFY(plot->xAxis->range().contains(s.x.step.back()));
    logY->setChecked(false);
    QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLinear);
    QVERIFY(plot->yAxis->range().contains(-1.0));
}

void TestCharts::smoothingDrawsOverTheRawSeries()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    const ChartSeries s = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 300, 8);
    chart.addSeries(s);
    ChartPlot *plot = chart.plot();
    auto *slider = chart.findChild<QSlider *>(QStringLiteral("smoothing"));
    QVERIFY(slider);
    QCOMPARE(slider->maximum(), 999);

    plot->replot();
    QCOMPARE(valuesOf(plot->lineGraph(s.key())), s.y);
    QVERIFY(!plot->rawGraph(s.key())->visible());

    slider->setValue(600);
    QCOMPARE(plot->smoothing(), 0.6);
    plot->replot();
    const std::vector<double> expected = Smoothing::debiasedEma(s.y, 0.6);
    const std::vector<double> drawn = valuesOf(plot->lineGraph(s.key()));
    QCOMPARE(drawn.size(), expected.size());
    for (std::size_t i = 0; i < drawn.size(); ++i)
        QCOMPARE(drawn[i], expected[i]);
    QVERIFY(drawn != s.y);
    // The raw series stays, faint, beneath.
    QVERIFY(plot->rawGraph(s.key())->visible());
    QCOMPARE(valuesOf(plot->rawGraph(s.key())), s.y);
    QVERIFY(plot->rawGraph(s.key())->pen().color().alpha() < 128);
    QVERIFY(plot->rawGraph(s.key())->layer()->index() < plot->lineGraph(s.key())->layer()->index());
    QVERIFY(!plot->legend->itemWithPlottable(plot->rawGraph(s.key())));

    chart.setSmoothing(5.0); // clamped to the slider's end
    QCOMPARE(plot->smoothing(), 0.999);
    QCOMPARE(slider->value(), 999);
    slider->setValue(0);
    plot->replot();
    QCOMPARE(valuesOf(plot->lineGraph(s.key())), s.y);
    QVERIFY(!plot->rawGraph(s.key())->visible());
}

void TestCharts::largeSeriesAreDecimatedForTheView()
{
    MetricsChart chart;
    chart.resize(1000, 500);
    chart.show();
    ChartSeries s;
    s.name = QStringLiteral("loss");
    s.runId = QStringLiteral("big");
    s.role = QStringLiteral("student");
    const int n = 300000, spikeAt = 123457;
    for (int i = 0; i < n; ++i) {
        s.x.step.push_back(i);
        s.y.push_back(1.0 + 0.01 * double((i * 7919LL) % 13));
    }
    s.y[std::size_t(spikeAt)] = 9.0;
    chart.addSeries(s);
    ChartPlot *plot = chart.plot();
    plot->replot();
    QCPGraph *g = plot->lineGraph(s.key());
    const int pixels = plot->axisRect()->width();
    QVERIFY(pixels > 500);
    QVERIFY2(g->dataCount() <= 4 * pixels + 2, qPrintable(QString::number(g->dataCount())));
    QCOMPARE(plot->pointCount(), std::size_t(n)); // every point is still held
    const std::vector<double> keys = keysOf(g);
    QVERIFY(std::find(keys.begin(), keys.end(), double(spikeAt)) != keys.end());

    // Zoomed in far enough, every point in view is drawn.
    plot->xAxis->setRange(1000, 1500);
    plot->replot();
    QVERIFY(g->dataCount() >= 501 && g->dataCount() <= 503);
}

void TestCharts::liveAppendsContinueTheSeries()
{
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    ChartSeries s;
    s.name = QStringLiteral("loss");
    s.runId = QStringLiteral("live");
    s.role = QStringLiteral("student");
    QVERIFY(chart.addSeries(s));
    chart.setSmoothing(0.9);
    const ChartSeries full = lossSeries(QStringLiteral("live"), QStringLiteral("student"), 400, 9);
    ChartPlot *plot = chart.plot();
    for (int from = 0; from < 400; from += 50) {
        ChartPoints p;
        for (int i = from; i < from + 50; ++i) {
            p.x.step.push_back(full.x.step[std::size_t(i)]);
            p.x.relativeTime.push_back(full.x.relativeTime[std::size_t(i)]);
            p.y.push_back(full.y[std::size_t(i)]);
        }
        QString error;
        QVERIFY2(chart.appendPoints(s.key(), p, &error), qPrintable(error));
        plot->replot();
        // The view follows the growing series.
        QVERIFY(plot->xAxis->range().contains(full.x.step[std::size_t(from + 49)]));
    }
    QCOMPARE(plot->series(s.key())->y, full.y);
    // Incremental smoothing gives what smoothing the whole series gives.
    const std::vector<double> expected = Smoothing::debiasedEma(full.y, 0.9);
    const std::vector<double> drawn = valuesOf(plot->lineGraph(s.key()));
    QCOMPARE(drawn.size(), expected.size());
    for (std::size_t i = 0; i < drawn.size(); ++i)
        QVERIFY(std::abs(drawn[i] - expected[i]) <= 1e-12);

    // Once the user pans, new points no longer move the view.
    QTest::mousePress(plot, Qt::LeftButton, Qt::NoModifier, plot->axisRect()->center() - QPoint(100, 0));
    QTest::mouseRelease(plot, Qt::LeftButton, Qt::NoModifier, plot->axisRect()->center());
    QVERIFY(!plot->following());
    const QCPRange before = plot->xAxis->range();
    ChartPoints more;
    more.x.step = {5000};
    more.x.relativeTime = {900};
    more.y = {0.5};
    QVERIFY(chart.appendPoints(s.key(), more));
    QCOMPARE(plot->xAxis->range(), before);
    chart.findChild<QToolButton *>(QStringLiteral("resetView"))->click();
    QVERIFY(plot->following());
    QVERIFY(plot->xAxis->range().contains(5000));
}

void TestCharts::badInputIsRefusedAndChangesNothing()
{
    MetricsChart chart;
    ChartSeries s = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 10, 10);
    std::swap(s.x.step[3], s.x.step[4]);
    QString error;
    QVERIFY(!chart.addSeries(s, &error));
    QVERIFY2(error.contains(QLatin1String("step")) && error.contains(QLatin1String("point 4")), qPrintable(error));
    QVERIFY(chart.plot()->seriesKeys().isEmpty());

    ChartSeries ok = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 10, 10);
    ok.x.epoch.pop_back(); // one value short
    QVERIFY(!chart.addSeries(ok, &error));
    QVERIFY2(error.contains(QLatin1String("epoch")), qPrintable(error));

    ok = lossSeries(QStringLiteral("run"), QStringLiteral("student"), 10, 10);
    QVERIFY(chart.addSeries(ok));
    ChartPoints back;
    back.x.step = {1};
    back.x.epoch = {9};
    back.x.relativeTime = {99};
    back.y = {1};
    QVERIFY(!chart.appendPoints(ok.key(), back, &error)); // step goes back
    QVERIFY2(error.contains(QLatin1String("go back")), qPrintable(error));
    ChartPoints missing;
    missing.x.step = {1000};
    missing.y = {1};
    QVERIFY(!chart.appendPoints(ok.key(), missing, &error)); // no epoch / time values
    QVERIFY(!chart.appendPoints(QStringLiteral("no/such/series"), missing, &error));
    QVERIFY(error.contains(QLatin1String("no series")));
    QCOMPARE(chart.plot()->series(ok.key())->y.size(), std::size_t(10)); // nothing was lost
}

void TestCharts::seedBands()
{
    std::vector<ChartSeries> seeds;
    for (unsigned seed = 0; seed < 3; ++seed)
        seeds.push_back(lossSeries(QStringLiteral("kd-seed%1").arg(seed), QStringLiteral("student"), 60 + int(seed), 20 + seed));
    ChartSeries mean;
    const ChartBand band = seedBand(seeds, ChartBand::Kind::MeanSd, QStringLiteral("kd"),
                                    QStringLiteral("kd (3 seeds) ± sd"), &mean);
    QCOMPARE(band.lower.size(), std::size_t(60)); // the shortest member
    for (std::size_t i : {std::size_t(0), std::size_t(31), std::size_t(59)}) {
        const double a = seeds[0].y[i], b = seeds[1].y[i], c = seeds[2].y[i];
        const double mu = (a + b + c) / 3;
        const double sd = std::sqrt(((a - mu) * (a - mu) + (b - mu) * (b - mu) + (c - mu) * (c - mu)) / 2);
        QVERIFY(std::abs(mean.y[i] - mu) < 1e-12);
        QVERIFY(std::abs(band.lower[i] - (mu - sd)) < 1e-12);
        QVERIFY(std::abs(band.upper[i] - (mu + sd)) < 1e-12);
    }
    const ChartBand minMax = seedBand(seeds, ChartBand::Kind::MinMax, QStringLiteral("kd"), QString());
    QCOMPARE(minMax.upper[7], std::max({seeds[0].y[7], seeds[1].y[7], seeds[2].y[7]}));
    QCOMPARE(minMax.lower[7], std::min({seeds[0].y[7], seeds[1].y[7], seeds[2].y[7]}));

    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    QVERIFY(chart.addSeries(mean));
    QString error;
    QVERIFY2(chart.addBand(band, &error), qPrintable(error));
    ChartPlot *plot = chart.plot();
    QCPGraph *upper = plot->bandUpperGraph(band.key());
    QVERIFY(upper && upper->channelFillGraph());
    QVERIFY(upper->brush().style() != Qt::NoBrush);
    QCOMPARE(plot->legend->itemCount(), 2);
    plot->replot();
    QCOMPARE(valuesOf(upper), band.upper);
    QCOMPARE(valuesOf(upper->channelFillGraph()), band.lower);
    QVERIFY(clickLegendEntry(plot, upper));
    QVERIFY(!plot->isSeriesVisible(band.key()));
    QVERIFY(!upper->visible() && !upper->channelFillGraph()->visible());
    QVERIFY(chart.removeBand(band.key()));
    QCOMPARE(plot->legend->itemCount(), 1);
}

void TestCharts::exportsImages()
{
    QTemporaryDir dir;
    MetricsChart chart;
    chart.resize(900, 500);
    chart.show();
    chart.addSeries(lossSeries(QStringLiteral("a"), QStringLiteral("teacher"), 200, 11));
    chart.addSeries(lossSeries(QStringLiteral("a"), QStringLiteral("student"), 200, 12));
    chart.setSmoothing(0.6);
    QString error;

    const QString png = dir.filePath(QStringLiteral("chart.png"));
    QVERIFY2(chart.exportImage(png, 1200, 700, &error), qPrintable(error));
    const QImage image(png);
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), QSize(1200, 700));
    // Not blank: the curves put colour into the picture.
    int coloured = 0;
    for (int y = 0; y < image.height(); y += 3)
        for (int x = 0; x < image.width(); x += 3)
            coloured += QColor(image.pixel(x, y)).hsvSaturation() > 80;
    QVERIFY2(coloured > 50, qPrintable(QString::number(coloured)));

    const QString svg = dir.filePath(QStringLiteral("chart.svg"));
    QVERIFY2(chart.exportImage(svg, 0, 0, &error), qPrintable(error));
    QXmlStreamReader xml(readAll(svg));
    QString root;
    int paths = 0;
    while (!xml.atEnd()) {
        if (xml.readNext() == QXmlStreamReader::StartElement) {
            if (root.isEmpty())
                root = xml.name().toString();
            paths += xml.name() == QLatin1String("path") || xml.name() == QLatin1String("polyline");
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(root, QStringLiteral("svg"));
    QVERIFY(paths > 0);

    const QString pdf = dir.filePath(QStringLiteral("chart.pdf"));
    QVERIFY2(chart.exportImage(pdf, 800, 450, &error), qPrintable(error));
    const QByteArray pdfBytes = readAll(pdf);
    QVERIFY(pdfBytes.startsWith("%PDF"));
    QVERIFY(pdfBytes.size() > 1000);

    // Failures say why and leave nothing behind.
    QVERIFY(!chart.exportImage(dir.filePath(QStringLiteral("chart.gif")), 0, 0, &error));
    QVERIFY(error.contains(QLatin1String(".png")));
    const QString nowhere = dir.filePath(QStringLiteral("missing/dir/chart.png"));
    QVERIFY(!chart.exportImage(nowhere, 0, 0, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(!QFile::exists(nowhere));
    QVERIFY(!chart.exportImage(dir.filePath(QStringLiteral("missing/dir/chart.svg")), 0, 0, &error));
}

void TestCharts::csvRoundTrip()
{
    QTemporaryDir dir;
    MetricsChart chart;
    ChartSeries a = lossSeries(QStringLiteral("run, \"one\""), QStringLiteral("student"), 25, 13);
    a.y[2] = std::numeric_limits<double>::quiet_NaN();
    a.y[3] = std::numeric_limits<double>::infinity();
    const ChartSeries b = lossSeries(QStringLiteral("run-two"), QStringLiteral("teacher"), 40, 14);
    const ChartSeries hidden = lossSeries(QStringLiteral("run-three"), QStringLiteral("teacher"), 10, 15);
    chart.addSeries(a);
    chart.addSeries(b);
    chart.addSeries(hidden);
    chart.plot()->setSeriesVisible(hidden.key(), false); // the selection: what is shown
    chart.setXAxis(ChartXAxis::RelativeTime);
    const QString path = dir.filePath(QStringLiteral("series.csv"));
    QString error;
    QVERIFY2(chart.exportCsv(path, &error), qPrintable(error));

    const QStringList lines = QString::fromUtf8(readAll(path)).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 1 + 40);
    const QStringList header = csvFields(lines[0]);
    QCOMPARE(header.size(), 4);
    QVERIFY2(header[0].startsWith(QLatin1String("run, \"one\"")) && header[0].endsWith(QLatin1String("[relative time]")),
             qPrintable(header[0]));
    QVERIFY(header[3].contains(QLatin1String("run-two")));
    const ChartSeries *series[] = {&a, &b};
    for (int r = 0; r < 40; ++r) {
        const QStringList cells = csvFields(lines[r + 1]);
        QCOMPARE(cells.size(), 4);
        for (int k = 0; k < 2; ++k) {
            const ChartSeries &s = *series[k];
            if (std::size_t(r) >= s.y.size()) {
                QVERIFY(cells[2 * k].isEmpty() && cells[2 * k + 1].isEmpty());
                continue;
            }
            QCOMPARE(cells[2 * k].toDouble(), s.x.relativeTime[std::size_t(r)]); // exact
            const double y = s.y[std::size_t(r)];
            if (std::isnan(y))
                QVERIFY(cells[2 * k + 1].isEmpty());
            else if (std::isinf(y))
                QCOMPARE(cells[2 * k + 1], QStringLiteral("inf"));
            else
                QCOMPARE(cells[2 * k + 1].toDouble(), y);
        }
    }
    chart.plot()->setSeriesVisible(a.key(), false);
    chart.plot()->setSeriesVisible(b.key(), false);
    QVERIFY(!chart.exportCsv(path + QStringLiteral("2"), &error));
    QVERIFY(error.contains(QLatin1String("no series")));
}

void TestCharts::screenshot()
{
    // 3 runs (seeds of one setting) × teacher and KD student, smoothing on, the students'
    // mean ± sd band.
    MetricsChart chart;
    chart.resize(1100, 600);
    chart.show();
    std::vector<ChartSeries> students;
    for (int run = 0; run < 3; ++run) {
        const QString id = QStringLiteral("kd-t4-seed%1").arg(run + 1);
        ChartSeries teacher = lossSeries(id, QStringLiteral("teacher"), 600, 40 + unsigned(run), 0.12);
        ChartSeries student = lossSeries(id, QStringLiteral("student"), 600, 50 + unsigned(run), 0.45 + 0.05 * run);
        QVERIFY(chart.addSeries(teacher));
        QVERIFY(chart.addSeries(student));
        students.push_back(student);
    }
    ChartSeries mean;
    const ChartBand band = seedBand(students, ChartBand::Kind::MeanSd, QStringLiteral("kd-t4 (3 seeds)"),
                                    QStringLiteral("kd-t4: 3 seeds, mean ± sd"), &mean);
    mean.runLabel = QStringLiteral("kd-t4: mean of 3 seeds");
    QVERIFY(chart.addSeries(mean));
    QVERIFY(chart.addBand(band));
    chart.setSmoothing(0.6);
    chart.plot()->replot();
    QVERIFY(chart.plot()->rawGraph(students[0].key())->visible());
    QCOMPARE(chart.plot()->legend->itemCount(), 8);
    const QImage shot = chart.grab().toImage();
    QVERIFY(!shot.isNull());
    if (const QString dir = qEnvironmentVariable("KD_SCREENSHOT_DIR"); !dir.isEmpty())
        QVERIFY(shot.save(dir + QStringLiteral("/screenshot-charts.png")));
}

QTEST_MAIN(TestCharts)
#include "test_charts.moc"
