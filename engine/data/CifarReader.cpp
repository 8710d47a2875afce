#include "CifarReader.h"

#include "core/Error.h"
#include "data/IdxReader.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace kd {

namespace fs = std::filesystem;

static std::vector<std::string> trainFiles(bool cifar100)
{
    if (cifar100)
        return {"train.bin"};
    return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

static std::string testFile(bool cifar100)
{
    return cifar100 ? "test.bin" : "test_batch.bin";
}

std::string findCifarFolder(const std::string &directory, bool cifar100)
{
    std::error_code ec;
    for (const auto &candidate : {fs::path(directory), fs::path(directory) / (cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin")}) {
        if (fs::is_regular_file(candidate / testFile(cifar100), ec))
            return candidate.string();
    }
    return {};
}

static std::vector<std::string> readNames(const fs::path &file)
{
    std::vector<std::string> names;
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        if (!line.empty())
            names.push_back(line);
    }
    return names;
}

static void readRecords(const fs::path &file, bool cifar100, bool coarse, std::vector<std::uint8_t> &pixels,
                        std::vector<std::int64_t> &labels)
{
    const std::size_t labelBytes = cifar100 ? 2 : 1;
    const std::size_t record = labelBytes + 3072;
    const auto bytes = readMaybeGzip(file.string());
    if (bytes.empty() || bytes.size() % record != 0)
        throw Error(file.string() + " has " + std::to_string(bytes.size()) + " bytes, not a whole number of "
                    + std::to_string(record) + "-byte CIFAR" + (cifar100 ? "-100" : "-10")
                    + " records; the file is truncated or of another format — fetch it again");
    const std::size_t n = bytes.size() / record;
    // Every label byte of a record is checked, not only the one in use: a CIFAR-100 record
    // with an impossible fine label is corrupt even when training on the coarse labels.
    auto check = [&](std::size_t i, int label, int limit, const char *kind) {
        if (label >= limit)
            throw Error(file.string() + ": record " + std::to_string(i) + " has " + kind + "label "
                        + std::to_string(label) + " but the dataset has " + std::to_string(limit) + " " + kind
                        + "classes; the file is corrupt or not " + (cifar100 ? "CIFAR-100" : "CIFAR-10"));
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t *r = bytes.data() + i * record;
        if (cifar100) {
            check(i, r[0], 20, "coarse ");
            check(i, r[1], 100, "fine ");
        } else {
            check(i, r[0], 10, "");
        }
        labels.push_back(cifar100 ? (coarse ? r[0] : r[1]) : r[0]);
        pixels.insert(pixels.end(), r + labelBytes, r + record);
    }
}

RawDataset loadCifarDirectory(const std::string &directory, bool cifar100, bool coarse)
{
    const std::string name = cifar100 ? "CIFAR-100" : "CIFAR-10";
    const auto folder = findCifarFolder(directory, cifar100);
    if (folder.empty())
        throw Error("no " + name + " binary files in " + directory + " (expected " + testFile(cifar100)
                    + " there or in its " + (cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin")
                    + " sub-folder); download the binary version and set dataset.path");
    auto load = [&](const std::vector<std::string> &files, torch::Tensor &images, torch::Tensor &labels) {
        std::vector<std::uint8_t> pixels;
        std::vector<std::int64_t> lab;
        for (const auto &f : files) {
            const auto path = fs::path(folder) / f;
            std::error_code ec;
            if (!fs::is_regular_file(path, ec))
                throw Error(name + " file missing: " + path.string() + "; the download is incomplete");
            readRecords(path, cifar100, coarse, pixels, lab);
        }
        const auto n = std::int64_t(lab.size());
        images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
        std::memcpy(images.data_ptr(), pixels.data(), pixels.size());
        labels = torch::tensor(lab, torch::kInt64);
    };
    RawDataset raw;
    load(trainFiles(cifar100), raw.trainImages, raw.trainLabels);
    load({testFile(cifar100)}, raw.testImages, raw.testLabels);
    raw.numClasses = cifar100 ? (coarse ? 20 : 100) : 10;
    const auto names = readNames(fs::path(folder) / (cifar100 ? (coarse ? "coarse_label_names.txt" : "fine_label_names.txt")
                                                              : "batches.meta.txt"));
    if (int(names.size()) == raw.numClasses)
        raw.classNames = names;
    else
        for (int i = 0; i < raw.numClasses; ++i)
            raw.classNames.push_back(std::to_string(i));
    return raw;
}

} // namespace kd
