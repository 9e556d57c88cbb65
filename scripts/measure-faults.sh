#!/usr/bin/env bash
# The figures of "When a dependency fails" on a release build: time to answer each route with
# PostgreSQL stopped (max of 20 tries), time from PostgreSQL's return to the first 200, and
# get_overview's p50/p99 under wrk with Redis up and with Redis down. Runs under
# scripts/test-services.sh (`make measure-faults`), on the fault tests' own PostgreSQL cluster
# and a Redis of its own, so nothing else is disturbed.
set -euo pipefail

PORT="${PORT:-3990}"
REDIS_PORT="${MEASURE_REDIS_PORT:-6391}"
DURATION="${DURATION:-10s}"
BASE="http://127.0.0.1:$PORT"
work=$(mktemp -d)
server_pid=""
say() { echo "measure-faults: $*" >&2; }
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  pg_ctlcluster $TEST_FAULT_PG_CLUSTER start >/dev/null 2>&1 || true
  psql "$TEST_FAULT_DATABASE_URL" -qc "DROP DATABASE IF EXISTS posture_measure" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$TEST_FAULT_DATABASE_URL" -qc "DROP DATABASE IF EXISTS posture_measure" >/dev/null
psql "$TEST_FAULT_DATABASE_URL" -qc "CREATE DATABASE posture_measure" >/dev/null
export DATABASE_URL="${TEST_FAULT_DATABASE_URL%/*}/posture_measure"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --logfile /dev/null >/dev/null
posture=target/release/posture
say "seeding the demo data set"
$posture seed --if-empty >/dev/null
$posture user add --email measure@posture.local --role readonly --password measure-faults-1 >/dev/null
$posture serve --addr "127.0.0.1:$PORT" --min-free-disk-mb 64 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -fs -c "$work/cookies" -o /dev/null -d "email=measure@posture.local&password=measure-faults-1&next=/" "$BASE/api/login"
cookie=$(awk '$6 == "posture_session" {print $6 "=" $7}' "$work/cookies")

# Usage: wrk_overview LABEL: p50 and p99 of get_overview under 2 threads and 64 connections.
wrk_overview() {
  wrk -t2 -c64 -d"$DURATION" --latency -H "Cookie: $cookie" "$BASE/api/get_overview" >"$work/wrk.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  printf '%-12s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p50" "$p99" "${errors:-0}"
}

echo "== get_overview under wrk -t2 -c64 -d$DURATION (PostgreSQL, Redis cache)"
wrk_overview "Redis up"
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
sleep 1
wrk_overview "Redis down"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --logfile /dev/null >/dev/null
sleep 2
wrk_overview "Redis back"

echo "== PostgreSQL stopped: time to answer, max of 20 tries (status)"
pg_ctlcluster $TEST_FAULT_PG_CLUSTER stop -m fast
for route in / /sites /incidents /api/get_overview '/api/list_sites?filter[q]=' /api/health; do
  max=0 codes=""
  for _ in $(seq 20); do
    read -r code took < <(curl -gs -o /dev/null -w '%{http_code} %{time_total}\n' -H "Cookie: $cookie" "$BASE$route")
    max=$(python3 -c "print(max($max, $took))")
    codes="$codes $code"
  done
  printf '%-28s max %6.3f s   (%s)\n' "$route" "$max" "$(echo $codes | tr ' ' '\n' | sort | uniq -c | xargs)"
done
read -r code took < <(curl -gs -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
  -H "Authorization: Bearer pst_unknown" -H "Content-Type: application/json" \
  -d '{"site_id":"x","checks":[]}' "$BASE/api/v1/reports")
printf '%-28s %6.3f s   (%s)\n' "POST /api/v1/reports" "$took" "$code"

# Usage: rss_kib: the server's resident memory.
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
echo "== PostgreSQL stopped, wrk -t2 -c1024 -d$DURATION on get_overview: shed at once, memory flat"
before=$(rss_kib) peak=$before
wrk -t2 -c1024 -d"$DURATION" --latency -H "Cookie: $cookie" "$BASE/api/get_overview" >"$work/wrk.txt" &
wrk_pid=$!
while kill -0 "$wrk_pid" 2>/dev/null; do
  now=$(rss_kib); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.2
done
awk '/Requests\/sec/ {rps = $2} $1 == "99%" {p99 = $2} /Non-2xx/ {shed = $5}
     END {printf "%s req/s answered, p99 %s, %s of them 503\n", rps, p99, shed}' "$work/wrk.txt"
echo "server RSS: $((before / 1024)) MiB before, $((peak / 1024)) MiB peak, $(($(rss_kib) / 1024)) MiB after"

started=$(date +%s.%N)
pg_ctlcluster $TEST_FAULT_PG_CLUSTER start
until [ "$(curl -gs -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$BASE/api/get_overview")" = 200 ]; do
  sleep 0.05
done
echo "== PostgreSQL started: first 200 after $(python3 -c "import time; print(f'{time.time() - $started:.2f}')") s (pg_ctlcluster start included)"
