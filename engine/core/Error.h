#pragma once

#include <stdexcept>
#include <string>

namespace kd {

/// A problem the user can fix (bad project value, missing file, corrupt dataset...).
/// The message names the problem and says what to do instead; front ends print it as is.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

} // namespace kd
