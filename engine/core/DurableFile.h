#pragma once

#include <string>

namespace kd {

/// Flushes a file's data to the storage device (fsync). Throws kd::Error naming the file.
void syncFile(const std::string &path);
/// Makes a rename or a new entry in `dir` durable (fsync of the directory). Best effort on
/// file systems that refuse it.
void syncDirectory(const std::string &dir);
/// The last step of an atomic write: fsync `tmp`, rename it over `target`, fsync the folder.
/// On failure `tmp` is removed and `target` is left as it was; throws kd::Error.
void commitFile(const std::string &tmp, const std::string &target);

} // namespace kd
