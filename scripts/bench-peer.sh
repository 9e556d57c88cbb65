#!/usr/bin/env bash
# `make bench-peer`: Posture's dashboard API side by side with a peer written on the seed
# system's own stack (FastAPI + asyncpg + Redis, /work/shared/peers/fastapi-seed), in one run,
# on the same machine, PostgreSQL and Redis, with the same data size and the same load.
#
# Each side gets its own database (50 clients, 200 sites, 50,000 incidents: the peer's
# `seed.py` default and Posture's `seed` demo profile) and its own Redis db (8 for the peer,
# 9 for Posture, flushed first). Then, one server at a time, five matching endpoints each get a
# 3 s wrk warm-up and a `wrk -t2 -c64 -d$DURATION --latency` run:
#
#   seed stack                               Posture (signed in: a session cookie on every request)
#   /api/stats                               /api/get_overview
#   /api/sites?limit=25                      /api/list_sites?filter[q]=
#   /api/incidents?limit=100&offset=0        /api/list_incident_window?key[window]=0
#   /api/incidents?limit=100&offset=49900    /api/list_incident_window?key[window]=499
#   /api/admin/health                        /api/health
#
# wrk, both servers, PostgreSQL and Redis share the machine's cores, so only the ratio between
# the two columns means much. The table goes to stdout; raw wrk output and server logs go to
# data/bench-peer/<time>/.
#
#   make bench-peer                                            (builds the release first)
#   DURATION=5s scripts/test-services.sh scripts/bench-peer.sh  (with target/release/posture as is)
#
# Environment: PEER_DIR (the peer's folder, default ../shared/peers/fastapi-seed from the
# repository root; it is copied, never written to), DURATION (15s), WARMUP (3s),
# PEER_VENV (data/peer-venv, kept between runs), and TEST_DATABASE_URL / TEST_REDIS_URL from
# scripts/test-services.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PEER_DIR="${PEER_DIR:-../shared/peers/fastapi-seed}"
PEER_VENV="${PEER_VENV:-data/peer-venv}"
DURATION="${DURATION:-15s}"
WARMUP="${WARMUP:-3s}"
PEER_PORT=8950
POSTURE_PORT=3995
PEER_BASE="http://127.0.0.1:$PEER_PORT"
POSTURE_BASE="http://127.0.0.1:$POSTURE_PORT"
PEER_DB=posture_peer_seed
POSTURE_DB=posture_peer_posture
EMAIL=bench@posture.local
PASSWORD=bench-peer-1
posture=target/release/posture

say() { echo "bench-peer: $*" >&2; }
die() { say "$*"; exit 1; }

[ -d "$PEER_DIR" ] || die "the peer's folder $PEER_DIR is missing (set PEER_DIR)"
[ -x "$posture" ] || die "$posture is missing: make build-release"
: "${TEST_DATABASE_URL:?run under scripts/test-services.sh}" "${TEST_REDIS_URL:?run under scripts/test-services.sh}"
for tool in wrk psql redis-cli curl python3; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

PG_BASE="${TEST_DATABASE_URL%/*}"
PEER_REDIS="${TEST_REDIS_URL%/}/8"
POSTURE_REDIS="${TEST_REDIS_URL%/}/9"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="data/bench-peer/$(date +%Y%m%d-%H%M%S)"
work=$(mktemp -d)
server_pid=""
mkdir -p "$RESULTS"

stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
drop_databases() {
  for db in "$PEER_DB" "$POSTURE_DB"; do
    psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
cleanup() {
  stop_server
  drop_databases
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the peer: a copy of its folder and a venv kept in data/ -----------------------------------
cp -r "$PEER_DIR" "$work/peer"
chmod -R u+w "$work/peer"
rm -rf "$work/peer/.venv" "$work/peer/results"
want=$(sha256sum "$work/peer/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$PEER_VENV/bin/uvicorn" ] || [ "$(cat "$PEER_VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  say "creating $PEER_VENV from the peer's requirements.txt"
  rm -rf "$PEER_VENV"
  python3 -m venv "$PEER_VENV"
  "$PEER_VENV/bin/pip" install -q --disable-pip-version-check -r "$work/peer/requirements.txt"
  echo "$want" >"$PEER_VENV/.requirements.sha256"
fi
PEER_VENV=$(cd "$PEER_VENV" && pwd)

# --- databases, Redis, data ---------------------------------------------------------------------
drop_databases
for db in "$PEER_DB" "$POSTURE_DB"; do
  psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
done
redis-cli -u "$PEER_REDIS" FLUSHDB >/dev/null
redis-cli -u "$POSTURE_REDIS" FLUSHDB >/dev/null

say "seeding the peer's default data set"
"$PEER_VENV/bin/python" "$work/peer/seed.py" --dsn "$PG_BASE/$PEER_DB" >"$RESULTS/seed-peer.log"
say "seeding Posture's demo profile"
export DATABASE_URL="$PG_BASE/$POSTURE_DB"
"$posture" seed >"$RESULTS/seed-posture.log" 2>&1
psql "$DATABASE_URL" -qc "VACUUM (ANALYZE) clients, sites, appliances, incidents, check_results, check_latest, compliance_bundles, compliance_snapshots"
"$posture" user add --email "$EMAIL" --role readonly --password "$PASSWORD" >/dev/null

# --- measuring ----------------------------------------------------------------------------------
# Usage: wait_for URL LOG: until URL answers 2xx, or fail when the server exits or takes 30 s.
wait_for() {
  for _ in $(seq 150); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "$server_pid" 2>/dev/null || die "the server exited: see $2"
    sleep 0.2
  done
  die "$1 did not answer within 30 s: see $2"
}

# Usage: check URL [MIN_ROWS]: the answer must be 200 (and, with MIN_ROWS, a JSON list or
# an object with a list of at least that many rows), before wrk is let loose on it.
check() {
  local code rows
  code=$(curl -gs -o "$work/body" -w '%{http_code}' "${headers[@]}" "$1")
  if [ "$code" != 200 ]; then
    say "$1 answered $code:"
    head -c 600 "$work/body" >&2; echo >&2
    exit 1
  fi
  if [ -n "${2:-}" ]; then
    rows=$(python3 -c 'import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict):
    d = next((v for v in d.values() if isinstance(v, list)), [])
print(len(d))' <"$work/body")
    [ "$rows" -ge "$2" ] || die "$1 answered 200 with $rows rows, expected at least $2"
  fi
}

# Usage: to_ms 7.20ms|1.02s|850.00us: the latency in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1
    printf "%.1f", n * f }'
}

# Usage: wrk_run URL LABEL: warm-up, then the measured run (raw output in $RESULTS/LABEL.txt);
# appends "LABEL rps p50_ms p99_ms errors" to $RESULTS/summary.tsv.
wrk_run() {
  local url=$1 label=$2 out="$RESULTS/$2.txt" rps p50 p99 errors
  wrk -t2 -c64 -d"$WARMUP" "${headers[@]}" "$url" >/dev/null
  { echo "# $url"; wrk -t2 -c64 -d"$DURATION" --latency "${headers[@]}" "$url"; } >"$out"
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  errors=$(grep -E 'Non-2xx|Socket errors' "$out" | sed 's/^ *//' | paste -sd';' - || true)
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$rps" "$p50" "$p99" "${errors:-}" >>"$RESULTS/summary.tsv"
  say "$label: $rps req/s, p50 $p50 ms, p99 $p99 ms ${errors:+($errors)}"
}

LABELS=(stats sites incidents-0 incidents-49900 health)
ROWS=("" 25 100 100 "")
PEER_PATHS=(
  "/api/stats"
  "/api/sites?limit=25"
  "/api/incidents?limit=100&offset=0"
  "/api/incidents?limit=100&offset=49900"
  "/api/admin/health"
)
POSTURE_PATHS=(
  "/api/get_overview"
  "/api/list_sites?filter%5Bq%5D="
  "/api/list_incident_window?key%5Bwindow%5D=0"
  "/api/list_incident_window?key%5Bwindow%5D=499"
  "/api/health"
)

# Usage: measure SIDE BASE PATH...: check every endpoint, then wrk each in turn.
measure() {
  local side=$1 base=$2 i
  shift 2
  local paths=("$@")
  for i in "${!paths[@]}"; do check "$base${paths[$i]}" "${ROWS[$i]}"; done
  for i in "${!paths[@]}"; do wrk_run "$base${paths[$i]}" "$side-${LABELS[$i]}"; done
}

: >"$RESULTS/summary.tsv"

say "seed stack: uvicorn, 2 workers, on $PEER_BASE"
(cd "$work/peer" && DATABASE_URL="$PG_BASE/$PEER_DB" REDIS_URL="$PEER_REDIS" exec \
  "$PEER_VENV/bin/uvicorn" app:app --host 127.0.0.1 --port "$PEER_PORT" --workers 2 \
  --no-access-log --log-level warning) >"$RESULTS/uvicorn.log" 2>&1 &
server_pid=$!
wait_for "$PEER_BASE/api/admin/health" "$RESULTS/uvicorn.log"
headers=()
measure peer "$PEER_BASE" "${PEER_PATHS[@]}"
stop_server

say "Posture on $POSTURE_BASE"
"$posture" serve --addr "127.0.0.1:$POSTURE_PORT" --redis-url "$POSTURE_REDIS" >"$RESULTS/posture.log" 2>&1 &
server_pid=$!
wait_for "$POSTURE_BASE/health" "$RESULTS/posture.log"
curl -fs -c "$work/cookies" -o /dev/null -d "email=$EMAIL&password=$PASSWORD&next=/" "$POSTURE_BASE/api/login"
cookie=$(awk '$6 == "posture_session" {print $6 "=" $7}' "$work/cookies")
[ -n "$cookie" ] || die "signing in set no posture_session cookie"
headers=(-H "Cookie: $cookie")
measure posture "$POSTURE_BASE" "${POSTURE_PATHS[@]}"
stop_server

# --- the table ----------------------------------------------------------------------------------
# Usage: cell SIDE-LABEL: "10,741 (7.2 ms, 31.8 ms)".
cell() {
  awk -F'\t' -v l="$1" '$1 == l {
    r = sprintf("%d", $2 + 0.5); s = ""
    while (length(r) > 3) { s = "," substr(r, length(r) - 2) s; r = substr(r, 1, length(r) - 3) }
    printf "%s (%s ms, %s ms)", r s, $3, $4 }' "$RESULTS/summary.tsv"
}
field() { awk -F'\t' -v l="$1" -v f="$2" '$1 == l {print $f}' "$RESULTS/summary.tsv"; }

NAMES=("stats / get_overview" "sites / list_sites" "incident window at 0" "incident window at 49,900" "health")
pg_version=$(psql "$TEST_DATABASE_URL" -qtAc 'SHOW server_version' | cut -d' ' -f1)
echo "bench-peer $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average at start $load_before"
echo "$("$PEER_VENV/bin/python" --version), PostgreSQL $pg_version, $(redis-server --version | awk '{print $1, $3}' | tr -d 'v='), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $("$posture" --version)"
echo "wrk -t2 -c64 -d$DURATION --latency after a $WARMUP warm-up, on the same cores as both servers, PostgreSQL and Redis"
echo
printf '%-27s %-30s %-30s %s\n' "endpoint" "seed stack req/s (p50, p99)" "Posture req/s (p50, p99)" "ratio"
for i in "${!LABELS[@]}"; do
  peer_rps=$(field "peer-${LABELS[$i]}" 2) posture_rps=$(field "posture-${LABELS[$i]}" 2)
  printf '%-27s %-30s %-30s %sx\n' "${NAMES[$i]}" "$(cell "peer-${LABELS[$i]}")" \
    "$(cell "posture-${LABELS[$i]}")" "$(awk -v a="$posture_rps" -v b="$peer_rps" 'BEGIN {printf "%.1f", a / b}')"
done
errors=$(awk -F'\t' '$5 != "" {print "  " $1 ": " $5}' "$RESULTS/summary.tsv")
echo
if [ -n "$errors" ]; then echo "wrk reported errors:"; echo "$errors"; else echo "no non-2xx answers, no socket errors"; fi
echo "raw wrk output and server logs: $RESULTS/"
