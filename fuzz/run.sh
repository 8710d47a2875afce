#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan: the "fuzz" preset) and fuzzes each for
# a while, growing its corpus in fuzz/corpus/<target>/; a crash, hang or leak stops that target
# and leaves its reproducer in fuzz/findings/<target>/.
#
#   fuzz/run.sh [--minutes N] [--jobs J] [TARGET...]     (default: 10 minutes, every target, 1 job)
#
# Replay a reproducer: build/fuzz/fuzz/<target> fuzz/findings/<target>/crash-...
# The corpora also run in CTest (fuzz_<target>_corpus, GCC, no libFuzzer) as regression tests.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=10
jobs=1
targets=()
while (($#)); do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_project fuzz_idx fuzz_cifar fuzz_image_folder fuzz_checkpoint fuzz_run_reader)

scripts/install-deps.sh --fuzz
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]}"

# -jobs=N runs N fuzzing processes, each logging to fuzz-<i>.log; one job fuzzes in place.
parallel=()
((jobs > 1)) && parallel=(-jobs="$jobs" -workers="$jobs")

status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/findings/$t"
  echo "== $t: $minutes min, $jobs job(s) =="
  # New inputs go to a scratch folder first and are merged (minimised) into the corpus after.
  fresh=$(mktemp -d)
  if ! ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp" \
      "build/fuzz/fuzz/$t" "$fresh" "fuzz/corpus/$t" -max_total_time=$((minutes * 60)) -timeout=20 \
      -rss_limit_mb=4096 -max_len=65536 "${parallel[@]}" \
      -artifact_prefix="fuzz/findings/$t/" -print_final_stats=1 2>&1 | tail -n 25; then
    echo "!! $t found a problem: see fuzz/findings/$t/" >&2
    status=1
  fi
  "build/fuzz/fuzz/$t" -merge=1 "fuzz/corpus/$t" "$fresh" >/dev/null 2>&1 || true
  rm -rf "$fresh"
  rmdir "fuzz/findings/$t" 2>/dev/null || true
done
exit $status
