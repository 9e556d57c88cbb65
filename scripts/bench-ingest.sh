#!/usr/bin/env bash
# Appliance API ingest figures on SQLite (a fresh file) and, when TEST_DATABASE_URL names a
# PostgreSQL server (scripts/test-services.sh sets it), on a fresh PostgreSQL database.
# Extra arguments go to `posture-dev bench-ingest` (e.g. --duration 20s).
set -euo pipefail

bin="${POSTURE_DEV_BIN:-target/release/posture-dev}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

echo "== SQLite"
"$bin" --database-url "sqlite://$dir/bench-ingest.db" bench-ingest "$@"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  # The posture_test_ prefix lets test-services.sh drop it afterwards.
  name=posture_test_bench_ingest
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
  echo "== PostgreSQL"
  "$bin" --database-url "${TEST_DATABASE_URL%/*}/$name" bench-ingest "$@"
fi
