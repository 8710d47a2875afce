// TEMPORARY stand-in for the run reader, seed groups and statistics (branch `browser` only):
// just enough of runs/RunReader.h, runs/RunGroups.h and stats/Statistics.h to drive the runs
// browser from real run directories. The real implementation lives in branch `runs`; when the
// two are merged this file is deleted (and removed from engine/CMakeLists.txt). Widgets depend
// only on the declared API, never on anything here.

#include "runs/RunGroups.h"
#include "runs/RunReader.h"
#include "stats/Statistics.h"

#include "core/Error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

const char *runStateName(RunState s)
{
    switch (s) {
    case RunState::Completed: return "completed";
    case RunState::Stopped: return "stopped";
    case RunState::Failed: return "failed";
    case RunState::Running: return "running";
    case RunState::Interrupted: return "interrupted";
    case RunState::Damaged: return "damaged";
    }
    return "damaged";
}

namespace {

bool readText(const fs::path &p, std::string &out)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return false;
    std::ostringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return true;
}

double number(const nlohmann::json &j, const char *key)
{
    if (!j.is_object())
        return NAN;
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

std::int64_t secondsSinceModified(const fs::path &p)
{
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    if (ec)
        return 1 << 30;
    return std::chrono::duration_cast<std::chrono::seconds>(fs::file_time_type::clock::now() - t).count();
}

std::int64_t unixMtime(const fs::path &p)
{
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    if (ec)
        return 0;
    const auto now = fs::file_time_type::clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(
               (t - now) + std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string str(const nlohmann::json &j, const char *key)
{
    if (!j.is_object())
        return {};
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void flatten(const nlohmann::json &j, const std::string &prefix, std::map<std::string, std::string> &out)
{
    if (j.is_object() && !j.empty()) {
        for (auto it = j.begin(); it != j.end(); ++it)
            flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
        return;
    }
    out[prefix] = j.dump();
}

} // namespace

RunInfo readRunInfo(const std::string &dirArg)
{
    std::error_code ec;
    if (!fs::is_directory(dirArg, ec))
        throw Error(dirArg + " is not a directory; give a run directory (one holding config.json)");
    const fs::path dir = fs::absolute(dirArg, ec).lexically_normal();
    RunInfo r;
    r.dir = dir.string();
    if (!r.dir.empty() && r.dir.back() == '/')
        r.dir.pop_back();
    r.name = fs::path(r.dir).filename().string();
    r.metricsBytes = fs::file_size(dir / "metrics.csv", ec);
    if (ec)
        r.metricsBytes = 0;

    std::string text;
    if (!readText(dir / "config.json", text)) {
        r.problem = "no config.json: not a run directory, or one whose run never started";
        return r;
    }
    r.startedUnix = unixMtime(dir / "config.json");
    try {
        r.config = nlohmann::json::parse(text);
    } catch (const std::exception &e) {
        r.config = nullptr;
        r.problem = std::string("config.json is unreadable (") + e.what() + ")";
        return r;
    }
    const auto &c = r.config;
    if (c.contains("dataset"))
        r.dataset = str(c["dataset"], "name");
    if (c.contains("teacher"))
        r.teacherArch = str(c["teacher"], "arch");
    if (c.contains("student"))
        r.studentArch = str(c["student"], "arch");
    if (c.contains("method") && c["method"].is_object()) {
        r.method = str(c["method"], "name");
        r.methodParams = c["method"];
        r.methodParams.erase("name");
    }
    if (c.contains("seed") && c["seed"].is_number())
        r.seed = c["seed"].get<std::int64_t>();

    const bool hasSummary = fs::exists(dir / "summary.json", ec);
    const bool fresh = secondsSinceModified(dir / "metrics.csv") < 120;
    if (!hasSummary) {
        r.state = fresh ? RunState::Running : RunState::Interrupted;
        if (!fresh)
            r.problem = "no summary.json and nothing written for a while: the run was interrupted";
        return r;
    }
    if (!readText(dir / "summary.json", text)) {
        r.problem = "summary.json cannot be read";
        return r;
    }
    try {
        r.summary = nlohmann::json::parse(text);
    } catch (const std::exception &e) {
        r.summary = nullptr;
        r.problem = std::string("summary.json is unreadable (") + e.what() + ")";
        return r;
    }
    const std::string status = str(r.summary, "status");
    if (status == "completed")
        r.state = RunState::Completed;
    else if (status == "stopped")
        r.state = RunState::Stopped;
    else if (status == "failed") {
        r.state = RunState::Failed;
        r.problem = "the run failed; see log.txt";
    } else if (status == "running")
        r.state = fresh ? RunState::Running : RunState::Interrupted;
    else {
        r.problem = "summary.json has no known status";
        return r;
    }
    const nlohmann::json models = r.summary.value("models", nlohmann::json::object());
    auto role = [&](const char *name) { return models.contains(name) ? models[name] : nlohmann::json(); };
    r.teacherAcc = number(role("teacher"), "final_test_acc");
    r.studentAcc = number(role("student"), "final_test_acc");
    r.scratchAcc = number(role("student_scratch"), "final_test_acc");
    r.kdGain = r.studentAcc - r.scratchAcc;
    const double p = number(role("student"), "params");
    r.studentParams = std::isfinite(p) ? std::int64_t(p) : -1;
    double total = 0;
    bool any = false;
    for (auto it = models.begin(); it != models.end(); ++it) {
        const double s = number(it.value(), "train_seconds");
        if (std::isfinite(s)) {
            total += s;
            any = true;
        }
    }
    r.trainSeconds = any ? total : NAN;
    return r;
}

std::vector<std::string> findRunDirectories(const std::string &folder, int maxDepth)
{
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        return out;
    std::vector<std::pair<fs::path, int>> stack{{fs::absolute(folder, ec).lexically_normal(), 0}};
    while (!stack.empty()) {
        auto [d, depth] = stack.back();
        stack.pop_back();
        if (fs::exists(d / "config.json", ec)) {
            std::string s = d.string();
            if (!s.empty() && s.back() == '/')
                s.pop_back();
            out.push_back(s);
            continue;
        }
        if (depth >= maxDepth)
            continue;
        for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec))
                stack.push_back({it->path(), depth + 1});
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::size_t MetricBlock::rows() const
{
    return columns.empty() ? 0 : columns.begin()->second.size();
}

const std::vector<double> *MetricBlock::column(const std::string &name) const
{
    auto it = columns.find(name);
    return it == columns.end() ? nullptr : &it->second;
}

const MetricBlock *RunMetrics::find(const std::string &role, const std::string &kind) const
{
    for (const auto &b : blocks)
        if (b.role == role && b.kind == kind)
            return &b;
    return nullptr;
}

MetricsFollower::MetricsFollower(std::string metricsCsvPath) : m_path(std::move(metricsCsvPath)) {}

bool MetricsFollower::poll()
{
    std::ifstream in(m_path, std::ios::binary);
    if (!in)
        return false;
    in.seekg(0, std::ios::end);
    const auto size = std::uintmax_t(in.tellg());
    if (size < m_offset) { // rewritten: start over
        m_offset = 0;
        m_partial.clear();
        m_metrics = {};
    }
    if (size == m_offset)
        return false;
    in.seekg(std::streamoff(m_offset));
    std::string chunk(size - m_offset, '\0');
    in.read(chunk.data(), std::streamsize(chunk.size()));
    chunk.resize(std::size_t(in.gcount()));
    m_offset += chunk.size();
    std::string text = m_partial + chunk;
    const auto lastNewline = text.rfind('\n');
    if (lastNewline == std::string::npos) {
        m_partial = text;
        return false;
    }
    m_partial = text.substr(lastNewline + 1);
    text.resize(lastNewline);
    bool added = false;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        std::vector<std::string> cells;
        std::stringstream ls(line);
        std::string cell;
        while (std::getline(ls, cell, ','))
            cells.push_back(cell);
        if (!line.empty() && line.back() == ',')
            cells.push_back({});
        if (m_metrics.header.empty()) {
            m_metrics.header = cells;
            continue;
        }
        if (cells.size() != m_metrics.header.size() || cells.size() < 2) {
            m_metrics.problems.push_back("a line has " + std::to_string(cells.size()) + " cells, header has " +
                                         std::to_string(m_metrics.header.size()) + " (skipped)");
            continue;
        }
        MetricBlock *block = nullptr;
        for (auto &b : m_metrics.blocks)
            if (b.role == cells[0] && b.kind == cells[1])
                block = &b;
        if (!block) {
            m_metrics.blocks.push_back({cells[0], cells[1], {}});
            block = &m_metrics.blocks.back();
            for (std::size_t i = 2; i < cells.size(); ++i)
                block->columns[m_metrics.header[i]];
        }
        for (std::size_t i = 2; i < cells.size(); ++i) {
            double v = NAN;
            if (!cells[i].empty()) {
                try {
                    v = std::stod(cells[i]);
                } catch (...) {
                }
            }
            block->columns[m_metrics.header[i]].push_back(v);
        }
        added = true;
    }
    return added;
}

RunMetrics readMetrics(const std::string &runDir)
{
    MetricsFollower f((fs::path(runDir) / "metrics.csv").string());
    f.poll();
    return f.metrics();
}

std::vector<ConfigDiffRow> diffConfigs(const std::vector<nlohmann::json> &configs)
{
    std::vector<std::map<std::string, std::string>> flat(configs.size());
    std::set<std::string> keys;
    for (std::size_t i = 0; i < configs.size(); ++i) {
        if (configs[i].is_object())
            flatten(configs[i], "", flat[i]);
        for (const auto &kv : flat[i])
            keys.insert(kv.first);
    }
    std::vector<ConfigDiffRow> rows;
    for (const auto &k : keys) {
        if (k == "name" || k == "output_dir")
            continue;
        ConfigDiffRow row{k, {}};
        for (const auto &f : flat) {
            auto it = f.find(k);
            row.values.push_back(it == f.end() ? std::string() : it->second);
        }
        if (std::adjacent_find(row.values.begin(), row.values.end(), std::not_equal_to<>()) != row.values.end())
            rows.push_back(std::move(row));
    }
    return rows;
}

std::string settingKey(const nlohmann::json &config, bool ignoreSeed)
{
    nlohmann::json c = config;
    if (!c.is_object())
        return c.dump();
    for (const char *k : {"name", "output_dir", "threads", "device", "eval_batch_size"})
        c.erase(k);
    if (ignoreSeed)
        c.erase("seed");
    return c.dump();
}

std::vector<SeedGroup> groupBySeed(const std::vector<RunInfo> &runs)
{
    std::vector<SeedGroup> groups;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto &r = runs[i];
        const bool alone = r.state == RunState::Damaged || !r.config.is_object();
        const std::string key = alone ? "#" + r.dir : settingKey(r.config);
        SeedGroup *g = nullptr;
        for (auto &x : groups)
            if (x.key == key)
                g = &x;
        if (!g) {
            groups.push_back({});
            g = &groups.back();
            g->key = key;
        }
        g->members.push_back(i);
        g->seeds.push_back(r.seed);
    }
    for (auto &g : groups) {
        std::vector<double> t, s, sc, gain;
        for (auto m : g.members) {
            t.push_back(runs[m].teacherAcc);
            s.push_back(runs[m].studentAcc);
            sc.push_back(runs[m].scratchAcc);
            gain.push_back(runs[m].kdGain);
        }
        g.teacherAcc = summarize(t);
        g.studentAcc = summarize(s);
        g.scratchAcc = summarize(sc);
        g.kdGain = summarize(gain);
        g.studentVsScratch = welchTest(s, sc);
    }
    return groups;
}

WelchResult compareGroups(const SeedGroup &a, const SeedGroup &b, const std::vector<RunInfo> &runs)
{
    std::vector<double> x, y;
    for (auto m : a.members)
        x.push_back(runs[m].studentAcc);
    for (auto m : b.members)
        y.push_back(runs[m].studentAcc);
    return welchTest(x, y);
}

SampleSummary summarize(const std::vector<double> &values)
{
    SampleSummary s;
    double sum = 0;
    for (double v : values)
        if (std::isfinite(v)) {
            ++s.n;
            sum += v;
            s.min = std::isnan(s.min) ? v : std::min(s.min, v);
            s.max = std::isnan(s.max) ? v : std::max(s.max, v);
        }
    if (s.n == 0)
        return s;
    s.mean = sum / double(s.n);
    if (s.n > 1) {
        double ss = 0;
        for (double v : values)
            if (std::isfinite(v))
                ss += (v - s.mean) * (v - s.mean);
        s.sd = std::sqrt(ss / double(s.n - 1));
    }
    return s;
}

namespace {

// Regularised incomplete beta I_x(a, b) by its continued fraction (Lentz's method).
double betaContinuedFraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (std::fabs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m < 300; ++m) {
        const double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d;
        d = 1 / (std::fabs(d) < tiny ? tiny : d);
        c = 1 + num / c;
        c = std::fabs(c) < tiny ? tiny : c;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        d = 1 / (std::fabs(d) < tiny ? tiny : d);
        c = 1 + num / c;
        c = std::fabs(c) < tiny ? tiny : c;
        const double delta = d * c;
        h *= delta;
        if (std::fabs(delta - 1) < 1e-15)
            break;
    }
    return h;
}

double incompleteBeta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front =
        std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * betaContinuedFraction(a, b, x) / a;
    return 1 - front * betaContinuedFraction(b, a, 1 - x) / b;
}

} // namespace

