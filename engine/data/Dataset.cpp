#include "Dataset.h"

#include <cmath>

#include "core/Error.h"
#include "data/IdxReader.h"
#include "project/ProjectConfig.h"

#include <filesystem>
#include <numeric>
#include <random>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

std::int64_t TensorDataset::size() const
{
    return labels.defined() ? labels.size(0) : 0;
}

torch::Tensor TensorDataset::normalise(const torch::Tensor &raw) const
{
    if (!mean.defined() || raw.is_floating_point())
        return raw;
    // The operations (and so the rounding) of normalising the whole set in float32 at once.
    return raw.to(torch::kFloat32).div_(255.0).sub_(mean).div_(stddev);
}

torch::Tensor TensorDataset::rows(std::int64_t start, std::int64_t len) const
{
    return normalise(images.narrow(0, start, len));
}

torch::Tensor TensorDataset::select(const torch::Tensor &index) const
{
    return normalise(images.index_select(0, index));
}

TensorDataset TensorDataset::withRows(torch::Tensor rowsImages, torch::Tensor rowsLabels) const
{
    TensorDataset out;
    out.images = std::move(rowsImages);
    out.labels = std::move(rowsLabels);
    out.mean = mean;
    out.stddev = stddev;
    return out;
}

std::string DataBundle::summary() const
{
    std::ostringstream os;
    os << "train " << train.size() << ", val " << val.size() << ", test " << test.size()
       << " images of " << shape.toString() << ", " << numClasses << " classes";
    return os.str();
}

std::vector<std::int64_t> shuffledIndices(std::int64_t n, std::uint64_t seed, std::int64_t epoch)
{
    std::vector<std::int64_t> idx(std::size_t(std::max<std::int64_t>(n, 0)));
    std::iota(idx.begin(), idx.end(), 0);
    std::seed_seq seq{std::uint32_t(seed), std::uint32_t(seed >> 32), std::uint32_t(epoch),
                      std::uint32_t(epoch >> 32), 0x6b64u};
    std::mt19937_64 rng(seq);
    // Fisher-Yates with our own draw so the order is identical across standard libraries.
    for (std::size_t i = idx.size(); i > 1; --i) {
        const std::size_t j = std::size_t(rng() % i);
        std::swap(idx[i - 1], idx[j]);
    }
    return idx;
}

static std::string findIdxFile(const std::string &dir, const std::vector<std::string> &stems)
{
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        for (const auto &stem : stems) {
            const auto pos = name.find(stem);
            if (pos == std::string::npos)
                continue;
            const auto rest = name.substr(pos + stem.size());
            if (rest.empty() || rest == ".gz")
                found.push_back(entry.path().string());
        }
    }
    std::sort(found.begin(), found.end());
    if (found.empty())
        throw Error("no file named *" + stems.front() + "[.gz] in " + dir
                    + "; point dataset.path at a folder holding the four IDX files");
    // Prefer the raw file when both raw and gzip copies are present.
    if (found.size() == 2 && found[1] == found[0] + ".gz")
        return found[0];
    if (found.size() > 1) {
        std::string list;
        for (const auto &f : found)
            list += "\n  " + f;
        throw Error("more than one candidate for *" + stems.front() + " in " + dir + ":" + list
                    + "\nkeep one dataset per folder");
    }
    return found.front();
}

static torch::Tensor imagesTensor(const IdxArray &a, const std::string &path)
{
    if (a.dims.size() != 3 && a.dims.size() != 4)
        throw Error(path + " has " + std::to_string(a.dims.size())
                    + " dimensions; an image file needs 3 (N×H×W) or 4 (N×H×W×C)");
    const auto n = std::int64_t(a.dims[0]), h = std::int64_t(a.dims[1]), w = std::int64_t(a.dims[2]);
    const auto c = a.dims.size() == 4 ? std::int64_t(a.dims[3]) : 1;
    auto t = torch::empty({n, h, w, c}, torch::kUInt8);
    std::memcpy(t.data_ptr(), a.data.data(), a.data.size());
    return t.permute({0, 3, 1, 2}).contiguous();
}

