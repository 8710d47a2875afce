#pragma once

// Tensor checks the torch test suites share: golden-value fixtures ({"shape", "data"} JSON
// written by the scripts/gen_*_golden.py scripts) and element-wise comparison with tolerance.

#include "methods/DistillationMethod.h"

#include <nlohmann/json.hpp>
#include "core/TorchFwd.h"

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kd::test {

constexpr double kRelTol = 1e-5;
constexpr double kAbsTol = 1e-10; // for expected values that are (almost) zero

/// {"shape": [...], "data": [...]} → float64 tensor.
inline torch::Tensor tensorOf(const nlohmann::json &j)
{
    const auto data = j.at("data").get<std::vector<double>>();
    const auto shape = j.at("shape").get<std::vector<std::int64_t>>();
    return torch::tensor(data, torch::kFloat64).reshape(shape);
}

/// [[...], [...]] (rows of equal length) → float64 matrix.
inline torch::Tensor matrixOf(const nlohmann::json &rows)
{
    std::vector<double> flat;
    for (const auto &row : rows)
        for (const auto &v : row)
            flat.push_back(v.get<double>());
    const auto n = std::int64_t(rows.size());
    return torch::tensor(flat, torch::kFloat64).view({n, n ? std::int64_t(flat.size()) / n : 0});
}

/// [0, 3, 1, ...] → int64 tensor of class labels.
inline torch::Tensor labelsOf(const nlohmann::json &j)
{
    return torch::tensor(j.get<std::vector<std::int64_t>>(), torch::kInt64);
}

/// Empty when `got` matches `want` element-wise within relTol (plus kAbsTol); otherwise the
/// first element that does not (or the shape difference).
inline std::string mismatch(const torch::Tensor &got, const torch::Tensor &want, double relTol = kRelTol)
{
    if (!got.defined())
        return "undefined tensor";
    if (got.sizes() != want.sizes()) {
        std::ostringstream os;
        os << "shape " << got.sizes() << " != expected " << want.sizes();
        return os.str();
    }
    const auto g = got.detach().to(torch::kFloat64).flatten().contiguous();
    const auto w = want.detach().to(torch::kFloat64).flatten().contiguous();
    const double *gp = g.data_ptr<double>();
    const double *wp = w.data_ptr<double>();
    for (std::int64_t i = 0; i < g.numel(); ++i) {
        if (!std::isfinite(gp[i]) || std::abs(gp[i] - wp[i]) > relTol * std::abs(wp[i]) + kAbsTol) {
            std::ostringstream os;
            os.precision(17);
            os << "element " << i << ": got " << gp[i] << ", expected " << wp[i];
            return os.str();
        }
    }
    return {};
}

inline std::string mismatch(const torch::Tensor &got, double want, double relTol = kRelTol)
{
    return mismatch(got, torch::tensor(want, torch::kFloat64), relTol);
}

/// The loss term `name` of `l`; throws when the method did not report it.
/// The rows of a data-driven test over golden cases: an int column "index", one row per
/// case, named by the case's "name".
inline void addCaseRows(const nlohmann::json &cases)
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < cases.size(); ++i)
        QTest::newRow(cases[i].at("name").get<std::string>().c_str()) << int(i);
}

inline const torch::Tensor &termOf(const kd::LossTerms &l, const std::string &name)
{
    for (const auto &kv : l.terms)
        if (kv.first == name)
            return kv.second;
    throw std::runtime_error("no term " + name);
}

} // namespace kd::test

#define CHECK_CLOSE(got, want, what)                                                              \
    do {                                                                                          \
        const auto err_ = kd::test::mismatch((got), (want));                                      \
        QVERIFY2(err_.empty(), (std::string(what) + ": " + err_).c_str());                        \
    } while (0)
