#!/usr/bin/env bash
# Packs what an offline GPU host lacks for scripts/gpu-check.sh into one folder (default .gpu/,
# ignored by git): the header-only nlohmann_json and zlib's headers from this Debian machine's
# packages, and the Fashion-MNIST files the quick example reads. Run it here, copy the folder
# (or carry it) to the GPU host, then run scripts/gpu-check.sh there; it finds .gpu/ itself.
#   scripts/gpu-deps-bundle.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.gpu}"
for f in /usr/include/nlohmann/json.hpp /usr/include/zlib.h /usr/include/zconf.h; do
  [ -f "$f" ] || { echo "gpu-deps-bundle: $f is missing; run scripts/install-deps.sh first" >&2; exit 1; }
done
rm -rf "$dir/include" "$dir/data"
mkdir -p "$dir/include" "$dir/data"
cp -r /usr/include/nlohmann "$dir/include/"
cp /usr/include/zlib.h /usr/include/zconf.h "$dir/include/"
fm=/usr/share/datasets/fashion-mnist
if [ -d "$fm" ]; then
  cp -r "$fm" "$dir/data/fashion-mnist"
else
  echo "gpu-deps-bundle: $fm not found (apt-get install dataset-fashion-mnist): the quick example will be skipped" >&2
fi
du -sh "$dir"
echo "gpu-deps-bundle: wrote $dir (give it to scripts/gpu-check.sh with --deps $dir, the default)"
