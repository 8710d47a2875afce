#include "RunReader.h"

#include "core/Error.h"
#include "project/Registries.h"
#include "runs/RunProcess.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

namespace {

/// A run whose files have not changed for this long, and that no live process claims, is
/// taken for interrupted.
constexpr std::int64_t kStaleSeconds = 10 * 60;

enum class Read { Ok, Missing, Unreadable };

/// Reads a whole small file, read-only. Never throws.
Read readSmallFile(const fs::path &path, std::string &text, std::uintmax_t maxBytes = 64u << 20)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        return Read::Missing;
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Read::Unreadable;
    const auto size = fs::file_size(path, ec);
    if (!ec && size > maxBytes)
        return Read::Unreadable;
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
    return Read::Ok;
}

/// Seconds since `path` was last written; -1 when it does not exist.
std::int64_t secondsSinceWrite(const fs::path &path)
{
    std::error_code ec;
    const auto t = fs::last_write_time(path, ec);
    if (ec)
        return -1;
    const auto age = fs::file_time_type::clock::now() - t;
    return std::chrono::duration_cast<std::chrono::seconds>(age).count();
}

std::int64_t unixMtime(const fs::path &path)
{
    std::error_code ec;
    const auto t = fs::last_write_time(path, ec);
    if (ec)
        return 0;
    const auto sys = std::chrono::system_clock::now()
        + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - fs::file_time_type::clock::now());
    return std::chrono::duration_cast<std::chrono::seconds>(sys.time_since_epoch()).count();
}

/// Parses JSON text; on failure sets `problem` to a sentence naming `file`.
bool parseJson(const std::string &text, const std::string &file, nlohmann::json &out, std::string &problem)
{
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
        problem = file + " is empty";
        return false;
    }
    try {
        out = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception &e) {
        std::string what = e.what();
        // nlohmann's text starts with "[json.exception.parse_error.101] parse error at line 3, ...".
        if (const auto close = what.find("] "); close != std::string::npos)
            what = what.substr(close + 2);
        problem = file + " is not valid JSON (" + what + ")";
        out = nullptr;
        return false;
    }
    if (!out.is_object()) {
        problem = file + " holds no JSON object";
        out = nullptr;
        return false;
    }
    return true;
}

std::string stringAt(const nlohmann::json &j, const char *key)
{
    if (j.is_object()) {
        const auto it = j.find(key);
        if (it != j.end() && it->is_string())
            return it->get<std::string>();
    }
    return {};
}

double numberAt(const nlohmann::json &j, const char *key)
{
    if (j.is_object()) {
        const auto it = j.find(key);
        if (it != j.end() && it->is_number())
            return it->get<double>();
    }
    return NAN;
}

std::int64_t integerAt(const nlohmann::json &j, const char *key, std::int64_t fallback)
{
    if (j.is_object()) {
        const auto it = j.find(key);
        if (it != j.end() && it->is_number_integer())
            return it->get<std::int64_t>();
        if (it != j.end() && it->is_number_unsigned())
            return std::int64_t(it->get<std::uint64_t>());
    }
    return fallback;
}

const nlohmann::json &objectAt(const nlohmann::json &j, const char *key)
{
    static const nlohmann::json empty = nlohmann::json::object();
    if (j.is_object()) {
        const auto it = j.find(key);
        if (it != j.end() && it->is_object())
            return *it;
    }
    return empty;
}

/// The last "failed: ..." line of log.txt, which Experiment writes before a failed summary.
std::string failureFromLog(const fs::path &dir)
{
    std::string text;
    if (readSmallFile(dir / "log.txt", text) != Read::Ok)
        return {};
    const std::string tag = "failed: ";
    const auto at = text.rfind("\n" + tag);
    std::size_t start;
    if (at != std::string::npos)
        start = at + 1 + tag.size();
    else if (text.rfind(tag, 0) == 0)
        start = tag.size();
    else
        return {};
    return text.substr(start, text.find('\n', start) - start);
}

/// Whether the run's method distils from a teacher: as this build's registry says, and yes
/// for a method it does not know (a newer build's), so its teacher is still shown.
bool methodUsesTeacher(const std::string &method, const nlohmann::json &params)
{
    static const MethodRegistry methods = Registries::builtin().methods;
    return !methods.contains(method) || methods.get(method).needsTeacherWith(params);
}

