#include "RunStore.h"

#include "core/Error.h"
#include "project/ProjectConfig.h"
#include "runs/RunProcess.h"
#include "runs/TfEventsWriter.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

template <typename F>
void RunStore::writeEvents(F &&write)
{
    try {
        write();
    } catch (const std::exception &e) {
        // The event file only mirrors metrics.csv: warn once, drop it, train on.
        m_events.reset();
        const std::string line = std::string("warning: TensorBoard event file disabled: ") + e.what();
        m_log << line << '\n';
        m_log.flush();
        std::cerr << line << '\n';
    }
}

RunStore::RunStore(const std::string &dir, const nlohmann::json &config, std::vector<std::string> lossColumns,
                   std::vector<std::string> extraColumns)
    : m_dir(dir)
    , m_lossColumns(std::move(lossColumns))
    , m_extraColumns(std::move(extraColumns))
{
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
        throw Error("run directory " + dir + " already exists and is not empty; choose another "
                    "--out or remove it (nothing was written)");
    fs::create_directories(dir, ec);
    if (ec)
        throw Error("cannot create run directory " + dir + ": " + ec.message());
    writeFileAtomically(path("config.json"), config.dump(2) + "\n");
    m_metrics.open(path("metrics.csv"), std::ios::out | std::ios::trunc);
    m_log.open(path("log.txt"), std::ios::out | std::ios::trunc);
    if (!m_metrics || !m_log)
        throw Error("cannot write in run directory " + dir);
    m_metrics << metricsHeader() << "\n";
    m_metrics.flush();
    const auto pid = currentProcessId();
    m_process = {{"pid", pid}, {"host", currentHostName()}, {"pid_start", processStartTicks(pid)},
                 {"started_at", isoUtcNow()}};
    nlohmann::json start = m_process;
    start["status"] = "running";
    start["models"] = nlohmann::json::object();
    writeFileAtomically(path("summary.json"), start.dump(2) + "\n");
    writeEvents([&] {
        const double now = TfEventsWriter::nowUnixSeconds();
        m_events = std::make_unique<TfEventsWriter>(path(TfEventsWriter::fileName(now, TfEventsWriter::hostName())), now);
        m_eventsPath = m_events->path();
        m_events->writeSessionStart(TfEventsWriter::flattenHParams(config), now);
    });
}

RunStore::RunStore(const std::string &dir, const FilePositions &at, const nlohmann::json &config,
                   std::vector<std::string> lossColumns, std::vector<std::string> extraColumns)
    : m_dir(dir)
    , m_lossColumns(std::move(lossColumns))
    , m_extraColumns(std::move(extraColumns))
{
    refuseLinks(dir);
    const std::string metrics = path("metrics.csv");
    std::error_code ec;
    const auto size = fs::file_size(metrics, ec);
    if (ec || size < at.metricsBytes)
        throw Error(metrics + " is missing or shorter than when the checkpoint was written; the run directory "
                              "was changed, so it cannot be resumed");
    {
        std::ifstream in(metrics);
        std::string header;
        std::getline(in, header);
        if (header != metricsHeader())
            throw Error(metrics + " has other columns than this run's methods log; the run directory does not "
                                  "belong to its config.json, so it cannot be resumed");
    }
    fs::resize_file(metrics, at.metricsBytes, ec);
    if (ec)
        throw Error("cannot cut " + metrics + " back to the checkpoint: " + ec.message());
    m_metrics.open(metrics, std::ios::out | std::ios::app);
    m_log.open(path("log.txt"), std::ios::out | std::ios::app);
    if (!m_metrics || !m_log)
        throw Error("cannot write in run directory " + dir + " (check its permissions)");
    nlohmann::json previous;
    try {
        previous = nlohmann::json::parse(readTextFile(path("summary.json")));
    } catch (const std::exception &) {
        previous = nlohmann::json::object(); // damaged by the crash: rewritten below
    }
    const auto pid = currentProcessId();
    m_process = {{"pid", pid}, {"host", currentHostName()}, {"pid_start", processStartTicks(pid)},
                 {"started_at", previous.is_object() && previous.value("started_at", nlohmann::json()).is_string()
                                    ? previous["started_at"].get<std::string>()
                                    : isoUtcNow()}};
    try {
        if (nlohmann::json::parse(readTextFile(path("config.json"))) != config)
            writeFileAtomically(path("config.json"), config.dump(2) + "\n");
    } catch (const nlohmann::json::exception &) {
        writeFileAtomically(path("config.json"), config.dump(2) + "\n");
    }
    if (!at.eventsFile.empty() && at.eventsFile.find('/') == std::string::npos && fs::exists(path(at.eventsFile), ec))
        writeEvents([&] {
            m_events = std::make_unique<TfEventsWriter>(path(at.eventsFile), at.eventsBytes);
            m_eventsPath = m_events->path();
        });
}

