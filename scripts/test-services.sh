#!/usr/bin/env bash
# Runs a command with a PostgreSQL and a Redis for the tests (TEST_DATABASE_URL, TEST_REDIS_URL),
# starting whichever is not running already, and stopping afterwards only what it started.
# Set TEST_DATABASE_URL / TEST_REDIS_URL yourself to use servers of your own.
# The fault tests get a PostgreSQL cluster of their own (TEST_FAULT_DATABASE_URL), which they
# stop and start with `pg_ctlcluster $TEST_FAULT_PG_CLUSTER stop|start` while the shared one
# stays up for every other test.
set -euo pipefail

say() { echo "test-services: $*" >&2; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

started_pg=""
started_fault_pg=""
FAULT_CLUSTER=posture_faults
started_redis=""
REDIS_PORT="${POSTURE_TEST_REDIS_PORT:-6390}"

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  read -r pg_version pg_cluster pg_port pg_status _ < <(pg_lsclusters -h | awk -v c="$FAULT_CLUSTER" '$2 != c' | sort -V | tail -1)
  if [ "$pg_status" != "online" ]; then
    as_root pg_ctlcluster "$pg_version" "$pg_cluster" start
    started_pg="$pg_version $pg_cluster"
  fi
  if ! as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'posture_test'\"" | grep -q 1; then
    as_postgres "psql -qc \"CREATE ROLE posture_test LOGIN CREATEDB PASSWORD 'posture_test'\""
  fi
  export TEST_DATABASE_URL="postgres://posture_test:posture_test@127.0.0.1:$pg_port/postgres"
fi

FAULT_PG_PORT="${POSTURE_TEST_FAULT_PG_PORT:-5499}"
if [ -z "${TEST_FAULT_DATABASE_URL:-}" ]; then
  fault_version=$(pg_lsclusters -h | awk -v c="$FAULT_CLUSTER" '$2 != c {print $1}' | sort -V | tail -1)
  if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$FAULT_CLUSTER"; then
    as_root pg_createcluster "$fault_version" "$FAULT_CLUSTER" -p "$FAULT_PG_PORT" >/dev/null
  fi
  fault_status=$(pg_lsclusters -h | awk -v c="$FAULT_CLUSTER" '$2 == c {print $4}')
  if [ "$fault_status" != "online" ]; then
    as_root pg_ctlcluster "$fault_version" "$FAULT_CLUSTER" start
    started_fault_pg="$fault_version $FAULT_CLUSTER"
  fi
  if ! as_postgres "psql -p $FAULT_PG_PORT -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'posture_test'\"" | grep -q 1; then
    as_postgres "psql -p $FAULT_PG_PORT -qc \"CREATE ROLE posture_test LOGIN CREATEDB PASSWORD 'posture_test'\""
  fi
  export TEST_FAULT_PG_CLUSTER="$fault_version $FAULT_CLUSTER"
  export TEST_FAULT_DATABASE_URL="postgres://posture_test:posture_test@127.0.0.1:$FAULT_PG_PORT/postgres"
fi

if [ -z "${TEST_REDIS_URL:-}" ]; then
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --pidfile "/tmp/posture-test-redis-$REDIS_PORT.pid" --logfile /dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    started_redis=1
  fi
  export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
fi

cleanup() {
  for db in $(psql "$TEST_DATABASE_URL" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'posture_test_%'" 2>/dev/null); do
    psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done
  for db in $(psql "$TEST_FAULT_DATABASE_URL" -qtAc "SELECT datname FROM pg_database WHERE datname LIKE 'posture_fault_%'" 2>/dev/null); do
    psql "$TEST_FAULT_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done
  [ -n "$started_redis" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  if [ -n "$started_pg" ]; then as_root pg_ctlcluster $started_pg stop || true; fi
  # A fault test may leave its cluster stopped; stop it in any case if this run started it.
  if [ -n "$started_fault_pg" ]; then as_root pg_ctlcluster $started_fault_pg stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
say "PostgreSQL at ${TEST_DATABASE_URL%%@*}@…, Redis at $TEST_REDIS_URL"
"$@"
