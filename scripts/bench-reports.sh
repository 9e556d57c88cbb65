#!/usr/bin/env bash
# `make bench-reports`: a client of 20 sites with a month of 100,000 check results (200
# bundles of 25 results per site), 2,000 incidents, daily snapshots, 200 evidence bundles per
# site and 3,000 audit entries, on PostgreSQL, against a fresh database and a `posture serve`.
#
# 1. The report page (server-rendered HTML) and its server function: the first reading
#    (generates the closed month's report from the raw rows and stores it), then 200 readings
#    each (the stored report): p50 / p95 / max.
# 2. The evidence pack, downloaded 3 times: size, MB/s on the wire and of the files inside,
#    and the server's RSS before, at its peak during (sampled every 20 ms) and after.
#
#   make bench-reports                                          (builds the release first)
#   scripts/test-services.sh scripts/bench-reports.sh           (target/release/posture as is)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:?run under scripts/test-services.sh}"
bin="${POSTURE_BIN:-target/release/posture}"
db=posture_bench_reports
port=3996
psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export DATABASE_URL="${TEST_DATABASE_URL%/*}/$db"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$bin" migrate >/dev/null
month=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
start="${month}-01T00:00:00Z"
psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -v start="$start" <<'SQL'
SET client_min_messages = error;
INSERT INTO clients (id, name) VALUES (1, 'Bench Client');
INSERT INTO sites (id, site_id, client_id, clinic_name, tier, last_checkin_at, created_at)
SELECT g, 'bench-' || g, 1, 'Bench Clinic ' || g, 'small', now(), now() - interval '120 days'
FROM generate_series(1, 20) g;
INSERT INTO appliances (id, site_id, hostname, mac, agent_version, last_checkin_at, created_at)
SELECT g, g, 'FD-' || g, 'aa:bb:cc:00:00:' || lpad(g::text, 2, '0'), '1.0', now(), now() - interval '120 days'
FROM generate_series(1, 20) g;
INSERT INTO compliance_bundles (id, site_id, appliance_id, submitted_at, pass_count, warn_count, fail_count)
SELECT (s - 1) * 200 + b, s, s, :'start'::timestamptz + b * interval '3 hours 20 minutes', 20, 3, 2
FROM generate_series(1, 20) s, generate_series(1, 200) b;
INSERT INTO check_results (bundle_id, site_id, check_type, hostname, status, checked_at)
SELECT cb.id, cb.site_id,
       (ARRAY['windows_update', 'linux_packages', 'third_party_patches', 'reboot_pending',
              'defender_status', 'edr_agent', 'av_signatures', 'backup_job', 'backup_restore_test',
              'offsite_copy', 'event_log_forwarding', 'audit_policy', 'log_retention',
              'firewall_profile', 'inbound_rules', 'bitlocker_status', 'tls_config',
              'removable_media', 'local_admin_audit', 'password_policy', 'mfa_enforced',
              'inactive_accounts', 'service_health', 'ntp_sync', 'open_ports'])[r],
       'HOST-' || (r % 5),
       CASE WHEN random() < 0.03 THEN 'fail' WHEN random() < 0.08 THEN 'warn' ELSE 'pass' END,
       cb.submitted_at
FROM compliance_bundles cb, generate_series(1, 25) r;
INSERT INTO incidents (site_id, hostname, check_type, category, severity, severity_rank, status,
                       dedup_key, reported_at, resolved_at)
SELECT 1 + g % 20, 'HOST-' || (g % 5), 'backup_job', 'backup',
       (ARRAY['low', 'medium', 'high', 'critical'])[1 + g % 4], 1 + g % 4,
       CASE WHEN g % 10 = 0 THEN 'open' ELSE 'resolved' END, 'bench-' || g,
       :'start'::timestamptz + g * interval '20 minutes',
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE :'start'::timestamptz + g * interval '20 minutes' + (g % 300) * interval '1 minute' END
FROM generate_series(1, 2000) g;
INSERT INTO incident_history (incident_id, action, actor, note, at)
SELECT id, 'suppress', 'ops@bench.test', 'bench', reported_at + interval '5 minutes'
FROM incidents WHERE id % 25 = 0;
INSERT INTO compliance_snapshots (site_id, snapshot_at, day, score, category_scores)
SELECT s, d + interval '12 hours', d::date, 70 + random() * 25,
       '{"backup": 80, "patching": 75, "logging": 90}'::jsonb