double studentTCdf(double t, double df)
{
    if (std::isnan(t) || !(df > 0))
        return NAN;
    if (std::isinf(t))
        return t > 0 ? 1 : 0;
    const double tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t));
    return t > 0 ? 1 - tail : tail;
}

double studentTQuantile(double q, double df)
{
    if (!(q > 0 && q < 1) || !(df > 0))
        return NAN;
    double lo = -1e3, hi = 1e3;
    for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        (studentTCdf(mid, df) < q ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

WelchResult welchTest(const std::vector<double> &a, const std::vector<double> &b, double confidence)
{
    WelchResult r;
    const SampleSummary sa = summarize(a), sb = summarize(b);
    if (sa.n < 2 || sb.n < 2)
        return r;
    const double va = sa.sd * sa.sd / double(sa.n), vb = sb.sd * sb.sd / double(sb.n);
    r.diff = sa.mean - sb.mean;
    r.se = std::sqrt(va + vb);
    if (!(r.se > 0)) {
        if (r.diff == 0)
            return WelchResult{};
        r.df = double(sa.n + sb.n - 2);
        r.t = r.diff > 0 ? INFINITY : -INFINITY;
        r.p = 0;
        r.ciLow = r.ciHigh = r.diff;
        return r;
    }
    r.df = (va + vb) * (va + vb) /
           (va * va / double(sa.n - 1) + vb * vb / double(sb.n - 1));
    r.t = r.diff / r.se;
    r.p = 2 * (1 - studentTCdf(std::fabs(r.t), r.df));
    const double q = studentTQuantile(0.5 + confidence / 2, r.df);
    r.ciLow = r.diff - q * r.se;
    r.ciHigh = r.diff + q * r.se;
    return r;
}

} // namespace kd
