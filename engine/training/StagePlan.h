#pragma once

#include "methods/MethodRegistry.h"
#include "project/ProjectConfig.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// Which images (and labels, and classes) a stage trains and is evaluated on.
struct DataView {
    enum class Kind {
        Full,        ///< the project's dataset
        OldClasses,  ///< classes [0, k): train/val/test filtered, k outputs (dmc teacher_old)
        NewClasses,  ///< classes [k, C): filtered, labels shifted to [0, C-k) (dmc teacher_new)
        Proxy,       ///< the proxy dataset with its own labels and classes (rc generalists)
        ProxyImages, ///< trains on the proxy's images; evaluated on the project's val/test (rc student)
        Aux,         ///< trains on the first `limit` training images (0: all); labels unused (dmc student)
    };
    Kind kind = Kind::Full;
    int splitClasses = 0;    ///< OldClasses/NewClasses: k (0: half of the classes, rounded down)
    std::int64_t limit = 0;  ///< Aux: number of training images (0: all)
    /// Any kind: then keep only the first N training images (the model's train.limit; 0: all).
    std::int64_t trainLimit = 0;

    /// A key that is equal for equal views (views are built once and shared).
    std::string key() const;
    std::string describe() const;

private:
    std::string baseKey() const;
    std::string baseDescription() const;
};

/// How a stage's teacher roles are combined into the one teacher the trainer reads.
enum class TeacherMode {
    None,    ///< no teacher
    Single,  ///< the one role's model as is
    Average, ///< "logits" = T·log(mean softmax(z_i/T)) over the roles (ensemble)
    Group,   ///< every role's features as "<role>.<feature>" (rc, dmc)
};

/// One planned stage: a model trained (or loaded) under a role, with the method it learns by
/// and the roles of the earlier stages it reads as teachers. One learner per stage today;
/// trainStage() already takes several, for online/mutual cohorts later.
struct Stage {
    std::string role;           ///< "teacher", "assistant1", "teacher_old", "student", ...
    ModelSpec spec;
    std::string method;         ///< registry key, or "checkpoint" for a model that is loaded
    nlohmann::json methodParams = nlohmann::json::object();
    std::vector<std::string> teacherRoles; ///< earlier stages this one distils from, in order
    TeacherMode teacherMode = TeacherMode::None;
    DataView data;
    /// Roles among teacherRoles that are generalists (method "rc").
    std::vector<std::string> generalistRoles;
    /// Added to the project seed for this stage's initial weights and data order. 0 except
    /// for the members of a teacher ensemble, which would otherwise train to identical models
    /// when they share an architecture.
    std::uint64_t seedOffset = 0;
    /// The data order's seed offset when it differs from seedOffset (-1: seedOffset): a
    /// cohort's scratch twins see the cohort's batches (the first peer's order).
    std::int64_t dataSeedOffset = -1;
    /// Online methods: the index of the first stage of this stage's cohort (its peers are
    /// that stage and the following ones with the same value), trained together in one loop;
    /// -1 for a stage trained on its own.
    int cohort = -1;

    bool loaded() const { return method == "checkpoint"; }
};

/// The stages a (resolved) project runs, in order: teachers (trained with "ce" or loaded),
/// assistants, the student with the project's method, and the "student_scratch" baseline;
/// for an online method, the cohort "peer1".."peerN" (one stage each, `cohort` 0) and, with
/// the baseline, each peer trained alone as "peerK_scratch".
/// Refuses, with a message saying what to change, combinations that do not make sense:
/// `takd` without `assistants`, `assistants` with another method, `ensemble` with fewer than
/// two teachers, `teachers` with a single-teacher method, `proxy` or `generalist` outside
/// `rc`, `dmc` with other than two (or no) teachers. Throws kd::Error.
std::vector<Stage> planStages(const Project &project, const MethodRegistry &methods);

/// Methods whose structure planStages() builds specially (the others: teacher → student).
bool isMultiTeacherMethod(const std::string &method); ///< ensemble, rc, dmc

} // namespace kd
