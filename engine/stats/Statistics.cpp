#include "Statistics.h"

#include <algorithm>
#include <limits>

namespace kd {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEps = 1e-16;
constexpr double kTiny = 1e-300;

/// Continued fraction of the incomplete beta function (modified Lentz), valid and quickly
/// convergent for x < (a + 1) / (a + b + 2).
double betaContinuedFraction(double x, double a, double b)
{
    const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0;
    double d = 1.0 - qab * x / qap;
    if (std::fabs(d) < kTiny)
        d = kTiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; ++m) {
        const double m2 = 2.0 * m;
        // Even step.
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (std::fabs(d) < kTiny)
            d = kTiny;
        c = 1.0 + aa / c;
        if (std::fabs(c) < kTiny)
            c = kTiny;
        d = 1.0 / d;
        h *= d * c;
        // Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (std::fabs(d) < kTiny)
            d = kTiny;
        c = 1.0 + aa / c;
        if (std::fabs(c) < kTiny)
            c = kTiny;
        d = 1.0 / d;
        const double del = d * c;
        h *= del;
        if (std::fabs(del - 1.0) < kEps)
            break;
    }
    return h;
}

/// ln Γ(x) − (x − ½) ln x + x − ½ ln 2π: Stirling's correction, for x > 20 (error < 1e-15).
double stirlingCorrection(double x)
{
    const double r = 1.0 / x, r2 = r * r;
    return r * (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 / 1680)));
}

/// ln B(a, b). With one argument large (df/2 for df in the thousands and more), lgamma's
/// values are huge and their difference loses digits; the Stirling form keeps them.
double logBeta(double a, double b)
{
    const double big = std::max(a, b), small = std::min(a, b);
    if (big <= 20.0)
        return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    // ln Γ(big) − ln Γ(big + small), written without the cancelling large terms.
    const double ratio = -(big - 0.5) * std::log1p(small / big) - small * std::log(big + small) + small
        + stirlingCorrection(big) - stirlingCorrection(big + small);
    return std::lgamma(small) + ratio;
}

/// Regularised incomplete beta I_x(a, b) from x, y = 1 − x and their logarithms, passed
/// separately so that callers with x close to 1 (large df) keep all digits.
double incompleteBeta(double x, double y, double logX, double logY, double a, double b)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    const double front = std::exp(a * logX + b * logY - logBeta(a, b));
    if (x < (a + 1.0) / (a + b + 2.0))
        return front * betaContinuedFraction(x, a, b) / a;
    // Symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges fast.
    return 1.0 - front * betaContinuedFraction(y, b, a) / b;
}

/// P(T > t) for t ≥ 0, computed directly (no 1 − CDF cancellation in the far tail).
double upperTail(double t, double df)
{
    if (std::isinf(df))
        return 0.5 * std::erfc(t / std::sqrt(2.0));
    if (std::isinf(t))
        return 0.0;
    if (t == 0.0)
        return 0.5;
    const double t2 = t * t;
    if (std::isinf(t2))
        return 0.0; // beyond 1e154: no df this code meets has mass there
    // x = df / (df + t²), 1 − x = t² / (df + t²); P(|T| > t) = I_x(df/2, 1/2).
    const double x = df / (df + t2), y = t2 / (df + t2);
    const double logX = -std::log1p(t2 / df), logY = 2.0 * std::log(t) - std::log(df + t2);
    return 0.5 * incompleteBeta(x, y, logX, logY, 0.5 * df, 0.5);
}

} // namespace

SampleSummary summarize(const std::vector<double> &values)
{
    SampleSummary s;
    double sum = 0.0;
    for (double v : values) {
        if (!std::isfinite(v))
            continue;
        if (s.n == 0) {
            s.min = s.max = v;
        } else {
            s.min = std::min(s.min, v);
            s.max = std::max(s.max, v);
        }
        ++s.n;
        sum += v;
    }
    if (s.n == 0)
        return s;
    s.mean = sum / double(s.n);
    if (s.n >= 2) {
        // Two passes: the squared deviations from the mean, not the sum of squares minus the
        // squared sum, which cancels badly for accuracies close to each other.
        double ss = 0.0;
        for (double v : values)
            if (std::isfinite(v))
                ss += (v - s.mean) * (v - s.mean);
        s.sd = std::sqrt(ss / double(s.n - 1));
    }
    return s;
}

double studentTCdf(double t, double df)
{
    if (std::isnan(t) || std::isnan(df) || df <= 0.0)
        return kNaN;
    const double tail = upperTail(std::fabs(t), df);
    return t >= 0.0 ? 1.0 - tail : tail;
}

double studentTSurvival(double t, double df)
{
    if (std::isnan(t) || std::isnan(df) || df <= 0.0)
        return kNaN;
    const double tail = upperTail(std::fabs(t), df);
    return t >= 0.0 ? tail : 1.0 - tail;
}

double studentTQuantile(double q, double df)
{
    if (!(q > 0.0 && q < 1.0) || std::isnan(df) || df <= 0.0)
        return kNaN;
    if (q == 0.5)
        return 0.0;
    // Solve P(T > t) = tail for t ≥ 0 and mirror for the lower half.
    const double tail = q > 0.5 ? 1.0 - q : q;
    const double sign = q > 0.5 ? 1.0 : -1.0;
    // Bracket: upperTail decreases monotonically in t, so double `hi` until it passes.
    double lo = 0.0, hi = 1.0;
    while (upperTail(hi, df) > tail) {
        lo = hi;
        hi *= 2.0;
        if (hi > 1e300)
            return sign * std::numeric_limits<double>::infinity();
    }
    // Bisection on a monotone function cannot diverge; ~60 halvings reach double precision of
    // any bracket, the loop stops as soon as the bracket no longer shrinks.
    for (int i = 0; i < 400; ++i) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi)
            break;
        if (upperTail(mid, df) > tail)
            lo = mid;
        else
            hi = mid;
    }
    return sign * 0.5 * (lo + hi);
}

WelchResult welchTest(const std::vector<double> &a, const std::vector<double> &b, double confidence)
{
    WelchResult r;
    const SampleSummary sa = summarize(a), sb = summarize(b);
    if (sa.n < 2 || sb.n < 2 || !(confidence > 0.0 && confidence < 1.0))
        return r;
    const double va = sa.sd * sa.sd / double(sa.n), vb = sb.sd * sb.sd / double(sb.n);
    const double diff = sa.mean - sb.mean;
    const double se2 = va + vb;
    if (se2 == 0.0) {
        if (diff == 0.0)
            return r; // identical constants: nothing to test
        // Both sides constant but different: the difference is exact.
        r.diff = diff;
        r.se = 0.0;
        r.t = diff > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
        r.p = 0.0;
        r.ciLow = r.ciHigh = diff;
        return r;
    }
    r.diff = diff;
    r.se = std::sqrt(se2);
    // Welch–Satterthwaite.
    r.df = se2 * se2 / (va * va / double(sa.n - 1) + vb * vb / double(sb.n - 1));
    r.t = diff / r.se;
    r.p = std::min(1.0, 2.0 * upperTail(std::fabs(r.t), r.df));
    const double q = studentTQuantile(0.5 + 0.5 * confidence, r.df);
    r.ciLow = diff - q * r.se;
    r.ciHigh = diff + q * r.se;
    return r;
}

} // namespace kd