static torch::Tensor labelsTensor(const IdxArray &a, const std::string &path, std::int64_t expectCount,
                                  int &numClasses)
{
    if (a.dims.size() != 1)
        throw Error(path + " has " + std::to_string(a.dims.size())
                    + " dimensions; a label file needs exactly 1");
    if (std::int64_t(a.dims[0]) != expectCount)
        throw Error(path + " holds " + std::to_string(a.dims[0]) + " labels but the image file holds "
                    + std::to_string(expectCount) + " images; the files do not belong together");
    int maxLabel = 0;
    for (auto v : a.data)
        maxLabel = std::max<int>(maxLabel, v);
    if (numClasses > 0 && maxLabel >= numClasses)
        throw Error(path + " contains label " + std::to_string(maxLabel) + " but the dataset has "
                    + std::to_string(numClasses) + " classes (labels 0.."
                    + std::to_string(numClasses - 1) + "); the file is corrupt or of another dataset");
    if (numClasses <= 0)
        numClasses = maxLabel + 1;
    auto t = torch::empty({std::int64_t(a.data.size())}, torch::kUInt8);
    std::memcpy(t.data_ptr(), a.data.data(), a.data.size());
    return t.to(torch::kInt64);
}

RawDataset loadIdxDirectory(const std::string &directory, int numClasses,
                            std::vector<std::string> classNames)
{
    std::error_code ec;
    if (!fs::is_directory(directory, ec))
        throw Error("dataset folder not found: " + directory
                    + (directory.rfind("/usr/share/datasets/fashion-mnist", 0) == 0
                           ? " (install it: apt-get install dataset-fashion-mnist)"
                           : " (set dataset.path to the folder with the IDX files)"));
    RawDataset raw;
    const auto trImg = findIdxFile(directory, {"train-images-idx3-ubyte", "train-images.idx3-ubyte"});
    const auto trLab = findIdxFile(directory, {"train-labels-idx1-ubyte", "train-labels.idx1-ubyte"});
    const auto teImg = findIdxFile(directory, {"t10k-images-idx3-ubyte", "test-images-idx3-ubyte",
                                               "t10k-images.idx3-ubyte"});
    const auto teLab = findIdxFile(directory, {"t10k-labels-idx1-ubyte", "test-labels-idx1-ubyte",
                                               "t10k-labels.idx1-ubyte"});
    raw.trainImages = imagesTensor(readIdxFile(trImg), trImg);
    raw.trainLabels = labelsTensor(readIdxFile(trLab), trLab, raw.trainImages.size(0), numClasses);
    raw.testImages = imagesTensor(readIdxFile(teImg), teImg);
    raw.testLabels = labelsTensor(readIdxFile(teLab), teLab, raw.testImages.size(0), numClasses);
    if (raw.trainImages.sizes().slice(1) != raw.testImages.sizes().slice(1))
        throw Error(teImg + " has images of another size than " + trImg
                    + "; the files do not belong together");
    raw.numClasses = numClasses;
    if (classNames.empty())
        for (int i = 0; i < numClasses; ++i)
            classNames.push_back(std::to_string(i));
    raw.classNames = std::move(classNames);
    return raw;
}

/// The split as kept in memory: uint8 images, normalised per batch (TensorDataset::normalise).
static TensorDataset normalised(const torch::Tensor &images, const torch::Tensor &labels,
                                const torch::Tensor &mean, const torch::Tensor &std)
{
    TensorDataset t;
    t.images = images.to(torch::kUInt8).contiguous();
    t.labels = labels.contiguous();
    t.mean = mean;
    t.stddev = std;
    return t;
}

