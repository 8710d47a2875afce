#include "DatasetRegistry.h"

#include "data/CifarReader.h"
#include "data/Dataset.h"
#include "data/ImageFolderReader.h"
#include "project/ProjectConfig.h"
#include "data/SyntheticDataset.h"

#include <cstdlib>
#include <filesystem>

namespace kd {

namespace fs = std::filesystem;

std::string expandDataPath(const std::string &path)
{
    auto env = [](const char *name) -> std::string {
        const char *v = std::getenv(name);
        return v ? v : "";
    };
    if (path.rfind("~/", 0) == 0)
        return (fs::path(env("HOME")) / path.substr(2)).string();
    if (path.rfind("$KD_DATA/", 0) == 0) {
        std::string root = env("KD_DATA");
        if (root.empty())
            root = (fs::path(env("HOME")) / "datasets").string();
        return (fs::path(root) / path.substr(9)).string();
    }
    return path;
}

std::string DatasetEntry::locate() const
{
    for (const auto &p : defaultPaths) {
        const auto path = expandDataPath(p);
        if (probe && probe(path).empty())
            return path;
    }
    return {};
}

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

// Defaults of the loaders whose image size and channels are options.
constexpr int kFolderSize = 32, kFolderChannels = 3, kSyntheticSize = 28, kSyntheticChannels = 1;

static DatasetEntry idxEntry(std::string description, std::vector<std::string> paths, int classes,
                             std::vector<std::string> names)
{
    DatasetEntry e;
    e.description = std::move(description);
    e.defaultPaths = std::move(paths);
    e.format = "idx";
    e.load = [classes, names](const std::string &path, const DatasetOptions &, std::uint64_t) {
        return std::make_shared<RawDataset>(loadIdxDirectory(path, classes, names));
    };
    e.probe = probeIdx;
    e.expectedShape = [classes](const DatasetOptions &) {
        return ExpectedShape{{1, 28, 28}, classes > 0 ? classes : 10, classes > 0};
    };
    return e;
}

static DatasetEntry cifarEntry(bool hundred)
{
    DatasetEntry e;
    e.description = hundred ? "CIFAR-100 binary version: 60k 32x32 colour images, 100 fine or 20 coarse "
                              "classes (dataset.labels)"
                            : "CIFAR-10 binary version: 60k 32x32 colour images, 10 classes";
    const std::string sub = hundred ? "cifar-100-binary" : "cifar-10-batches-bin";
    const std::string name = hundred ? "cifar100" : "cifar10";
    e.defaultPaths = {"$KD_DATA/" + name, "$KD_DATA/" + sub, "~/.local/share/kd-workbench/datasets/" + name,
                      "/usr/share/datasets/" + name, "data/" + name};
    e.format = "cifar";
    e.load = [hundred](const std::string &path, const DatasetOptions &o, std::uint64_t) {
        return std::make_shared<RawDataset>(loadCifarDirectory(path, hundred, o.labels == "coarse"));
    };
    e.probe = [hundred](const std::string &path) -> std::string {
        return findCifarFolder(path, hundred).empty() ? "no CIFAR binary files in " + path : "";
    };
    e.expectedShape = [hundred](const DatasetOptions &o) {
        return ExpectedShape{{3, 32, 32}, hundred ? (o.labels == "coarse" ? 20 : 100) : 10, true};
    };
    return e;
}

void registerBuiltinDatasets(DatasetRegistry &registry)
{
    registry.add("fashion-mnist",
                 idxEntry("Fashion-MNIST: 70k 28x28 greyscale clothing images, 10 classes (IDX)",
                          {"/usr/share/datasets/fashion-mnist", "$KD_DATA/fashion-mnist"}, 10,
                          {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                           "Shirt", "Sneaker", "Bag", "Ankle boot"}));
    registry.add("mnist", idxEntry("MNIST handwritten digits, 28x28 greyscale, 10 classes (IDX)",
                                   {"$KD_DATA/mnist", "/usr/share/datasets/mnist"}, 10, {}));
    registry.add("kmnist", idxEntry("Kuzushiji-MNIST, 28x28 greyscale, 10 classes (IDX)",
                                    {"$KD_DATA/kmnist", "/usr/share/datasets/kmnist"}, 10, {}));
    registry.add("idx", idxEntry("Any IDX dataset folder (EMNIST splits etc.): classes = largest "
                                 "training label + 1 (set dataset.path)",
                                 {}, 0, {}));
    registry.add("cifar10", cifarEntry(false));
    registry.add("cifar100", cifarEntry(true));

    DatasetEntry folder;
    folder.description = "Image folder: one sub-folder per class (train/ and test/ or a seeded "
                         "test_split), any format OpenCV reads, resized to image_size (set dataset.path)";
    folder.format = "image-folder";
    folder.load = [](const std::string &path, const DatasetOptions &o, std::uint64_t seed) {
        return std::make_shared<RawDataset>(loadImageFolder(path, o.imageSize > 0 ? o.imageSize : kFolderSize,
                                                            o.channels > 0 ? o.channels : kFolderChannels,
                                                            o.testSplit, seed));
    };
    folder.probe = probeImageFolder;
    folder.expectedShape = [](const DatasetOptions &o) {
        const std::int64_t size = o.imageSize > 0 ? o.imageSize : kFolderSize;
        return ExpectedShape{{o.channels > 0 ? o.channels : kFolderChannels, size, size}, 10, false};
    };
    registry.add("image-folder", folder);

    DatasetEntry synth;
    synth.description = "Synthetic patterns generated from the seed: 10 classes, 2000 train / 500 test "
                        "images (image_size, channels); for smoke tests";
    synth.format = "synthetic";
    synth.load = [](const std::string &, const DatasetOptions &o, std::uint64_t seed) {
        const std::int64_t size = o.imageSize > 0 ? o.imageSize : kSyntheticSize;
        const std::int64_t c = o.channels > 0 ? o.channels : kSyntheticChannels;
        return std::make_shared<RawDataset>(makeSyntheticDataset({c, size, size}, 10, 2000, 500, seed));
    };
    synth.probe = [](const std::string &) { return std::string(); };
    synth.expectedShape = [](const DatasetOptions &o) {
        const std::int64_t size = o.imageSize > 0 ? o.imageSize : kSyntheticSize;
        return ExpectedShape{{o.channels > 0 ? o.channels : kSyntheticChannels, size, size}, 10, true};
    };
    registry.add("synthetic", synth);
}

std::shared_ptr<DataBundle> loadDataset(const DatasetRegistry &registry,
                                        const DatasetOptions &options, std::uint64_t seed)
{
    const auto &entry = registry.get(options.name);
    std::string path = expandDataPath(options.path);
    if (path.empty() && entry.needsFiles()) {
        path = entry.locate();
        if (path.empty()) {
            std::string tried;
            for (const auto &p : entry.defaultPaths)
                tried += "\n  " + expandDataPath(p);
            throw Error("dataset \"" + options.name + "\" was not found"
                        + (tried.empty() ? std::string(" (it has no default location)") : "; looked in:" + tried)
                        + (options.name == "fashion-mnist" ? "\ninstall it: apt-get install dataset-fashion-mnist"
                                                           : "\nset dataset.path to the folder with its files"));
        }
    }
    auto raw = entry.load(path, options, seed);
    if (entry.format != "image-folder" && entry.format != "synthetic"
        && ((options.imageSize > 0 && (raw->trainImages.size(2) != options.imageSize || raw->trainImages.size(3) != options.imageSize))
            || (options.channels > 0 && raw->trainImages.size(1) != options.channels)))
        throw Error("dataset.image_size/channels apply to image-folder and synthetic datasets; \"" + options.name
                    + "\" has images of " + std::to_string(raw->trainImages.size(1)) + "x"
                    + std::to_string(raw->trainImages.size(2)) + "x" + std::to_string(raw->trainImages.size(3))
                    + " — set both to 0");
    return std::make_shared<DataBundle>(finishDataset(std::move(*raw), options, seed));
}

} // namespace kd