void fillSetup(RunInfo &info)
{
    const auto &c = info.config;
    info.dataset = stringAt(objectAt(c, "dataset"), "name");
    info.studentArch = stringAt(objectAt(c, "student"), "arch");
    const auto &m = objectAt(c, "method");
    info.method = stringAt(m, "name");
    info.methodParams = m;
    info.methodParams.erase("name");
    info.seed = integerAt(c, "seed", -1);
    // Multi-teacher methods list their teachers; the single `teacher` is then unused.
    const auto teachers = c.find("teachers");
    if (teachers != c.end() && teachers->is_array() && !teachers->empty()) {
        for (const auto &t : *teachers) {
            const auto arch = stringAt(t, "arch");
            info.teacherArch += (info.teacherArch.empty() ? "" : "+") + (arch.empty() ? "?" : arch);
        }
    } else if (methodUsesTeacher(info.method, info.methodParams)) {
        // The project's `teacher` stays in the config of a method without one (ce, dml,
        // one, iekd's mutual form): no teacher is shown for it.
        info.teacherArch = stringAt(objectAt(c, "teacher"), "arch");
    }
}

void fillResults(RunInfo &info)
{
    const auto &models = objectAt(info.summary, "models");
    info.teacherAcc = numberAt(objectAt(models, "teacher"), "final_test_acc");
    info.studentAcc = numberAt(objectAt(models, "student"), "final_test_acc");
    info.scratchAcc = numberAt(objectAt(models, "student_scratch"), "final_test_acc");
    info.kdGain = numberAt(info.summary, "kd_gain_final_test_acc");
    if (!std::isfinite(info.kdGain) && std::isfinite(info.studentAcc) && std::isfinite(info.scratchAcc))
        info.kdGain = info.studentAcc - info.scratchAcc;
    info.studentParams = integerAt(objectAt(models, "student"), "params", -1);
    if (info.studentParams <= 0)
        info.studentParams = integerAt(objectAt(models, "student_scratch"), "params", -1);
    double seconds = 0;
    bool any = false;
    for (const auto &kv : models.items()) {
        const double s = numberAt(kv.value(), "train_seconds");
        if (std::isfinite(s)) {
            seconds += s;
            any = true;
        }
    }
    info.trainSeconds = any ? seconds : NAN;
}

/// State of a run whose summary says "running" (or that has no summary yet).
void decideRunning(RunInfo &info, const fs::path &dir, bool haveSummary)
{
    // The newest of the files a live run keeps writing.
    std::int64_t age = -1;
    for (const char *f : {"metrics.csv", "log.txt", "summary.json", "config.json"}) {
        const auto a = secondsSinceWrite(dir / f);
        if (a >= 0 && (age < 0 || a < age))
            age = a;
    }
    const auto pid = integerAt(info.summary, "pid", -1);
    const auto host = stringAt(info.summary, "host");
    if (haveSummary && pid > 0 && !host.empty() && host == currentHostName()) {
        if (processAlive(pid, integerAt(info.summary, "pid_start", -1))) {
            info.state = RunState::Running;
        } else {
            info.state = RunState::Interrupted;
            info.problem = "its process (pid " + std::to_string(pid) + ") is gone without finishing the run";
        }
        return;
    }
    // Another host, or no process recorded: only the files' age can tell.
    if (age >= 0 && age > kStaleSeconds) {
        info.state = RunState::Interrupted;
        info.problem = std::string(haveSummary ? "it says it is running" : "it has no summary.json")
            + " but its files have not changed for " + std::to_string(age / 60) + " min";
    } else {
        info.state = RunState::Running;
    }
}

} // namespace

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

