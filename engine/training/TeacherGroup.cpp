#include "TeacherGroup.h"

#include "core/Error.h"

#include <cmath>

namespace kd {

TeacherGroup::TeacherGroup(Mode mode, std::vector<Member> members, double temperature)
    : m_mode(mode)
    , m_members(std::move(members))
    , m_temperature(temperature)
{
    if (m_members.empty())
        throw Error("a teacher group needs at least one teacher");
    // Registered so that eval(), to() and parameters() reach the members.
    for (const auto &m : m_members)
        register_module(m.role, m.model);
}

Features TeacherGroup::forwardFeatures(const torch::Tensor &x)
{
    Features out;
    if (m_mode == Mode::Average) {
        std::vector<torch::Tensor> logits;
        for (const auto &m : m_members)
            logits.push_back(m.model->forwardFeatures(x).logits());
        out.add("logits", ensembleLogits(logits, m_temperature));
        return out;
    }
    for (const auto &m : m_members) {
        const auto features = m.model->forwardFeatures(x); // range-for over a temporary's member would dangle
        for (const auto &kv : features.items())
            out.add(m.role + "." + kv.first, kv.second);
    }
    return out;
}

torch::Tensor ensembleLogits(const std::vector<torch::Tensor> &logits, double temperature)
{
    if (logits.empty())
        throw Error("an ensemble needs at least one teacher's logits");
    std::vector<torch::Tensor> logProbs;
    for (const auto &z : logits) {
        if (z.sizes() != logits.front().sizes())
            throw Error("ensemble teachers must all output the same [batch, classes] logits; do they use the same "
                        "dataset and class count?");
        logProbs.push_back(torch::log_softmax(z / temperature, 1));
    }
    const auto logMean = torch::logsumexp(torch::stack(logProbs, 0), 0) - std::log(double(logits.size()));
    return logMean * temperature;
}

} // namespace kd
