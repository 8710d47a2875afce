#pragma once

#include "core/TorchFwd.h"

#include <nlohmann/json.hpp>

#include <string>

namespace torch::serialize {
class OutputArchive;
class InputArchive;
} // namespace torch::serialize

namespace kd {

/// Checkpoint files and their sidecars. A checkpoint `x.pt` is a torch archive; beside it
/// `x.pt.json` holds the caller's metadata plus "sha256" and "bytes" of `x.pt` and
/// "meta_sha256" of the sidecar itself, because torch::load does not notice a flipped byte.
/// Both are written atomically and durably (temporary file, fsync, rename, folder fsync), the
/// archive first, so a crash leaves either the previous pair or the new one.

/// Writes `archive` to `path` with its sidecar. Throws kd::Error (disk full, not writable)
/// leaving any previous `path` untouched and no temporary file behind.
void saveArchive(torch::serialize::OutputArchive &archive, const std::string &path, nlohmann::json meta);

/// Writes `module`'s parameters and buffers as a checkpoint (see saveArchive()).
void saveCheckpoint(torch::nn::Module &module, const std::string &path, nlohmann::json meta);

/// Reads the sidecar and verifies the checkpoint against it (size and SHA-256; sidecars of
/// older runs carry a CRC-32 instead, still accepted). Returns the metadata; throws kd::Error
/// naming the file, what is wrong and what to do.
nlohmann::json readCheckpointMeta(const std::string &path);

/// Verifies (readCheckpointMeta()) and then reads the archive.
nlohmann::json loadArchive(torch::serialize::InputArchive &archive, const std::string &path);

/// Verifies, then loads into `module` (which must have the same architecture).
nlohmann::json loadCheckpoint(torch::nn::Module &module, const std::string &path);

} // namespace kd
