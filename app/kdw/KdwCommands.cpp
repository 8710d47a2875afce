#include "KdwCommands.h"
#include "TextFormat.h"

#include "CompareCommand.h"

#include "core/Error.h"
#include "core/Priority.h"
#include "training/Experiment.h"
#include "project/ChoiceChange.h"
#include "project/Registries.h"
#include "runs/RunStore.h"
#include "data/DatasetRegistry.h"
#include "models/InputShape.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace kd::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void onSignal(int)
{
    g_stop.store(true);
}

const char *kUsage =
    "usage: kdw <command> [options]\n"
    "\n"
    "commands:\n"
    "  list architectures|methods|datasets   what this build offers (and which datasets are here)\n"
    "  info ARCH [--input CxHxW] [--classes N] [--set option=value]...\n"
    "                                        parameters, multiply-accumulates and the shape of\n"
    "                                        every named feature (default input 3x32x32, 10 classes)\n"
    "  run PROJECT.json [--set path=value]... [--out DIR] [--quiet]\n"
    "                                        train the project's stages and write a run directory\n"
    "  resume RUN_DIR [--checkpoint FILE] [--set path=value]... [--quiet]\n"
    "                                        continue a stopped, interrupted or failed run in\n"
    "                                        place from its newest checkpoint (or FILE, one of\n"
    "                                        RUN_DIR/checkpoints/); --set may change only\n"
    "                                        threads, device, eval_batch_size, numerics.* and\n"
    "                                        checkpoints.*\n"
    "  compare RUN_OR_FOLDER... [--csv] [--group-seeds] [--diff]\n"
    "                                        runs side by side (folders are searched for runs);\n"
    "                                        --group-seeds: mean +- sd over seeds, 95 % CIs and\n"
    "                                        Welch p-values; --diff: only the config keys that\n"
    "                                        differ; --csv: the same as CSV\n"
    "  help                                  this text\n"
    "\n"
    "--set overrides one project value by its dotted path, e.g. --set student.train.epochs=3\n"
    "      (switching student.arch, teacher.arch or method.name drops the options only the\n"
    "      previous choice had, with a note each; options you --set are still checked)\n"
    "--out DIR writes the run to DIR (which must not exist or be empty) instead of\n"
    "          <output_dir>/<name>-<timestamp>\n"
    "Ctrl-C stops after the current batch, writes a checkpoint and leaves a consistent run\n"
    "directory (exit 130) that `kdw resume` continues.\n";

/// Prints log lines and throttled progress lines (at most one every two seconds).
class ConsoleObserver : public ExperimentObserver {
public:
    ConsoleObserver(std::ostream &out, bool quiet)
        : m_out(out)
        , m_quiet(quiet)
    {
    }
    void onLog(Level level, const std::string &text) override
    {
        m_out << (level == Level::Warning ? "warning: " : "") << text << std::endl;
    }
    void onStageStarted(const std::string &role, int index, int count) override
    {
        m_out << "== stage " << index + 1 << "/" << count << ": " << role << " ==" << std::endl;
    }
    void onProgress(const ProgressInfo &p) override
    {
        const auto now = std::chrono::steady_clock::now();
        const bool endOfEpoch = p.stepInEpoch == p.stepsPerEpoch;
        if (m_quiet || (!endOfEpoch && now - m_last < std::chrono::seconds(2)))
            return;
        m_last = now;
        m_out << "[" << p.role << "] epoch " << p.epoch << "/" << p.epochs << "  step " << p.stepInEpoch << "/"
              << p.stepsPerEpoch << "  " << std::fixed << std::setprecision(1) << 100.0 * p.overallFraction
              << "% done  ETA " << formatDuration(p.etaSeconds) << "  " << std::setprecision(0)
              << (std::isfinite(p.imagesPerSecond) ? p.imagesPerSecond : 0.0) << " img/s" << std::endl;
        m_out.unsetf(std::ios::fixed);
    }

private:
    std::ostream &m_out;
    bool m_quiet;
    std::chrono::steady_clock::time_point m_last{};
};

std::string accText(double v)
{
    if (!std::isfinite(v))
        return "-";
    std::ostringstream os;
    os << std::fixed << std::setprecision(4) << v;
    return os.str();
}

