#!/usr/bin/env bash
# How late one server hears of another's changes: two `posture serve` on a fresh PostgreSQL
# database, 300 reports sent to A (one every ~60 ms, each opening an incident), then B's
# `posture_cluster_notice_lag_seconds` histogram, printed bucket by bucket.
#
#   scripts/test-services.sh scripts/measure-notice-lag.sh     (POSTURE_BIN: target/debug/posture)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:?run under scripts/test-services.sh}"
bin="${POSTURE_BIN:-target/debug/posture}"
db=posture_notice_lag
psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export DATABASE_URL="${TEST_DATABASE_URL%/*}/$db"
pids=()
cleanup() {
  for pid in ${pids[@]+"${pids[@]}"}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$bin" seed --incidents 2000 >/dev/null 2>&1
site=$(psql "$DATABASE_URL" -qtAc "SELECT site_id FROM sites ORDER BY id LIMIT 1")
key=$("$bin" appliance add --site "$site" --hostname lag-host | tail -1)
for port in 3301 3302; do
  "$bin" serve --addr "127.0.0.1:$port" --api-key-rate 1000 --silence-sweep-secs 0 >/dev/null 2>&1 &
  pids+=($!)
done
for port in 3301 3302; do
  for _ in $(seq 150); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
done
python3 - "$site" "$key" <<'PY'
import datetime, json, sys, time, urllib.request
site, key = sys.argv[1], sys.argv[2]
for i in range(300):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    drift = [{"check_type": "bitlocker_status", "hostname": f"LAG-{i}", "severity": "high",
              "state": "drifted", "detected_at": now}]
    request = urllib.request.Request(
        "http://127.0.0.1:3301/api/v1/reports",
        data=json.dumps({"site_id": site, "checks": [], "drift": drift}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
    time.sleep(0.05)
time.sleep(2)
metrics = urllib.request.urlopen("http://127.0.0.1:3302/metrics").read().decode().splitlines()
name = "posture_cluster_notice_lag_seconds"
count = next(l.split()[-1] for l in metrics if l.startswith(name + "_count"))
print(f"notices B read from A: {count}")
for line in metrics:
    if line.startswith(name + "_bucket"):
        bound = line.split('le="')[1].split('"')[0]
        print(f"  within {bound} s: {float(line.split()[-1]):.0f}")
PY
