#include "FeatureKdMethod.h"

#include "core/Error.h"
#include "methods/KdLosses.h"

#include <algorithm>

namespace kd {

FeatureKdMethod::FeatureKdMethod(std::string name, const nlohmann::json &p, bool preActivation)
    : m_name(std::move(name))
    , m_studentSpec(p.at("student_features").get<std::string>())
    , m_teacherSpec(p.at("teacher_features").get<std::string>())
    , m_pre(preActivation)
    , m_ceWeight(p.at("ce_weight").get<double>())
    , m_kdWeight(p.at("kd_weight").get<double>())
    , m_kdTemperature(p.at("kd_temperature").get<double>())
{
}

std::vector<std::string> FeatureKdMethod::termNames() const
{
    std::vector<std::string> out{"ce"};
    if (m_kdWeight > 0)
        out.push_back("kd");
    for (const auto &t : m_terms)
        out.push_back(t.name);
    return out;
}

static void addUnique(std::vector<std::string> &v, const std::string &s)
{
    if (std::find(v.begin(), v.end(), s) == v.end())
        v.push_back(s);
}

std::vector<std::string> FeatureKdMethod::studentFeatures() const
{
    std::vector<std::string> out;
    if (m_isSetUp)
        for (const auto &p : m_pairs)
            addUnique(out, p.student);
    else
        for (const auto &n : namesBeforeSetup(m_studentSpec, m_pre))
            addUnique(out, n);
    addUnique(out, "logits");
    return out;
}

std::vector<std::string> FeatureKdMethod::teacherFeatures() const
{
    std::vector<std::string> out;
    if (m_isSetUp)
        for (const auto &p : m_pairs)
            addUnique(out, p.teacher);
    else
        for (const auto &n : namesBeforeSetup(m_teacherSpec, m_pre))
            addUnique(out, n);
    if (m_kdWeight > 0)
        addUnique(out, "logits");
    return out;
}

torch::nn::Module &FeatureKdMethod::module()
{
    if (!m_module)
        m_module = std::make_shared<torch::nn::Module>(m_name + "_adapters");
    return *m_module;
}

void FeatureKdMethod::setup(const MethodSetup &setup)
{
    if (setup.teacher.empty())
        throw Error("method \"" + m_name + "\" needs the teacher's feature shapes");
    m_pairs = pairFeatures(setup, m_studentSpec, m_teacherSpec, m_name, m_pre);
    setupPairs(setup);
    if (m_module)
        m_module->to(setup.device);
    m_isSetUp = true;
}

LossTerms FeatureKdMethod::compute(const Features &s, const Features *t, const torch::Tensor &labels,
                                   const StepContext &ctx)
{
    if (!t)
        throw Error("method \"" + m_name + "\" needs the teacher's features, but none were given");
    if (!m_isSetUp)
        throw std::logic_error("method \"" + m_name + "\": compute() before setup()");
    LossTerms out;
    const bool student = trainsStudent(ctx);
    const auto ce = crossEntropyLoss(s.logits(), labels);
    out.total = student ? m_ceWeight * ce : torch::zeros({}, ce.options());
    out.terms.emplace_back("ce", student ? ce : ce.detach());
    if (m_kdWeight > 0) {
        const auto kdTerm = hintonKdLoss(s.logits(), t->logits(), m_kdTemperature);
        if (student)
            out.total = out.total + m_kdWeight * kdTerm;
        out.terms.emplace_back("kd", student ? kdTerm : kdTerm.detach());
    }
    const auto values = featureTerms(s, *t, labels, ctx);
    for (std::size_t i = 0; i < m_terms.size(); ++i) {
        out.total = out.total + m_terms[i].weight * values.at(i);
        out.terms.emplace_back(m_terms[i].name, values[i]);
    }
    return out;
}

std::vector<ParamSpec> featureMethodParams(const std::string &studentDefault, const std::string &teacherDefault,
                                           const std::string &featureHelp, std::vector<ParamSpec> specific)
{
    std::vector<ParamSpec> out{
        ParamSpec::features("student_features", studentDefault, ParamSpec::Hint::StudentFeatures,
                            "student features " + featureHelp
                                + ": comma-separated names (e.g. stage2,stage3), \"all\" stages or the \"last\" stage"),
        ParamSpec::features("teacher_features", teacherDefault, ParamSpec::Hint::TeacherFeatures,
                            "teacher features paired in order with student_features (same syntax)"),
    };
    out.insert(out.end(), specific.begin(), specific.end());
    out.push_back(ParamSpec::number("ce_weight", 1.0, 0.0, 1000.0,
                                    "weight of the cross-entropy on the labels (RepDistiller's gamma)"));
    out.push_back(ParamSpec::number("kd_weight", 0.0, 0.0, 1000.0,
                                    "weight of an added Hinton KD term on the logits (RepDistiller's alpha; 0 = none)"));
    out.push_back(ParamSpec::number("kd_temperature", 4.0, 0.05, 100.0,
                                    "softmax temperature of the added Hinton KD term"));
    return out;
}

PairLossMethod::PairLossMethod(const std::string &name, const nlohmann::json &params, PairLoss loss)
    : FeatureKdMethod(name, params)
    , m_loss(loss)
{
    m_terms = {{name, params.at("beta").get<double>()}};
}

std::vector<torch::Tensor> PairLossMethod::featureTerms(const Features &student, const Features &teacher,
                                                        const torch::Tensor &, const StepContext &)
{
    torch::Tensor sum;
    for (const auto &pair : m_pairs) {
        const auto l = m_loss(student.get(pair.student), teacher.get(pair.teacher));
        sum = sum.defined() ? sum + l : l;
    }
    return {sum};
}

} // namespace kd
