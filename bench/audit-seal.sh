#!/usr/bin/env bash
# Seals and verifies ROWS planner activity-log rows (default 1,000,000) with the release
# build and prints the times. Usage: bench/audit-seal.sh [ROWS]
set -euo pipefail
rows=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/leafguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release >/dev/null)
work=$(mktemp -d /tmp/leafguard-audit-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/planner-data/documents" "$work/jobs" "$work/keys"
"$bin" keys init "$work/keys/master.key" >/dev/null
cat > "$work/leafguard.yml" <<YML
data: planner-data
state: state
keys: {master: "file:keys/master.key"}
regions:
  primary: {backend: local, path: regions/primary, locations: 6}
YML
printf 'name: seal\nsteps: [seal-activity]\n' > "$work/jobs/seal.yml"
# Rows shaped like the planner's: timestamps, actors, accounts, actions, targets, addresses, details.
sqlite3 "$work/planner-data/planner.db" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE activity_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor_id INTEGER, account_id INTEGER,
  action TEXT NOT NULL, target TEXT, ip TEXT, detail TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO activity_log SELECT i, strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + i * 7, 'unixepoch'), i % 997, i % 331,
  CASE i % 6 WHEN 0 THEN 'login' WHEN 1 THEN 'view' WHEN 2 THEN 'update' WHEN 3 THEN 'export' WHEN 4 THEN 'grant' ELSE 'view' END,
  'entry:' || (i * 13 % 100000), '10.' || (i % 256) || '.' || (i / 256 % 256) || '.7',
  CASE WHEN i % 4 = 0 THEN NULL ELSE 'opened section ' || (i % 12) || ' from the web app' END FROM n;
SQL
echo "activity rows: $(sqlite3 "$work/planner-data/planner.db" 'SELECT count(*) FROM activity_log'), database $(du -h "$work/planner-data/planner.db" | cut -f1)"
t() { local s=$(date +%s.%N); "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }; echo "$(echo "$(date +%s.%N) - $s" | bc)"; }
echo "seal (leafguard run seal, whole job incl. storing the seal in 6 locations): $(t "$bin" run seal --config "$work/leafguard.yml") s"
grep -o -m1 "seal 1: [^;]*" "$work/out" || true
echo "verify (leafguard audit verify-activity): $(t "$bin" audit verify-activity --config "$work/leafguard.yml") s"
head -1 "$work/out"
echo "seal file: $(du -h "$work"/state/audit/activity/seal-00000001 | cut -f1)"
