#include "ImageFolderReader.h"

#include "core/Error.h"
#include "kd_build_config.h"

#if KD_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>

namespace kd {

namespace fs = std::filesystem;

namespace {

[[maybe_unused]] const std::string kNoOpenCv =
    "this build has no OpenCV, so it cannot decode image-folder datasets: install libopencv-dev and rebuild "
    "(scripts/install-deps.sh), or use an IDX or CIFAR dataset; first image: ";

bool isImageFile(const fs::path &p)
{
    auto ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char *e : {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"})
        if (ext == e)
            return true;
    return false;
}

std::vector<std::string> classFolders(const fs::path &dir)
{
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(dir, ec))
        if (e.is_directory())
            names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<fs::path> imagesIn(const fs::path &dir)
{
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file() && isImageFile(e.path()))
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

/// Whether the file starts like an image format we hand to OpenCV: PNG, JPEG, BMP, TIFF,
/// WebP or PNM. Found by fuzz_image_folder: OpenCV tries every decoder it was built with, and
/// Debian's DICOM one (GDCM) aborts the whole process on a truncated file, so nothing else is
/// passed to it.
bool looksLikeImage(const fs::path &file)
{
    std::ifstream in(file, std::ios::binary);
    unsigned char h[12] = {};
    in.read(reinterpret_cast<char *>(h), sizeof h);
    const auto n = in.gcount();
    auto starts = [&](std::initializer_list<int> bytes) {
        int i = 0;
        for (int b : bytes) {
            if (i >= n || h[i] != b)
                return false;
            ++i;
        }
        return true;
    };
    return starts({0x89, 'P', 'N', 'G'}) || starts({0xFF, 0xD8, 0xFF}) || starts({'B', 'M'})
        || starts({'I', 'I', 0x2A, 0x00}) || starts({'M', 'M', 0x00, 0x2A})
        || (starts({'R', 'I', 'F', 'F'}) && n >= 12 && h[8] == 'W' && h[9] == 'E' && h[10] == 'B' && h[11] == 'P')
        || (n >= 2 && h[0] == 'P' && h[1] >= '1' && h[1] <= '6');
}

void decodeInto(const fs::path &file, int size, int channels, std::uint8_t *out)
{
    if (!looksLikeImage(file))
        throw Error("cannot decode image " + file.string() + ": it is not a PNG, JPEG, BMP, TIFF, WebP or PNM file "
                    "(its first bytes say so); remove it or convert it to PNG/JPEG");
#if KD_HAVE_OPENCV
    cv::Mat img;
    try {
        img = cv::imread(file.string(), channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
        if (!img.empty() && (img.cols != size || img.rows != size))
            cv::resize(img, img, cv::Size(size, size), 0, 0, cv::INTER_AREA);
        if (!img.empty() && channels == 3)
            cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
    } catch (const cv::Exception &e) {
        // Found by fuzz_image_folder: a header claiming an impossible size makes OpenCV throw.
        throw Error("cannot decode image " + file.string() + " (OpenCV: " + e.err
                    + "); the file is corrupt or not an image: remove it or convert it to PNG/JPEG");
    }
    if (img.empty())
        throw Error("cannot decode image " + file.string() + " (unsupported or corrupt file); remove it or "
                    "convert it to PNG/JPEG");
    // HWC interleaved → CHW planes.
    const int plane = size * size;
    for (int y = 0; y < size; ++y) {
        const std::uint8_t *row = img.ptr<std::uint8_t>(y);
        for (int x = 0; x < size; ++x)
            for (int c = 0; c < channels; ++c)
                out[c * plane + y * size + x] = row[x * channels + c];
    }
#else
    (void)size, (void)channels, (void)out;
    throw Error(kNoOpenCv + file.string());
#endif
}

struct Split {
    std::vector<fs::path> files;
    std::vector<std::int64_t> labels;
};

void toTensors(const Split &s, int size, int channels, torch::Tensor &images, torch::Tensor &labels)
{
    const auto n = std::int64_t(s.files.size());
    images = torch::empty({n, channels, size, size}, torch::kUInt8);
    auto *base = images.data_ptr<std::uint8_t>();
    const std::size_t each = std::size_t(channels) * size * size;
    for (std::int64_t i = 0; i < n; ++i)
        decodeInto(s.files[std::size_t(i)], size, channels, base + std::size_t(i) * each);
    labels = torch::tensor(s.labels, torch::kInt64);
}

} // namespace

std::string probeImageFolder(const std::string &directory)
{
    std::error_code ec;
    if (directory.empty())
        return "no folder given (set dataset.path)";
    if (!fs::is_directory(directory, ec))
        return "folder " + directory + " not found";
    const fs::path root(directory);
    const fs::path base = fs::is_directory(root / "train", ec) ? root / "train" : root;
    if (classFolders(base).size() < 2)
        return "fewer than two class sub-folders in " + base.string();
    return {};
}

RawDataset loadImageFolder(const std::string &directory, int size, int channels, double testSplit,
                           std::uint64_t seed)
{
    std::error_code ec;
#if !KD_HAVE_OPENCV
    throw Error(kNoOpenCv + directory);
#endif
    if (!fs::is_directory(directory, ec))
        throw Error("image folder not found: " + directory + "; set dataset.path to a folder with one "
                    "sub-folder per class (or train/ and test/ folders that have them)");
    const fs::path root(directory);
    const bool hasSplit = fs::is_directory(root / "train", ec) && fs::is_directory(root / "test", ec);
    // probeImageFolder() accepts a train/ folder alone; without this check "train" itself
    // would be taken for the only class of a flat layout.
    if (!hasSplit && fs::is_directory(root / "train", ec))
        throw Error("image folder " + directory + " has a train/ folder but no test/ folder; add test/ with "
                    "the same class folders, or put the class folders directly in " + directory
                    + " to split them by dataset.test_split");
    const auto classes = classFolders(hasSplit ? root / "train" : root);
    if (classes.size() < 2)
        throw Error("image folder " + (hasSplit ? (root / "train").string() : directory)
                    + " has fewer than two class sub-folders; put each class's images in its own folder");
    Split train, test;
    for (std::size_t k = 0; k < classes.size(); ++k) {
        const auto trainBefore = train.files.size();
        if (hasSplit) {
            for (const auto &f : imagesIn(root / "train" / classes[k])) {
                train.files.push_back(f);
                train.labels.push_back(std::int64_t(k));
            }
            if (!fs::is_directory(root / "test" / classes[k], ec))
                throw Error("class \"" + classes[k] + "\" has no folder in " + (root / "test").string()
                            + "; train/ and test/ must hold the same class folders");
            for (const auto &f : imagesIn(root / "test" / classes[k])) {
                test.files.push_back(f);
                test.labels.push_back(std::int64_t(k));
            }
        } else {
            auto files = imagesIn(root / classes[k]);
            std::mt19937_64 rng(seed * 1000003u + k);
            std::shuffle(files.begin(), files.end(), rng);
            // Every class keeps at least one training image (a class of one image is then
            // absent from the test split rather than unlearnable).
            const auto nTest = std::min(std::size_t(double(files.size()) * testSplit + 0.5),
                                        files.empty() ? std::size_t(0) : files.size() - 1);
            for (std::size_t i = 0; i < files.size(); ++i) {
                auto &s = i < nTest ? test : train;
                s.files.push_back(files[i]);
                s.labels.push_back(std::int64_t(k));
            }
        }
        if (train.files.size() == trainBefore)
            throw Error("class \"" + classes[k] + "\" has no training image files in "
                        + (hasSplit ? (root / "train" / classes[k]).string() : (root / classes[k]).string())
                        + "; add images (any format OpenCV reads) or remove the empty class folder");
    }
    if (train.files.empty() || test.files.empty())
        throw Error("image folder " + directory + " yields " + std::to_string(train.files.size()) + " training and "
                    + std::to_string(test.files.size()) + " test images; each split needs at least one");
    if (hasSplit) {
        for (const auto &c : classFolders(root / "test"))
            if (!std::binary_search(classes.begin(), classes.end(), c))
                throw Error("class folder test/" + c + " has no counterpart in train/; the splits must hold the same classes");
    }
    RawDataset raw;
    toTensors(train, size, channels, raw.trainImages, raw.trainLabels);
    toTensors(test, size, channels, raw.testImages, raw.testLabels);
    raw.numClasses = int(classes.size());
    raw.classNames = classes;
    return raw;
}

} // namespace kd
