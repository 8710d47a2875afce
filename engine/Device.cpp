#include "Device.h"

#include "Error.h"

#include <thread>

namespace kd {

torch::Device resolveDevice(const std::string &spec)
{
    const bool haveCuda = torch::cuda::is_available();
    if (spec == "auto")
        return haveCuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    if (spec == "cpu")
        return torch::Device(torch::kCPU);
    if (spec.rfind("cuda", 0) == 0) {
        if (!haveCuda)
            throw Error("device \"" + spec + "\" was requested but CUDA is not available (this "
                        "LibTorch build has no CUDA support or no GPU was found); use \"auto\" "
                        "or \"cpu\", or build against a CUDA LibTorch (see README)");
        int index = 0;
        if (spec.size() > 5)
            index = std::stoi(spec.substr(5));
        const int count = int(torch::cuda::device_count());
        if (index >= count)
            throw Error("device \"" + spec + "\" does not exist: this machine has " + std::to_string(count)
                        + " CUDA device(s), cuda:0 to cuda:" + std::to_string(count - 1));
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error("device \"" + spec + "\" is not valid; use \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"");
}

std::string describeDevice(const torch::Device &device, int threads)
{
    if (device.is_cuda())
        return "cuda:" + std::to_string(int(device.index()));
    return "cpu (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
}

int defaultThreadCount()
{
    // Measured on 2-core VMs (docs/PERFORMANCE.md): intra-op parallelism on small batches
    // costs more than it gains, so auto uses half the hardware threads, at least one.
    const unsigned hw = std::thread::hardware_concurrency();
    return int(std::max(1u, hw / 2));
}

} // namespace kd
