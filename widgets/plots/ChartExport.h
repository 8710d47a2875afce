#pragma once

// Saving a chart: PNG, SVG and PDF of what the chart shows, and CSV of chosen series' raw
// points. Each function writes the whole file or nothing (a failed write leaves no partial
// file) and returns false with the reason in `error`.

#include "plots/ChartSeries.h"

#include <QString>

#include <vector>

class QCustomPlot;

namespace kd::ui {

class ChartPlot;

namespace ChartExport {

/// Image formats by file suffix: "png", "svg", "pdf" (case-insensitive).
enum class Format { Png, Svg, Pdf };
/// The format of `path`'s suffix; false for any other suffix.
bool formatForPath(const QString &path, Format *format);

/// Saves the chart as it is shown, at `width` × `height` pixels (0: the widget's size). The
/// drawn data is decimated for the export width first, so an export larger than the widget
/// keeps its detail.
bool saveImage(ChartPlot *plot, const QString &path, Format format, int width = 0, int height = 0,
               QString *error = nullptr);

/// Writes the series' raw points (never the smoothed or decimated ones) as CSV: per series
/// two columns, "<legend> · <metric> [<x axis>]" and "<legend> · <metric>", one row per
/// point, empty cells past a series' end. NaN is an empty y cell, infinities "inf"/"-inf";
/// values are written with 17 significant digits, so they read back exactly. A series
/// without values for `axis` is written with an empty x column.
bool saveCsv(const std::vector<const ChartSeries *> &series, ChartXAxis axis, const QString &path,
             QString *error = nullptr);

} // namespace ChartExport
} // namespace kd::ui
