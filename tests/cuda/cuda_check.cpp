// kd_cuda_check: the engine on a CUDA device, without Qt (a GPU host may have only a compiler,
// CMake and a CUDA PyTorch; scripts/gpu-check.sh builds and runs it there).
//
// Every registered method trains a short real run on the GPU and on the CPU from the same
// initial weights and batches: the run must complete on the GPU, and its first logged losses
// must match the CPU's within a tolerance set by cuDNN's TF32 convolutions. Then the GPU paths
// themselves: mixed precision (auto picks bf16 on a GPU with bf16 tensor cores; fp16 trains
// with loss scaling; the loss terms stay fp32 and close to fp32's), the teacher cache kept on
// the device, pinned batches. Exit status 0 only when every check passed; each failure is
// printed with what was expected. Without a CUDA device it says so and exits 77 ("skipped").

#include "core/Device.h"
#include "core/Error.h"
#include "data/BatchLoader.h"
#include "data/SyntheticDataset.h"
#include "methods/MethodRegistry.h"
#include "models/ArchitectureRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/Experiment.h"
#include "training/Precision.h"
#include "training/TeacherSource.h"
#include "training/Trainer.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int g_failures = 0;
int g_checks = 0;

void check(bool ok, const std::string &what)
{
    ++g_checks;
    if (!ok) {
        ++g_failures;
        std::cout << "FAIL  " << what << std::endl;
    }
}

struct Recorder : kd::ExperimentObserver {
    std::map<std::string, kd::MetricRecord> firstStep;
    std::vector<std::string> lines;
    void onLog(Level, const std::string &text) override { lines.push_back(text); }
    void onMetric(const kd::MetricRecord &r) override
    {
        if (r.kind == kd::MetricRecord::Kind::Step && !firstStep.count(r.role))
            firstStep[r.role] = r;
    }
    bool logged(const std::string &part) const
    {
        for (const auto &l : lines)
            if (l.find(part) != std::string::npos)
                return true;
        return false;
    }
};

struct Outcome {
    kd::RunSummary summary;
    Recorder rec;
    std::string error;
    double seconds = 0;
};

Outcome runProject(const json &project, const std::string &runDir)
{
    Outcome o;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        static const auto registries = kd::Registries::builtin();
        kd::Experiment exp(kd::Project::fromJson(project), registries);
        std::atomic<bool> stop{false};
        o.summary = exp.run(o.rec, stop, runDir);
    } catch (const std::exception &e) {
        o.error = e.what();
    }
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return o;
}

json trainOf(int epochs, std::int64_t limit = 0)
{
    json t = {{"epochs", epochs}, {"batch_size", 64}, {"lr", 0.05}, {"log_every", 2}};
    if (limit > 0)
        t["limit"] = limit;
    return t;
}

