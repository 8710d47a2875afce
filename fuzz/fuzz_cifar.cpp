// The CIFAR binary reader. Byte 0 picks the layout (even: CIFAR-10, odd: CIFAR-100; bit 1:
// coarse labels); section 1 is the training file (every CIFAR-10 batch), section 2 the test
// file, section 3 the label names.
#include "FuzzSupport.h"

#include "data/CifarReader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const bool cifar100 = data[0] & 1, coarse = data[0] & 2;
    const auto parts = kd::fuzz::sections(data + 1, size - 1, 3);
    const auto dir = kd::fuzz::scratch();
    if (cifar100) {
        kd::fuzz::writeFile(dir / "train.bin", parts[0]);
        kd::fuzz::writeFile(dir / "test.bin", parts[1]);
        kd::fuzz::writeFile(dir / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt"), parts[2]);
    } else {
        for (int b = 1; b <= 5; ++b)
            kd::fuzz::writeFile(dir / ("data_batch_" + std::to_string(b) + ".bin"), parts[0]);
        kd::fuzz::writeFile(dir / "test_batch.bin", parts[1]);
        kd::fuzz::writeFile(dir / "batches.meta.txt", parts[2]);
    }
    kd::fuzz::expectOnlyKdErrors([&] { kd::loadCifarDirectory(dir.string(), cifar100, coarse); });
    return 0;
}