void printSummary(std::ostream &out, const RunSummary &s)
{
    // Methods' extra metrics (e.g. ARD's robust_acc) get a best/final column pair each.
    std::vector<std::string> extras;
    for (const auto &r : s.roles)
        for (const auto &e : r.extras)
            if (std::find(extras.begin(), extras.end(), e.name) == extras.end())
                extras.push_back(e.name);
    auto width = [](const std::string &h) { return int(std::max<std::size_t>(11, h.size() + 2)); };
    out << "\n"
        << std::left << std::setw(17) << "model" << std::setw(12) << "arch" << std::setw(11) << "method"
        << std::right << std::setw(10) << "params" << std::setw(11) << "best_test" << std::setw(12)
        << "final_test" << std::setw(10) << "train_s";
    for (const auto &e : extras)
        out << std::setw(width("best_" + e)) << "best_" + e << std::setw(width("final_" + e)) << "final_" + e;
    out << "\n";
    for (const auto &r : s.roles) {
        std::ostringstream secs;
        secs << std::fixed << std::setprecision(1) << r.trainSeconds;
        out << std::left << std::setw(17) << r.role << std::setw(12) << r.arch << std::setw(11) << r.method
            << std::right << std::setw(10) << r.params << std::setw(11) << accText(r.bestTestAcc)
            << std::setw(12) << accText(r.finalTestAcc) << std::setw(10) << secs.str();
        for (const auto &e : extras) {
            const auto *x = r.extra(e);
            out << std::setw(width("best_" + e)) << accText(x ? x->best : NAN) << std::setw(width("final_" + e))
                << accText(x ? x->finalValue : NAN);
        }
        out << (r.completed ? "" : "  (incomplete)") << "\n";
    }
    const auto *st = s.find("student");
    const auto *sc = s.find("student_scratch");
    if (st && sc && std::isfinite(st->finalTestAcc) && std::isfinite(sc->finalTestAcc)) {
        out << "KD gain (student - student_scratch, final test acc): " << std::showpos << std::fixed
            << std::setprecision(4) << st->finalTestAcc - sc->finalTestAcc << std::noshowpos << "\n";
        out.unsetf(std::ios::fixed);
    }
    // Is that gain more than seed noise? Sibling runs of the same setting in the output folder say.
    if (s.status == "completed" && !s.runDir.empty())
        if (const auto spread = seedSpreadLine(s.runDir); !spread.empty())
            out << "KD gain vs seed noise: " << spread << "\n";
    out << "status: " << s.status << "  device: " << s.device << "  wall: " << formatDuration(s.wallSeconds)
        << "\n";
    out << "run: " << s.runDir << std::endl;
}

int listCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    if (args.size() != 2) {
        err << "kdw list: say what to list: architectures, methods or datasets\n";
        return Usage;
    }
    const auto reg = Registries::builtin();
    const auto &what = args[1];
    auto paramsLine = [&](const std::vector<ParamSpec> &specs) {
        for (const auto &p : specs)
            out << "      " << std::left << std::setw(14) << p.key << " default " << p.defaultValue.dump()
                << ", " << describeRange(p) << ": " << p.help << "\n";
    };
    if (what == "architectures" || what == "archs") {
        for (const auto &n : reg.architectures.names()) {
            const auto &e = reg.architectures.get(n);
            const auto info = describeArchitecture(reg.architectures, n, nlohmann::json::object(), {1, 28, 28}, 10);
            out << std::left << std::setw(13) << n << " " << e.description << " [" << humanCount(info.params)
                << " params, " << humanCount(info.macs) << " MACs at 1x28x28, 10 classes]\n";
            paramsLine(e.params);
        }
        return Ok;
    }
    if (what == "methods") {
        for (const auto &n : reg.methods.names()) {
            const auto &e = reg.methods.get(n);
            out << std::left << std::setw(12) << n << " " << e.description << "\n";
            paramsLine(e.params);
        }
        return Ok;
    }
    if (what == "datasets") {
        for (const auto &n : reg.datasets.names()) {
            const auto &e = reg.datasets.get(n);
            std::string where;
            if (!e.needsFiles())
                where = "generated";
            else if (e.defaultPaths.empty())
                where = "no default location: set dataset.path";
            else if (const auto found = e.locate(); !found.empty())
                where = "found at " + found;
            else
                where = "not found here; set dataset.path (looked in " + expandDataPath(e.defaultPaths.front())
                    + (e.defaultPaths.size() > 1 ? " and " + std::to_string(e.defaultPaths.size() - 1) + " more)" : ")");
            out << std::left << std::setw(14) << n << " " << e.description << " [" << where << "]\n";
        }
        return Ok;
    }
    err << "kdw list: unknown list \"" << what << "\"; use architectures, methods or datasets\n";
    return Usage;
}

