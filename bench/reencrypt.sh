#!/usr/bin/env bash
# Backs up generated planner data, then re-encrypts all of it (fresh data key, 4+2 → 6+3
# over 9 locations) and prints both throughputs over the same data.
# Usage: bench/reencrypt.sh [ACCOUNTS]   (default 300: about 1 GB)
set -euo pipefail
accounts=${1:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/leafguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release >/dev/null)
work=${BENCH_DIR:-/tmp/leafguard-reencrypt-bench}
rm -rf "$work"; mkdir -p "$work/jobs" "$work/keys"
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
"$bin" demo --data-only --accounts "$accounts" --dir "$work/planner-data" >/dev/null
"$bin" keys init "$work/keys/master.key" >/dev/null
cat > "$work/leafguard.yml" <<YML
data: planner-data
state: state
keys: {master: "file:keys/master.key"}
regions:
  primary: {backend: local, path: regions/primary, locations: 9}
YML
printf 'name: backup\nsteps: [backup]\n' > "$work/jobs/backup.yml"
printf 'name: rekey\nsteps: [{reencrypt: {older_than: 0s, shards: {data: 6, parity: 3}}}]\n' > "$work/jobs/rekey.yml"
size=$(du -sb "$work/planner-data" | cut -f1)
echo "data: $(du -sh "$work/planner-data" | cut -f1) ($size bytes), $(nproc) cores"
t() { sync; local s=$(date +%s.%N); "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }; echo "$(date +%s.%N) - $s" | bc; }
tb=$(t "$bin" run backup --config "$work/leafguard.yml")
stored=$(du -sb "$work/regions/primary" | cut -f1)
tr=$(t "$bin" run rekey --config "$work/leafguard.yml")
grep -o "re-encrypted as [^;]*" "$work/out" | head -1
printf 'backup (4+2):              %6.2f s  %6.0f MB/s of planner data\n' "$tb" "$(echo "$size / $tb / 1000000" | bc -l)"
printf 'reencrypt (4+2 → 6+3):     %6.2f s  %6.0f MB/s of the same data\n' "$tr" "$(echo "$size / $tr / 1000000" | bc -l)"
echo "stored before: $((stored / 1000000)) MB (4+2), after: $(( $(du -sb "$work/regions/primary" | cut -f1) / 1000000 )) MB (6+3)"
"$bin" restore latest --to "$work/restored" --config "$work/leafguard.yml" | tail -1
