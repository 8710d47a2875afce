#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace kd::cli {

/// Exit codes of kdw.
enum ExitCode { Ok = 0, Failed = 1, Usage = 2, Stopped = 130 };

/// Runs kdw with `args` (without the program name), printing to `out` and `err`.
int runKdw(const std::vector<std::string> &args, std::ostream &out, std::ostream &err);

/// main(): wires SIGINT/SIGTERM to a graceful stop and calls runKdw on std::cout/cerr.
int runKdw(int argc, char **argv);

} // namespace kd::cli
