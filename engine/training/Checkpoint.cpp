#include "Checkpoint.h"

#include "core/DurableFile.h"
#include "core/Error.h"
#include "core/Sha256.h"
#include "project/ProjectConfig.h"

#include <torch/serialize/archive.h>
#include <torch/nn/module.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace kd {

namespace fs = std::filesystem;

namespace {

/// Writes `bytes` to `tmp` with POSIX calls, so a full disk is an error and not a short file.
void writeAll(const std::string &tmp, const std::string &bytes, const std::string &target)
{
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error("cannot write " + tmp + ": " + std::strerror(errno) + " (check that the folder is writable)");
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            ::close(fd);
            std::error_code ec;
            fs::remove(tmp, ec);
            throw Error("cannot write " + target + ": " + std::strerror(err)
                        + "; the previous file (if any) is intact. Free disk space and try again");
        }
        done += std::size_t(n);
    }
    if (::close(fd) != 0) {
        const int err = errno;
        std::error_code ec;
        fs::remove(tmp, ec);
        throw Error("cannot write " + target + ": " + std::strerror(err));
    }
}

std::string metaDigest(nlohmann::json meta)
{
    meta.erase("meta_sha256");
    return Sha256::ofText(meta.dump());
}

std::uint32_t crc32Of(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    uLong crc = crc32(0L, Z_NULL, 0);
    char buf[1 << 16];
    while (in) {
        in.read(buf, sizeof buf);
        crc = crc32(crc, reinterpret_cast<const Bytef *>(buf), uInt(in.gcount()));
    }
    return std::uint32_t(crc);
}

} // namespace

void saveArchive(torch::serialize::OutputArchive &archive, const std::string &path, nlohmann::json meta)
{
    std::ostringstream buffer;
    try {
        archive.save_to(buffer);
    } catch (const c10::Error &e) {
        throw Error("cannot serialise checkpoint " + path + ": " + e.what_without_backtrace());
    }
    const std::string bytes = buffer.str();
    meta["sha256"] = Sha256::ofText(bytes);
    meta["bytes"] = std::uint64_t(bytes.size());
    meta["file"] = fs::path(path).filename().string();
    meta["meta_sha256"] = metaDigest(meta);
    const std::string tmp = path + ".tmp";
    writeAll(tmp, bytes, path);
    commitFile(tmp, path);
    // The sidecar second: a crash in between leaves a new archive with the old sidecar, which
    // the checksum refuses, never a silently mismatched pair.
    writeFileAtomically(path + ".json", meta.dump(2) + "\n");
}

void saveCheckpoint(torch::nn::Module &module, const std::string &path, nlohmann::json meta)
{
    torch::serialize::OutputArchive archive;
    module.save(archive);
    saveArchive(archive, path, std::move(meta));
}

nlohmann::json readCheckpointMeta(const std::string &path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error("checkpoint not found: " + path);
    const std::string sidecar = path + ".json";
    const std::string sidecarName = fs::path(sidecar).filename().string();
    if (!fs::is_regular_file(sidecar, ec))
        throw Error("checkpoint " + path + " has no " + sidecarName
                    + " beside it (written by KD Workbench with the checksum); copy both files together");
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(readTextFile(sidecar));
    } catch (const nlohmann::json::exception &e) {
        throw Error(sidecar + " is not valid JSON (" + std::string(e.what())
                    + "); the sidecar is damaged: copy it again with its checkpoint");
    }
    if (!meta.is_object() || !meta.contains("bytes") || !meta["bytes"].is_number_unsigned()
        || !(meta.contains("sha256") ? meta["sha256"].is_string() : meta.contains("crc32") && meta["crc32"].is_number()))
        throw Error(sidecar + " lacks its checksum (sha256 and bytes); it was not written by KD Workbench");
    if (meta.contains("meta_sha256")
        && (!meta["meta_sha256"].is_string() || meta["meta_sha256"].get<std::string>() != metaDigest(meta)))
        throw Error(sidecar + " is damaged: its own checksum does not match its contents; copy it again "
                              "with its checkpoint");
    const auto size = fs::file_size(path, ec);
    const auto expectedSize = meta["bytes"].get<std::uint64_t>();
    const std::string refusal = "checkpoint " + path + " is damaged and was not loaded: ";
    if (ec || size != expectedSize)
        throw Error(refusal + "it has " + std::to_string(size) + " bytes, " + sidecarName + " says "
                    + std::to_string(expectedSize) + " (truncated or replaced); copy it again, or use an earlier one");
    if (meta.contains("sha256")) {
        if (Sha256::ofFile(path) != meta["sha256"].get<std::string>())
            throw Error(refusal + "its SHA-256 does not match " + sidecarName
                        + " (the file was changed or damaged); copy it again, or use an earlier one");
    } else if (crc32Of(path) != meta["crc32"].get<std::uint32_t>()) {
        throw Error(refusal + "its CRC-32 does not match " + sidecarName
                    + " (the file was changed or damaged); copy it again, or use an earlier one");
    }
    return meta;
}

nlohmann::json loadArchive(torch::serialize::InputArchive &archive, const std::string &path)
{
    auto meta = readCheckpointMeta(path);
    try {
        archive.load_from(path);
    } catch (const c10::Error &e) {
        throw Error("checkpoint " + path + " cannot be read (" + std::string(e.what_without_backtrace()).substr(0, 300)
                    + ")");
    } catch (const std::exception &e) {
        // torch's archive reader also throws its script compiler's errors (not c10::Error).
        throw Error("checkpoint " + path + " cannot be read (" + std::string(e.what()).substr(0, 300) + ")");
    }
    return meta;
}

nlohmann::json loadCheckpoint(torch::nn::Module &module, const std::string &path)
{
    torch::serialize::InputArchive archive;
    auto meta = loadArchive(archive, path);
    // torch's load replaces each tensor whatever its shape: compare them, or a checkpoint of
    // another input size or width would load and fail in the first forward.
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected;
    for (const auto &kv : module.named_parameters())
        expected.emplace_back(kv.key(), kv.value().sizes().vec());
    for (const auto &kv : module.named_buffers())
        expected.emplace_back(kv.key(), kv.value().sizes().vec());
    try {
        module.load(archive);
    } catch (const std::exception &e) {
        const auto *c10error = dynamic_cast<const c10::Error *>(&e);
        std::string msg = c10error ? c10error->what_without_backtrace() : e.what();
        throw Error("checkpoint " + path + " does not fit the configured architecture (" + msg.substr(0, 300)
                    + "); set teacher.arch and teacher.arch_options to those it was trained with");
    }
    auto shapeText = [](const std::vector<std::int64_t> &v) {
        std::string t = "[";
        for (std::size_t i = 0; i < v.size(); ++i)
            t += (i ? ", " : "") + std::to_string(v[i]);
        return t + "]";
    };
    std::map<std::string, std::vector<std::int64_t>> loaded;
    for (const auto &kv : module.named_parameters())
        loaded[kv.key()] = kv.value().sizes().vec();
    for (const auto &kv : module.named_buffers())
        loaded[kv.key()] = kv.value().sizes().vec();
    for (const auto &e : expected)
        if (loaded[e.first] != e.second)
            throw Error("checkpoint " + path + " does not fit the configured model: its " + e.first + " is "
                        + shapeText(loaded[e.first]) + ", the model here needs " + shapeText(e.second)
                        + " (another input size, width or class count); use the architecture, options and data "
                          "it was trained with, or train it here");
    return meta;
}

} // namespace kd
