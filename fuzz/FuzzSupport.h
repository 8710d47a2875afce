#pragma once

// Shared by the libFuzzer targets in fuzz/: splitting one input into several files, a scratch
// folder per process, and the rule every target checks — bad input may throw kd::Error (a
// message for the user), anything else (another exception, a crash, a leak, UB) is a bug.

#include "core/Error.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace kd::fuzz {

/// The parts of an input separated by "\n--8<--\n" (the seeds are files joined that way).
inline std::vector<std::string> sections(const std::uint8_t *data, std::size_t size, std::size_t atMost)
{
    const std::string text(reinterpret_cast<const char *>(data), size);
    const std::string cut = "\n--8<--\n";
    std::vector<std::string> out;
    std::size_t from = 0;
    while (out.size() + 1 < atMost) {
        const auto at = text.find(cut, from);
        if (at == std::string::npos)
            break;
        out.push_back(text.substr(from, at - from));
        from = at + cut.size();
    }
    out.push_back(text.substr(from));
    out.resize(atMost);
    return out;
}

/// An empty folder of this process for one input's files (emptied on every call).
inline std::filesystem::path scratch()
{
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::temp_directory_path() / ("kd-fuzz-" + std::to_string(::getpid()));
        return d;
    }();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir, ec);
    return dir;
}

inline void writeFile(const std::filesystem::path &path, const std::string &bytes)
{
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::ofstream(path, std::ios::binary) << bytes;
}

/// Runs `body`; kd::Error is the expected answer to bad input, anything else aborts (a finding).
template<typename F>
void expectOnlyKdErrors(F &&body)
{
    try {
        body();
    } catch (const kd::Error &) {
    } catch (const std::exception &e) {
        std::fprintf(stderr, "not a kd::Error: %s\n", e.what());
        std::abort();
    }
}

} // namespace kd::fuzz
