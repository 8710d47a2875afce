#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// An IDX array (the MNIST file format): unsigned-byte data with its dimensions.
struct IdxArray {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> data;

    std::size_t count() const { return dims.empty() ? 0 : dims[0]; }
    std::size_t itemSize() const; ///< product of dims[1..]
};

/// Reads an IDX file, gzip-compressed or raw (detected from the content, not the name).
/// Checks the magic number (type must be unsigned byte, 0x08), the dimension count and that
/// the payload holds exactly prod(dims) bytes; throws kd::Error naming file and problem.
IdxArray readIdxFile(const std::string &path);

/// Parses an IDX image in memory (already decompressed). `sourceName` is used in errors.
IdxArray parseIdx(const std::vector<std::uint8_t> &bytes, const std::string &sourceName);

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic.
std::vector<std::uint8_t> readMaybeGzip(const std::string &path);

} // namespace kd
