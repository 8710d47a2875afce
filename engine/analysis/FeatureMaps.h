#pragma once

#include "core/TorchFwd.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kd {

/// An 8-bit RGB image as a plain value (what crosses to the GUI): row-major, 3 bytes a pixel.
struct RgbImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> pixels;
    bool empty() const { return width == 0 || height == 0; }
    /// Pixel (x, y), channel c (0 red, 1 green, 2 blue).
    std::uint8_t at(int x, int y, int c) const { return pixels[(std::size_t(y) * width + x) * 3 + c]; }
};

/// How a stage's feature maps are drawn.
struct FeatureMapOptions {
    int channels = 8;  ///< strongest channels shown per row
    int minCell = 56;  ///< each cell is the input size scaled by a whole factor to at least this
};

/// False when this build has no OpenCV: the analysis then draws no feature maps (and says so).
bool featureMapsAvailable();

/// The size in pixels of one cell for inputs of `height` × `width`.
int featureCellSize(int height, int width, const FeatureMapOptions &options);

/// Draws one stage of one model for the probe images `rows` (indices into the batch): per
/// row the input image, the attention map (Zagoruyko & Komodakis: the channel-pooled energy
/// Σ_k a_k², upsampled bilinearly, min–max scaled per image, coloured with OpenCV's JET map
/// and blended with the input), then the `options.channels` strongest channels (largest mean
/// a² over the whole batch, the same channels in every row), each min–max scaled over the
/// rows shown and coloured with VIRIDIS. `inputs` are the normalised N×C×H×W images (C 1 or
/// 3), `features` the stage's N×K×h×w output; `mean`/`stddev` undo the normalisation.
RgbImage renderStageMaps(const torch::Tensor &inputs, const torch::Tensor &features, const std::vector<std::int64_t> &rows,
                         const std::vector<float> &mean, const std::vector<float> &stddev,
                         const FeatureMapOptions &options = {});

/// One input image (normalised C×H×W) back to 8-bit RGB, scaled up by `scale` (nearest).
RgbImage renderInput(const torch::Tensor &image, const std::vector<float> &mean, const std::vector<float> &stddev,
                     int scale = 1);

/// Writes `image` as a PNG; throws kd::Error naming the path when it cannot.
void writePng(const RgbImage &image, const std::string &path);
/// Reads a PNG (or any image OpenCV decodes) as RGB; an empty image when it cannot.
RgbImage readPng(const std::string &path);

} // namespace kd
