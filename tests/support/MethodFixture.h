#pragma once

// What the method suites (test_methods, test_methods_advanced, test_methods_fidelity,
// test_srm) share: the built-in registries, models and methods made from them, the setup a
// method gets for a teacher/student pair, one training step by hand, and a whole project
// run through kd::Experiment. Test classes derive from MethodFixture instead of QObject.

#include "methods/DistillationMethod.h"
#include "methods/MethodRegistry.h"
#include "models/ArchitectureRegistry.h"
#include "project/ParamSpec.h"
#include "project/ProjectConfig.h"
#include "project/Registries.h"
#include "training/Experiment.h"

#include <QObject>

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>

namespace kd::test {

/// Runs a whole project (JSON as in a project file) into `runDir` through kd::Experiment;
/// throws what the run throws. Callers check the summary's status.
inline kd::RunSummary runProject(const nlohmann::json &project, const std::string &runDir,
                                 const kd::Registries &registries)
{
    struct NullObserver : kd::ExperimentObserver {};
    kd::Experiment exp(kd::Project::fromJson(project), registries);
    NullObserver observer;
    std::atomic<bool> stop{false};
    return exp.run(observer, stop, runDir);
}

inline kd::RunSummary runProject(const nlohmann::json &project, const std::string &runDir)
{
    return runProject(project, runDir, kd::Registries::builtin());
}

/// How runStep() calls compute(): batch size, epoch of epochs, and the step count the
/// method's progress() divides by.
struct StepOptions {
    std::int64_t batch = 8;
    int epoch = 1;
    int epochs = 2;
    std::int64_t totalSteps = 10;
};

class MethodFixture : public QObject {
protected:
    nlohmann::json m_golden;
    kd::MethodRegistry m_methods{"method"};
    kd::ArchitectureRegistry m_archs{"architecture"};

    /// A suite's initTestCase(): golden values from tests/data/`goldenFile` (written by
    /// scripts/`script`), the built-in methods and architectures, one torch thread. Returns
    /// what went wrong, empty when ready.
    std::string prepare(const std::string &goldenFile, const std::string &script)
    {
        const std::string path = std::string(KD_TEST_DATA_DIR) + "/" + goldenFile;
        std::ifstream in(path);
        if (!in.good())
            return "cannot open " + path + "; regenerate it with /usr/bin/python3 scripts/" + script;
        m_golden = nlohmann::json::parse(in);
        kd::registerBuiltinMethods(m_methods);
        kd::registerBuiltinArchitectures(m_archs);
        at::set_num_threads(1);
        return {};
    }

    std::unique_ptr<kd::DistillationMethod> create(const std::string &name,
                                                   const nlohmann::json &params = nlohmann::json::object()) const
    {
        const auto &entry = m_methods.get(name);
        return entry.create(kd::resolveParams(entry.params, params, "method"));
    }

    std::shared_ptr<kd::FeatureNet> model(const std::string &arch, const nlohmann::json &options = nlohmann::json::object(),
                                          kd::InputShape shape = {1, 28, 28}) const
    {
        const auto &e = m_archs.get(arch);
        return e.create(kd::resolveParams(e.params, options, arch), shape, 10);
    }

    /// The named features' shapes (batch dimension left out), from an eval-mode forward.
    static kd::FeatureShapes shapesOf(kd::FeatureNet &net, kd::InputShape shape = {1, 28, 28})
    {
        torch::NoGradGuard noGrad;
        const bool training = net.is_training();
        net.eval();
        const auto f = net.forwardFeatures(torch::zeros({2, shape.channels, shape.height, shape.width}));
        net.train(training);
        kd::FeatureShapes out;
        for (const auto &kv : f.items())
            out.emplace_back(kv.first, kv.second.sizes().slice(1).vec());
        return out;
    }

    /// What setup() gets for the pair: 10 classes, `trainSize` training images.
    static kd::MethodSetup setupFor(kd::FeatureNet &student, kd::FeatureNet *teacher, std::int64_t trainSize = 64,
                                    int epochs = 0)
    {
        kd::MethodSetup s;
        s.student = shapesOf(student);
        if (teacher)
            s.teacher = shapesOf(*teacher);
        s.numClasses = 10;
        s.trainSize = trainSize;
        s.epochs = epochs;
        return s;
    }
    static kd::MethodSetup setupFor(kd::FeatureNet &student, kd::FeatureNet &teacher, int epochs = 0)
    {
        return setupFor(student, &teacher, 64, epochs);
    }

    /// One step by hand: a random batch through both models (the teacher under NoGradGuard,
    /// the student's features keeping their gradients), labels 0…9 in turn, then compute().
    static kd::LossTerms runStep(kd::DistillationMethod &method, kd::FeatureNet &student, kd::FeatureNet &teacher,
                                 const StepOptions &o = {}, kd::Features *studentOut = nullptr)
    {
        const auto x = torch::randn({o.batch, 1, 28, 28});
        const auto y = torch::arange(o.batch, torch::kInt64) % 10;
        kd::Features t;
        {
            torch::NoGradGuard noGrad;
            t = teacher.forwardFeatures(x);
        }
        auto s = student.forwardFeatures(x);
        for (auto &kv : s.items())
            if (kv.second.requires_grad())
                const_cast<torch::Tensor &>(kv.second).retain_grad();
        kd::StepContext ctx;
        ctx.epoch = o.epoch;
        ctx.epochs = o.epochs;
        ctx.step = 0;
        ctx.totalSteps = o.totalSteps;
        ctx.indices = torch::arange(o.batch, torch::kInt64);
        ctx.inputs = x;
        ctx.student = &student;
        ctx.teacher = &teacher;
        auto loss = method.compute(s, &t, y, ctx);
        if (studentOut)
            *studentOut = s;
        return loss;
    }
};

} // namespace kd::test