InputShape parseShape(const std::string &text)
{
    InputShape s;
    char x1 = 0, x2 = 0;
    long long c = 0, h = 0, w = 0;
    std::istringstream is(text);
    if (!(is >> c >> x1 >> h >> x2 >> w) || x1 != 'x' || x2 != 'x' || !is.eof() || c < 1 || c > 64 || h < 1
        || h > 4096 || w < 1 || w > 4096)
        throw Error("--input \"" + text + "\" is not a shape; write CxHxW, e.g. 3x32x32 or 1x28x28");
    s.channels = c;
    s.height = h;
    s.width = w;
    return s;
}

int infoCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    std::string arch;
    InputShape input{3, 32, 32};
    int classes = 10;
    nlohmann::json options = nlohmann::json::object();
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto &a = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size())
                throw Error("kdw info: " + a + " needs a value");
            return args[++i];
        };
        if (a == "--input")
            input = parseShape(value());
        else if (a == "--classes") {
            const auto v = value();
            try {
                std::size_t used = 0;
                classes = std::stoi(v, &used);
                if (used != v.size() || classes < 1 || classes > 100000)
                    throw std::invalid_argument(v);
            } catch (const std::exception &) {
                throw Error("--classes \"" + v + "\" is not valid; give a whole number from 1 to 100000");
            }
        } else if (a == "--set")
            applyOverride(options, value());
        else if (!a.empty() && a[0] == '-')
            throw Error("kdw info: unknown option " + a + "; use --input CxHxW, --classes N or --set option=value");
        else if (arch.empty())
            arch = a;
        else
            throw Error("kdw info: give one architecture, got \"" + arch + "\" and \"" + a + "\"");
    }
    if (arch.empty()) {
        err << "kdw info: name an architecture, e.g. kdw info resnet20 --input 3x32x32 --classes 100\n";
        return Usage;
    }
    const auto reg = Registries::builtin();
    const auto info = describeArchitecture(reg.architectures, arch, options, input, classes);
    out << arch << " at " << input.toString() << ", " << classes << " classes\n"
        << "  parameters: " << info.params << " (" << humanCount(info.params) << ")\n"
        << "  MACs:       " << info.macs << " (" << humanCount(info.macs) << ") per image\n"
        << "  features:\n";
    for (const auto &f : info.features)
        out << "    " << std::left << std::setw(14) << f.first << f.second << "\n";
    return Ok;
}

/// The arguments of `kdw run` and `kdw resume`: one positional (project or run directory),
/// --set (repeated), --quiet, and the value option `valueOption` (--out, --checkpoint).
struct TrainingArgs {
    std::string positional, value;
    std::vector<std::string> overrides;
    bool quiet = false;
    bool background = false;
};

TrainingArgs parseTrainingArgs(const std::vector<std::string> &args, const std::string &valueOption,
                               const std::string &what)
{
    TrainingArgs r;
    const std::string cmd = "kdw " + args.front();
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto &a = args[i];
        auto value = [&](const std::string &opt) -> std::string {
            if (i + 1 >= args.size())
                throw Error(cmd + ": " + opt + " needs a value");
            return args[++i];
        };
        if (a == "--set")
            r.overrides.push_back(value(a));
        else if (a.rfind("--set=", 0) == 0)
            r.overrides.push_back(a.substr(6));
        else if (a == valueOption)
            r.value = value(a);
        else if (a.rfind(valueOption + "=", 0) == 0)
            r.value = a.substr(valueOption.size() + 1);
        else if (a == "--quiet" || a == "-q")
            r.quiet = true;
        else if (a == "--background")
            r.background = true;
        else if (!a.empty() && a[0] == '-')
            throw Error(cmd + ": unknown option " + a + "\n" + kUsage);
        else if (r.positional.empty())
            r.positional = a;
        else
            throw Error(cmd + ": only one " + what + ", got \"" + r.positional + "\" and \"" + a + "\"");
    }
    return r;
}

