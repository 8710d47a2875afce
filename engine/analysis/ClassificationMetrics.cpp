#include "ClassificationMetrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace kd {

double agreement(const std::vector<std::int64_t> &a, const std::vector<std::int64_t> &b)
{
    if (a.size() != b.size())
        throw std::invalid_argument("agreement: " + std::to_string(a.size()) + " against "
                                    + std::to_string(b.size()) + " predictions");
    if (a.empty())
        return NAN;
    std::int64_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        same += a[i] == b[i];
    return double(same) / double(a.size());
}

namespace {

/// log softmax of one row, stable (the maximum is subtracted first).
void logSoftmax(const double *z, int k, std::vector<double> &out)
{
    double m = z[0];
    for (int c = 1; c < k; ++c)
        m = std::max(m, z[c]);
    double sum = 0;
    for (int c = 0; c < k; ++c)
        sum += std::exp(z[c] - m);
    const double lse = m + std::log(sum);
    out.resize(std::size_t(k));
    for (int c = 0; c < k; ++c)
        out[std::size_t(c)] = z[c] - lse;
}

} // namespace

double meanKlDivergence(const std::vector<double> &teacherLogits, const std::vector<double> &studentLogits,
                        int numClasses)
{
    if (numClasses < 1 || teacherLogits.size() != studentLogits.size() || teacherLogits.size() % std::size_t(numClasses))
        throw std::invalid_argument("meanKlDivergence: the logits must both be n x numClasses");
    const std::size_t n = teacherLogits.size() / std::size_t(numClasses);
    if (n == 0)
        return NAN;
    std::vector<double> lt, ls;
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        logSoftmax(teacherLogits.data() + i * numClasses, numClasses, lt);
        logSoftmax(studentLogits.data() + i * numClasses, numClasses, ls);
        for (int c = 0; c < numClasses; ++c)
            total += std::exp(lt[std::size_t(c)]) * (lt[std::size_t(c)] - ls[std::size_t(c)]);
    }
    return total / double(n);
}

std::vector<std::int64_t> confusionMatrix(const std::vector<std::int64_t> &labels,
                                          const std::vector<std::int64_t> &predicted, int numClasses)
{
    if (labels.size() != predicted.size())
        throw std::invalid_argument("confusionMatrix: " + std::to_string(labels.size()) + " labels but "
                                    + std::to_string(predicted.size()) + " predictions");
    if (numClasses < 1)
        throw std::invalid_argument("confusionMatrix: numClasses must be >= 1");
    std::vector<std::int64_t> m(std::size_t(numClasses) * std::size_t(numClasses), 0);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const auto t = labels[i], p = predicted[i];
        if (t < 0 || t >= numClasses || p < 0 || p >= numClasses)
            throw std::invalid_argument("confusionMatrix: class " + std::to_string(t < 0 || t >= numClasses ? t : p)
                                        + " outside [0, " + std::to_string(numClasses) + ")");
        ++m[std::size_t(t) * std::size_t(numClasses) + std::size_t(p)];
    }
    return m;
}

std::vector<double> perClassAccuracy(const std::vector<std::int64_t> &confusion, int numClasses)
{
    if (confusion.size() != std::size_t(numClasses) * std::size_t(numClasses))
        throw std::invalid_argument("perClassAccuracy: the confusion matrix is not numClasses x numClasses");
    std::vector<double> acc(std::size_t(numClasses), NAN);
    for (int t = 0; t < numClasses; ++t) {
        std::int64_t row = 0;
        for (int p = 0; p < numClasses; ++p)
            row += confusion[std::size_t(t) * numClasses + p];
        if (row > 0)
            acc[std::size_t(t)] = double(confusion[std::size_t(t) * numClasses + t]) / double(row);
    }
    return acc;
}

Calibration expectedCalibrationError(const std::vector<double> &confidence, const std::vector<bool> &correct,
                                     int bins)
{
    if (confidence.size() != correct.size())
        throw std::invalid_argument("expectedCalibrationError: confidences and outcomes differ in number");
    if (bins < 1)
        throw std::invalid_argument("expectedCalibrationError: bins must be >= 1");
    Calibration c;
    c.bins.resize(std::size_t(bins));
    std::vector<double> confSum(std::size_t(bins), 0.0), hits(std::size_t(bins), 0.0);
    for (int b = 0; b < bins; ++b) {
        c.bins[std::size_t(b)].lower = double(b) / bins;
        c.bins[std::size_t(b)].upper = double(b + 1) / bins;
    }
    for (std::size_t i = 0; i < confidence.size(); ++i) {
        // Bin m holds ((m-1)/M, m/M]; a confidence of exactly 0 goes to the first bin.
        int b = int(std::ceil(confidence[i] * bins)) - 1;
        b = std::max(0, std::min(bins - 1, b));
        // conf * bins may round up past a bin edge (0.2 * 15 = 3.0000000000000004); the edge
        // itself belongs to the bin below.
        if (b > 0 && confidence[i] <= double(b) / bins)
            --b;
        else if (b + 1 < bins && confidence[i] > double(b + 1) / bins)
            ++b; // and the other way round

        ++c.bins[std::size_t(b)].count;
        confSum[std::size_t(b)] += confidence[i];
        hits[std::size_t(b)] += correct[i] ? 1.0 : 0.0;
    }
    const double n = double(confidence.size());
    for (int b = 0; b < bins; ++b) {
        auto &bin = c.bins[std::size_t(b)];
        if (bin.count == 0)
            continue;
        bin.meanConfidence = confSum[std::size_t(b)] / double(bin.count);
        bin.accuracy = hits[std::size_t(b)] / double(bin.count);
        c.ece += double(bin.count) / n * std::abs(bin.accuracy - bin.meanConfidence);
    }
    if (confidence.empty())
        c.ece = NAN;
    return c;
}

