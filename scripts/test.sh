#!/usr/bin/env bash
# Installs missing packages, builds everything with the `ci` preset (Release, warnings are
# errors) and runs the whole test suite with CTest (GUI tests on the offscreen platform).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh ci
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE
ctest --preset ci -j "$(nproc)"
