#include "RunCheckpoint.h"

#include "core/Error.h"
#include "runs/RunStore.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

namespace kd {

namespace fs = std::filesystem;

namespace {

nlohmann::json numberOrNull(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

double numberOrNan(const nlohmann::json &j, const char *key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

/// The sequence number of a checkpoint file name, or -1 when it is not one.
long long sequenceOf(const std::string &name)
{
    if (name.size() < 10 || name.compare(name.size() - 3, 3, ".pt") != 0 || name[6] != '-')
        return -1;
    for (int i = 0; i < 6; ++i)
        if (name[std::size_t(i)] < '0' || name[std::size_t(i)] > '9')
            return -1;
    return std::stoll(name.substr(0, 6));
}

nlohmann::json pairsToJson(const std::vector<std::pair<std::string, double>> &pairs)
{
    auto a = nlohmann::json::array();
    for (const auto &kv : pairs)
        a.push_back({kv.first, numberOrNull(kv.second)});
    return a;
}

std::vector<std::pair<std::string, double>> pairsFromJson(const nlohmann::json &a)
{
    std::vector<std::pair<std::string, double>> out;
    if (a.is_array())
        for (const auto &kv : a)
            if (kv.is_array() && kv.size() == 2 && kv[0].is_string())
                out.emplace_back(kv[0].get<std::string>(), kv[1].is_number() ? kv[1].get<double>() : NAN);
    return out;
}

} // namespace

CheckpointFolder::CheckpointFolder(std::string runDir)
    : m_runDir(std::move(runDir))
{
}

std::string CheckpointFolder::folder() const
{
    return (fs::path(m_runDir) / "checkpoints").string();
}

std::vector<std::string> CheckpointFolder::list() const
{
    std::vector<std::pair<long long, std::string>> found;
    std::error_code ec;
    for (fs::directory_iterator it(folder(), ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        const auto seq = sequenceOf(name);
        if (seq >= 0 && it->is_regular_file(ec))
            found.emplace_back(seq, it->path().string());
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto &f : found)
        out.push_back(std::move(f.second));
    return out;
}

std::string CheckpointFolder::nextPath(const std::string &label) const
{
    std::error_code ec;
    fs::create_directories(folder(), ec);
    if (ec)
        throw Error("cannot create " + folder() + ": " + ec.message());
    const auto all = list();
    const long long next = all.empty() ? 1 : sequenceOf(fs::path(all.back()).filename().string()) + 1;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%06lld-", next % 1000000);
    return (fs::path(folder()) / (prefix + label + ".pt")).string();
}

void CheckpointFolder::prune(int keep) const
{
    const auto all = list();
    std::error_code ec;
    for (std::size_t i = 0; i + std::size_t(std::max(1, keep)) < all.size(); ++i) {
        fs::remove(all[i] + ".json", ec); // the sidecar first: a lone .pt is never taken for valid
        fs::remove(all[i], ec);
    }
}

torch::Tensor cpuRngState()
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void setCpuRngState(const torch::Tensor &state)
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

std::vector<torch::Tensor> cudaRngStates()
{
    std::vector<torch::Tensor> out;
    if (!torch::cuda::is_available())
        return out;
    for (std::size_t i = 0; i < torch::cuda::device_count(); ++i) {
        auto gen = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, c10::DeviceIndex(i)));
        std::lock_guard<std::mutex> lock(gen.mutex());
        out.push_back(gen.get_state());
    }
    return out;
}

void setCudaRngStates(const std::vector<torch::Tensor> &states)
{
    if (states.empty())
        return;
    if (!torch::cuda::is_available() || torch::cuda::device_count() < states.size())
        throw Error("the checkpoint was written on a machine with " + std::to_string(states.size())
                    + " CUDA device(s); this one has " + std::to_string(torch::cuda::device_count())
                    + ". Resume it where it ran, or on as many GPUs");
    for (std::size_t i = 0; i < states.size(); ++i) {
        auto gen = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, c10::DeviceIndex(i)));
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(states[i]);
    }
}

