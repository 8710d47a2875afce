#include "runs/AnalysisReader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace fs = std::filesystem;
using nlohmann::json;

namespace kd {

namespace {

std::string epochFileName(int epoch)
{
    std::ostringstream os;
    os << "epoch" << std::setw(3) << std::setfill('0') << epoch << ".json";
    return os.str();
}

/// The file as JSON, or null with the reason in `problems` (a torn file written right now
/// reads as damaged this time and whole the next).
json readJson(const fs::path &file, const std::string &what, std::vector<std::string> &problems)
{
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        problems.push_back(what + ": " + file.string() + " does not exist (the run has not written it yet, or "
                           "ran with analysis.enabled off)");
        return nullptr;
    }
    std::ifstream in(file, std::ios::binary);
    json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        problems.push_back(what + ": " + file.string() + " is not valid JSON (damaged or still being written)");
        return nullptr;
    }
    if (!j.is_object()) {
        problems.push_back(what + ": " + file.string() + " is not a JSON object");
        return nullptr;
    }
    return j;
}

const json *member(const json &j, const char *key)
{
    if (!j.is_object())
        return nullptr;
    const auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

double toNumber(const json &j)
{
    return j.is_number() ? j.get<double>() : NAN; // null stands for a non-finite number
}

double number(const json &j, const char *key)
{
    const json *v = member(j, key);
    return v ? toNumber(*v) : NAN;
}

std::string text(const json &j, const char *key)
{
    const json *v = member(j, key);
    return v && v->is_string() ? v->get<std::string>() : std::string();
}

/// A list of numbers; `problems` names a member of the wrong shape.
std::vector<double> numbers(const json &j, const char *key, const std::string &where,
                            std::vector<std::string> &problems)
{
    std::vector<double> out;
    const json *v = member(j, key);
    if (!v)
        return out;
    if (!v->is_array()) {
        problems.push_back(where + ": \"" + key + "\" is not a list");
        return out;
    }
    for (const auto &x : *v)
        out.push_back(toNumber(x));
    return out;
}

/// A matrix (list of equally long lists of numbers); empty and a problem when ragged.
std::vector<std::vector<double>> matrix(const json &j, const char *key, const std::string &where,
                                        std::vector<std::string> &problems)
{
    std::vector<std::vector<double>> out;
    const json *v = member(j, key);
    if (!v)
        return out;
    bool ok = v->is_array();
    if (ok)
        for (const auto &row : *v) {
            if (!row.is_array() || (!out.empty() && row.size() != out.front().size())) {
                ok = false;
                break;
            }
            std::vector<double> r;
            for (const auto &x : row)
                r.push_back(toNumber(x));
            out.push_back(std::move(r));
        }
    if (!ok) {
        problems.push_back(where + ": \"" + key + "\" is not a matrix (a list of equally long rows)");
        out.clear();
    }
    return out;
}

std::vector<std::string> strings(const json &j, const char *key)
{
    std::vector<std::string> out;
    const json *v = member(j, key);
    if (v && v->is_array())
        for (const auto &x : *v)
            out.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    return out;
}

Calibration calibration(const json &j, const char *key)
{
    Calibration c;
    c.ece = NAN;
    const json *v = member(j, key);
    if (!v)
        return c;
    c.ece = number(*v, "ece");
    if (const json *bins = member(*v, "bins"); bins && bins->is_array())
        for (const auto &b : *bins) {
            ReliabilityBin r;
            r.lower = number(b, "lower");
            r.upper = number(b, "upper");
            const double n = number(b, "count");
            r.count = std::isfinite(n) ? std::int64_t(n) : 0;
            r.meanConfidence = number(b, "mean_confidence");
            r.accuracy = number(b, "accuracy");
            c.bins.push_back(r);
        }
    return c;
}

std::vector<FeatureMapImage> featureMaps(const json &j, const char *key, const fs::path &runDir)
{
    std::vector<FeatureMapImage> out;
    const json *v = member(j, key);
    if (v && v->is_array())
        for (const auto &m : *v) {
            const std::string file = text(m, "file");
            if (!file.empty())
                out.push_back({text(m, "stage"), (runDir / file).lexically_normal().string()});
        }
    return out;
}

RoleAnalysis readRole(const std::string &name, const json &r, const fs::path &runDir, const std::string &where,
                      std::vector<std::string> &problems)
{
    RoleAnalysis a;
    a.role = name;
    a.teacher = text(r, "teacher");
    a.testAcc = number(r, "test_acc");
    a.ece = number(r, "ece");
    a.agreement = number(r, "agreement");
    a.klTeacherStudent = number(r, "kl_teacher_student");
    a.cev = number(r, "cev");
    a.sde = number(r, "sde");
    a.calibration = calibration(r, "calibration");
    a.teacherCalibration = calibration(r, "teacher_calibration");
    a.confusion = matrix(r, "confusion", where, problems);
    a.teacherConfusion = matrix(r, "teacher_confusion", where, problems);
    a.perClassAccuracy = numbers(r, "per_class_accuracy", where, problems);
    a.teacherPerClassAccuracy = numbers(r, "teacher_per_class_accuracy", where, problems);
    a.probeLogits = matrix(r, "probe_logits", where, problems);
    a.featureMaps = featureMaps(r, "feature_maps", runDir);
    a.teacherFeatureMaps = featureMaps(r, "teacher_feature_maps", runDir);
    if (const json *cka = member(r, "cka")) {
        a.cka.teacherFeatures = strings(*cka, "teacher_features");
        a.cka.studentFeatures = strings(*cka, "student_features");
        a.cka.values = matrix(*cka, "matrix", where + " cka", problems);
        const bool fits = a.cka.values.size() == a.cka.teacherFeatures.size()
            && std::all_of(a.cka.values.begin(), a.cka.values.end(),
                           [&](const auto &row) { return row.size() == a.cka.studentFeatures.size(); });
        if (!fits) {
            problems.push_back(where + ": the CKA matrix does not match its " + std::to_string(a.cka.teacherFeatures.size())
                               + " teacher × " + std::to_string(a.cka.studentFeatures.size()) + " student features");
            a.cka = CkaMatrix{};
        }
    }
    return a;
}

const ProbeLogits *findLogits(const std::vector<ProbeLogits> &list, const std::string &role)
{
    for (const auto &l : list)
        if (l.role == role)
            return &l;
    return nullptr;
}

} // namespace