namespace {

/// False positive and false negative rate per class (one-vs-rest) from a confusion matrix.
void errorRates(const std::vector<std::int64_t> &m, int k, std::vector<double> &fpr, std::vector<double> &fnr)
{
    std::int64_t total = 0;
    for (auto v : m)
        total += v;
    fpr.assign(std::size_t(k), NAN);
    fnr.assign(std::size_t(k), NAN);
    for (int c = 0; c < k; ++c) {
        std::int64_t row = 0, col = 0;
        for (int j = 0; j < k; ++j) {
            row += m[std::size_t(c) * k + j];
            col += m[std::size_t(j) * k + c];
        }
        const auto tp = m[std::size_t(c) * k + c];
        const auto fn = row - tp, fp = col - tp;
        const auto tn = total - tp - fn - fp;
        if (fp + tn > 0)
            fpr[std::size_t(c)] = double(fp) / double(fp + tn);
        if (fn + tp > 0)
            fnr[std::size_t(c)] = double(fn) / double(fn + tp);
    }
}

} // namespace

CompressionBias compressionBias(const std::vector<std::int64_t> &referenceConfusion,
                                const std::vector<std::int64_t> &modelConfusion, int numClasses)
{
    const auto cells = std::size_t(numClasses) * std::size_t(numClasses);
    if (numClasses < 1 || referenceConfusion.size() != cells || modelConfusion.size() != cells)
        throw std::invalid_argument("compressionBias: both confusion matrices must be numClasses x numClasses");
    std::vector<double> fprRef, fnrRef, fprModel, fnrModel;
    errorRates(referenceConfusion, numClasses, fprRef, fnrRef);
    errorRates(modelConfusion, numClasses, fprModel, fnrModel);
    CompressionBias b;
    b.fprChange.assign(std::size_t(numClasses), NAN);
    b.fnrChange.assign(std::size_t(numClasses), NAN);
    std::vector<int> used;
    for (int c = 0; c < numClasses; ++c) {
        const auto i = std::size_t(c);
        // Relative change in percent, as the authors' code computes it; undefined (and the
        // class left out) where the reference makes no error of that kind.
        if (fprRef[i] > 0 && std::isfinite(fprModel[i]))
            b.fprChange[i] = (fprModel[i] - fprRef[i]) / fprRef[i] * 100.0;
        if (fnrRef[i] > 0 && std::isfinite(fnrModel[i]))
            b.fnrChange[i] = (fnrModel[i] - fnrRef[i]) / fnrRef[i] * 100.0;
        if (std::isfinite(b.fprChange[i]) && std::isfinite(b.fnrChange[i]))
            used.push_back(c);
    }
    b.classesUsed = int(used.size());
    if (used.empty()) {
        b.cev = b.sde = NAN;
        return b;
    }
    double meanFpr = 0, meanFnr = 0;
    for (int c : used) {
        meanFpr += b.fprChange[std::size_t(c)];
        meanFnr += b.fnrChange[std::size_t(c)];
    }
    meanFpr /= double(used.size());
    meanFnr /= double(used.size());
    double squares = 0, distance = 0;
    for (int c : used) {
        const double x = b.fprChange[std::size_t(c)], y = b.fnrChange[std::size_t(c)];
        squares += (x - meanFpr) * (x - meanFpr) + (y - meanFnr) * (y - meanFnr);
        distance += std::abs(x - y) / std::sqrt(2.0);
    }
    // CEV: the mean squared distance of the class points from their centroid, averaged over
    // the two coordinates (sklearn's mean_squared_error of C×2 arrays, which the authors use).
    b.cev = squares / (2.0 * double(used.size()));
    // SDE: the mean distance of the class points from the line ΔFPR = ΔFNR.
    b.sde = distance / double(used.size());
    return b;
}

} // namespace kd
