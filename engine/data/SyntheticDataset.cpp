#include "SyntheticDataset.h"

#include <cmath>
#include <random>

namespace kd {

RawDataset makeSyntheticDataset(const InputShape &shape, int numClasses, std::int64_t trainCount,
                                std::int64_t testCount, std::uint64_t seed)
{
    const auto C = shape.channels, H = shape.height, W = shape.width;
    std::mt19937_64 rng(seed ^ 0x5eedda7aULL);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    // Prototypes: sums of a few random 2-D sinusoids per channel, in [0, 1].
    std::vector<std::vector<double>> protos(std::size_t(numClasses), std::vector<double>(std::size_t(C * H * W)));
    for (auto &p : protos) {
        for (std::int64_t c = 0; c < C; ++c) {
            double fx[3], fy[3], ph[3];
            for (int k = 0; k < 3; ++k) {
                fx[k] = 0.5 + 2.5 * uni(rng);
                fy[k] = 0.5 + 2.5 * uni(rng);
                ph[k] = 6.2831853 * uni(rng);
            }
            for (std::int64_t y = 0; y < H; ++y)
                for (std::int64_t x = 0; x < W; ++x) {
                    double v = 0;
                    for (int k = 0; k < 3; ++k)
                        v += std::sin(6.2831853 * (fx[k] * double(x) / double(W) + fy[k] * double(y) / double(H)) + ph[k]);
                    p[std::size_t((c * H + y) * W + x)] = 0.5 + v / 6.0;
                }
        }
    }
    std::normal_distribution<double> noise(0.0, 0.12);
    std::uniform_int_distribution<int> shift(-2, 2);
    auto make = [&](std::int64_t n, torch::Tensor &images, torch::Tensor &labels) {
        images = torch::empty({n, C, H, W}, torch::kUInt8);
        labels = torch::empty({n}, torch::kInt64);
        auto *img = images.data_ptr<std::uint8_t>();
        auto *lab = labels.data_ptr<std::int64_t>();
        for (std::int64_t i = 0; i < n; ++i) {
            const int k = int(i % numClasses);
            lab[i] = k;
            const int dx = shift(rng), dy = shift(rng);
            const auto &p = protos[std::size_t(k)];
            for (std::int64_t c = 0; c < C; ++c)
                for (std::int64_t y = 0; y < H; ++y)
                    for (std::int64_t x = 0; x < W; ++x) {
                        const auto sy = std::clamp<std::int64_t>(y + dy, 0, H - 1);
                        const auto sx = std::clamp<std::int64_t>(x + dx, 0, W - 1);
                        const double v = p[std::size_t((c * H + sy) * W + sx)] + noise(rng);
                        img[((i * C + c) * H + y) * W + x] = std::uint8_t(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5);
                    }
        }
    };
    RawDataset raw;
    make(trainCount, raw.trainImages, raw.trainLabels);
    make(testCount, raw.testImages, raw.testLabels);
    raw.numClasses = numClasses;
    for (int k = 0; k < numClasses; ++k)
        raw.classNames.push_back("pattern " + std::to_string(k));
    return raw;
}

} // namespace kd
