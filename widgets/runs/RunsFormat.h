#pragma once

// How the runs browser writes numbers, hyperparameters and significance figures. Free
// functions so the table, the comparison panel and the CSV export say things the same way.

#include <stats/Statistics.h>

#include <nlohmann/json.hpp>

#include <QString>

#include <cstdint>

namespace kd::ui {

/// Method hyperparameters in a few characters: "T=4 α=0.9", schedules as "T=4→1 cosine".
/// Schedule keys left at "constant" (and their unused *_final) are omitted.
QString formatMethodParams(const nlohmann::json &params);
/// An accuracy fraction as percent with two decimals ("83.73"); empty when NaN.
QString formatPercent(double fraction);
/// A difference of fractions in percentage points with sign ("+1.20"); empty when NaN.
QString formatPoints(double fractionDiff);
/// "83.73 ± 0.21" (percent); the sd is left out for n = 1; empty for n = 0.
QString formatMeanSd(const kd::SampleSummary &s, bool signedMean = false);
/// 101770 → "101.8 k", 1.2e6 → "1.20 M"; empty when negative.
QString formatCount(std::int64_t n);
/// Seconds as "45 s", "3 m 05 s", "1 h 02 m"; empty when NaN.
QString formatDuration(double seconds);
/// Local date and time "2026-12-01 20:33"; empty for 0.
QString formatDate(std::int64_t unixSeconds);
/// The sentence that says whether a difference of accuracies is real, e.g.
/// "+1.20 pt [0.40, 2.00], p = 0.010 — significant at 5 %". Differences are fractions,
/// written in percentage points. When the test cannot be made, says why.
QString formatWelch(const kd::WelchResult &r, std::size_t nA, std::size_t nB);
/// p-values as people read them: "p = 0.031", "p < 0.001".
QString formatPValue(double p);

} // namespace kd::ui
