#include "ProbeSet.h"

#include "data/Dataset.h"

#include <algorithm>

namespace kd {

std::vector<std::int64_t> chooseProbeIndices(const std::vector<std::int64_t> &labels, int numClasses, int perClass,
                                             int maxImages, std::uint64_t seed)
{
    if (numClasses < 1 || perClass < 1 || maxImages < 1 || labels.empty())
        return {};
    // An epoch number no training epoch uses, so the probe order is independent of the
    // training order drawn from the same seed.
    const auto order = shuffledIndices(std::int64_t(labels.size()), seed, -7);
    std::vector<std::vector<std::int64_t>> byClass(static_cast<std::size_t>(numClasses));
    for (auto i : order) {
        const auto c = labels[std::size_t(i)];
        if (c >= 0 && c < numClasses && int(byClass[std::size_t(c)].size()) < perClass)
            byClass[std::size_t(c)].push_back(i);
    }
    // Round-robin over the classes so a cap keeps the probe balanced.
    std::vector<std::vector<std::int64_t>> taken(static_cast<std::size_t>(numClasses));
    int total = 0;
    for (int round = 0; round < perClass && total < maxImages; ++round)
        for (int c = 0; c < numClasses && total < maxImages; ++c)
            if (round < int(byClass[std::size_t(c)].size())) {
                taken[std::size_t(c)].push_back(byClass[std::size_t(c)][std::size_t(round)]);
                ++total;
            }
    std::vector<std::int64_t> out;
    for (const auto &t : taken)
        out.insert(out.end(), t.begin(), t.end());
    return out;
}

} // namespace kd
