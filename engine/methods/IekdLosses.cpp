#include "IekdLosses.h"

#include "core/Error.h"

#include <sstream>

namespace kd {

namespace F = torch::nn::functional;

namespace {

void checkPair(const torch::Tensor &s, const torch::Tensor &t, const char *what)
{
    if (s.sizes() != t.sizes()) {
        std::ostringstream os;
        os << what << " needs student and teacher factors of one shape; got " << s.sizes() << " and " << t.sizes();
        throw Error(os.str());
    }
}

torch::Tensor normDistance(const torch::Tensor &s, const torch::Tensor &t, IekdDistance distance)
{
    const auto diff = iekdFactor(s) - iekdFactor(t);
    if (distance == IekdDistance::L1)
        return diff.abs().mean();
    return diff.pow(2).mean().sqrt();
}

torch::Tensor cosines(const torch::Tensor &s, const torch::Tensor &t)
{
    return (iekdFactor(s) * iekdFactor(t)).sum(1);
}

} // namespace

IekdDistance parseIekdDistance(const std::string &name)
{
    if (name == "l1")
        return IekdDistance::L1;
    if (name == "l2")
        return IekdDistance::L2;
    if (name == "cos")
        return IekdDistance::Cos;
    throw Error("distance = \"" + name + "\" is unknown; choose \"l1\", \"l2\" or \"cos\"");
}

torch::Tensor iekdFactor(const torch::Tensor &f)
{
    return F::normalize(f.reshape({f.size(0), -1}), F::NormalizeFuncOptions().p(2).dim(1));
}

torch::Tensor iekdInheritLoss(const torch::Tensor &student, const torch::Tensor &teacher, IekdDistance distance)
{
    checkPair(student, teacher, "the IE-KD inheritance loss");
    if (distance == IekdDistance::Cos)
        return (1.0 - cosines(student, teacher)).mean();
    return normDistance(student, teacher, distance);
}

torch::Tensor iekdExploreLoss(const torch::Tensor &student, const torch::Tensor &teacher, IekdDistance distance)
{
    checkPair(student, teacher, "the IE-KD exploration loss");
    if (distance == IekdDistance::Cos)
        return cosines(student, teacher).abs().mean();
    return -normDistance(student, teacher, distance);
}

torch::Tensor iekdReconstructionLoss(const torch::Tensor &reconstruction, const torch::Tensor &input)
{
    checkPair(reconstruction, input, "the IE-KD reconstruction loss");
    return (reconstruction - input).abs().mean();
}

} // namespace kd
