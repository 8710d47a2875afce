#pragma once

#include <cstdint>
#include <string>

namespace kd {

/// Shape of one input example: channels, height, width.
struct InputShape {
    std::int64_t channels = 1;
    std::int64_t height = 28;
    std::int64_t width = 28;
    std::string toString() const
    {
        return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
    }
};

} // namespace kd
