#!/usr/bin/env bash
# `make measure`: the release site's asset sizes (raw, gzip, brotli), then the browser figures
# of end2end/measure.mjs against a release server on a throwaway demo database.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${POSTURE_MEASURE_PORT:-3300}"
echo "release assets (bytes): raw, gzip -9, brotli -q 11"
for file in target/site/pkg/posture.wasm target/site/pkg/posture.js target/site/pkg/posture.css; do
  printf '  %-32s %9d %9d %9d\n' "$file" "$(wc -c < "$file")" "$(gzip -9c "$file" | wc -c)" "$(brotli -q 11 -c "$file" | wc -c)"
done
dir="$(mktemp -d)"
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
export DATABASE_URL="sqlite://$dir/measure.db"
target/release/posture seed >/dev/null
target/release/posture serve --addr "127.0.0.1:$PORT" >/dev/null &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
(cd end2end && node measure.mjs "http://127.0.0.1:$PORT")
