#include "MultiBranchNet.h"

#include "core/Error.h"

#include <torch/torch.h>

namespace kd {

int BranchLayout::parseSplit(const std::string &name)
{
    if (name == "stem")
        return 0;
    if (name.size() > 5 && name.compare(0, 5, "stage") == 0) {
        try {
            std::size_t used = 0;
            const int k = std::stoi(name.substr(5), &used);
            if (used == name.size() - 5 && k >= 1)
                return k;
        } catch (const std::exception &) {
        }
    }
    throw Error("split \"" + name + "\" names no part of a network; use \"stem\" or \"stageK\" (K = 1, 2, ...)");
}

std::string BranchLayout::splitName(int split)
{
    return split == 0 ? "stem" : "stage" + std::to_string(split);
}

namespace {

/// Removes the submodule at dotted `path` under `root` from its parent's registered children
/// (the member pointers that run it stay valid). Paths of optional modules may be absent.
void unregisterPath(torch::nn::Module &root, const std::string &path)
{
    torch::nn::Module *parent = &root;
    std::string leaf = path;
    const auto dot = path.rfind('.');
    if (dot != std::string::npos) {
        const auto modules = root.named_modules("", /*include_self=*/false);
        const auto *found = modules.find(path.substr(0, dot));
        if (!found)
            return;
        parent = found->get();
        leaf = path.substr(dot + 1);
    }
    if (parent->named_children().contains(leaf))
        parent->unregister_module(leaf);
}

std::int64_t countOf(const torch::nn::Module &m)
{
    std::int64_t n = 0;
    for (const auto &p : m.parameters())
        n += p.numel();
    return n;
}

} // namespace

MultiBranchNet::MultiBranchNet(const Factory &make, const BranchLayout &layout, const std::string &archName)
    : MultiBranchNet(BranchFactory([make](int) { return make(); }), layout, archName)
{
    if (!layout.widthFractions.empty())
        throw std::logic_error("MultiBranchNet: branches of different widths need a factory per branch");
}

MultiBranchNet::MultiBranchNet(const BranchFactory &make, const BranchLayout &layout, const std::string &archName)
    : m_layout(layout)
{
    if (layout.branches < 2)
        throw Error("a multi-branch network needs at least 2 branches; got " + std::to_string(layout.branches));
    if (layout.deployed < 0 || layout.deployed >= layout.branches)
        throw Error("the deployed branch must be one of branch 1.." + std::to_string(layout.branches));
    for (int b = 0; b < layout.branches; ++b) {
        auto net = make(b);
        const int stages = net->stageCount();
        if (stages == 0)
            throw Error("architecture \"" + archName + "\" cannot be split into a trunk and branches");
        if (layout.split < 0 || layout.split > stages)
            throw Error("architecture \"" + archName + "\" has " + std::to_string(stages)
                        + " stages (stage1..stage" + std::to_string(stages) + "); split \""
                        + BranchLayout::splitName(layout.split) + "\" is not one of \"stem\", stage1..stage"
                        + std::to_string(stages));
        if (b > 0) {
            // The trunk is branch 1's: every other instance must agree with it in shape.
            const auto first = m_nets.front()->named_parameters();
            for (const auto &kv : net->named_parameters()) {
                const int part = partOfTensor(*net, kv.key());
                const auto *t = first.find(kv.key());
                if (part >= 0 && part <= layout.split && (!t || t->sizes() != kv.value().sizes()))
                    throw Error("branch " + std::to_string(b + 1) + " of \"" + archName + "\" differs from branch 1 "
                                "in its shared part (" + kv.key() + "); branches of different widths can share only "
                                "what the width leaves unchanged (split \"stem\")");
            }
            for (int part = 0; part <= layout.split; ++part)
                for (const auto &path : net->partModules(part))
                    unregisterPath(*net, path);
        }
        register_module("branch" + std::to_string(b + 1), net);
        m_nets.push_back(std::move(net));
    }
}

Features MultiBranchNet::forwardFeatures(const torch::Tensor &x)
{
    return forwardViews({x});
}

Features MultiBranchNet::forwardViews(const std::vector<torch::Tensor> &views)
{
    if (views.empty())
        throw std::logic_error("MultiBranchNet::forwardViews needs at least one input");
    Features f;
    // The trunk once per view a branch reads; its own features (and "trunk") from view 0.
    std::vector<torch::Tensor> trunks(std::min<std::size_t>(views.size(), std::size_t(m_layout.branches)));
    for (std::size_t v = 0; v < trunks.size(); ++v) {
        Features scratch;
        auto &into = v == 0 ? f : scratch;
        auto h = views[v];
        for (int part = 0; part <= m_layout.split; ++part)
            h = m_nets[0]->forwardPart(part, h, into);
        trunks[v] = h;
    }
    f.add("trunk", trunks[0]);
    const int head = m_nets[0]->headPart();
    std::vector<std::pair<std::string, torch::Tensor>> deployed;
    for (int b = 0; b < m_layout.branches; ++b) {
        Features own;
        auto hb = trunks[std::size_t(b) % trunks.size()];
        const std::string prefix = "branch" + std::to_string(b + 1) + ".";
        for (int part = m_layout.split + 1; part <= head; ++part) {
            if (part == head)
                own.add("head_input", hb);
            hb = m_nets[std::size_t(b)]->forwardPart(part, hb, own);
        }
        for (const auto &kv : own.items()) {
            f.add(prefix + kv.first, kv.second);
            if (b == m_layout.deployed && kv.first != "head_input")
                deployed.push_back(kv);
        }
    }
    for (auto &kv : deployed)
        f.add(kv.first, kv.second);
    return f;
}

std::int64_t MultiBranchNet::tailParameters(int b) const
{
    const auto &net = *m_nets.at(std::size_t(b));
    std::int64_t n = 0;
    for (const auto &kv : net.named_parameters()) {
        const int part = partOfTensor(net, kv.key());
        if (part > m_layout.split)
            n += kv.value().numel();
    }
    return n;
}

std::int64_t MultiBranchNet::trunkParameters() const
{
    return countOf(*this) - [this] {
        std::int64_t tails = 0;
        for (int b = 0; b < m_layout.branches; ++b)
            tails += tailParameters(b);
        return tails;
    }();
}

std::shared_ptr<FeatureNet> MultiBranchNet::extractBranch(int b, const Factory &make) const
{
    return extractBranch(b, BranchFactory([make](int) { return make(); }));
}

std::shared_ptr<FeatureNet> MultiBranchNet::extractBranch(int b, const BranchFactory &make) const
{
    if (b < 0 || b >= m_layout.branches)
        throw Error("branch " + std::to_string(b + 1) + " does not exist; the network has "
                    + std::to_string(m_layout.branches));
    auto out = make(b);
    torch::NoGradGuard noGrad;
    auto copyFrom = [&](const std::string &name, torch::Tensor &dst, bool buffer) {
        const int part = partOfTensor(*out, name);
        if (part < 0)
            throw Error("internal: tensor " + name + " belongs to no part of the architecture");
        const auto &src = *m_nets[std::size_t(part <= m_layout.split ? 0 : b)];
        const auto tensors = buffer ? src.named_buffers() : src.named_parameters();
        const auto *t = tensors.find(name);
        if (!t)
            throw Error("internal: branch " + std::to_string(b + 1) + " has no tensor " + name);
        dst.copy_(*t);
    };
    for (auto &kv : out->named_parameters())
        copyFrom(kv.key(), kv.value(), false);
    for (auto &kv : out->named_buffers())
        copyFrom(kv.key(), kv.value(), true);
    return out;
}

} // namespace kd
