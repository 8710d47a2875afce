#include "StagePlan.h"

#include "core/Error.h"

namespace kd {

std::string DataView::key() const
{
    const std::string base = baseKey();
    return trainLimit > 0 ? base + "|first:" + std::to_string(trainLimit) : base;
}

std::string DataView::baseKey() const
{
    switch (kind) {
    case Kind::Full:
        return "full";
    case Kind::OldClasses:
        return "old:" + std::to_string(splitClasses);
    case Kind::NewClasses:
        return "new:" + std::to_string(splitClasses);
    case Kind::Proxy:
        return "proxy";
    case Kind::ProxyImages:
        return "proxy-images";
    case Kind::Aux:
        return limit > 0 ? "aux:" + std::to_string(limit) : "full";
    }
    return "full";
}

std::string DataView::describe() const
{
    const std::string base = baseDescription();
    return trainLimit > 0 ? base + ", its first " + std::to_string(trainLimit) + " training images" : base;
}

std::string DataView::baseDescription() const
{
    switch (kind) {
    case Kind::Full:
        return "the training set";
    case Kind::OldClasses:
        return "the old classes of the training set";
    case Kind::NewClasses:
        return "the new classes of the training set";
    case Kind::Proxy:
        return "the proxy dataset (its own labels)";
    case Kind::ProxyImages:
        return "the proxy dataset's images (labels unused)";
    case Kind::Aux:
        return limit > 0 ? "the first " + std::to_string(limit) + " training images (labels unused)"
                         : "the training images (labels unused)";
    }
    return {};
}

bool isMultiTeacherMethod(const std::string &method)
{
    return method == "ensemble" || method == "rc" || method == "dmc";
}

namespace {

Stage trainedOrLoaded(const std::string &role, const ModelSpec &spec, DataView view = {})
{
    Stage s;
    s.role = role;
    s.spec = spec;
    s.method = spec.checkpoint.empty() ? "ce" : "checkpoint";
    s.data = view;
    s.data.trainLimit = spec.train.limit;
    return s;
}

Stage distilled(const std::string &role, const ModelSpec &spec, const Project &p, std::vector<std::string> teachers,
                TeacherMode mode, DataView view = {})
{
    Stage s;
    s.role = role;
    s.spec = spec;
    s.method = p.method.name;
    s.methodParams = p.method.params.is_object() ? p.method.params : nlohmann::json::object();
    s.teacherRoles = std::move(teachers);
    s.teacherMode = mode;
    s.data = view;
    s.data.trainLimit = spec.train.limit;
    return s;
}

std::string quoted(const std::string &s)
{
    return "\"" + s + "\"";
}

void checkCombination(const Project &p, bool needsTeacher, bool online)
{
    const auto &m = p.method.name;
    if (online && p.peers.size() < 2)
        throw Error("method " + quoted(m) + " is an online method: it trains a cohort of peers that teach each other, "
                    "and needs at least 2 in \"peers\" (it lists " + std::to_string(p.peers.size())
                    + "); add e.g. \"peers\": [{\"arch\": \"cnn_small\"}, {\"arch\": \"lenet5\"}]");
    for (std::size_t i = 1; online && i < p.peers.size(); ++i)
        if (p.peers[i].train.epochs != p.peers[0].train.epochs || p.peers[i].train.batchSize != p.peers[0].train.batchSize)
            throw Error("peers[" + std::to_string(i) + "] trains " + std::to_string(p.peers[i].train.epochs) + " epochs of batch "
                        + std::to_string(p.peers[i].train.batchSize) + " but peers[0] " + std::to_string(p.peers[0].train.epochs)
                        + " of " + std::to_string(p.peers[0].train.batchSize)
                        + "; the peers of a cohort train on the same batches, so give them the same train.epochs and "
                          "train.batch_size");
    if (!online && !p.peers.empty())
        throw Error("\"peers\" lists " + std::to_string(p.peers.size()) + " models, but method " + quoted(m)
                    + " is not an online method; remove \"peers\" or choose one (dml)"
                    + (m == "iekd" ? std::string(", or set method.mutual to true for IE-KD's mutual form") : std::string()));
    if (online && (!p.assistants.empty() || !p.teachers.empty() || p.hasProxy))
        throw Error("method " + quoted(m) + " trains its peers from scratch with no teacher; remove \"assistants\", "
                    "\"teachers\" and \"proxy\"");
    if (!p.assistants.empty() && m != "takd")
        throw Error("assistants are used only by method \"takd\" (teacher-assistant chains); method " + quoted(m)
                    + " would ignore them — remove \"assistants\" or set method.name to \"takd\"");
    if (m == "takd" && p.assistants.empty())
        throw Error("method \"takd\" needs at least one teacher assistant: add \"assistants\": [{\"arch\": ...}], "
                    "the models between teacher and student, largest first (see docs/PROJECT_FORMAT.md)");
    if (!p.teachers.empty() && !isMultiTeacherMethod(m))
        throw Error("\"teachers\" lists " + std::to_string(p.teachers.size()) + " teachers, but method " + quoted(m)
                    + (needsTeacher ? " distils from the single \"teacher\"" : " uses no teacher")
                    + "; remove \"teachers\" or choose a multi-teacher method (ensemble, rc, dmc)");
    if (p.hasProxy && m != "rc")
        throw Error("\"proxy\" is used only by method \"rc\" (representation consolidation); remove it or set "
                    "method.name to \"rc\"");
    for (std::size_t i = 0; i < p.teachers.size(); ++i)
        if (p.teachers[i].generalist && m != "rc")
            throw Error("teachers[" + std::to_string(i) + "].generalist is used only by method \"rc\"; remove it");
}

} // namespace

std::vector<Stage> planStages(const Project &p, const MethodRegistry &methods)
{
    const auto &entry = methods.get(p.method.name);
    const bool online = entry.isOnline(p.method.params);
    const bool needsTeacher = entry.needsTeacherWith(p.method.params);
    checkCombination(p, needsTeacher, online);
    const auto &m = p.method.name;
    std::vector<Stage> stages;

    if (online) {
        // One cohort: every peer learns with the method from the others; different initial
        // weights even for peers of one architecture (seed offset).
        for (std::size_t i = 0; i < p.peers.size(); ++i) {
            stages.push_back(distilled("peer" + std::to_string(i + 1), p.peers[i], p, {}, TeacherMode::None));
            stages.back().seedOffset = i;
            stages.back().cohort = 0;
        }
        if (p.baseline) {
            // Each peer alone, from the same initial weights and on the same batches: what the
        // cohort adds.
            for (std::size_t i = 0; i < p.peers.size(); ++i) {
                Stage s = trainedOrLoaded("peer" + std::to_string(i + 1) + "_scratch", p.peers[i]);
                s.method = "ce";
                s.seedOffset = i;
                s.dataSeedOffset = 0; // the cohort's batches
                stages.push_back(s);
            }
        }
        return stages;
    }
    if (m == "takd") {
        stages.push_back(trainedOrLoaded("teacher", p.teacher));
        std::string previous = "teacher";
        for (std::size_t i = 0; i < p.assistants.size(); ++i) {
            const std::string role = "assistant" + std::to_string(i + 1);
            stages.push_back(distilled(role, p.assistants[i], p, {previous}, TeacherMode::Single));
            previous = role;
        }
        stages.push_back(distilled("student", p.student, p, {previous}, TeacherMode::Single));
    } else if (m == "ensemble") {
        if (p.teachers.size() < 2)
            throw Error("method \"ensemble\" averages at least 2 teachers, but \"teachers\" lists "
                        + std::to_string(p.teachers.size())
                        + "; add teachers (e.g. \"teachers\": [{\"arch\": \"cnn_small\"}, {\"arch\": \"lenet5\"}]) "
                          "or use method \"kd\" with the single \"teacher\"");
        std::vector<std::string> roles;
        for (std::size_t i = 0; i < p.teachers.size(); ++i) {
            roles.push_back("teacher" + std::to_string(i + 1));
            stages.push_back(trainedOrLoaded(roles.back(), p.teachers[i]));
            stages.back().seedOffset = i;
        }
        stages.push_back(distilled("student", p.student, p, roles, TeacherMode::Average));
    } else if (m == "rc") {
        std::vector<ModelSpec> specs = p.teachers;
        const bool single = specs.empty();
        if (single)
            specs.push_back(p.teacher);
        bool anySpecialist = false;
        for (const auto &s : specs)
            anySpecialist = anySpecialist || !s.generalist;
        if (!anySpecialist)
            throw Error("method \"rc\" needs at least one task teacher (generalist: false) to supervise the "
                        "student's own classifier; every entry of \"teachers\" is a generalist");
        std::vector<std::string> roles, generalists;
        for (std::size_t i = 0; i < specs.size(); ++i) {
            roles.push_back(single ? "teacher" : "teacher" + std::to_string(i + 1));
            DataView view;
            if (specs[i].generalist) {
                generalists.push_back(roles.back());
                if (p.hasProxy)
                    view.kind = DataView::Kind::Proxy;
            }
            stages.push_back(trainedOrLoaded(roles.back(), specs[i], view));
            stages.back().seedOffset = i;
        }
        DataView studentView;
        if (p.hasProxy)
            studentView.kind = DataView::Kind::ProxyImages;
        stages.push_back(distilled("student", p.student, p, roles, TeacherMode::Group, studentView));
        stages.back().generalistRoles = generalists;
    } else if (m == "dmc") {
        if (p.teachers.size() != 0 && p.teachers.size() != 2)
            throw Error("method \"dmc\" consolidates exactly 2 teachers (the old-class model, then the new-class "
                        "model), but \"teachers\" lists " + std::to_string(p.teachers.size())
                        + "; give 2, or none to train both from \"teacher\"");
        if (p.teachers.empty() && !p.teacher.checkpoint.empty())
            throw Error("method \"dmc\" trains an old-class and a new-class teacher; one teacher.checkpoint cannot be "
                        "both — give \"teachers\": [{... \"checkpoint\": old}, {... \"checkpoint\": new}] instead");
        const ModelSpec &oldSpec = p.teachers.empty() ? p.teacher : p.teachers[0];
        const ModelSpec &newSpec = p.teachers.empty() ? p.teacher : p.teachers[1];
        const auto &params = p.method.params;
        const int k = params.is_object() && params.contains("old_classes") ? params["old_classes"].get<int>() : 0;
        const std::int64_t aux =
            params.is_object() && params.contains("aux_limit") ? params["aux_limit"].get<std::int64_t>() : 0;
        DataView oldView, newView, auxView;
        oldView.kind = DataView::Kind::OldClasses;
        oldView.splitClasses = k;
        newView.kind = DataView::Kind::NewClasses;
        newView.splitClasses = k;
        auxView.kind = DataView::Kind::Aux;
        auxView.limit = aux;
        stages.push_back(trainedOrLoaded("teacher_old", oldSpec, oldView));
        stages.push_back(trainedOrLoaded("teacher_new", newSpec, newView));
        stages.push_back(distilled("student", p.student, p, {"teacher_old", "teacher_new"}, TeacherMode::Group, auxView));
    } else if (needsTeacher) {
        stages.push_back(trainedOrLoaded("teacher", p.teacher));
        stages.push_back(distilled("student", p.student, p, {"teacher"}, TeacherMode::Single));
    } else {
        stages.push_back(distilled("student", p.student, p, {}, TeacherMode::None));
    }
    if (p.baseline && m != "ce") {
        Stage s = trainedOrLoaded("student_scratch", p.student);
        s.method = "ce";
        stages.push_back(s);
    }
    return stages;
}

} // namespace kd
