#!/usr/bin/env bash
# Runs a command with a PostgreSQL and a Redis for the tests (TEST_DATABASE_URL, TEST_REDIS_URL)
# and SMTP servers and a webhook receiver for the alert tests (TEST_SMTP_URL with
# TEST_SMTP_MESSAGES_URL; TEST_SMTP_AUTH_URL, one that requires a login; TEST_WEBHOOK_URL),
# starting whichever is not running already, and stopping afterwards only what it started.
# Set those variables yourself to use your own.
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
started_receivers=()
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
  for pid in ${started_receivers[@]+"${started_receivers[@]}"}; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
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
# Set before the test receivers start, so that one failing to start stops whatever did.
trap cleanup EXIT

# A real SMTP server and a webhook receiver for the alert tests (scripts/test-receivers; their
# headers say what they record). Set TEST_SMTP_URL / TEST_WEBHOOK_URL yourself to skip them.
# The SMTP one needs aiosmtpd: python3's own if it has it (Debian's python3-aiosmtpd), else
# PyPI's, installed into data/test-venv once (python3 -m venv needs Debian's python3-venv).
SMTP_PORT="${POSTURE_TEST_SMTP_PORT:-2525}"
SMTP_HTTP_PORT="${POSTURE_TEST_SMTP_HTTP_PORT:-2526}"
SMTP_AUTH_PORT="${POSTURE_TEST_SMTP_AUTH_PORT:-2529}"
SMTP_AUTH_HTTP_PORT="${POSTURE_TEST_SMTP_AUTH_HTTP_PORT:-2530}"
WEBHOOK_PORT="${POSTURE_TEST_WEBHOOK_PORT:-2527}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RECEIVERS="$ROOT/scripts/test-receivers"
TEST_VENV="$ROOT/data/test-venv"
answers() { curl -fs -m 2 -o /dev/null "$1"; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
start_receiver() { # NAME URL PORT... -- COMMAND...: runs COMMAND unless URL answers already
  local name=$1 url=$2 port pid log; shift 2
  local ports=()
  while [ "$1" != "--" ]; do ports+=("$1"); shift; done
  shift
  if answers "$url"; then return 0; fi
  for port in "${ports[@]}"; do
    if port_taken "$port"; then say "port $port is taken by something other than a $name"; return 1; fi
  done
  log="/tmp/posture-test-$name-${ports[0]}.log"
  "$@" >"$log" 2>&1 &
  pid=$!
  started_receivers+=("$pid")
  for _ in $(seq 100); do
    answers "$url" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  say "the $name did not start; the end of $log:"
  tail -n 5 "$log" >&2
  return 1
}
smtp_python=""
find_smtp_python() { # sets smtp_python to a python3 that can import aiosmtpd
  if python3 -c 'import aiosmtpd' 2>/dev/null; then smtp_python=python3; return 0; fi
  if ! "$TEST_VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    say "installing aiosmtpd from PyPI into $TEST_VENV"
    if [ ! -x "$TEST_VENV/bin/pip" ] && ! python3 -m venv --clear "$TEST_VENV" >/dev/null 2>&1; then
      rm -rf "$TEST_VENV"
      say "python3 -m venv failed; install python3-venv (scripts/bootstrap.sh does) or python3-aiosmtpd"
      return 1
    fi
    "$TEST_VENV/bin/pip" install -q --disable-pip-version-check aiosmtpd || return 1
  fi
  smtp_python="$TEST_VENV/bin/python"
}
if [ -z "${TEST_SMTP_URL:-}" ]; then
  if ! answers "http://127.0.0.1:$SMTP_HTTP_PORT/messages"; then find_smtp_python; fi
  start_receiver smtp-sink "http://127.0.0.1:$SMTP_HTTP_PORT/messages" "$SMTP_PORT" "$SMTP_HTTP_PORT" -- \
    "$smtp_python" "$RECEIVERS/smtp_sink.py" --smtp-port "$SMTP_PORT" --http-port "$SMTP_HTTP_PORT"
  export TEST_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
  export TEST_SMTP_MESSAGES_URL="http://127.0.0.1:$SMTP_HTTP_PORT/messages"
fi
# A second SMTP server that takes only posture:relay-secret, for the refused-login test.
if [ -z "${TEST_SMTP_AUTH_URL:-}" ]; then
  if ! answers "http://127.0.0.1:$SMTP_AUTH_HTTP_PORT/messages"; then
    [ -n "$smtp_python" ] || find_smtp_python
  fi
  start_receiver smtp-auth-sink "http://127.0.0.1:$SMTP_AUTH_HTTP_PORT/messages" \
    "$SMTP_AUTH_PORT" "$SMTP_AUTH_HTTP_PORT" -- \
    "$smtp_python" "$RECEIVERS/smtp_sink.py" --smtp-port "$SMTP_AUTH_PORT" \
    --http-port "$SMTP_AUTH_HTTP_PORT" --require-auth posture:relay-secret
  export TEST_SMTP_AUTH_URL="smtp://127.0.0.1:$SMTP_AUTH_PORT"
fi
if [ -z "${TEST_WEBHOOK_URL:-}" ]; then
  start_receiver webhook-sink "http://127.0.0.1:$WEBHOOK_PORT/_received" "$WEBHOOK_PORT" -- \
    python3 "$RECEIVERS/webhook_sink.py" --port "$WEBHOOK_PORT"
  export TEST_WEBHOOK_URL="http://127.0.0.1:$WEBHOOK_PORT"
fi

say "PostgreSQL at ${TEST_DATABASE_URL%%@*}@…, Redis at $TEST_REDIS_URL, SMTP at $TEST_SMTP_URL, webhooks at $TEST_WEBHOOK_URL"
"$@"
