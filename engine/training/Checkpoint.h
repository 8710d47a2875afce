#pragma once

#include "core/TorchFwd.h"

#include <nlohmann/json.hpp>

#include <string>

namespace kd {

/// Writes `module`'s parameters and buffers to `path` (atomically: temporary file + rename)
/// and a sidecar `path.json` holding `meta` plus the file's size and CRC-32, because
/// torch::load does not notice a flipped byte.
void saveCheckpoint(torch::nn::Module &module, const std::string &path, nlohmann::json meta);

/// Reads the sidecar, verifies size and CRC-32, then loads into `module` (which must have
/// the same architecture). Throws kd::Error saying what is wrong and what to do.
nlohmann::json loadCheckpoint(torch::nn::Module &module, const std::string &path);

/// Reads and verifies only the sidecar of a checkpoint.
nlohmann::json readCheckpointMeta(const std::string &path);

std::uint32_t crc32OfFile(const std::string &path, std::uint64_t *size = nullptr);

} // namespace kd