static RunInfo readRunInfoOnly(const std::string &dirText)
{
    std::error_code ec;
    if (!fs::is_directory(dirText, ec))
        throw Error(dirText + " is not a run directory (no such directory); give a folder that holds config.json");
    fs::path dir = fs::absolute(dirText, ec).lexically_normal();
    if (!dir.has_filename())
        dir = dir.parent_path();
    RunInfo info;
    info.dir = dir.string();
    info.name = dir.filename().string();
    info.metricsBytes = 0;
    {
        const auto size = fs::file_size(dir / "metrics.csv", ec);
        if (!ec)
            info.metricsBytes = size;
    }
    info.startedUnix = unixMtime(dir / "config.json");

    std::string text, problem;
    switch (readSmallFile(dir / "config.json", text)) {
    case Read::Missing: info.problem = "config.json is missing"; return info;
    case Read::Unreadable: info.problem = "config.json cannot be read (permissions or size)"; return info;
    case Read::Ok: break;
    }
    if (!parseJson(text, "config.json", info.config, problem)) {
        info.problem = problem;
        return info;
    }
    fillSetup(info);

    text.clear();
    const auto summaryRead = readSmallFile(dir / "summary.json", text);
    if (summaryRead == Read::Unreadable) {
        info.problem = "summary.json cannot be read (permissions or size)";
        return info;
    }
    if (summaryRead == Read::Missing) {
        decideRunning(info, dir, false);
        return info;
    }
    if (!parseJson(text, "summary.json", info.summary, problem)) {
        info.problem = problem;
        return info;
    }
    if (const auto started = parseIsoUtc(stringAt(info.summary, "started_at")); started >= 0)
        info.startedUnix = started;
    fillResults(info);
    const auto status = stringAt(info.summary, "status");
    if (status == "completed") {
        info.state = RunState::Completed;
    } else if (status == "stopped") {
        info.state = RunState::Stopped;
        info.problem = "stopped before the end";
    } else if (status == "failed") {
        info.state = RunState::Failed;
        const auto why = failureFromLog(dir);
        info.problem = why.empty() ? "the run failed (log.txt says no more)" : why;
    } else if (status == "running") {
        decideRunning(info, dir, true);
    } else if (status == "interrupted") {
        info.state = RunState::Interrupted;
        const auto why = stringAt(info.summary, "interrupted_reason");
        info.problem = why.empty() ? "its process ended without finishing the run" : why;
    } else {
        info.problem = status.empty() ? "summary.json has no status"
                                      : "summary.json has an unknown status \"" + status + "\"";
    }
    return info;
}

RunInfo readRunInfo(const std::string &dir)
{
    auto info = readRunInfoOnly(dir);
    if (info.state == RunState::Stopped || info.state == RunState::Failed || info.state == RunState::Interrupted) {
        std::error_code ec;
        for (fs::directory_iterator it(fs::path(info.dir.empty() ? dir : info.dir) / "checkpoints", ec), end;
             !ec && it != end && !info.resumable; it.increment(ec)) {
            const auto name = it->path().filename().string();
            info.resumable = name.size() > 8 && name.compare(name.size() - 8, 8, ".pt.json") == 0;
        }
    }
    return info;
}

std::vector<std::string> findRunDirectories(const std::string &folder, int maxDepth)
{
    std::vector<std::string> found;
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        return found;
    // Breadth by hand: a run directory's own sub-folders (features/, ...) are not searched.
    std::vector<std::pair<fs::path, int>> todo{{fs::absolute(folder, ec).lexically_normal(), 0}};
    while (!todo.empty()) {
        auto [dir, depth] = todo.back();
        todo.pop_back();
        if (!dir.has_filename())
            dir = dir.parent_path();
        if (fs::exists(dir / "config.json", ec)) {
            found.push_back(dir.string());
            continue;
        }
        if (depth >= maxDepth)
            continue;
        fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
        for (; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec))
                todo.push_back({it->path(), depth + 1});
    }
    std::sort(found.begin(), found.end());
    return found;
}

std::size_t MetricBlock::rows() const
{
    return columns.empty() ? 0 : columns.begin()->second.size();
}

const std::vector<double> *MetricBlock::column(const std::string &name) const
{
    const auto it = columns.find(name);
    return it == columns.end() ? nullptr : &it->second;
}

const MetricBlock *RunMetrics::find(const std::string &role, const std::string &kind) const
{
    for (const auto &b : blocks)
        if (b.role == role && b.kind == kind)
            return &b;
    return nullptr;
}

RunMetrics readMetrics(const std::string &runDir)
{
    MetricsFollower f((fs::path(runDir) / "metrics.csv").string());
    f.poll();
    return f.metrics();
}

} // namespace kd
