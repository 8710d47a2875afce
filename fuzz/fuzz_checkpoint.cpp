// The checkpoint + sidecar loader. Section 1 is the sidecar (JSON), section 2 the archive.
// Byte 0 even: both as given (the sidecar checks: size, SHA-256, its own checksum); odd: the
// sidecar's checksums are made to match the archive first, so torch's archive reader and our
// loading into a model see the fuzzed bytes.
#include "FuzzSupport.h"

#include "core/Sha256.h"
#include "training/Checkpoint.h"

#include <nlohmann/json.hpp>
#include <torch/nn/modules/linear.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const bool matchChecksums = data[0] & 1;
    auto parts = kd::fuzz::sections(data + 1, size - 1, 2);
    if (matchChecksums) {
        auto meta = nlohmann::json::parse(parts[0], nullptr, false);
        if (!meta.is_object())
            meta = nlohmann::json::object();
        meta["sha256"] = kd::Sha256::ofText(parts[1]);
        meta["bytes"] = std::uint64_t(parts[1].size());
        meta.erase("meta_sha256");
        meta["meta_sha256"] = kd::Sha256::ofText(meta.dump());
        parts[0] = meta.dump();
    }
    const auto dir = kd::fuzz::scratch();
    kd::fuzz::writeFile(dir / "m.pt.json", parts[0]);
    kd::fuzz::writeFile(dir / "m.pt", parts[1]);
    kd::fuzz::expectOnlyKdErrors([&] {
        torch::nn::Linear model(4, 3);
        kd::loadCheckpoint(*model, (dir / "m.pt").string());
    });
    return 0;
}
