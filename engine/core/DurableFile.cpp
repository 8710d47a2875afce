#include "DurableFile.h"

#include "core/Error.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace kd {

namespace fs = std::filesystem;

void syncFile(const std::string &path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot open " + path + " to flush it: " + std::strerror(errno));
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        throw Error("cannot flush " + path + " to disk: " + std::strerror(err) + " (disk full or failing?)");
}

void syncDirectory(const std::string &dir)
{
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    ::fsync(fd); // some file systems refuse fsync on directories; the rename itself is done
    ::close(fd);
}

void commitFile(const std::string &tmp, const std::string &target)
{
    std::error_code ec;
    try {
        syncFile(tmp);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
    fs::rename(tmp, target, ec);
    if (ec) {
        const auto why = ec.message();
        fs::remove(tmp, ec);
        throw Error("cannot replace " + target + ": " + why);
    }
    syncDirectory(fs::path(target).parent_path().string());
}

} // namespace kd
