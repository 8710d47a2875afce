#include "methods/BuiltinMethods.h"

#include "methods/DistillationMethod.h"
#include "core/Error.h"
#include "methods/KdLosses.h"
#include "methods/StageAwareMethod.h"

#include <algorithm>

namespace kd {

namespace {

/// Representation Consolidation (Li et al. 2021): one student backbone with one head per
/// teacher, all distilled together on a proxy set. The head of the first task teacher
/// (generalist: false) is the student's own classifier ("logits"), so the consolidated
/// student is evaluated on the task directly; every other teacher gets an extra Linear head
/// on the student's "pre_logits" (trainable, optimised with the student, not saved with it).
///   loss = α·Σ_k T²·KL(p_{t_k}^T ‖ p_{h_k}^T)  [+ (1 − α)·CE(logits, y) when the batch labels
///          are the task's, i.e. the proxy is the training set]
class RcMethod : public DistillationMethod, public StageAwareMethod {
public:
    explicit RcMethod(const nlohmann::json &p)
        : m_temperature(p.at("temperature").get<double>())
        , m_alpha(p.at("alpha").get<double>())
    {
    }
    void configureStage(const StageInfo &info) override
    {
        m_roles = info.teacherRoles;
        m_labels = info.labelsAreTargets;
        m_main.clear();
        for (const auto &r : m_roles)
            if (std::find(info.generalistRoles.begin(), info.generalistRoles.end(), r) == info.generalistRoles.end()) {
                m_main = r;
                break;
            }
        if (m_main.empty())
            throw Error("method \"rc\" needs a task teacher (generalist: false) for the student's classifier");
    }
    bool needsTeacher() const override { return true; }
    std::vector<std::string> termNames() const override
    {
        std::vector<std::string> t;
        if (m_labels)
            t.push_back("ce");
        for (const auto &r : m_roles)
            t.push_back("kd_" + r);
        return t;
    }
    std::vector<std::string> studentFeatures() const override { return {"pre_logits", "logits"}; }
    std::vector<std::string> teacherFeatures() const override
    {
        std::vector<std::string> f;
        for (const auto &r : m_roles)
            f.push_back(r + ".logits");
        return f;
    }
    void setup(const MethodSetup &setup) override
    {
        if (m_roles.empty())
            throw Error("method \"rc\" was not told its teachers (StageAwareMethod::configureStage)");
        std::int64_t dim = 1;
        for (auto d : setup.studentShape("pre_logits"))
            dim *= d;
        m_heads = std::make_shared<torch::nn::Module>("RcHeads");
        m_headOf.clear();
        for (const auto &r : m_roles) {
            const auto classes = setup.teacherShape(r + ".logits").at(0);
            if (r == m_main) {
                if (classes != setup.studentShape("logits").at(0))
                    throw Error("method \"rc\": task teacher " + r + " has " + std::to_string(classes)
                                + " outputs but the student " + std::to_string(setup.studentShape("logits").at(0)));
                m_headOf.emplace_back(nullptr);
                continue;
            }
            auto head = m_heads->register_module("head_" + r, torch::nn::Linear(dim, classes));
            head->to(setup.device);
            m_headOf.push_back(head);
        }
    }
    std::shared_ptr<torch::nn::Module> trainableModule() override { return m_heads; }

    LossTerms compute(const Features &s, const Features *t, const torch::Tensor &labels,
                      const StepContext &) override
    {
        LossTerms out;
        torch::Tensor kdSum;
        const auto pre = s.get("pre_logits").flatten(1);
        if (m_labels) {
            const auto ce = crossEntropyLoss(s.logits(), labels);
            out.terms.emplace_back("ce", ce);
            out.total = (1.0 - m_alpha) * ce;
        }
        for (std::size_t k = 0; k < m_roles.size(); ++k) {
            const auto head = m_headOf[k].is_empty() ? s.logits() : m_headOf[k]->forward(pre);
            const auto kd = hintonKdLoss(head, t->get(m_roles[k] + ".logits"), m_temperature);
            out.terms.emplace_back("kd_" + m_roles[k], kd);
            kdSum = kdSum.defined() ? kdSum + kd : kd;
        }
        out.total = out.total.defined() ? out.total + m_alpha * kdSum : m_alpha * kdSum;
        return out;
    }

private:
    double m_temperature;
    double m_alpha;
    std::vector<std::string> m_roles;
    std::string m_main;
    bool m_labels = true;
    std::shared_ptr<torch::nn::Module> m_heads;
    std::vector<torch::nn::Linear> m_headOf;
};

} // namespace

void registerRcMethod(MethodRegistry &registry)
{
    std::vector<ParamSpec> params{
        ParamSpec::number("temperature", 4.0, 0.05, 100.0, "softmax temperature T of every head's KD term"),
        ParamSpec::number("alpha", 0.9, 0.0, 1.0,
                          "weight of the summed KD terms; 1-alpha weighs the cross-entropy on labels (only when "
                          "distilling on the labelled training set, i.e. without a proxy)")};
    registry.add("rc", {"Representation Consolidation (Li et al. 2021): one student backbone, one head per teacher "
                        "(\"teachers\", optional generalists), sum of per-head KD on a proxy set",
                        true, std::move(params),
                        [](const nlohmann::json &p) { return std::make_unique<RcMethod>(p); }});
}

} // namespace kd
