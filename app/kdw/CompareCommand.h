#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kd::cli {

/// `kdw compare RUN_OR_FOLDER... [--csv] [--group-seeds] [--diff]` (args[0] is "compare"):
/// the runs table, seed groups with their significance figures, or the config diff. Returns
/// an ExitCode; throws kd::Error for bad options.
int compareCommand(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

/// The seed-spread line under `kdw run`'s summary (empty when the run has no KD gain).
std::string seedSpreadLine(const std::string &runDir);

} // namespace kd::cli
