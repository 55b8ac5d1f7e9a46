#!/usr/bin/env bash
# Rotates the master key of a region holding KEYS data keys (default 100,000, each wrapped
# alone in 6 locations as backups store them) and prints the re-wrap rate: first from
# single-key objects, then again from the key set the first rotation wrote.
# Usage: bench/key-rotation.sh [KEYS]
set -euo pipefail
keys=${1:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/leafguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release >/dev/null)
work=$(mktemp -d /tmp/leafguard-keys-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/planner-data" "$work/jobs" "$work/keys"
"$bin" keys init "$work/keys/master.key" >/dev/null
cat > "$work/leafguard.yml" <<YML
data: planner-data
state: state
keys: {master: "file:keys/master.key"}
regions:
  primary: {backend: local, path: regions/primary, locations: 6}
YML
s=$(date +%s.%N)
"$bin" keys add-data-keys "$keys" --config "$work/leafguard.yml" >/dev/null
echo "stored $keys data keys ($(ls "$work/regions/primary/loc0/keys" | wc -l) objects per location) in $(echo "$(date +%s.%N) - $s" | bc) s"
for pass in 1 2; do
  s=$(date +%s.%N)
  out=$("$bin" keys rotate --config "$work/leafguard.yml")
  t=$(echo "$(date +%s.%N) - $s" | bc)
  echo "rotation $pass (whole command): $t s, $(echo "$keys / $t" | bc) keys/s"
  echo "$out" | sed -n 2p
done
"$bin" keys status --config "$work/leafguard.yml" | head -4
