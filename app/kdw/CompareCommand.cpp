#include "CompareCommand.h"
#include "TextFormat.h"

#include "KdwCommands.h"
#include "core/Error.h"
#include "runs/RunGroups.h"
#include "runs/RunReader.h"
#include "runs/SeedSpread.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

namespace kd::cli {

namespace {

namespace fs = std::filesystem;

using Table = std::vector<std::vector<std::string>>;

/// Most extra hyperparameter columns the table shows; the rest are for --diff.
constexpr std::size_t kMaxKeyColumns = 8;

std::string fixed(double v, int decimals, bool sign = false)
{
    if (!std::isfinite(v))
        return "-";
    std::ostringstream os;
    os << std::fixed << std::setprecision(decimals) << (sign ? std::showpos : std::noshowpos) << v;
    return os.str();
}

std::string percent(double fraction) { return fixed(100.0 * fraction, 2); }
std::string points(double fraction) { return fixed(100.0 * fraction, 2, true); }

std::string meanSd(const SampleSummary &s, double scale, bool sign)
{
    if (s.n == 0)
        return "-";
    std::string text = fixed(scale * s.mean, 2, sign);
    if (s.n >= 2)
        text += " \xC2\xB1 " + fixed(scale * s.sd, 2);
    return text;
}

std::string pValue(double p)
{
    if (!std::isfinite(p))
        return "-";
    std::ostringstream os;
    if (p < 0.0001)
        os << std::scientific << std::setprecision(1) << p;
    else
        os << std::fixed << std::setprecision(4) << p;
    return os.str();
}

/// A config value for display: strings without their quotes.
std::string displayValue(const std::string &jsonText)
{
    if (jsonText.empty())
        return "-";
    if (jsonText.size() >= 2 && jsonText.front() == '"' && jsonText.back() == '"')
        return jsonText.substr(1, jsonText.size() - 2);
    return jsonText;
}

std::string csvCell(const std::string &s)
{
    if (s.find_first_of(",\"\n\r") == std::string::npos)
        return s;
    std::string q = "\"";
    for (char c : s)
        q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string csvNumber(double v)
{
    if (!std::isfinite(v))
        return {};
    std::ostringstream os;
    os << std::setprecision(10) << v;
    return os.str();
}

/// UTF-8 aware width (the ± and − signs are one column each).
std::size_t displayWidth(const std::string &s)
{
    std::size_t w = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80)
            ++w;
    return w;
}

void printTable(std::ostream &out, const Table &t, std::size_t leftColumns)
{
    std::vector<std::size_t> width;
    for (const auto &row : t)
        for (std::size_t c = 0; c < row.size(); ++c) {
            if (width.size() <= c)
                width.push_back(0);
            width[c] = std::max(width[c], displayWidth(row[c]));
        }
    for (const auto &row : t) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            const std::string pad(width[c] - displayWidth(row[c]), ' ');
            line += c < leftColumns ? row[c] + pad : pad + row[c];
            if (c + 1 < row.size())
                line += "  ";
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out << line << "\n";
    }
}

void printCsv(std::ostream &out, const Table &t)
{
    for (const auto &row : t) {
        for (std::size_t c = 0; c < row.size(); ++c)
            out << (c ? "," : "") << csvCell(row[c]);
        out << "\n";
    }
}

/// The hyperparameters that differ between the runs and are not a column of their own.
struct KeyColumns {
    std::vector<ConfigDiffRow> rows; ///< values per run (index as `runs`)
    std::size_t hidden = 0;          ///< differing keys not shown
};

KeyColumns keyColumns(const std::vector<RunInfo> &runs)
{
    // settingKey() leaves out what does not change results (threads, device, log_every...).
    // Runs without a readable config take no part: their keys would all "differ".
    std::vector<nlohmann::json> settings;
    std::vector<std::size_t> readable;
    for (std::size_t i = 0; i < runs.size(); ++i)
        if (runs[i].config.is_object()) {
            settings.push_back(nlohmann::json::parse(settingKey(runs[i].config, false)));
            readable.push_back(i);
        }
    static const std::set<std::string> own = {"seed", "dataset.name", "teacher.arch", "student.arch", "method.name"};
    std::vector<ConfigDiffRow> method, other;
    for (auto &compact : diffConfigs(settings)) {
        if (own.count(compact.key))
            continue;
        ConfigDiffRow row{compact.key, std::vector<std::string>(runs.size())};
        for (std::size_t k = 0; k < readable.size(); ++k)
            row.values[readable[k]] = compact.values[k];
        (row.key.rfind("method.", 0) == 0 ? method : other).push_back(std::move(row));
    }
    KeyColumns k;
    k.rows = std::move(method);
    for (auto &row : other)
        k.rows.push_back(std::move(row));
    if (k.rows.size() > kMaxKeyColumns) {
        k.hidden = k.rows.size() - kMaxKeyColumns;
        k.rows.resize(kMaxKeyColumns);
    }
    return k;
}

std::string shortKey(const std::string &key)
{
    return key.rfind("method.", 0) == 0 ? key.substr(7) : key;
}

Table runsTable(const std::vector<RunInfo> &runs, const KeyColumns &keys, bool csv)
{
    Table t;
    std::vector<std::string> head = {"name", "status", "dataset", "teacher", "student", "method"};
    for (const auto &k : keys.rows)
        head.push_back(csv ? k.key : shortKey(k.key));
    if (csv)
        head.insert(head.end(), {"seed", "teacher_test_acc", "student_test_acc", "scratch_test_acc", "kd_gain",
                                 "student_params", "train_seconds", "dir", "problem"});
    else
        head.insert(head.end(), {"seed", "teacher %", "student %", "scratch %", "KD gain pt", "params", "train"});
    t.push_back(head);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto &r = runs[i];
        auto text = [&](const std::string &s) { return s.empty() && !csv ? std::string("-") : s; };
        std::vector<std::string> row = {r.name, runStateName(r.state), text(r.dataset), text(r.teacherArch),
                                        text(r.studentArch), text(r.method)};
        for (const auto &k : keys.rows)
            row.push_back(csv ? k.values[i] : displayValue(k.values[i]));
        const std::string seed = r.seed >= 0 ? std::to_string(r.seed) : (csv ? "" : "-");
        if (csv)
            row.insert(row.end(), {seed, csvNumber(r.teacherAcc), csvNumber(r.studentAcc), csvNumber(r.scratchAcc),
                                   csvNumber(r.kdGain), r.studentParams >= 0 ? std::to_string(r.studentParams) : "",
                                   csvNumber(r.trainSeconds), r.dir, r.problem});
        else
            row.insert(row.end(), {seed, percent(r.teacherAcc), percent(r.studentAcc), percent(r.scratchAcc),
                                   points(r.kdGain), r.studentParams < 0 ? std::string("-") : humanCount(r.studentParams), formatDuration(r.trainSeconds, "-")});
        t.push_back(std::move(row));
    }
    return t;
}

