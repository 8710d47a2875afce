#include "Device.h"

#include "core/Error.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <mutex>
#include <thread>

#if defined(__GLIBC__)
#include <dlfcn.h>
#include <malloc.h>
#endif

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
    // Measured on a 2-core VM (docs/PERFORMANCE.md), with the allocator and BLAS settings of
    // configureCpuRuntime(): the CNN teacher trains at 834 img/s on 2 threads vs 506 on 1, so
    // auto uses every hardware thread.
    const unsigned hw = std::thread::hardware_concurrency();
    return int(std::max(1u, hw));
}

void configureCpuRuntime(int threads)
{
#if defined(__GLIBC__)
    static std::once_flag once;
    std::call_once(once, [] {
        // glibc serves every block over 128 KiB-32 MiB (dynamic threshold) with a fresh mmap and
        // gives it back on free, so each training step page-faults its activations in again:
        // measured 20.8 s of 43 s as system time for a cnn_large epoch. Keep freed memory in
        // the heap instead (peak RSS +30% measured, 1.03 -> 1.33 GB).
        mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
        mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
        mallopt(M_TOP_PAD, 64 * 1024 * 1024);
    });
    // OpenBLAS (Debian's libopenblas0-pthread behind libblas.so.3) starts one thread per core
    // that spins on sched_yield between calls, stealing the cores torch's OpenMP threads use;
    // give it as many threads as torch. Looked up at run time: the BLAS is a system choice.
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        fn(std::max(1, threads));
#endif
    at::set_num_threads(std::max(1, threads));
    // Denormal floats (e.g. RKD's angle terms as they shrink) are 10-100x slower on x86:
    // flush them to zero on this thread and on every intra-op worker (MXCSR is per thread).
    at::globalContext().setFlushDenormal(true);
    at::parallel_for(0, at::get_num_threads(), 1, [](std::int64_t, std::int64_t) {
        at::globalContext().setFlushDenormal(true);
    });
}

} // namespace kd
