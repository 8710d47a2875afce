#include "FeatureMaps.h"

#include "core/Error.h"
#include "kd_build_config.h"

#if KD_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

#include <algorithm>
#include <filesystem>
#include <numeric>

namespace kd {

bool featureMapsAvailable()
{
    return KD_HAVE_OPENCV != 0;
}

int featureCellSize(int height, int width, const FeatureMapOptions &options)
{
    const int side = std::max(1, std::max(height, width));
    const int scale = std::max(1, (options.minCell + side - 1) / side);
    return side * scale;
}

#if KD_HAVE_OPENCV
namespace {

constexpr int kGap = 2;
const cv::Scalar kBackground(40, 40, 40);

/// The normalised C×H×W image as 8-bit BGR.
cv::Mat inputToBgr(const torch::Tensor &image, const std::vector<float> &mean, const std::vector<float> &stddev)
{
    auto x = image.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const auto c = x.size(0);
    if (c != 1 && c != 3)
        throw Error("feature maps: inputs with " + std::to_string(c) + " channels cannot be drawn (1 or 3 only)");
    std::vector<torch::Tensor> planes;
    for (std::int64_t k = 0; k < c; ++k) {
        const float m = k < std::int64_t(mean.size()) ? mean[std::size_t(k)] : 0.0f;
        const float s = k < std::int64_t(stddev.size()) ? stddev[std::size_t(k)] : 1.0f;
        planes.push_back(x[k] * s + m);
    }
    auto hwc = torch::stack(planes, 2).clamp(0.0, 1.0).mul(255.0).round().to(torch::kUInt8).contiguous();
    const int h = int(x.size(1)), w = int(x.size(2));
    cv::Mat m(h, w, c == 1 ? CV_8UC1 : CV_8UC3, hwc.data_ptr<std::uint8_t>());
    cv::Mat bgr;
    if (c == 1)
        cv::cvtColor(m, bgr, cv::COLOR_GRAY2BGR);
    else
        cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
    return bgr; // cvtColor allocated: independent of the tensor
}

/// A float map scaled to 0..255 by [lo, hi] (a flat map is drawn black).
cv::Mat scaled(const torch::Tensor &map, double lo, double hi)
{
    auto t = map.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    const double span = hi - lo;
    t = span > 0 ? (t - lo) / span : torch::zeros_like(t);
    t = t.clamp(0.0, 1.0).mul(255.0).round().to(torch::kUInt8).contiguous();
    cv::Mat m(int(t.size(0)), int(t.size(1)), CV_8UC1, t.data_ptr<std::uint8_t>());
    return m.clone();
}

RgbImage toRgbImage(const cv::Mat &bgr)
{
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    RgbImage out;
    out.width = rgb.cols;
    out.height = rgb.rows;
    out.pixels.resize(std::size_t(rgb.cols) * rgb.rows * 3);
    for (int y = 0; y < rgb.rows; ++y)
        std::copy_n(rgb.ptr<std::uint8_t>(y), std::size_t(rgb.cols) * 3, out.pixels.data() + std::size_t(y) * rgb.cols * 3);
    return out;
}

} // namespace

RgbImage renderStageMaps(const torch::Tensor &inputs, const torch::Tensor &features, const std::vector<std::int64_t> &rows,
                         const std::vector<float> &mean, const std::vector<float> &stddev,
                         const FeatureMapOptions &options)
{
    torch::NoGradGuard noGrad;
    if (inputs.dim() != 4 || features.dim() != 4 || inputs.size(0) != features.size(0))
        throw std::invalid_argument("renderStageMaps: needs N×C×H×W inputs and N×K×h×w features of the same N");
    if (rows.empty())
        return {};
    const auto f = features.detach().to(torch::kCPU, torch::kFloat32);
    const auto k = f.size(1);
    const int shown = int(std::min<std::int64_t>(options.channels, k));
    // Strongest channels: largest mean energy over the whole batch and every position.
    const auto energy = f.pow(2).mean(std::vector<std::int64_t>{0, 2, 3});
    const auto top = std::get<1>(energy.topk(shown)).contiguous();
    const int cell = featureCellSize(int(inputs.size(2)), int(inputs.size(3)), options);
    const int cols = 2 + shown;
    const int nRows = int(rows.size());
    cv::Mat canvas(nRows * cell + (nRows + 1) * kGap, cols * cell + (cols + 1) * kGap, CV_8UC3, kBackground);
    auto place = [&](const cv::Mat &img, int r, int c) { // every image given is cell × cell
        img.copyTo(canvas(cv::Rect(kGap + c * (cell + kGap), kGap + r * (cell + kGap), cell, cell)));
    };

    const auto index = torch::tensor(rows, torch::kInt64);
    const auto chosen = f.index_select(0, index);           // R×K×h×w
    const auto maps = chosen.index_select(1, top);           // R×shown×h×w
    std::vector<double> lo(static_cast<std::size_t>(shown)), hi(static_cast<std::size_t>(shown));
    for (int j = 0; j < shown; ++j) {
        lo[std::size_t(j)] = maps.select(1, j).min().item<double>();
        hi[std::size_t(j)] = maps.select(1, j).max().item<double>();
    }
    const auto attention = chosen.pow(2).sum(1); // R×h×w
    for (int r = 0; r < nRows; ++r) {
        const cv::Mat input = inputToBgr(inputs[rows[std::size_t(r)]], mean, stddev);
        cv::Mat inputCell;
        cv::resize(input, inputCell, cv::Size(cell, cell), 0, 0, cv::INTER_NEAREST);
        place(inputCell, r, 0);

        const auto a = attention[r];
        cv::Mat att = scaled(a, a.min().item<double>(), a.max().item<double>());
        cv::Mat attUp, heat, overlay;
        cv::resize(att, attUp, cv::Size(cell, cell), 0, 0, cv::INTER_LINEAR);
        cv::applyColorMap(attUp, heat, cv::COLORMAP_JET);
        cv::addWeighted(inputCell, 0.5, heat, 0.5, 0.0, overlay);
        place(overlay, r, 1);

        for (int j = 0; j < shown; ++j) {
            cv::Mat ch = scaled(maps[r][j], lo[std::size_t(j)], hi[std::size_t(j)]);
            cv::Mat up, coloured;
            cv::resize(ch, up, cv::Size(cell, cell), 0, 0, cv::INTER_NEAREST);
            cv::applyColorMap(up, coloured, cv::COLORMAP_VIRIDIS);
            place(coloured, r, 2 + j);
        }
    }
    return toRgbImage(canvas);
}

RgbImage renderInput(const torch::Tensor &image, const std::vector<float> &mean, const std::vector<float> &stddev,
                     int scale)
{
    torch::NoGradGuard noGrad;
    const cv::Mat bgr = inputToBgr(image, mean, stddev);
    if (scale <= 1)
        return toRgbImage(bgr);
    cv::Mat big;
    cv::resize(bgr, big, cv::Size(bgr.cols * scale, bgr.rows * scale), 0, 0, cv::INTER_NEAREST);
    return toRgbImage(big);
}

void writePng(const RgbImage &image, const std::string &path)
{
    if (image.empty())
        throw Error("cannot write an empty image to " + path);
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t *>(image.pixels.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    bool ok = false;
    try {
        ok = cv::imwrite(path, bgr);
    } catch (const cv::Exception &e) {
        throw Error("cannot write " + path + ": " + e.what());
    }
    if (!ok)
        throw Error("cannot write " + path + " (check that the folder exists and is writable)");
}

RgbImage readPng(const std::string &path)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return {}; // (imread would print a warning)
    const cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    if (bgr.empty())
        return {};
    return toRgbImage(bgr);
}

#else
// Without OpenCV the analysis draws no feature maps (EpochAnalyzer asks featureMapsAvailable()
// and says so in the run's log); these are then never called.
namespace {
[[noreturn]] void noOpenCv(const std::string &what)
{
    throw Error("this build has no OpenCV, so it cannot " + what
                + "; install libopencv-dev and rebuild (scripts/install-deps.sh)");
}
} // namespace

RgbImage renderStageMaps(const torch::Tensor &, const torch::Tensor &, const std::vector<std::int64_t> &,
                         const std::vector<float> &, const std::vector<float> &, const FeatureMapOptions &)
{
    noOpenCv("draw feature maps");
}

RgbImage renderInput(const torch::Tensor &, const std::vector<float> &, const std::vector<float> &, int)
{
    noOpenCv("draw input images");
}

void writePng(const RgbImage &, const std::string &path)
{
    noOpenCv("write " + path);
}

RgbImage readPng(const std::string &)
{
    return {};
}
#endif

} // namespace kd
