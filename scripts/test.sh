#!/usr/bin/env bash
# Installs missing packages, builds everything (Release preset, the same build as run.sh) and
# runs the whole test suite with CTest (GUI tests on the offscreen platform). The `ci` preset
# (warnings are errors) is for developers: cmake --preset ci && cmake --build --preset ci.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE
ctest --preset release -j "$(nproc)"
