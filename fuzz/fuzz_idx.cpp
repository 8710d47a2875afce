// The IDX reader (MNIST / Fashion-MNIST files), in memory and from a gzip file.
#include "FuzzSupport.h"

#include "data/IdxReader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::vector<std::uint8_t> bytes(data, data + size);
    kd::fuzz::expectOnlyKdErrors([&] { kd::parseIdx(bytes, "fuzz.idx"); });
    const auto dir = kd::fuzz::scratch();
    kd::fuzz::writeFile(dir / "x-idx3-ubyte.gz", std::string(bytes.begin(), bytes.end()));
    kd::fuzz::expectOnlyKdErrors([&] { kd::readIdxFile((dir / "x-idx3-ubyte.gz").string()); });
    return 0;
}
