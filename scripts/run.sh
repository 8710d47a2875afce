#!/usr/bin/env bash
# The main job: installs missing packages, builds (Release) and opens the kd-workbench window
# with projects/fashion-mnist-kd.json. With --headless it runs the same project through kdw.
#   scripts/run.sh [--headless] [PROJECT.json] [kdw options, e.g. --set student.train.epochs=2]
set -euo pipefail
cd "$(dirname "$0")/.."

headless=0
if [ "${1:-}" = "--headless" ]; then headless=1; shift; fi
project="projects/fashion-mnist-kd.json"
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then project="$1"; shift; fi

scripts/install-deps.sh
scripts/build.sh release
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

if [ "$headless" = 1 ]; then
  exec build/release/bin/kdw run "$project" "$@"
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "run.sh: no display found (DISPLAY is not set). Run the same project without a window:" >&2
  echo "  scripts/run.sh --headless $project" >&2
  echo "or start a virtual display: xvfb-run -a scripts/run.sh" >&2
  exit 2
fi
exec build/release/bin/kd-workbench "$project"
