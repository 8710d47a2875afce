#!/usr/bin/env bash
# One command for a GPU host (docs/PERFORMANCE.md, "CUDA"): builds kdw and kd_cuda_check against
# the LibTorch inside the host's CUDA PyTorch (torch.utils.cmake_prefix_path; no Qt, OpenCV or
# Protobuf needed), runs kd_cuda_check (every method on cuda against the cpu, mixed precision,
# device-resident cache, pinned batches), the quick example on cuda in fp32 and in auto
# precision, and bench/bench_device.py against the tuned PyTorch-Python peer (eager with
# autocast, and torch.compile) on the same GPU. Prints what each step measured; exits non-zero
# when any step failed.
#   scripts/gpu-check.sh [--deps DIR] [--out DIR] [--jobs N] [--budget SECONDS] [--skip-bench]
# DIR (default .gpu, made by scripts/gpu-deps-bundle.sh) supplies nlohmann_json, zlib's headers
# and the Fashion-MNIST files where the host has none. --budget (default 480) skips the steps
# that would start after that many seconds, saying so.
set -uo pipefail
cd "$(dirname "$0")/.."
deps=".gpu"; out="build/gpu-check"; jobs="$(nproc)"; budget=480; bench=1
while [ $# -gt 0 ]; do
  case "$1" in
    --deps) deps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --skip-bench) bench=0; shift ;;
    *) echo "usage: scripts/gpu-check.sh [--deps DIR] [--out DIR] [--jobs N] [--budget S] [--skip-bench]" >&2; exit 2 ;;
  esac
done
py="${PYTHON:-python3}"
# The CUDA toolkit (nvcc) that LibTorch's CMake config looks for.
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do [ -x "$d/nvcc" ] && export PATH="$d:$PATH" && break; done
fi
start=$(date +%s)
failed=()
elapsed() { echo $(( $(date +%s) - start )); }
step() { echo; echo "== [$(elapsed) s] $*"; }
within_budget() {
  if [ "$(elapsed)" -ge "$budget" ]; then echo "== skipped (past the ${budget} s budget): $*"; failed+=("skipped: $*"); return 1; fi
}
mkdir -p "$out"

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null \
  || echo "nvidia-smi: not available"
prefix="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)" || {
  echo "gpu-check: $py cannot import torch; set PYTHON to the python whose PyTorch has CUDA" >&2; exit 1; }
"$py" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN",
  torch.backends.cudnn.version(), "GPU available:", torch.cuda.is_available())'
command -v nvcc >/dev/null && nvcc --version | tail -1
g++ --version | head -1; cmake --version | head -1

step "configure (engine and kdw only, LibTorch from $prefix)"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
extra=()
[ -d "$deps/include" ] && extra+=(-DKD_DEPS_DIR="$(cd "$deps" && pwd)")
arch="$("$py" -c 'import torch; c=torch.cuda.get_device_capability(); print(f"{c[0]}.{c[1]}")' 2>/dev/null || true)"
[ -n "$arch" ] && extra+=(-DTORCH_CUDA_ARCH_LIST="$arch")
if ! cmake -S . -B build/gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DKD_BUILD_GUI=OFF -DKD_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH="$prefix" "${extra[@]}" > "$out/configure.log" 2>&1; then
  cat "$out/configure.log"; echo "gpu-check: configure failed"; exit 1
fi
grep -iE "warning|not found|KD_|nlohmann|Torch" "$out/configure.log" | grep -v "^--   " | head -20

step "build kdw and kd_cuda_check ($jobs jobs)"
if ! cmake --build build/gpu -j "$jobs" --target kdw kd_cuda_check -- $( [ ${#gen[@]} -gt 0 ] && echo "-k 0" || echo "-k" ) \
      > "$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -60; echo "gpu-check: build failed (all of it: $out/build.log)"; exit 1
fi
echo "built in $(elapsed) s: $(ls -la build/gpu/bin/kdw | awk '{print $5}') bytes kdw"

if within_budget "kd_cuda_check"; then
  step "kd_cuda_check"
  build/gpu/bin/kd_cuda_check --out "$out/cuda-check" 2>&1 | tee "$out/cuda-check.log" | grep -v "^ok  " | tail -40
  rc=${PIPESTATUS[0]}
  grep -c "^ok  " "$out/cuda-check.log" | sed 's/^/methods and checks ok: /'
  [ "$rc" = 0 ] || failed+=("kd_cuda_check (exit $rc)")
fi

data=""
[ -d "$deps/data/fashion-mnist" ] && data="$(cd "$deps/data" && pwd)"
[ -z "$data" ] && [ -d /usr/share/datasets/fashion-mnist ] && data=/usr/share/datasets
for precision in fp32 auto; do
  within_budget "quick example ($precision)" || continue
  step "quick example on cuda, precision $precision"
  if [ -z "$data" ] && [ -z "${KD_DATA:-}" ]; then echo "no Fashion-MNIST files (scripts/gpu-deps-bundle.sh)"; failed+=("quick example: no data"); continue; fi
  rm -rf "$out/quick-$precision"
  if KD_DATA="${KD_DATA:-$data}" build/gpu/bin/kdw run projects/fashion-mnist-quick.json --quiet --out "$out/quick-$precision" \
       --set device=cuda --set precision=$precision > "$out/quick-$precision.log" 2>&1; then
    grep -E "device:|precision|test acc|teacher cache" "$out/quick-$precision/log.txt" | tail -8
  else
    tail -20 "$out/quick-$precision.log"; failed+=("quick example ($precision)")
  fi
done

if [ "$bench" = 1 ] && within_budget "benchmark"; then
  step "benchmark against the tuned PyTorch-Python peer (bench/bench_device.py)"
  "$py" bench/bench_device.py --kdw build/gpu/bin/kdw --device cuda --precisions fp32,bf16 --epochs 6 \
     --pairs resnet20:resnet8,wrn_40_2:wrn_16_2 \
     --python "$py" --json "$out/bench.json" || failed+=("benchmark")
fi

step "done"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'gpu-check: FAILED or skipped: %s\n' "${failed[@]}"; exit 1
fi
echo "gpu-check: every step passed"
