#!/usr/bin/env bash
# `make measure-incidents`: the incident list's browser figures at 10,000, 100,000 and
# 1,000,000 incidents, each on a freshly generated SQLite database and a release server.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${POSTURE_MEASURE_PORT:-3301}"
dir="$(mktemp -d)"
server=""
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for profile in 10000 100000 1000000; do
  export DATABASE_URL="sqlite://$dir/incidents-$profile.db"
  target/release/posture seed --incidents "$profile" >/dev/null
  target/release/posture serve --addr "127.0.0.1:$PORT" >/dev/null &
  server=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  (cd end2end && node measure-incidents.mjs "http://127.0.0.1:$PORT")
  kill $server; wait $server 2>/dev/null || true
done