/// A short project for `method` (every kind: teacher → student, assistants, several teachers,
/// a cohort of peers, a multi-branch student) on the synthetic dataset.
json projectFor(const std::string &method, const kd::MethodEntry &entry, const std::string &device,
                const std::string &outDir, const std::string &teacherCheckpoint, std::int64_t limit)
{
    json j = {
        {"name", method},
        {"seed", 3},
        {"device", device},
        {"threads", 0},
        {"baseline", false},
        {"output_dir", outDir},
        {"dataset", {{"name", "synthetic"}, {"limit", 512}, {"test_limit", 256}}},
        {"teacher", {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", trainOf(1)}}},
        {"student", {{"arch", "resnet8"}, {"train", trainOf(1, limit)}}},
        {"method", {{"name", method}}},
    };
    if (!teacherCheckpoint.empty())
        j["teacher"]["checkpoint"] = teacherCheckpoint;
    if (entry.online) {
        j["peers"] = json::array({{{"arch", "resnet8"}, {"train", trainOf(1, limit)}},
                                  {{"arch", "resnet8"}, {"train", trainOf(1, limit)}}});
    } else if (method == "takd") {
        j["assistants"] = json::array({{{"arch", "cnn_small"}, {"arch_options", {{"width", 4}}}, {"train", trainOf(1, limit)}}});
    } else if (method == "ensemble" || method == "rc" || method == "dmc") {
        json teachers = json::array();
        for (int k = 0; k < 2; ++k) {
            json t = {{"arch", "cnn_small"}, {"arch_options", {{"width", 8}}}, {"train", trainOf(1)}};
            if (!teacherCheckpoint.empty())
                t["checkpoint"] = teacherCheckpoint;
            teachers.push_back(t);
        }
        j["teachers"] = teachers;
    }
    return j;
}

double relDiff(double a, double b)
{
    return std::abs(a - b) / std::max(1e-6, std::max(std::abs(a), std::abs(b)));
}

std::string fmt(double v)
{
    std::ostringstream os;
    os.precision(6);
    os << v;
    return os.str();
}

/// Every method on the GPU, its first logged losses against the CPU's.
void everyMethod(const std::string &out, const std::set<std::string> &only)
{
    const auto registries = kd::Registries::builtin();
    // One teacher for every method that needs one, trained on the GPU.
    const auto teacherRun = runProject(projectFor("ce", registries.methods.get("ce"), "cuda", out, "", 0), out + "/teacher");
    check(teacherRun.error.empty() && teacherRun.summary.status == "completed",
          "the teacher trains on cuda: " + teacherRun.error);
    const std::string teacher = out + "/teacher/student.pt";
    for (const auto &name : registries.methods.names()) {
        if (!only.empty() && !only.count(name))
            continue;
        const auto &entry = registries.methods.get(name);
        const std::string ckpt = entry.needsTeacherWith(json::object()) ? teacher : "";
        // Two steps (limit 128, batch 64) on both devices: the first logged point compares.
        const auto gpu = runProject(projectFor(name, entry, "cuda", out, ckpt, 128), out + "/" + name + "-cuda");
        const auto cpu = runProject(projectFor(name, entry, "cpu", out, ckpt, 128), out + "/" + name + "-cpu");
        const bool ok = gpu.error.empty() && gpu.summary.status == "completed";
        check(ok, name + ": trains on cuda (" + (gpu.error.empty() ? gpu.summary.status : gpu.error) + ")");
        if (!ok || !cpu.error.empty())
            continue;
        int compared = 0;
        double worst = 0;
        std::string worstTerm;
        for (const auto &[role, rec] : cpu.rec.firstStep) {
            const auto it = gpu.rec.firstStep.find(role);
            check(it != gpu.rec.firstStep.end(), name + ": cuda logged steps of " + role);
            if (it == gpu.rec.firstStep.end())
                continue;
            for (const auto &[term, v] : rec.losses) {
                const double g = it->second.loss(term);
                if (!std::isfinite(v) && !std::isfinite(g))
                    continue;
                ++compared;
                const double d = relDiff(v, g);
                if (d > worst) {
                    worst = d;
                    worstTerm = role + "." + term + " cpu " + fmt(v) + " cuda " + fmt(g);
                }
            }
        }
        // TF32 convolutions (cuDNN's default) and reduction order: 1e-3 relative per op,
        // compounded over one step of training; 3 % bounds it with room to spare.
        check(compared > 0, name + ": losses to compare");
        check(worst <= 0.03, name + ": first losses on cuda match the cpu's within 3 % (worst " + worstTerm + ")");
        std::cout << "ok    " << name << ": cuda " << fmt(gpu.seconds) << " s, cpu " << fmt(cpu.seconds)
                  << " s, worst relative difference " << fmt(worst) << " over " << compared << " values" << std::endl;
    }
}

/// bf16 (auto) and fp16 runs of a logit and two feature methods: complete, say what was
/// chosen, and their first losses stay close to fp32's.
void precisions(const std::string &out)
{
    const auto registries = kd::Registries::builtin();
    const auto cuda = kd::resolveDevice("cuda");
    const auto autoChoice = kd::choosePrecision("auto", cuda);
    check(autoChoice.kind == kd::Precision::Kind::Bf16 || !kd::cudaBf16Support(cuda),
          "auto picks bf16 on a GPU with bf16 (" + autoChoice.describe() + ")");
    std::cout << "ok    precision auto on this GPU: " << autoChoice.describe() << std::endl;
    const auto teacher = out + "/teacher/student.pt";
    for (const std::string method : {"kd", "at", "fitnet"}) {
        const auto &entry = registries.methods.get(method);
        auto base = projectFor(method, entry, "cuda", out, teacher, 256);
        const auto fp32 = runProject(base, out + "/" + method + "-fp32");
        for (const std::string precision : {"auto", "fp16"}) {
            auto j = base;
            j["precision"] = precision;
            const auto run = runProject(j, out + "/" + method + "-" + precision);
            const bool ok = run.error.empty() && run.summary.status == "completed";
            check(ok, method + " " + precision + ": trains (" + (run.error.empty() ? run.summary.status : run.error) + ")");
            if (!ok || !fp32.error.empty())
                continue;
            check(run.rec.logged("precision " + std::string(precision == "fp16" ? "fp16 with loss scaling" : "bf16")),
                  method + " " + precision + ": the log says which precision");
            const auto a = fp32.rec.firstStep.at("student"), b = run.rec.firstStep.at("student");
            double worst = 0;
            for (const auto &[term, v] : a.losses)
                worst = std::max(worst, relDiff(v, b.loss(term)));
            // bf16 keeps 8 mantissa bits (0.4 % per rounding); after a step of training the
            // terms move by a few percent: 10 % says the terms are fp32-computed and sane.
            check(worst <= 0.10, method + " " + precision + ": first losses within 10 % of fp32's (worst " + fmt(worst) + ")");
            std::cout << "ok    " << method << " " << precision << ": " << fmt(run.seconds) << " s (fp32 "
                      << fmt(fp32.seconds) << " s), worst relative difference " << fmt(worst) << std::endl;
        }
    }
}

/// Tensors that must live on the device: the teacher cache, and fp32 loss terms under autocast.
void deviceResidency()
{
    const auto cuda = kd::resolveDevice("cuda");
    const auto registries = kd::Registries::builtin();
    const auto &arch = registries.architectures.get("cnn_small");
    auto model = arch.create(kd::resolveParams(arch.params, json{{"width", 8}}, "arch_options"), kd::InputShape{1, 28, 28}, 10);
    model->to(cuda);
    kd::TensorDataset set;
    set.images = torch::randn({300, 1, 28, 28});
    set.labels = torch::randint(0, 10, {300}, torch::kInt64);
    kd::TeacherSource source(model.get());
    check(source.buildCache(set, cuda, 128, 1 << 30), "the teacher cache builds on cuda");
    kd::Batch b;
    b.indices = torch::arange(0, 64, torch::kInt64).pin_memory();
    const auto f = source.features(b, torch::Tensor());
    check(f.logits().is_cuda(), "cached teacher logits are served from the device");

    kd::Precision bf16 = kd::choosePrecision("bf16", cuda);
    kd::Features out;
    {
        kd::AutocastScope autocast(bf16, cuda);
        out = model->forwardFeatures(set.images.narrow(0, 0, 64).to(cuda));
    }
    check(out.logits().scalar_type() == torch::kBFloat16, "logits under bf16 autocast are bf16");
    const auto f32 = kd::toFloat32(out);
    check(f32.logits().scalar_type() == torch::kFloat32, "toFloat32 gives fp32 features for the losses");
    {
        // After the scope, a forward is fp32 again.
        torch::NoGradGuard noGrad;
        const auto again = model->forwardFeatures(set.images.narrow(0, 0, 8).to(cuda));
        check(again.logits().scalar_type() == torch::kFloat32, "forwards are fp32 again after the autocast scope");
    }

    kd::BatchLoader loader(set, 1, 0, 64, 2, kd::Augmentation{}, false, 2, 0, /*pinMemory=*/true);
    kd::Batch pinned;
    check(loader.next(pinned) && pinned.images.is_pinned() && pinned.labels.is_pinned(),
          "the batch loader hands out pinned batches when asked");
}

/// A diverging run on the GPU (checks read back at log points) still stops naming the model,
/// the step and the value, and a "skip" run (checked every step) skips instead.
void numerics(const std::string &out)
{
    const auto registries = kd::Registries::builtin();
    auto j = projectFor("ce", registries.methods.get("ce"), "cuda", out, "", 0);
    j["student"]["train"]["lr"] = 1e30;
    j["student"]["train"]["log_every"] = 5;
    const auto run = runProject(j, out + "/diverge");
    check(run.error.find("student: ") != std::string::npos && run.error.find("is not finite at epoch 1, step ")
              != std::string::npos,
          "a diverging cuda run stops naming model and step (got: " + run.error + ")");
    j["numerics"] = {{"on_nonfinite", "skip"}, {"max_consecutive_skips", 3}};
    const auto skip = runProject(j, out + "/diverge-skip");
    check(skip.rec.logged("step skipped") || skip.error.find("steps in a row were skipped") != std::string::npos,
          "numerics skip on cuda skips steps (got: " + skip.error + ")");
    std::cout << "ok    numerics on cuda: " << run.error.substr(0, 120) << std::endl;
}

} // namespace

int main(int argc, char **argv)
{
    std::string out = (fs::temp_directory_path() / "kd_cuda_check").string();
    std::set<std::string> only;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--out" && i + 1 < argc)
            out = argv[++i];
        else if (a == "--methods" && i + 1 < argc) {
            std::stringstream ss(argv[++i]);
            for (std::string m; std::getline(ss, m, ',');)
                only.insert(m);
        } else {
            std::cerr << "usage: kd_cuda_check [--out DIR] [--methods a,b,...]\n";
            return 2;
        }
    }
    if (!torch::cuda::is_available()) {
        std::cout << "kd_cuda_check: skipped: this LibTorch build or machine has no CUDA device" << std::endl;
        return 77;
    }
    fs::remove_all(out);
    fs::create_directories(out);
    std::cout << "kd_cuda_check on " << kd::describeDevice(kd::resolveDevice("cuda"), 0) << ", runs in " << out
              << std::endl;
    try {
        deviceResidency();
        everyMethod(out, only);
        if (only.empty()) {
            precisions(out);
            numerics(out);
        }
    } catch (const std::exception &e) {
        check(false, std::string("unexpected exception: ") + e.what());
    }
    std::cout << (g_failures ? "FAILED: " : "PASSED: ") << g_checks - g_failures << " of " << g_checks
              << " checks passed" << std::endl;
    return g_failures ? 1 : 0;
}
