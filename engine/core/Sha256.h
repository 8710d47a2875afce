#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace kd {

/// SHA-256 (FIPS 180-4), incremental: update() any number of times, then hex(). Used for the
/// checkpoint sidecars, where a flipped byte must be noticed (torch::load does not).
class Sha256 {
public:
    Sha256();
    void update(const void *data, std::size_t size);
    void update(const std::string &text) { update(text.data(), text.size()); }
    /// The digest as 64 lower-case hexadecimal digits. Ends the computation.
    std::string hex();

    static std::string ofText(const std::string &text);
    /// Digest of a file's bytes; `size` receives its length. Throws kd::Error when unreadable.
    static std::string ofFile(const std::string &path, std::uint64_t *size = nullptr);

private:
    void block(const std::uint8_t *p);
    std::array<std::uint32_t, 8> m_h;
    std::array<std::uint8_t, 64> m_buf{};
    std::size_t m_used = 0;
    std::uint64_t m_bytes = 0;
};

} // namespace kd