nlohmann::json learnerStateToJson(const LearnerState &s)
{
    return {{"epochs_done", s.epochsDone},
            {"step", s.step},
            {"best_test_acc", numberOrNull(s.bestTestAcc)},
            {"final_test_acc", numberOrNull(s.finalTestAcc)},
            {"train_seconds", s.trainSeconds},
            {"best_extra", pairsToJson(s.bestExtra)},
            {"final_extra", pairsToJson(s.finalExtra)}};
}

LearnerState learnerStateFromJson(const nlohmann::json &j)
{
    LearnerState s;
    s.epochsDone = j.value("epochs_done", 0);
    s.step = j.value("step", std::int64_t(0));
    s.bestTestAcc = numberOrNan(j, "best_test_acc");
    s.finalTestAcc = numberOrNan(j, "final_test_acc");
    s.trainSeconds = j.value("train_seconds", 0.0);
    s.bestExtra = pairsFromJson(j.value("best_extra", nlohmann::json::array()));
    s.finalExtra = pairsFromJson(j.value("final_extra", nlohmann::json::array()));
    return s;
}

nlohmann::json roleSummaryToJson(const RoleSummary &r)
{
    auto j = RunStore::roleToJson(r);
    j["role"] = r.role;
    auto extras = nlohmann::json::array();
    for (const auto &e : r.extras)
        extras.push_back({e.name, numberOrNull(e.best), numberOrNull(e.finalValue)});
    j["extras"] = extras;
    return j;
}

RoleSummary roleSummaryFromJson(const nlohmann::json &j)
{
    RoleSummary r;
    r.role = j.value("role", std::string());
    r.arch = j.value("arch", std::string());
    r.method = j.value("method", std::string());
    r.params = j.value("params", std::int64_t(0));
    r.totalParams = j.value("total_params", std::int64_t(0));
    r.bestTestAcc = numberOrNan(j, "best_test_acc");
    r.finalTestAcc = numberOrNan(j, "final_test_acc");
    r.trainSeconds = j.value("train_seconds", 0.0);
    r.epochsDone = j.value("epochs_done", 0);
    r.completed = j.value("completed", false);
    r.checkpoint = j.value("checkpoint", std::string());
    for (const auto &e : j.value("extras", nlohmann::json::array()))
        if (e.is_array() && e.size() == 3 && e[0].is_string())
            r.extras.push_back({e[0].get<std::string>(), e[1].is_number() ? e[1].get<double>() : NAN,
                                e[2].is_number() ? e[2].get<double>() : NAN});
    return r;
}

void writeStagePosition(torch::serialize::OutputArchive &archive, const StagePosition &pos)
{
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
    for (std::size_t i = 0; i < pos.learners.size(); ++i) {
        const auto &lp = pos.learners[i];
        const auto k = "progress" + std::to_string(i) + "_";
        archive.write(k + "interval_sums", torch::tensor(lp.intervalSums, f64));
        archive.write(k + "epoch_sums", torch::tensor(lp.epochSums, f64));
        archive.write(k + "counts", torch::tensor({lp.intervalCount, lp.epochCount, lp.correct}, torch::kInt64));
        archive.write(k + "epoch_seconds", torch::tensor({lp.epochSeconds}, f64));
    }
}

void readStagePosition(torch::serialize::InputArchive &archive, std::size_t learners, StagePosition &pos)
{
    pos.learners.clear();
    auto toVector = [](const torch::Tensor &t) {
        const auto c = t.to(torch::kFloat64).contiguous();
        return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    for (std::size_t i = 0; i < learners; ++i) {
        const auto k = "progress" + std::to_string(i) + "_";
        torch::Tensor interval, epoch, counts, seconds;
        archive.read(k + "interval_sums", interval);
        archive.read(k + "epoch_sums", epoch);
        archive.read(k + "counts", counts);
        archive.read(k + "epoch_seconds", seconds);
        LearnerProgress lp;
        lp.intervalSums = toVector(interval);
        lp.epochSums = toVector(epoch);
        lp.intervalCount = counts[0].item<std::int64_t>();
        lp.epochCount = counts[1].item<std::int64_t>();
        lp.correct = counts[2].item<std::int64_t>();
        lp.epochSeconds = seconds[0].item<double>();
        pos.learners.push_back(std::move(lp));
    }
}

} // namespace kd
