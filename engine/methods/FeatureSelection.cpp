#include "FeatureSelection.h"

#include "core/Error.h"

#include <algorithm>
#include <cctype>

namespace kd {

std::string shapeText(const std::vector<std::int64_t> &shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

static bool isStageName(const std::string &name, bool pre)
{
    const std::string suffix = pre ? "_pre" : "";
    if (name.size() <= 5 + suffix.size() || name.compare(0, 5, "stage") != 0)
        return false;
    if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    const auto digits = name.substr(5, name.size() - 5 - suffix.size());
    return !digits.empty() && std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::vector<std::string> stageFeatureNames(const FeatureShapes &shapes, bool preActivation)
{
    std::vector<std::string> out;
    for (const auto &kv : shapes)
        if (isStageName(kv.first, preActivation))
            out.push_back(kv.first);
    return out;
}

static std::vector<std::string> splitList(const std::string &spec)
{
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        const auto b = cur.find_first_not_of(" \t");
        const auto e = cur.find_last_not_of(" \t");
        if (b != std::string::npos)
            out.push_back(cur.substr(b, e - b + 1));
        cur.clear();
    };
    for (char c : spec) {
        if (c == ',')
            flush();
        else
            cur += c;
    }
    flush();
    return out;
}

static std::string allNames(const FeatureShapes &shapes)
{
    std::string names;
    for (const auto &kv : shapes)
        names += (names.empty() ? "" : ", ") + kv.first + " " + shapeText(kv.second);
    return names;
}

std::vector<std::string> selectFeatures(const std::string &spec, const FeatureShapes &shapes, const std::string &role,
                                        const std::string &method, const std::string &key, bool preActivation)
{
    const std::string where = "method \"" + method + "\": " + key + " = \"" + spec + "\"";
    if (spec == "all" || spec == "last") {
        auto stages = stageFeatureNames(shapes, preActivation);
        if (stages.empty())
            throw Error(where + ", but the " + role + " has no stage features (" + std::string(preActivation ? "stageK_pre" : "stageK")
                        + "); it provides: " + allNames(shapes) + "; name features explicitly or choose another "
                        + role + " architecture");
        if (spec == "last")
            return {stages.back()};
        return stages;
    }
    const auto names = splitList(spec);
    if (names.empty())
        throw Error(where + " names no feature; use \"all\", \"last\" or feature names such as \"stage2\"");
    for (const auto &n : names) {
        const bool found = std::any_of(shapes.begin(), shapes.end(), [&](const auto &kv) { return kv.first == n; });
        if (!found)
            throw Error(where + ": the " + role + " has no feature \"" + n + "\"; valid features: " + allNames(shapes)
                        + " (or \"all\" / \"last\" for its stages)");
    }
    return names;
}

std::vector<std::string> namesBeforeSetup(const std::string &spec, bool preActivation)
{
    if (spec == "all")
        return {preActivation ? "stage1_pre" : "stage1"};
    if (spec == "last")
        return {};
    return splitList(spec);
}

static const std::vector<std::int64_t> &shapeOf(const FeatureShapes &shapes, const std::string &name)
{
    for (const auto &kv : shapes)
        if (kv.first == name)
            return kv.second;
    throw std::logic_error("feature " + name + " vanished");
}

std::vector<FeaturePair> pairFeatures(const MethodSetup &setup, const std::string &studentSpec,
                                      const std::string &teacherSpec, const std::string &method, bool preActivation)
{
    const auto s = selectFeatures(studentSpec, setup.student, "student", method, "student_features", preActivation);
    const auto t = selectFeatures(teacherSpec, setup.teacher, "teacher", method, "teacher_features", preActivation);
    if (s.size() != t.size() && studentSpec != "all" && teacherSpec != "all") {
        auto join = [](const std::vector<std::string> &v) {
            std::string out;
            for (const auto &n : v)
                out += (out.empty() ? "" : ",") + n;
            return out;
        };
        throw Error("method \"" + method + "\" pairs student and teacher features in order, but student_features names "
                    + std::to_string(s.size()) + " (" + join(s) + ") and teacher_features "
                    + std::to_string(t.size()) + " (" + join(t) + "); list as many on both sides");
    }
    std::vector<FeaturePair> pairs;
    for (std::size_t i = 0; i < std::min(s.size(), t.size()); ++i)
        pairs.push_back({s[i], t[i], shapeOf(setup.student, s[i]), shapeOf(setup.teacher, t[i])});
    return pairs;
}

void requireSpatial(const FeaturePair &pair, const std::string &method)
{
    auto check = [&](const std::string &role, const std::string &name, const std::vector<std::int64_t> &shape) {
        if (shape.size() == 3)
            return;
        throw Error("method \"" + method + "\" needs spatial feature maps (channels x height x width), but the " + role
                    + " feature \"" + name + "\" has shape " + shapeText(shape)
                    + "; choose a convolutional " + role + " (e.g. cnn_small, resnet8) with stage features, or, for "
                    + "vector features such as pre_logits, a method that accepts them (fitnet, sp, rkd, pkt, crd, kd)");
    };
    check("student", pair.student, pair.studentShape);
    check("teacher", pair.teacher, pair.teacherShape);
}

void requireSameKind(const FeaturePair &pair, const std::string &method)
{
    const bool sMap = pair.studentShape.size() == 3, tMap = pair.teacherShape.size() == 3;
    const bool sVec = pair.studentShape.size() == 1, tVec = pair.teacherShape.size() == 1;
    if ((sMap && tMap) || (sVec && tVec))
        return;
    throw Error("method \"" + method + "\" maps the student feature \"" + pair.student + "\" " + shapeText(pair.studentShape)
                + " onto the teacher feature \"" + pair.teacher + "\" " + shapeText(pair.teacherShape)
                + ", but it can only adapt a map to a map (channels x height x width) or a vector to a vector; "
                + "choose two stage features (e.g. stage2) or pre_logits on both sides");
}

} // namespace kd
