#pragma once

// TensorBoard's scalar smoothing: a debiased exponential moving average (a first-order IIR
// low-pass filter), with TensorBoard's rules for non-finite values and constant series, so a
// curve smoothed here has the same numbers as in TensorBoard for the same weight. No Qt.

#include <cstddef>
#include <vector>

namespace kd::ui::Smoothing {

/// The weight TensorBoard would use: a non-finite weight counts as 0 (no smoothing), others
/// are clamped to [0, 1].
double clampWeight(double weight);

/// True when every value equals the first (with ==, so a NaN anywhere makes a series
/// non-constant) — and for an empty series. TensorBoard leaves such series unsmoothed so
/// that a flat line does not pick up rounding wiggles.
bool isConstant(const std::vector<double> &values);

/// State of the running average, for smoothing a series that grows point by point.
struct EmaState {
    double last = 0;        ///< the biased average, started at 0
    std::size_t count = 0;  ///< finite values accumulated so far
};

/// Feeds one value: a finite value updates the average and returns it debiased (divided by
/// 1 − weight^count); a non-finite value leaves the state alone and is returned as it is.
/// `weight` must already be clamped (see clampWeight). With weight 1 the debias factor is 1,
/// as in TensorBoard.
double emaStep(EmaState &state, double value, double weight);

/// The smoothed series, one value per input value: a constant series is returned as it is;
/// otherwise every finite value is replaced by the debiased average of the finite values up
/// to it, and non-finite values pass through unchanged without touching the average.
std::vector<double> debiasedEma(const std::vector<double> &values, double weight);

} // namespace kd::ui::Smoothing
