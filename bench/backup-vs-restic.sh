#!/usr/bin/env bash
# Side by side on the same generated planner data, one after another on this machine:
# full backup, backup after a 1 % change, full restore — leafguard, restic, borg.
# Prints wall time and peak memory of each, and leafguard's ratio to each.
#
#   bench/backup-vs-restic.sh [ACCOUNTS]      (default 500: ~7,000 documents, ~1.5 GB)
#
# Needs a release build (make release); installs restic, borgbackup and GNU time from
# Debian if missing. Works in $BENCH_DIR (default /tmp/leafguard-bench), removed first.
set -euo pipefail
ACCOUNTS=${1:-500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=$ROOT/.build/release/leafguard
DIR=${BENCH_DIR:-/tmp/leafguard-bench}
SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
[ -x "$LG" ] || { echo "build first: make release" >&2; exit 2; }
for p in restic borgbackup time sqlite3; do
  dpkg -s "$p" >/dev/null 2>&1 || { $SUDO apt-get update -qq; $SUDO apt-get install -y -qq "$p" >/dev/null; }
done
export RESTIC_PASSWORD=bench-password BORG_PASSPHRASE=bench-password BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
rm -rf "$DIR"; mkdir -p "$DIR"; cd "$DIR"

# One measurement: label, then the command. Appends "label seconds peak-MiB" to results.
measure() {
  local label=$1; shift
  sync
  /usr/bin/time -f "%e %M" -o "$DIR/.time" "$@" > "$DIR/.out" 2>&1 || { cat "$DIR/.out"; exit 1; }
  read -r secs kb < "$DIR/.time"
  printf '%-28s %8.2f s %8.0f MiB\n' "$label" "$secs" "$((kb / 1024))"
  echo "$label|$secs|$((kb / 1024))" >> "$DIR/results"
}

echo "generating planner data ($ACCOUNTS accounts)…"
"$LG" demo --data-only --accounts "$ACCOUNTS" --dir "$DIR/data" | tail -1
SIZE=$(du -sb "$DIR/data" | cut -f1)
echo "data: $(du -sh "$DIR/data" | cut -f1), $(find "$DIR/data/documents" -type f | wc -l) documents, database $(du -h "$DIR/data/planner.db" | cut -f1)"
echo "cores: $(nproc); page cache warm for every tool (the data was just written)"
echo

mkdir -p lg/keys lg/jobs
"$LG" keys init lg/keys/master.key >/dev/null
cat > lg/leafguard.yml <<YML
data: $DIR/data
state: state
keys: { master: file:keys/master.key }
regions:
  primary: { backend: local, path: regions/primary, locations: 6 }
shards: { data: 4, parity: 2 }
jobs: jobs
YML
printf 'name: backup\nsteps: [backup]\n' > lg/jobs/backup.yml
restic init --repo "$DIR/restic" >/dev/null
borg init -e repokey "$DIR/borg" >/dev/null 2>&1

measure "leafguard full backup" "$LG" run backup --config lg/leafguard.yml
measure "restic full backup" restic backup --repo "$DIR/restic" "$DIR/data"
measure "borg full backup" borg create "$DIR/borg::first" "$DIR/data"

# A 1 % change: new documents of 1 % of the data, and new activity rows.
python3 - "$DIR/data" "$SIZE" <<'PY'
import hashlib, os, sqlite3, sys
root, size = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(os.path.join(root, "planner.db"))
left, i = size // 100, 0
while left > 0:
    n = min(left, 2_000_000)
    data = os.urandom(n)
    rel = f"1/bench-change-{i}.pdf"
    with open(os.path.join(root, "documents", rel), "wb") as f: f.write(data)
    db.execute("INSERT INTO documents (account_id, section, file_name, blob_path, size, sha256, uploaded_at) VALUES (1,'legal','scan.pdf',?,?,?, '2026-11-29T12:00:00Z')",
               (rel, n, hashlib.sha256(data).hexdigest()))
    left -= n; i += 1
db.executemany("INSERT INTO activity_log (at, actor_id, account_id, action, target, ip, detail) VALUES ('2026-11-29T12:00:00Z', 1, 1, 'view', ?, '203.0.113.9', '')",
               [(f"document:{k}",) for k in range(5000)])
db.commit()
PY
echo "changed: +1 % documents, +5,000 activity rows"
measure "leafguard 1% backup" "$LG" run backup --config lg/leafguard.yml
measure "restic 1% backup" restic backup --repo "$DIR/restic" "$DIR/data"
measure "borg 1% backup" borg create "$DIR/borg::second" "$DIR/data"

rm -rf r-lg r-restic r-borg; mkdir -p r-borg
measure "leafguard restore" "$LG" restore latest --to "$DIR/r-lg" --config lg/leafguard.yml
measure "restic restore" restic restore latest --repo "$DIR/restic" --target "$DIR/r-restic"
measure "borg restore" sh -c "cd '$DIR/r-borg' && borg extract '$DIR/borg::second'"
diff -rq "$DIR/data/documents" "$DIR/r-lg/documents" >/dev/null && echo "leafguard restore: documents identical"

echo
echo "stored: leafguard $(du -sh regions 2>/dev/null | cut -f1 || true)$(du -sh lg/regions | cut -f1) (4+2 shards, 1.5x), restic $(du -sh restic | cut -f1), borg $(du -sh borg | cut -f1)"
echo
echo "ratios (leafguard time / other time; below 1 means leafguard is faster):"
awk -F'|' '{t[$1]=$2; m[$1]=$3} END {
  split("full backup|1% backup|restore", ops, "|")
  for (i = 1; i <= 3; i++) {
    op = ops[i]; lg = t["leafguard " op]
    printf "  %-12s vs restic %.2f   vs borg %.2f\n", op, lg / t["restic " op], lg / t["borg " op]
  }
  peak = 0; for (k in m) if (k ~ /^leafguard/ && m[k] > peak) peak = m[k]
  printf "leafguard peak memory: %d MiB (bound: 512 MiB)\n", peak
}' "$DIR/results"