std::string welchText(const WelchResult &w)
{
    if (!std::isfinite(w.diff))
        return "not enough runs (each side needs 2 or more results that vary)";
    std::ostringstream os;
    os << points(w.diff) << " pt, 95 % CI [" << points(w.ciLow) << ", " << points(w.ciHigh) << "], Welch t = "
       << fixed(w.t, 2) << ", df = " << fixed(w.df, 1) << ", p = " << pValue(w.p);
    return os.str();
}

std::string seedList(const SeedGroup &g)
{
    std::string s;
    for (auto seed : g.seeds)
        s += (s.empty() ? "" : " ") + (seed >= 0 ? std::to_string(seed) : std::string("?"));
    return s;
}

void printGroups(std::ostream &out, const std::vector<RunInfo> &runs, const KeyColumns &keys, bool csv)
{
    const auto all = groupBySeed(runs);
    std::vector<const SeedGroup *> groups;
    for (const auto &g : all)
        if (!g.key.empty())
            groups.push_back(&g); // damaged runs stay out: they have no setting
    Table t;
    std::vector<std::string> head = {"group", "n", "seeds", "method"};
    for (const auto &k : keys.rows)
        head.push_back(csv ? k.key : shortKey(k.key));
    if (csv)
        head.insert(head.end(), {"teacher_mean", "teacher_sd", "student_mean", "student_sd", "scratch_mean",
                                 "scratch_sd", "kd_gain_mean", "kd_gain_sd", "student_vs_scratch_diff",
                                 "student_vs_scratch_ci_low", "student_vs_scratch_ci_high", "student_vs_scratch_df",
                                 "student_vs_scratch_p"});
    else
        head.insert(head.end(), {"teacher %", "student %", "scratch %", "KD gain pt"});
    t.push_back(head);
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        const auto &g = *groups[gi];
        const auto first = g.members.front();
        std::vector<std::string> row = {std::to_string(gi + 1), std::to_string(g.members.size()), seedList(g),
                                        runs[first].method};
        for (const auto &k : keys.rows)
            row.push_back(csv ? k.values[first] : displayValue(k.values[first]));
        if (csv) {
            const auto &w = g.studentVsScratch;
            for (const auto *s : {&g.teacherAcc, &g.studentAcc, &g.scratchAcc, &g.kdGain}) {
                row.push_back(csvNumber(s->mean));
                row.push_back(csvNumber(s->sd));
            }
            row.insert(row.end(), {csvNumber(w.diff), csvNumber(w.ciLow), csvNumber(w.ciHigh), csvNumber(w.df),
                                   csvNumber(w.p)});
        } else {
            row.insert(row.end(), {meanSd(g.teacherAcc, 100, false), meanSd(g.studentAcc, 100, false),
                                   meanSd(g.scratchAcc, 100, false), meanSd(g.kdGain, 100, true)});
        }
        t.push_back(std::move(row));
    }
    if (csv) {
        printCsv(out, t);
        return;
    }
    out << "\nseed groups (runs whose configs differ only in seed; mean \xC2\xB1 sd over the runs):\n";
    printTable(out, t, 4);
    out << "\nstudent vs scratch within each group (final test accuracy):\n";
    for (std::size_t gi = 0; gi < groups.size(); ++gi)
        out << "  group " << gi + 1 << ": " << welchText(groups[gi]->studentVsScratch) << "\n";
    if (groups.size() >= 2) {
        out << "\nbetween groups (student final test accuracy, first minus second):\n";
        for (std::size_t a = 0; a < groups.size(); ++a)
            for (std::size_t b = a + 1; b < groups.size(); ++b)
                out << "  group " << a + 1 << " \xE2\x88\x92 group " << b + 1 << ": "
                    << welchText(compareGroups(*groups[a], *groups[b], runs)) << "\n";
    }
}

