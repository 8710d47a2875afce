#include "ChartExport.h"

#include "plots/ChartPlot.h"

#include <QFile>
#include <QFileInfo>
#include <QSaveFile>
#include <QSvgGenerator>

#include <algorithm>
#include <cmath>

namespace kd::ui::ChartExport {

namespace {

bool fail(QString *error, const QString &text)
{
    if (error)
        *error = text;
    return false;
}

QString csvField(const QString &text)
{
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"'))
        && !text.contains(QLatin1Char('\n')))
        return text;
    QString quoted = text;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString csvNumber(double v, bool nanIsEmpty)
{
    if (std::isnan(v))
        return nanIsEmpty ? QString() : QStringLiteral("nan");
    if (std::isinf(v))
        return v > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
    return QString::number(v, 'g', 17);
}

/// QCustomPlot writes PNG and PDF by file name: write beside the target, then move into place,
/// so a failed export never leaves a truncated file where the user asked for one.
bool moveIntoPlace(const QString &tmp, const QString &path, QString *error)
{
    if (QFile::exists(path) && !QFile::remove(path)) {
        QFile::remove(tmp);
        return fail(error, QStringLiteral("cannot replace %1; check that it is writable").arg(path));
    }
    if (!QFile::rename(tmp, path)) {
        QFile::remove(tmp);
        return fail(error, QStringLiteral("cannot write %1; check the folder and its permissions").arg(path));
    }
    return true;
}

} // namespace

bool formatForPath(const QString &path, Format *format)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    Format f;
    if (suffix == QLatin1String("png"))
        f = Format::Png;
    else if (suffix == QLatin1String("svg"))
        f = Format::Svg;
    else if (suffix == QLatin1String("pdf"))
        f = Format::Pdf;
    else
        return false;
    if (format)
        *format = f;
    return true;
}

bool saveImage(ChartPlot *plot, const QString &path, Format format, int width, int height, QString *error)
{
    if (!plot)
        return fail(error, QStringLiteral("no chart to export"));
    const int w = width > 0 ? width : plot->width();
    const int h = height > 0 ? height : plot->height();
    if (w <= 0 || h <= 0)
        return fail(error, QStringLiteral("cannot export a chart of size %1 × %2; give a positive size").arg(w).arg(h));

    // Decimate for the axis width the export will have, not the widget's.
    const int axisWidth = std::max(1, plot->axisRect()->width() + (w - plot->viewport().width()));
    plot->refreshDrawnData(axisWidth);

    const QString tmp = path + QStringLiteral(".part");
    bool ok = false;
    switch (format) {
    case Format::Png:
        ok = plot->savePng(tmp, w, h);
        break;
    case Format::Pdf:
        ok = plot->savePdf(tmp, w, h, QCP::epNoCosmetic, QStringLiteral("KD Workbench"),
                           plot->yAxis->label());
        break;
    case Format::Svg: {
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return fail(error, QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));
        QSvgGenerator svg;
        svg.setOutputDevice(&file);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        svg.setTitle(plot->yAxis->label());
        svg.setDescription(QStringLiteral("KD Workbench chart"));
        QCPPainter painter;
        if (!painter.begin(&svg))
            return fail(error, QStringLiteral("cannot start SVG output for %1").arg(path));
        plot->toPainter(&painter, w, h);
        painter.end();
        plot->requestReplot(); // the screen's decimation again
        if (!file.commit())
            return fail(error, QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));
        return true;
    }
    }
    plot->requestReplot();
    if (!ok) {
        QFile::remove(tmp);
        return fail(error, QStringLiteral("cannot write %1; check the folder and its permissions").arg(path));
    }
    return moveIntoPlace(tmp, path, error);
}

bool saveCsv(const std::vector<const ChartSeries *> &series, ChartXAxis axis, const QString &path,
             QString *error)
{
    if (series.empty())
        return fail(error, QStringLiteral("no series to export; show at least one series in the chart"));
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return fail(error, QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));

    std::vector<std::vector<double>> xs;
    std::size_t rows = 0;
    QStringList header;
    for (const ChartSeries *s : series) {
        const QString label = s->legendLabel() + QStringLiteral(" · ") + s->name;
        header << csvField(label + QStringLiteral(" [") + chartXAxisName(axis) + QLatin1Char(']'))
               << csvField(label);
        xs.push_back(s->x.values(axis));
        rows = std::max(rows, s->y.size());
    }
    QByteArray out = header.join(QLatin1Char(',')).toUtf8() + '\n';
    for (std::size_t r = 0; r < rows; ++r) {
        QStringList cells;
        for (std::size_t i = 0; i < series.size(); ++i) {
            const ChartSeries *s = series[i];
            if (r >= s->y.size()) {
                cells << QString() << QString();
                continue;
            }
            cells << (r < xs[i].size() ? csvNumber(xs[i][r], false) : QString())
                  << csvNumber(s->y[r], true);
        }
        out += cells.join(QLatin1Char(',')).toUtf8();
        out += '\n';
    }
    if (file.write(out) != out.size() || !file.commit())
        return fail(error, QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));
    return true;
}

} // namespace kd::ui::ChartExport
