#include "runs/RunsFormat.h"

#include <QDateTime>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <vector>

namespace kd::ui {

namespace {

QString shortName(const std::string &key)
{
    if (key == "temperature")
        return QStringLiteral("T");
    if (key == "alpha")
        return QStringLiteral("α");
    if (key == "beta")
        return QStringLiteral("β");
    if (key == "gamma")
        return QStringLiteral("γ");
    return QString::fromStdString(key);
}

QString compactValue(const nlohmann::json &v)
{
    if (v.is_number_float())
        return QString::number(v.get<double>(), 'g', 4);
    if (v.is_string())
        return QString::fromStdString(v.get<std::string>());
    QString text = QString::fromStdString(v.dump());
    if (text.size() > 24)
        text = text.left(23) + QStringLiteral("…");
    return text;
}

bool endsWith(const std::string &s, const std::string &suffix)
{
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

QString formatMethodParams(const nlohmann::json &params)
{
    if (!params.is_object())
        return {};
    // The classic KD knobs first, in the order papers write them; then the rest by name.
    std::vector<std::string> keys;
    for (const char *k : {"temperature", "alpha", "beta", "gamma"})
        if (params.contains(k))
            keys.push_back(k);
    for (auto it = params.begin(); it != params.end(); ++it)
        if (std::find(keys.begin(), keys.end(), it.key()) == keys.end())
            keys.push_back(it.key());
    QStringList parts;
    for (const std::string &key : keys) {
        const nlohmann::json &value = params.at(key);
        // A schedule is shown with the value it modifies; constant schedules say nothing.
        if (endsWith(key, "_schedule") || endsWith(key, "_final"))
            continue;
        QString part = shortName(key) + QLatin1Char('=') + compactValue(value);
        const auto schedule = params.find(key + "_schedule");
        if (schedule != params.end() && schedule->is_string() && schedule->get<std::string>() != "constant") {
            const auto fin = params.find(key + "_final");
            if (fin != params.end())
                part += QStringLiteral("→") + compactValue(*fin);
            part += QLatin1Char(' ') + QString::fromStdString(schedule->get<std::string>());
        }
        parts << part;
    }
    return parts.join(QLatin1Char(' '));
}

QString formatPercent(double fraction)
{
    return std::isfinite(fraction) ? QString::number(100.0 * fraction, 'f', 2) : QString();
}

QString formatPoints(double fractionDiff)
{
    if (!std::isfinite(fractionDiff))
        return {};
    const QString text = QString::number(100.0 * fractionDiff, 'f', 2);
    return fractionDiff >= 0 ? QLatin1Char('+') + text : text;
}

QString formatMeanSd(const kd::SampleSummary &s, bool signedMean)
{
    if (s.n == 0 || !std::isfinite(s.mean))
        return {};
    const QString mean = signedMean ? formatPoints(s.mean) : formatPercent(s.mean);
    if (s.n < 2 || !std::isfinite(s.sd))
        return mean;
    return mean + QStringLiteral(" ± ") + QString::number(100.0 * s.sd, 'f', 2);
}

QString formatCount(std::int64_t n)
{
    if (n < 0)
        return {};
    if (n < 1000)
        return QString::number(n);
    if (n < 1000000)
        return QString::number(double(n) / 1e3, 'f', 1) + QStringLiteral(" k");
    return QString::number(double(n) / 1e6, 'f', 2) + QStringLiteral(" M");
}

QString formatDuration(double seconds)
{
    if (!std::isfinite(seconds))
        return {};
    const auto s = std::int64_t(std::llround(seconds));
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 m %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

QString formatDate(std::int64_t unixSeconds)
{
    if (unixSeconds <= 0)
        return {};
    return QDateTime::fromSecsSinceEpoch(unixSeconds).toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

QString formatPValue(double p)
{
    if (!std::isfinite(p))
        return QStringLiteral("p = n/a");
    if (p < 0.001)
        return QStringLiteral("p < 0.001");
    return QStringLiteral("p = %1").arg(QString::number(p, 'f', p < 0.1 ? 3 : 2));
}

QString formatWelch(const kd::WelchResult &r, std::size_t nA, std::size_t nB)
{
    if (!std::isfinite(r.diff) || !std::isfinite(r.p)) {
        if (nA < 2 || nB < 2)
            return QStringLiteral("cannot tell yet: needs at least 2 finished runs (seeds) on each side, "
                                  "has %1 and %2")
                .arg(nA)
                .arg(nB);
        return QStringLiteral("no difference: both sides have identical results");
    }
    const QString ci = QStringLiteral("[%1, %2]")
                           .arg(QString::number(100.0 * r.ciLow, 'f', 2), QString::number(100.0 * r.ciHigh, 'f', 2));
    const bool significant = r.p < 0.05;
    QString verdict;
    if (significant)
        verdict = QStringLiteral("significant at 5 %");
    else
        verdict = QStringLiteral("not significant at 5 % (the interval includes 0)");
    return QStringLiteral("%1 pt %2, %3 — %4").arg(formatPoints(r.diff), ci, formatPValue(r.p), verdict);
}

} // namespace kd::ui
