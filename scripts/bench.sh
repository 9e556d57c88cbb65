#!/usr/bin/env bash
# `make bench`: generates the large profile on SQLite and on PostgreSQL (timed), then runs
# `posture-dev bench` on each (PostgreSQL with the Redis cache too). Run through test-services.sh,
# which provides TEST_DATABASE_URL and TEST_REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/posture
DEV=target/release/posture-dev
DIR=data/bench
mkdir -p "$DIR"

timed_seed() {
  local started=$SECONDS
  DATABASE_URL="$1" "$BIN" seed --large
  echo "== generating the large profile on $2 took $((SECONDS - started)) s"
}

echo "== SQLite ($DIR/large.db)"
rm -f "$DIR"/large.db*
timed_seed "sqlite://$DIR/large.db" SQLite
DATABASE_URL="sqlite://$DIR/large.db" "$DEV" bench

echo "== PostgreSQL"
PG_URL="${TEST_DATABASE_URL%/*}/posture_bench"
psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS posture_bench" -c "CREATE DATABASE posture_bench"
trap 'psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS posture_bench" || true' EXIT
timed_seed "$PG_URL" PostgreSQL
psql "$PG_URL" -qc "VACUUM (ANALYZE) clients, sites, appliances, incidents, check_results, check_latest, compliance_bundles, compliance_snapshots"
DATABASE_URL="$PG_URL" "$DEV" bench
DATABASE_URL="$PG_URL" REDIS_URL="$TEST_REDIS_URL" "$DEV" bench --iterations 5