bool RunStore::markIfInterrupted(const std::string &dir)
{
    try {
        const auto file = (fs::path(dir) / "summary.json").string();
        std::error_code ec;
        if (fs::is_symlink(dir, ec) || fs::is_symlink(file, ec) || !fs::is_regular_file(file, ec))
            return false;
        auto sum = nlohmann::json::parse(readTextFile(file));
        if (!sum.is_object() || sum.value("status", std::string()) != "running"
            || sum.value("host", std::string()) != currentHostName())
            return false;
        const auto pid = sum.value("pid", std::int64_t(-1));
        if (pid <= 0 || processAlive(pid, sum.value("pid_start", std::int64_t(-1))))
            return false;
        refuseLinks(dir);
        sum["status"] = "interrupted";
        sum["interrupted_reason"] = "its process (pid " + std::to_string(pid) + " on " + currentHostName()
            + ") ended without finishing the run";
        sum["interrupted_detected_at"] = isoUtcNow();
        writeFileAtomically(file, sum.dump(2) + "\n");
        return true;
    } catch (const std::exception &) {
        return false; // damaged, unreadable or read-only: left as it is for the reader to report
    }
}

std::vector<std::string> RunStore::markInterruptedRuns(const std::string &folder)
{
    std::vector<std::string> marked;
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (!it->is_symlink(e2) && it->is_directory(e2) && markIfInterrupted(it->path().string()))
            marked.push_back(it->path().string());
    }
    std::sort(marked.begin(), marked.end());
    return marked;
}

void RunStore::refuseLinks(const std::string &dir)
{
    // A run directory may come from someone else: it is data, and nothing in it may make a
    // resumed run write (truncate, append, create files) outside it.
    std::error_code ec;
    if (fs::is_symlink(dir, ec))
        throw Error(dir + " is a symbolic link; resume the run directory it points to instead");
    for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (it->is_symlink(ec))
            throw Error("run directory " + dir + " holds a symbolic link (" + it->path().lexically_relative(dir).string()
                        + "); a run directory is data and must not point elsewhere, so it is not resumed. Copy the run "
                          "with links resolved (cp -rL) and resume the copy");
        if (!it->is_regular_file(ec) && !it->is_directory(ec))
            throw Error("run directory " + dir + " holds " + it->path().filename().string()
                        + ", which is neither a file nor a folder; it is not resumed");
    }
}

std::string RunStore::metricsHeader() const
{
    std::string h = "model,kind,epoch,step,wall_s";
    for (const auto &c : m_lossColumns)
        h += "," + (c == "loss" ? std::string("loss") : "loss_" + c);
    h += ",lr,train_acc,val_acc,test_acc,img_per_s";
    for (const auto &c : m_extraColumns)
        h += "," + c;
    return h;
}

RunStore::FilePositions RunStore::positions()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    FilePositions at;
    m_metrics.flush();
    at.metricsBytes = std::uint64_t(std::streamoff(m_metrics.tellp()));
    if (m_events) {
        at.eventsFile = fs::path(m_events->path()).filename().string();
        at.eventsBytes = m_events->bytes();
    }
    return at;
}

RunStore::~RunStore() = default;

std::string RunStore::path(const std::string &file) const
{
    return (fs::path(m_dir) / file).string();
}

static void cell(std::ostream &os, double v, int precision = 6)
{
    os << ',';
    if (std::isfinite(v))
        os << std::setprecision(precision) << v;
}

