#!/usr/bin/env bash
# make fuzz: builds leafguard-fuzz with libFuzzer and AddressSanitizer, seeds every target's
# corpus from a small demo deployment's real objects, and runs each target for FUZZ_SECONDS
# (default 30), failing any input that runs over 1 s or allocates 64 MiB at once. Corpora grow in .build-fuzz/corpus and are kept between runs; a crash's input
# lands in .build-fuzz/artifacts and the run exits 1 naming it. Copy such an input to
# Fuzz/regressions/TARGET/ once fixed: FuzzCorpusTests replays that folder on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
swift build >/dev/null
swift build --product leafguard-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLEAFGUARD_LIBFUZZER \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld 2>&1 | grep -E "error|Compiling leafguard_fuzz|Build complete" || true
fuzzer=.build-fuzz/debug/leafguard-fuzz
[ -x "$fuzzer" ] || { echo "the fuzzing build failed"; exit 1; }
targets=${FUZZ_TARGETS:-$(.build/debug/leafguard-fuzz list)}
work=.build-fuzz/work
mkdir -p "$work" .build-fuzz/corpus .build-fuzz/artifacts
if [ ! -d "$work/deployment/regions" ]; then
  rm -rf "$work/deployment"
  .build/debug/leafguard demo --dir "$work/deployment" --accounts 2 >/dev/null 2>&1
fi
rm -rf "$work/seeds"
.build/debug/leafguard-fuzz seed "$work/deployment" "$work/seeds" >/dev/null
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
failed=""
printf '%-12s %10s %8s %8s %s\n' TARGET RUNS EXEC/S CORPUS RESULT
for t in $targets; do
  corpus=.build-fuzz/corpus/$t
  mkdir -p "$corpus"
  cp -n "$work/seeds/$t"/* "$corpus"/ 2>/dev/null || true
  [ -d "Fuzz/regressions/$t" ] && cp -n "Fuzz/regressions/$t"/* "$corpus"/ 2>/dev/null || true
  log=$work/$t.log
  set +e
  # Bounded by construction (issue 29): an input under 1 MiB that takes longer than 1 s, or
  # any single allocation of 64 MiB or more, is a defect like a crash.
  "$fuzzer" "$t" "$corpus" -max_total_time="$seconds" -timeout=1 -malloc_limit_mb=64 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix=".build-fuzz/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(ls "$corpus" | wc -l)
  if [ "$rc" -eq 0 ]; then result=ok; else result="CRASH (exit $rc): $(grep -o "Test unit written to .*" "$log" | tail -1)"; failed="$failed $t"; fi
  printf '%-12s %10s %8s %8s %s\n' "$t" "${runs:-?}" "${speed:-?}" "$size" "$result"
done
if [ -n "$failed" ]; then echo "crashes in:$failed (logs in $work)"; exit 1; fi
echo "no crash in $(echo $targets | wc -w) targets, ${seconds}s each"