const RoleAnalysis *EpochAnalysis::role(const std::string &name) const
{
    for (const auto &r : roles)
        if (r.role == name)
            return &r;
    return nullptr;
}

const ProbeLogits *ProbeAnalysis::teacher(const std::string &role) const { return findLogits(teachers, role); }
const ProbeLogits *ProbeAnalysis::student(const std::string &role) const { return findLogits(students, role); }

std::vector<int> analysedEpochs(const std::string &runDir)
{
    std::vector<int> epochs;
    std::error_code ec;
    const fs::path dir = fs::path(runDir) / "analysis";
    if (!fs::is_directory(dir, ec))
        return epochs;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        // epochNNN.json; a temporary "epoch001.json.tmp" or other names are not epochs
        if (name.size() < 10 || name.compare(0, 5, "epoch") != 0 || name.compare(name.size() - 5, 5, ".json") != 0)
            continue;
        const std::string digits = name.substr(5, name.size() - 10);
        if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })
            || digits.size() > 6)
            continue;
        epochs.push_back(std::stoi(digits));
    }
    std::sort(epochs.begin(), epochs.end());
    epochs.erase(std::unique(epochs.begin(), epochs.end()), epochs.end());
    return epochs;
}

EpochAnalysis readEpochAnalysis(const std::string &runDir, int epoch)
{
    EpochAnalysis a;
    a.epoch = epoch;
    const fs::path dir(runDir);
    const std::string where = "epoch " + std::to_string(epoch);
    const json j = readJson(dir / "analysis" / epochFileName(epoch), where, a.problems);
    if (j.is_null())
        return a;
    const double e = number(j, "epoch");
    if (std::isfinite(e) && int(e) != epoch)
        a.problems.push_back(where + ": the file says it is epoch " + std::to_string(int(e)));
    a.classNames = strings(j, "class_names");
    a.perClassKdGain = numbers(j, "per_class_kd_gain", where, a.problems);
    const json *roles = member(j, "roles");
    if (!roles || !roles->is_object()) {
        a.problems.push_back(where + ": no \"roles\" in the file");
        return a;
    }
    for (const auto &kv : roles->items())
        a.roles.push_back(readRole(kv.key(), kv.value(), dir, where + " " + kv.key(), a.problems));
    return a;
}

ProbeAnalysis readProbeAnalysis(const std::string &runDir)
{
    ProbeAnalysis p;
    const fs::path dir(runDir);
    const json j = readJson(dir / "analysis" / "probe.json", "probe", p.problems);
    if (j.is_null())
        return p;
    p.found = true;
    p.classNames = strings(j, "class_names");
    for (double l : numbers(j, "labels", "probe", p.problems))
        p.labels.push_back(std::isfinite(l) ? int(l) : -1);
    for (const auto &file : strings(j, "images"))
        p.imagePaths.push_back((dir / file).lexically_normal().string());
    if (const json *t = member(j, "teachers"); t && t->is_object())
        for (const auto &kv : t->items()) {
            ProbeLogits l;
            l.role = kv.key();
            json wrap = {{"logits", kv.value()}};
            l.logits = matrix(wrap, "logits", "probe teacher " + kv.key(), p.problems);
            p.teachers.push_back(std::move(l));
        }
    if (const json *s = member(j, "students"); s && s->is_object())
        for (const auto &kv : s->items()) {
            ProbeLogits l;
            l.role = kv.key();
            const double e = number(kv.value(), "epoch");
            l.epoch = std::isfinite(e) ? int(e) : -1;
            l.logits = matrix(kv.value(), "logits", "probe student " + kv.key(), p.problems);
            p.students.push_back(std::move(l));
        }
    return p;
}

} // namespace kd
