#!/usr/bin/env bash
# Installs the Debian 12 packages KD Workbench needs to build, test and run: only the missing
# ones, with apt-get (as root, or through sudo).
set -euo pipefail

PACKAGES=(
  cmake g++ make git
  qt6-base-dev qt6-base-dev-tools libqcustomplot-dev   # GUI (Qt 6 Widgets/Test, QCustomPlot)
  qt6-svg-dev                                          # SVG export of charts
  libtorch-dev libopenblas0-pthread                    # LibTorch; OpenBLAS instead of reference BLAS
  libopencv-dev zlib1g-dev nlohmann-json3-dev          # engine I/O and project files
  libprotobuf-dev protobuf-compiler python3-protobuf   # TensorBoard event files (+ their test)
  dataset-fashion-mnist                                # the real data the examples and tests use
  xvfb xauth                                           # a virtual display for screenshots
)

# --fuzz: also what fuzz/run.sh needs (clang and libFuzzer; not needed to build or test).
if [ "${1:-}" = "--fuzz" ]; then
  PACKAGES+=(clang-14 libfuzzer-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: these packages are missing and installing them needs root or sudo:" >&2
    echo "  ${missing[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}"
