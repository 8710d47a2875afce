#include "DatasetRegistry.h"

#include "Dataset.h"
#include "ProjectConfig.h"

#include <filesystem>

namespace kd {

namespace fs = std::filesystem;

static std::string probeIdx(const std::string &path)
{
    std::error_code ec;
    if (path.empty())
        return "no folder given (set dataset.path)";
    if (!fs::is_directory(path, ec))
        return "folder " + path + " not found";
    int found = 0;
    for (const auto &e : fs::directory_iterator(path, ec)) {
        const auto n = e.path().filename().string();
        if (n.find("-idx3-ubyte") != std::string::npos || n.find("-idx1-ubyte") != std::string::npos
            || n.find(".idx3-ubyte") != std::string::npos || n.find(".idx1-ubyte") != std::string::npos)
            ++found;
    }
    return found >= 4 ? std::string() : "fewer than four IDX files in " + path;
}

static DatasetEntry idxEntry(std::string description, std::string defaultPath, int classes,
                             std::vector<std::string> names)
{
    DatasetEntry e;
    e.description = std::move(description);
    e.defaultPath = std::move(defaultPath);
    e.format = "idx";
    e.load = [classes, names](const std::string &path) {
        return std::make_shared<RawDataset>(loadIdxDirectory(path, classes, names));
    };
    e.probe = probeIdx;
    return e;
}

void registerBuiltinDatasets(DatasetRegistry &registry)
{
    registry.add("fashion-mnist",
                 idxEntry("Fashion-MNIST: 70k 28x28 greyscale clothing images, 10 classes (IDX)",
                          "/usr/share/datasets/fashion-mnist", 10,
                          {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                           "Shirt", "Sneaker", "Bag", "Ankle boot"}));
    registry.add("mnist", idxEntry("MNIST handwritten digits, 28x28 greyscale, 10 classes (IDX; set dataset.path)",
                                   "", 10, {}));
    registry.add("kmnist", idxEntry("Kuzushiji-MNIST, 28x28 greyscale, 10 classes (IDX; set dataset.path)",
                                    "", 10, {}));
    registry.add("idx", idxEntry("Any IDX dataset folder (EMNIST splits etc.): classes = largest "
                                 "training label + 1 (set dataset.path)",
                                 "", 0, {}));
}

std::shared_ptr<DataBundle> loadDataset(const DatasetRegistry &registry,
                                        const DatasetOptions &options, std::uint64_t seed)
{
    const auto &entry = registry.get(options.name);
    const std::string path = options.path.empty() ? entry.defaultPath : options.path;
    if (path.empty())
        throw Error("dataset \"" + options.name + "\" has no default location; set dataset.path "
                    "to the folder with its files");
    auto raw = entry.load(path);
    return std::make_shared<DataBundle>(finishDataset(std::move(*raw), options, seed));
}

} // namespace kd