DataBundle finishDataset(RawDataset raw, const DatasetOptions &options, std::uint64_t seed)
{
    DataBundle b;
    b.numClasses = raw.numClasses;
    b.classNames = raw.classNames;
    const auto c = raw.trainImages.size(1);
    b.shape = {c, raw.trainImages.size(2), raw.trainImages.size(3)};

    if (raw.mean.empty()) {
        // Per-channel statistics of the full training file (before any limit), so a quick
        // run with `limit` normalises exactly like the full one. Sums of the uint8 values and
        // of their squares, a chunk of images at a time: exact integers in double (a float64
        // copy of the whole set would take 8 bytes per pixel at the peak).
        const auto n = raw.trainImages.size(0);
        const auto perChannel = n * raw.trainImages.size(2) * raw.trainImages.size(3);
        std::vector<double> sum(std::size_t(c), 0.0), sumSq(std::size_t(c), 0.0);
        for (std::int64_t i = 0; i < n; i += 4096) {
            const auto chunk = raw.trainImages.narrow(0, i, std::min<std::int64_t>(4096, n - i))
                                   .to(torch::kFloat64)
                                   .transpose(0, 1)
                                   .reshape({c, -1});
            const auto s1 = chunk.sum(1), s2 = chunk.pow(2).sum(1);
            for (std::int64_t k = 0; k < c; ++k) {
                sum[std::size_t(k)] += s1[k].item<double>();
                sumSq[std::size_t(k)] += s2[k].item<double>();
            }
        }
        for (std::int64_t k = 0; k < c; ++k) {
            const double N = double(perChannel), S1 = sum[std::size_t(k)], S2 = sumSq[std::size_t(k)];
            const double m = S1 / N / 255.0;
            const double var = N > 1 ? std::max(0.0, (S2 - S1 * S1 / N) / (N - 1)) / (255.0 * 255.0) : 0.0;
            raw.mean.push_back(float(m));
            raw.stddev.push_back(std::max(1e-6f, float(std::sqrt(var))));
        }
    }
    b.mean = options.normalize ? raw.mean : std::vector<float>(std::size_t(c), 0.f);
    b.stddev = options.normalize ? raw.stddev : std::vector<float>(std::size_t(c), 1.f);
    auto mean = torch::tensor(b.mean).view({1, c, 1, 1});
    auto std = torch::tensor(b.stddev).view({1, c, 1, 1});

    auto trImg = raw.trainImages, trLab = raw.trainLabels;
    if (options.limit > 0 && options.limit < trImg.size(0)) {
        trImg = trImg.narrow(0, 0, options.limit);
        trLab = trLab.narrow(0, 0, options.limit);
    }
    auto teImg = raw.testImages, teLab = raw.testLabels;
    if (options.testLimit > 0 && options.testLimit < teImg.size(0)) {
        teImg = teImg.narrow(0, 0, options.testLimit);
        teLab = teLab.narrow(0, 0, options.testLimit);
    }
    const auto n = trImg.size(0);
    const auto nVal = std::int64_t(double(n) * options.valSplit);
    if (options.valSplit > 0 && (nVal < 1 || n - nVal < 1))
        throw Error("dataset.val_split = " + std::to_string(options.valSplit) + " leaves "
                    + std::to_string(n - nVal) + " training and " + std::to_string(nVal)
                    + " validation images; use a larger limit or another split");
    if (nVal > 0) {
        // A fixed permutation (seed only, epoch -1) decides which images are held out.
        const auto perm = shuffledIndices(n, seed, -1);
        auto idx = torch::tensor(perm, torch::kInt64);
        auto valIdx = idx.narrow(0, 0, nVal), trIdx = idx.narrow(0, nVal, n - nVal);
        b.val = normalised(trImg.index_select(0, valIdx), trLab.index_select(0, valIdx), mean, std);
        b.train = normalised(trImg.index_select(0, trIdx), trLab.index_select(0, trIdx), mean, std);
    } else {
        b.train = normalised(trImg, trLab, mean, std);
    }
    b.test = normalised(teImg, teLab, mean, std);
    if (b.train.size() == 0)
        throw Error("the training set is empty; check dataset.limit and the dataset files");
    return b;
}

} // namespace kd
