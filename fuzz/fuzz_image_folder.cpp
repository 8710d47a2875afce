// The image-folder reader: up to four image files (sections) in train/ and test/ class
// folders, decoded by OpenCV, resized and checked by our code. Byte 0 picks the channels.
#include "FuzzSupport.h"

#include "data/ImageFolderReader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const int channels = (data[0] & 1) ? 3 : 1;
    const auto parts = kd::fuzz::sections(data + 1, size - 1, 4);
    const auto dir = kd::fuzz::scratch();
    const char *files[] = {"train/cat/a.png", "train/dog/b.bmp", "test/cat/c.jpg", "test/dog/d.png"};
    for (std::size_t i = 0; i < parts.size(); ++i)
        if (!parts[i].empty())
            kd::fuzz::writeFile(dir / files[i], parts[i]);
    kd::fuzz::expectOnlyKdErrors([&] {
        if (kd::probeImageFolder(dir.string()).empty())
            kd::loadImageFolder(dir.string(), 8, channels, 0.25, 1);
    });
    return 0;
}