void printDiff(std::ostream &out, const std::vector<RunInfo> &runs, bool csv)
{
    // Only readable configs: a damaged run's missing keys would all "differ".
    std::vector<nlohmann::json> configs;
    std::vector<const RunInfo *> shown;
    for (const auto &r : runs)
        if (r.config.is_object()) {
            configs.push_back(r.config);
            shown.push_back(&r);
        } else if (!csv) {
            out << r.name << ": left out, " << r.problem << "\n";
        }
    const auto rows = diffConfigs(configs);
    Table t;
    std::vector<std::string> head = {"key"};
    for (const auto *r : shown)
        head.push_back(r->name);
    t.push_back(head);
    for (const auto &row : rows) {
        std::vector<std::string> line = {row.key};
        for (const auto &v : row.values)
            line.push_back(csv ? v : (v.empty() ? "(absent)" : displayValue(v)));
        t.push_back(std::move(line));
    }
    if (csv) {
        printCsv(out, t);
        return;
    }
    if (shown.size() < 2) {
        out << "one run: nothing to compare its config with\n";
        return;
    }
    if (rows.empty()) {
        out << "the configs of these " << shown.size() << " runs are identical (name and output_dir aside)\n";
        return;
    }
    printTable(out, t, 1);
}

} // namespace

int compareCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err)
{
    bool csv = false, groupSeeds = false, diff = false;
    std::vector<std::string> paths;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto &a = args[i];
        if (a == "--csv")
            csv = true;
        else if (a == "--group-seeds")
            groupSeeds = true;
        else if (a == "--diff")
            diff = true;
        else if (!a.empty() && a[0] == '-')
            throw Error("kdw compare: unknown option " + a + "; use --csv, --group-seeds or --diff");
        else
            paths.push_back(a);
    }
    if (paths.empty()) {
        err << "kdw compare: give run directories or folders that hold them, e.g. kdw compare runs/\n";
        return Usage;
    }
    std::vector<std::string> dirs;
    std::set<std::string> seen;
    for (const auto &p : paths) {
        std::error_code ec;
        if (!fs::is_directory(p, ec)) {
            err << "kdw compare: " << p << (fs::exists(p, ec) ? " is not a directory" : " does not exist")
                << " (skipped)\n";
            continue;
        }
        const auto found = findRunDirectories(p);
        if (found.empty())
            err << "kdw compare: no run directories in " << p << " (a run directory holds config.json)\n";
        for (const auto &d : found)
            if (seen.insert(d).second)
                dirs.push_back(d);
    }
    if (dirs.empty()) {
        err << "error: no runs to compare; give run directories (folders with config.json) or folders above them\n";
        return Failed;
    }
    std::vector<RunInfo> runs;
    for (const auto &d : dirs) {
        try {
            runs.push_back(readRunInfo(d));
        } catch (const std::exception &e) {
            // Gone between listing and reading (a run removed meanwhile): say so, go on.
            err << "kdw compare: " << d << ": " << e.what() << "\n";
        }
    }
    if (runs.empty()) {
        err << "error: none of the run directories could be read\n";
        return Failed;
    }
    if (diff) {
        printDiff(out, runs, csv);
        return Ok;
    }
    const auto keys = keyColumns(runs);
    if (csv) {
        if (groupSeeds)
            printGroups(out, runs, keys, true);
        else
            printCsv(out, runsTable(runs, keys, true));
        return Ok;
    }
    printTable(out, runsTable(runs, keys, false), 6 + keys.rows.size());
    if (keys.hidden)
        out << "(" << keys.hidden << " more settings differ: kdw compare --diff shows them all)\n";
    bool header = false;
    for (const auto &r : runs) {
        if (r.problem.empty())
            continue;
        if (!header)
            out << "\n";
        header = true;
        out << r.name << ": " << runStateName(r.state) << ": " << r.problem << "\n";
    }
    if (groupSeeds)
        printGroups(out, runs, keys, false);
    return Ok;
}

std::string seedSpreadLine(const std::string &runDir)
{
    return seedSpreadNote(runDir).text;
}

} // namespace kd::cli
