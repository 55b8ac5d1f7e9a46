#!/usr/bin/env bash
# Generates a planner database with USERS users (default 1,000,000) in USERS*2/5 accounts
# (400,000), backs it up once (so that the region holds a repository and the scan's reports
# are archived, encrypted, as in a deployment), then times `leafguard scan` twice (the second
# with the trend against the first) and prints wall time and peak memory of each.
# Usage: bench/compliance-scan.sh [USERS]
set -euo pipefail
users=${1:-1000000}
accounts=$((users * 2 / 5))
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/leafguard"
[ -x "$bin" ] || (cd "$root" && swift build -c release >/dev/null)
work=$(mktemp -d /tmp/leafguard-scan-bench.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/planner-data/documents" "$work/jobs" "$work/keys"
"$bin" keys init "$work/keys/master.key" >/dev/null
printf 'data: planner-data\nstate: state\nkeys: {master: "file:keys/master.key"}\nregions:\n  primary: {backend: local, path: regions/primary, locations: 6}\n' > "$work/leafguard.yml"
db="$work/planner-data/planner.db"
sqlite3 "$db" < "$root/../shared/planner/schema.sql"
# Every account has an owner (user 2a-1 of a pair); the other users join as editors, viewers
# or executors of one account; factors, credentials and grants in realistic proportions.
sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;
BEGIN;
INSERT INTO password_policies VALUES (1, 8, 1, 0, 0, 0, '2019-01-01T00:00:00Z'), (2, 12, 1, 1, 1, 1, '2024-01-01T00:00:00Z'), (3, 12, 1, 1, 1, 1, '2025-06-01T00:00:00Z');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $accounts)
INSERT INTO accounts SELECT i, 'Family ' || i, CASE i % 3 WHEN 0 THEN 'individual' WHEN 1 THEN 'family' ELSE 'advisor' END, i % 4 = 0, '2021-01-01T00:00:00Z' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $users)
INSERT INTO users SELECT i, 'user' || i || '@example.org', CASE WHEN i % 50 = 0 THEN 'disabled' WHEN i % 33 = 0 THEN 'invited' ELSE 'active' END,
  '2021-01-01T00:00:00Z', CASE WHEN i % 9 = 0 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000 + (i % 500) * 86400 / 2, 'unixepoch') END FROM n;
INSERT INTO memberships SELECT ((id - 1) % $accounts) + 1, id, CASE WHEN id <= $accounts THEN 'owner' ELSE CASE id % 4 WHEN 0 THEN 'viewer' WHEN 1 THEN 'executor' ELSE 'editor' END END,
  CASE WHEN id <= $accounts THEN NULL ELSE ((id - 1) % $accounts) + 1 END, '2021-01-01T00:00:00Z' FROM users;
INSERT INTO credentials SELECT id, CASE id % 10 WHEN 0 THEN '\$2b\$11\$abcdefghijklmnopqrstuuJ3pV7cKk2t2X9yq1Xg2o0Gk1m2n3o4p' WHEN 1 THEN '5f4dcc3b5aa765d61d8327deb882cf99'
  WHEN 2 THEN '\$argon2i\$v=19\$m=65536,t=3,p=1\$c2FsdHNhbHQ\$aGFzaGhhc2hoYXNoaGFzaA' ELSE '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHRzYWx0\$aGFzaGhhc2hoYXNoaGFzaGhhc2g' END,
  '2024-02-01T00:00:00Z', 1 + id % 3 FROM users WHERE id % 97 != 0;
INSERT INTO mfa_factors (user_id, kind, created_at, verified_at, disabled_at) SELECT id, CASE id % 5 WHEN 0 THEN 'sms' WHEN 1 THEN 'webauthn' ELSE 'totp' END,
  '2024-01-01T00:00:00Z', CASE WHEN id % 13 = 0 THEN NULL ELSE '2024-01-02T00:00:00Z' END, CASE WHEN id % 29 = 0 THEN '2025-01-01T00:00:00Z' END FROM users WHERE id % 3 != 0;
INSERT INTO mfa_factors (user_id, kind, created_at, verified_at) SELECT id, 'recovery_codes', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z' FROM users WHERE id % 7 = 0;
INSERT INTO grants SELECT m.account_id, m.user_id, s.section, CASE WHEN (m.user_id + s.k) % 3 = 0 THEN 'write' ELSE 'read' END
  FROM memberships m JOIN (SELECT 'finances' AS section, 0 AS k UNION ALL SELECT 'medical', 1 UNION ALL SELECT 'legal', 2) s
  WHERE m.role NOT IN ('owner', 'co-owner');
COMMIT;
SQL
for t in accounts users memberships credentials mfa_factors grants; do printf '%s %s  ' "$t" "$(sqlite3 "$db" "SELECT count(*) FROM $t")"; done; echo
echo "database: $(du -h "$db" | cut -f1) in $work"
printf 'name: backup\nsteps: [backup]\n' > "$work/jobs/backup.yml"
"$bin" run backup --config "$work/leafguard.yml" > /dev/null
for pass in first second; do
  /usr/bin/time -f "scan ($pass, all four formats, manifest, archived encrypted): %e s wall, %M KiB peak memory" \
    "$bin" scan --config "$work/leafguard.yml" --out "$work/out" > "$work/scan.log"
done
grep -o '"findings" : [0-9]*' "$work/out/manifest.json" || true
ls -l "$work/out" | awk 'NR>1 {printf "  %s %s bytes\n", $9, $5}'
grep archived "$work/scan.log" || true
