#pragma once

// Value types the metrics chart draws: a logged series of one run and role, and a band (the
// spread of a seed group). Plain data, copied into the chart; the chart never reaches back
// into a run or the engine.

#include <QMetaType>
#include <QString>

#include <cmath>
#include <vector>

namespace kd::ui {

/// What the horizontal axis shows.
enum class ChartXAxis {
    Step,         ///< optimiser step
    Epoch,        ///< epoch (fractional for step records when the caller provides it)
    WallTime,     ///< clock time, seconds since the Unix epoch
    RelativeTime, ///< seconds since the run started
};
/// "step", "epoch", "wall time", "relative time".
QString chartXAxisName(ChartXAxis axis);

/// The x values of one series or band for every axis choice. Arrays have the length of the
/// y values or are empty when the caller does not know them. An empty relativeTime is taken
/// from wallTime − wallTime[0]; an empty wallTime from startUnix + relativeTime.
struct ChartXValues {
    std::vector<double> step, epoch, wallTime, relativeTime;
    double startUnix = NAN; ///< when the run started (seconds since the Unix epoch), if known

    /// The array for `axis` (derived as above where needed); empty when unknown.
    std::vector<double> values(ChartXAxis axis) const;
};

/// One logged series, e.g. the student's "loss_kd" in run "kd-t4-seed1".
struct ChartSeries {
    QString name;     ///< the metric, as in metrics.csv: "loss", "loss_kd", "test_acc", "lr", ...
    QString runId;    ///< identifies the run (its directory); one colour per run
    QString runLabel; ///< shown in the legend; the run id when empty
    QString role;     ///< "teacher", "student", "student_scratch", ...: sets the line style
    ChartXValues x;
    std::vector<double> y;

    /// "runId/role/name": unique within a chart.
    QString key() const { return runId + QLatin1Char('/') + role + QLatin1Char('/') + name; }
    QString legendLabel() const;
};

/// Points appended to a live series: the same arrays as a series' x values and y, of equal
/// length (x arrays may be empty where the series has none).
struct ChartPoints {
    ChartXValues x;
    std::vector<double> y;
};

/// The spread of a seed group around its mean: a filled area between lower and upper.
struct ChartBand {
    enum class Kind { MeanSd, MinMax };
    QString name;  ///< the metric it belongs to (shown with the series of that name)
    QString groupId;  ///< colour key, like a run id (use the group's first run to match it)
    QString label;    ///< legend text, e.g. "kd T=4 (3 seeds) ± sd"
    QString role;
    Kind kind = Kind::MeanSd;
    ChartXValues x;
    std::vector<double> lower, upper;

    QString key() const
    {
        return QStringLiteral("band:") + groupId + QLatin1Char('/') + role + QLatin1Char('/') + name;
    }
};

/// A band (and optionally the mean curve) over runs of one setting that logged the same
/// points: aligned by index over the shortest member, x values from the first member, and per
/// point mean ± sample sd (MeanSd) or min and max (MinMax) of the members' finite values
/// (NaN where none is finite; sd 0 for a single member). Members must share name and role.
ChartBand seedBand(const std::vector<ChartSeries> &members, ChartBand::Kind kind,
                   const QString &groupId, const QString &label, ChartSeries *mean = nullptr);

} // namespace kd::ui

Q_DECLARE_METATYPE(kd::ui::ChartSeries)
Q_DECLARE_METATYPE(kd::ui::ChartPoints)