/// --background: before the first torch operation, so torch's threads inherit the priority.
void lowerPriorityIfAsked(const TrainingArgs &parsed, std::ostream &out, std::ostream &err)
{
    if (!parsed.background)
        return;
    const auto why = lowerTrainingPriority(/*keepMainThread=*/false);
    if (why.empty())
        out << "note: training at background CPU priority (nice " << currentThreadNice() << ")" << std::endl;
    else
        err << "warning: " << why << std::endl;
}

int runCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    const auto parsed = parseTrainingArgs(args, "--out", "project file");
    lowerPriorityIfAsked(parsed, out, err);
    const std::string &projectPath = parsed.positional, &outDir = parsed.value;
    const auto &overrides = parsed.overrides;
    const bool quiet = parsed.quiet;
    if (projectPath.empty()) {
        err << "kdw run: give a project file, e.g. kdw run projects/fashion-mnist-quick.json\n";
        return Usage;
    }
    auto json = parseJsonText(readTextFile(projectPath), projectPath);
    const auto registries = Registries::builtin();
    // An override that switches architecture or method drops the previous choice's options.
    const auto notes = applyOverrides(json, overrides, registries);
    Project project;
    try {
        project = Project::fromJson(json);
    } catch (const Error &e) {
        throw Error(projectPath + ": " + e.what());
    }
    Experiment experiment(project, registries);
    experiment.setNotes(notes);
    for (const auto &n : notes)
        out << "note: " << n << std::endl;
    ConsoleObserver observer(out, quiet);
    out << "project: " << projectPath << " (" << experiment.project().name << ")" << std::endl;
    const auto summary = experiment.run(observer, g_stop, outDir);
    printSummary(out, summary);
    return summary.status == "completed" ? Ok : Stopped;
}

int resumeCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    const auto parsed = parseTrainingArgs(args, "--checkpoint", "run directory");
    lowerPriorityIfAsked(parsed, out, err);
    const std::string &runDir = parsed.positional, &checkpoint = parsed.value;
    const auto &overrides = parsed.overrides;
    const bool quiet = parsed.quiet;
    if (runDir.empty()) {
        err << "kdw resume: give a run directory, e.g. kdw resume runs/fashion-mnist-quick-20261201-101500\n";
        return Usage;
    }
    const auto registries = Registries::builtin();
    Experiment experiment(resumableProject(runDir, overrides), registries);
    ConsoleObserver observer(out, quiet);
    out << "resuming: " << runDir << " (" << experiment.project().name << ")" << std::endl;
    const auto summary = experiment.resume(observer, g_stop, runDir, checkpoint);
    printSummary(out, summary);
    return summary.status == "completed" ? Ok : Stopped;
}

} // namespace

int runKdw(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    try {
        if (args.empty()) {
            err << kUsage;
            return Usage;
        }
        const auto &cmd = args[0];
        if (cmd == "help" || cmd == "--help" || cmd == "-h") {
            out << kUsage;
            return Ok;
        }
        if (cmd == "list")
            return listCommand(args, out, err);
        if (cmd == "run")
            return runCommand(args, out, err);
        if (cmd == "info")
            return infoCommand(args, out, err);
        if (cmd == "resume")
            return resumeCommand(args, out, err);
        if (cmd == "compare")
            return compareCommand(args, out, err);
        err << "kdw: unknown command \"" << cmd << "\"\n" << kUsage;
        return Usage;
    } catch (const Error &e) {
        err << "error: " << e.what() << std::endl;
        return Failed;
    } catch (const std::exception &e) {
        err << "internal error: " << e.what() << "\nplease report this with the project file" << std::endl;
        return Failed;
    }
}

int runKdw(int argc, char **argv)
{
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::vector<std::string> args(argv + 1, argv + argc);
    return runKdw(args, std::cout, std::cerr);
}

} // namespace kd::cli
