#pragma once

// Is a single run's KD gain bigger than the seed-to-seed noise of its setting? The note that
// `kdw run` (and the window's run summary) prints under a finished run. No Qt, no torch.

#include "stats/Statistics.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace kd {

/// What the sibling runs of one run (same folder, same setting, other seeds) say about its
/// KD gain. `text` is empty when the run has no KD gain (no scratch baseline, or unfinished).
struct SeedSpreadNote {
    double gain = NAN;          ///< this run's student − scratch final test accuracy (fraction)
    std::size_t otherSeeds = 0; ///< finished sibling runs of the same setting with another seed
    SampleSummary gains;        ///< KD gain over this run and those siblings (when ≥ 2 others)
    bool known = false;         ///< the spread was measured (≥ 2 other seeds)
    bool within = false;        ///< |gain| ≤ seed-to-seed sd of the gain
    std::string text;           ///< one line, e.g. "gain +0.42 pt; seed-to-seed sd ... — within the spread"
};

/// Looks for the siblings of `runDir` among the runs directly inside its parent folder (the
/// output folder), reading them read-only; never throws for damaged siblings.
SeedSpreadNote seedSpreadNote(const std::string &runDir);

} // namespace kd
