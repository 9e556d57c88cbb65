#!/usr/bin/env bash
# Two `posture serve` on one PostgreSQL with Redis as their shared cache, behind nginx:
# http://127.0.0.1:3000 (`make run-cluster`). The servers tell each other what changed through
# PostgreSQL (LISTEN/NOTIFY), so a report to one reaches dashboards on the other. Stops
# everything it started on Ctrl-C.
set -euo pipefail

PORT="${PORT:-3000}"
PORT_A="${PORT_A:-3001}"
PORT_B="${PORT_B:-3002}"
REDIS_PORT="${CLUSTER_REDIS_PORT:-6392}"
run=$(mktemp -d)
pids=()
say() { echo "run-cluster: $*" >&2; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap stop EXIT INT TERM

read -r pg_version pg_cluster pg_port pg_status _ < <(pg_lsclusters -h | awk '$2 == "main"')
[ "$pg_status" = online ] || as_root pg_ctlcluster "$pg_version" "$pg_cluster" start
if ! as_postgres "psql -p $pg_port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'posture'\"" | grep -q 1; then
  as_postgres "psql -p $pg_port -qc \"CREATE ROLE posture LOGIN PASSWORD 'posture'\""
fi
if ! as_postgres "psql -p $pg_port -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'posture_cluster'\"" | grep -q 1; then
  as_postgres "psql -p $pg_port -qc \"CREATE DATABASE posture_cluster OWNER posture\""
fi
export DATABASE_URL="postgres://posture:posture@127.0.0.1:$pg_port/posture_cluster"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --logfile "$run/redis.log" >/dev/null

posture=target/release/posture
$posture seed --if-empty
for port in "$PORT_A" "$PORT_B"; do
  $posture serve --addr "127.0.0.1:$port" --trusted-proxies 127.0.0.1 &
  pids+=($!)
done
for port in "$PORT_A" "$PORT_B"; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done

mkdir -p "$run/body" "$run/proxy" "$run/fastcgi" "$run/uwsgi" "$run/scgi"
sed -e "s|@RUN@|$run|g" -e "s|@PORT@|$PORT|g" -e "s|@PORT_A@|$PORT_A|g" -e "s|@PORT_B@|$PORT_B|g" \
  scripts/cluster/nginx.conf >"$run/nginx.conf"
nginx -c "$run/nginx.conf" &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
say "two servers (:$PORT_A, :$PORT_B) behind nginx on http://127.0.0.1:$PORT; Ctrl-C stops all"
say "demo admin login: admin@posture.local / posture-demo"
wait -n "${pids[@]}"
