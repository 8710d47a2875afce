#include "Checkpoint.h"

#include "core/Error.h"
#include "project/ProjectConfig.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace kd {

namespace fs = std::filesystem;

std::uint32_t crc32OfFile(const std::string &path, std::uint64_t *size)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open " + path);
    uLong crc = crc32(0L, Z_NULL, 0);
    std::uint64_t total = 0;
    char buf[1 << 16];
    while (in) {
        in.read(buf, sizeof buf);
        const auto n = in.gcount();
        crc = crc32(crc, reinterpret_cast<const Bytef *>(buf), uInt(n));
        total += std::uint64_t(n);
    }
    if (size)
        *size = total;
    return std::uint32_t(crc);
}

void saveCheckpoint(torch::nn::Module &module, const std::string &path, nlohmann::json meta)
{
    const std::string tmp = path + ".tmp";
    {
        torch::serialize::OutputArchive archive;
        module.save(archive);
        archive.save_to(tmp);
    }
    std::uint64_t size = 0;
    meta["crc32"] = crc32OfFile(tmp, &size);
    meta["bytes"] = size;
    meta["file"] = fs::path(path).filename().string();
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec)
        throw Error("cannot write checkpoint " + path + ": " + ec.message());
    writeFileAtomically(path + ".json", meta.dump(2) + "\n");
}

nlohmann::json readCheckpointMeta(const std::string &path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error("checkpoint not found: " + path);
    const std::string sidecar = path + ".json";
    if (!fs::is_regular_file(sidecar, ec))
        throw Error("checkpoint " + path + " has no " + fs::path(sidecar).filename().string()
                    + " beside it (written by KD Workbench with the checksum); copy both files together");
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(readTextFile(sidecar));
    } catch (const nlohmann::json::exception &e) {
        throw Error(sidecar + " is not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!meta.contains("crc32") || !meta.contains("bytes"))
        throw Error(sidecar + " lacks crc32/bytes; it was not written by KD Workbench");
    std::uint64_t size = 0;
    const auto crc = crc32OfFile(path, &size);
    if (size != meta["bytes"].get<std::uint64_t>() || crc != meta["crc32"].get<std::uint32_t>())
        throw Error("checkpoint " + path + " is corrupt: its checksum does not match "
                    + fs::path(sidecar).filename().string() + " (the file was changed or damaged); "
                    "retrain or copy it again");
    return meta;
}

nlohmann::json loadCheckpoint(torch::nn::Module &module, const std::string &path)
{
    auto meta = readCheckpointMeta(path);
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        module.load(archive);
    } catch (const c10::Error &e) {
        std::string msg = e.what_without_backtrace();
        throw Error("checkpoint " + path + " does not fit the configured architecture (" + msg.substr(0, 300)
                    + "); set teacher.arch and teacher.arch_options to those it was trained with");
    }
    return meta;
}

} // namespace kd
