#pragma once

// Small-sample statistics for comparing runs across seeds: the figures `kdw compare`, the
// runs browser and docs/RESULTS.md print. No Qt, no torch.

#include <cmath>
#include <cstddef>
#include <vector>

namespace kd {

/// n, mean, sample standard deviation (n − 1), min and max of the finite values.
struct SampleSummary {
    std::size_t n = 0;
    double mean = NAN, sd = NAN, min = NAN, max = NAN;
};
SampleSummary summarize(const std::vector<double> &values);

/// Welch's unequal-variance comparison of mean(a) − mean(b).
struct WelchResult {
    double diff = NAN;            ///< mean(a) − mean(b)
    double se = NAN;              ///< standard error of the difference
    double df = NAN;              ///< Welch–Satterthwaite degrees of freedom
    double t = NAN;
    double p = NAN;               ///< two-sided p-value
    double ciLow = NAN, ciHigh = NAN; ///< confidence interval of diff
};
/// NaN fields when either side has fewer than 2 finite values (or both variances are 0 and
/// the means are equal).
WelchResult welchTest(const std::vector<double> &a, const std::vector<double> &b, double confidence = 0.95);

/// Student's t distribution: P(T ≤ t) with `df` degrees of freedom (df may be fractional).
/// Relative error ~1e-14 for df ≤ 1000, ~2e-11 at df = 1e6 (checked against mpmath).
double studentTCdf(double t, double df);
/// P(T > t): the upper tail, accurate where 1 − studentTCdf() would round to 0.
double studentTSurvival(double t, double df);
/// The q-quantile of Student's t with `df` degrees of freedom (0 < q < 1).
double studentTQuantile(double q, double df);

} // namespace kd
