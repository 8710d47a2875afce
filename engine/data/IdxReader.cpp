#include "IdxReader.h"

#include "core/Error.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <limits>

namespace kd {

std::size_t IdxArray::itemSize() const
{
    std::size_t n = 1;
    for (std::size_t i = 1; i < dims.size(); ++i)
        n *= dims[i];
    return n;
}

static std::vector<std::uint8_t> readRaw(const std::string &path)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        throw Error("dataset file not found: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open " + path + " for reading (check its permissions)");
    in.seekg(0, std::ios::end);
    const auto size = std::size_t(in.tellg());
    in.seekg(0);
    std::vector<std::uint8_t> bytes(size);
    if (size && !in.read(reinterpret_cast<char *>(bytes.data()), std::streamsize(size)))
        throw Error("reading " + path + " failed");
    return bytes;
}

static std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t> &in, const std::string &path)
{
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) // +32: accept gzip and zlib headers
        throw Error("zlib initialisation failed while reading " + path);
    std::vector<std::uint8_t> out;
    out.reserve(in.size() * 4);
    zs.next_in = const_cast<Bytef *>(in.data());
    zs.avail_in = uInt(in.size());
    std::uint8_t buf[1 << 16];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            const std::string msg = zs.msg ? zs.msg : "unexpected end of data";
            inflateEnd(&zs);
            if (rc == Z_BUF_ERROR)
                throw Error(path + " is a truncated gzip file (the download or copy was cut "
                            "short); fetch the file again");
            throw Error(path + " is not a valid gzip file (" + msg + "); fetch the file again");
        }
        out.insert(out.end(), buf, buf + (sizeof buf - zs.avail_out));
        if (rc == Z_STREAM_END && zs.avail_in > 0) {
            // Multi-member gzip (concatenated streams): keep reading the next member.
            if (inflateReset(&zs) != Z_OK) {
                inflateEnd(&zs);
                throw Error("zlib reset failed while reading " + path);
            }
            rc = Z_OK;
            continue;
        }
        if (rc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            throw Error(path + " is a truncated gzip file (the download or copy was cut short); "
                        "fetch the file again");
        }
    }
    inflateEnd(&zs);
    return out;
}

std::vector<std::uint8_t> readMaybeGzip(const std::string &path)
{
    auto bytes = readRaw(path);
    if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
        return gunzip(bytes, path);
    return bytes;
}

IdxArray parseIdx(const std::vector<std::uint8_t> &bytes, const std::string &sourceName)
{
    if (bytes.size() < 4)
        throw Error(sourceName + " is too short to be an IDX file (" + std::to_string(bytes.size())
                    + " bytes); expected an MNIST-style idx1/idx3 file");
    if (bytes[0] != 0 || bytes[1] != 0)
        throw Error(sourceName + " has a wrong IDX magic number (first two bytes must be 0); "
                    "is it an IDX file (e.g. train-images-idx3-ubyte.gz)?");
    if (bytes[2] != 0x08)
        throw Error(sourceName + " stores IDX type 0x" + [&] {
                        const char *hex = "0123456789abcdef";
                        return std::string{hex[bytes[2] >> 4], hex[bytes[2] & 15]};
                    }() + "; only unsigned-byte data (0x08) is supported");
    const unsigned nd = bytes[3];
    if (nd < 1 || nd > 4)
        throw Error(sourceName + " declares " + std::to_string(nd)
                    + " dimensions; IDX images/labels have 1 to 4");
    const std::size_t header = 4 + 4 * std::size_t(nd);
    if (bytes.size() < header)
        throw Error(sourceName + " is truncated inside its IDX header");
    IdxArray a;
    std::size_t total = 1;
    for (unsigned i = 0; i < nd; ++i) {
        const std::uint8_t *p = bytes.data() + 4 + 4 * i;
        const std::uint32_t d = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16)
            | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
        if (d == 0)
            throw Error(sourceName + ": dimension " + std::to_string(i) + " is 0");
        if (total > std::numeric_limits<std::size_t>::max() / d || total * d > (std::size_t(1) << 36))
            throw Error(sourceName + ": dimensions are implausibly large; the header is corrupt");
        total *= d;
        a.dims.push_back(d);
    }
    const std::size_t payload = bytes.size() - header;
    if (payload < total)
        throw Error(sourceName + " is truncated: the header promises " + std::to_string(total)
                    + " bytes of data but only " + std::to_string(payload)
                    + " are present; fetch the file again");
    if (payload > total)
        throw Error(sourceName + " has " + std::to_string(payload - total)
                    + " bytes of trailing data after the declared array; the file is corrupt");
    a.data.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
    return a;
}

IdxArray readIdxFile(const std::string &path)
{
    return parseIdx(readMaybeGzip(path), path);
}

} // namespace kd