void RunStore::appendMetric(const MetricRecord &r)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_metrics << r.role << ',' << (r.kind == MetricRecord::Kind::Step ? "step" : "epoch") << ','
              << r.epoch << ',' << r.step;
    cell(m_metrics, r.wallSeconds, 8);
    for (const auto &c : m_lossColumns)
        cell(m_metrics, r.loss(c));
    cell(m_metrics, r.lr);
    cell(m_metrics, r.trainAcc);
    cell(m_metrics, r.valAcc);
    cell(m_metrics, r.testAcc);
    cell(m_metrics, r.imagesPerSecond, 8);
    for (const auto &c : m_extraColumns)
        cell(m_metrics, r.extraValue(c));
    m_metrics << '\n';
    m_metrics.flush();
    if (!m_metrics) {
        // Disk full (or the file system gone): the run cannot keep its record, so it ends
        // here, failed, with its last checkpoint intact (kdw resume once there is space).
        const int err = errno;
        throw Error("cannot append to " + path("metrics.csv") + ": " + (err ? std::strerror(err) : "write failed")
                    + " (disk full?); the run stopped here and its last checkpoint is intact: free space, then "
                      "kdw resume " + m_dir);
    }
    if (m_events)
        writeEvents([&] { m_events->writeScalars(r.step, TfEventsWriter::nowUnixSeconds(), TfEventsWriter::scalarsOf(r)); });
}

void RunStore::appendLog(const std::string &line)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_log << line << '\n';
    m_log.flush();
    if (!m_log && !m_logFailed) {
        // The log is the record of what happened, but a failing log must not hide the error
        // being logged: say it once on stderr and go on (metrics.csv failing ends the run).
        m_logFailed = true;
        std::cerr << "warning: cannot append to " << path("log.txt") << " (disk full?): " << line << '\n';
    }
}

static nlohmann::json numberOrNull(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

nlohmann::json RunStore::roleToJson(const RoleSummary &r)
{
    nlohmann::json j = {{"arch", r.arch},
                        {"method", r.method},
                        {"params", r.params},
                        {"best_test_acc", numberOrNull(r.bestTestAcc)},
                        {"final_test_acc", numberOrNull(r.finalTestAcc)},
                        {"train_seconds", r.trainSeconds},
                        {"epochs_done", r.epochsDone},
                        {"completed", r.completed},
                        {"checkpoint", r.checkpoint}};
    if (r.totalParams > 0)
        j["total_params"] = r.totalParams;
    for (const auto &e : r.extras) {
        j["best_" + e.name] = numberOrNull(e.best);
        j["final_" + e.name] = numberOrNull(e.finalValue);
    }
    return j;
}

nlohmann::json RunStore::summaryToJson(const RunSummary &s)
{
    nlohmann::json models = nlohmann::json::object();
    for (const auto &r : s.roles)
        models[r.role] = roleToJson(r);
    nlohmann::json j = {{"status", s.status}, {"device", s.device}, {"wall_seconds", s.wallSeconds},
                        {"models", models}};
    const auto *st = s.find("student");
    const auto *sc = s.find("student_scratch");
    if (st && sc && std::isfinite(st->finalTestAcc) && std::isfinite(sc->finalTestAcc))
        j["kd_gain_final_test_acc"] = st->finalTestAcc - sc->finalTestAcc;
    // A cohort's peers against their scratch twins (peerK vs peerK_scratch).
    nlohmann::json peerGains = nlohmann::json::object();
    for (const auto &r : s.roles) {
        const auto *twin = r.role == "student" ? nullptr : s.find(r.role + "_scratch");
        if (twin && std::isfinite(r.finalTestAcc) && std::isfinite(twin->finalTestAcc))
            peerGains[r.role] = r.finalTestAcc - twin->finalTestAcc;
    }
    if (!peerGains.empty())
        j["peer_gain_final_test_acc"] = peerGains;
    return j;
}

void RunStore::writeSummary(const RunSummary &summary)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    auto j = summaryToJson(summary);
    j.update(m_process);
    writeFileAtomically(path("summary.json"), j.dump(2) + "\n");
    // The final summary (not "running") closes the hparams session: results, then status.
    if (m_events && !m_eventsEnded && summary.status != "running")
        writeEvents([&] {
            const double now = TfEventsWriter::nowUnixSeconds();
            m_events->writeScalars(0, now, TfEventsWriter::finalScalarsOf(summary));
            m_events->writeSessionEnd(summary.status, now);
            m_eventsEnded = true;
        });
}

} // namespace kd