FROM generate_series(1, 20) s,
     generate_series(:'start'::timestamptz - interval '1 month', :'start'::timestamptz + interval '1 month' - interval '1 day', interval '1 day') d;
INSERT INTO evidence_bundles (site_id, position, bundle_hash, prev_hash, created_at)
SELECT s, p, md5(s || '-' || p), CASE WHEN p = 1 THEN NULL ELSE md5(s || '-' || (p - 1)) END,
       :'start'::timestamptz + p * interval '3 hours 20 minutes'
FROM generate_series(1, 20) s, generate_series(1, 200) p;
INSERT INTO audit_log (actor, action, target, details, at)
SELECT 'ops@bench.test', 'site.update', 'bench-' || (1 + g % 20), '{}', :'start'::timestamptz + g * interval '10 minutes'
FROM generate_series(1, 3000) g;
ANALYZE;
SQL
POSTURE_USER_PASSWORD=bench-password-1 "$bin" user add --email bench@posture.test --role readonly >/dev/null
"$bin" serve --addr "127.0.0.1:$port" --silence-sweep-secs 0 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 150); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
# The monthly schedule stores the closed month's report at start: wait for it, then forget
# it, so the first reading below generates the report.
for _ in $(seq 100); do
  [ "$(psql "$DATABASE_URL" -qtAc "SELECT COUNT(*) FROM monthly_reports")" -gt 0 ] && break
  sleep 0.1
done
psql "$DATABASE_URL" -qc "DELETE FROM monthly_reports"
echo "bench-reports $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, month $month:" \
  "$(psql "$DATABASE_URL" -qtAc "SELECT COUNT(*) FROM check_results") check results," \
  "$(psql "$DATABASE_URL" -qtAc "SELECT COUNT(*) FROM sites") sites"
python3 - "http://127.0.0.1:$port" "$month" "$pid" <<'PY'
import http.cookiejar, statistics, sys, threading, time, urllib.parse, urllib.request

base, month, pid = sys.argv[1:]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
form = urllib.parse.urlencode({"email": "bench@posture.test", "password": "bench-password-1", "next": "/"}).encode()
opener.open(f"{base}/api/login", data=form).read()

def timed(path):
    started = time.perf_counter()
    with opener.open(base + path) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, len(body)

def rss_mib():
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]) / 1024

page = f"/reports/clients/1/{month}"
api = f"/api/get_report?kind=client&subject=1&month={month}"
first, size = timed(page)
print(f"report page, first reading (generates and stores): {first:.0f} ms, {size:,} bytes of HTML")
for name, path in [("report page (HTML)", page), ("get_report (JSON)", api)]:
    times = sorted(timed(path)[0] for _ in range(200))
    p95 = times[int(0.95 * len(times)) - 1]
    print(f"{name}, 200 readings: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms")

for run in range(1, 4):
    before = rss_mib()
    peak, done = [before], threading.Event()
    def sample():
        while not done.is_set():
            peak.append(rss_mib())
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    wire = 0
    with opener.open(f"{base}{page}/evidence.zip") as response:
        chunks = []
        while chunk := response.read(65536):
            wire += len(chunk)
            chunks.append(chunk)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    import io, zipfile
    inside = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(b"".join(chunks))).infolist())
    time.sleep(0.5)
    print(f"evidence pack #{run}: {wire / 1e6:.1f} MB zip ({inside / 1e6:.1f} MB of files) in {seconds:.2f} s: "
          f"{wire / 1e6 / seconds:.1f} MB/s on the wire, {inside / 1e6 / seconds:.1f} MB/s of files; "
          f"RSS {before:.0f} MiB before, {max(peak):.0f} MiB peak, {rss_mib():.0f} MiB after")
PY
