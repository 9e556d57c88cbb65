#!/usr/bin/env bash
# `make bench-alerts`: alert delivery on PostgreSQL, with the real SMTP server and webhook
# receiver of scripts/test-services.sh, against a fresh database and a `posture serve`.
#
# 1. Latency: one rule sends to 50 e-mail and 50 webhook channels; 10 reports, 0.5 s apart,
#    each open one critical incident: 1,000 alerts. Each is timed from its report's
#    acknowledgement to the SMTP server accepting the mail or the receiver getting the POST.
# 2. Storm: 10,000 critical incidents as fast as the API takes them (reports of 100), with a
#    rule to one mailbox and one webhook, in 4 rounds that alternate with 4 rounds without the
#    rule: messages sent while it lasts (bounded by the hourly limit per rule and channel, the
#    rest folded into digests), ingest throughput of both, and the server's memory.
# 3. The storm at the pace of 10,000 incidents in a minute, with the rule and without: the
#    throughput reached and how long each report waits for its answer.
#
#   make bench-alerts                                             (builds the release first)
#   scripts/test-services.sh scripts/bench-alerts.sh              (target/release/posture as is)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:?run under scripts/test-services.sh}" "${TEST_SMTP_URL:?}" "${TEST_WEBHOOK_URL:?}"
bin="${POSTURE_BIN:-target/release/posture}"
db=posture_bench_alerts
port=3995
psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
export DATABASE_URL="${TEST_DATABASE_URL%/*}/$db"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
"$bin" seed --incidents 20000 >/dev/null 2>&1
psql "$DATABASE_URL" -qc "ANALYZE" >/dev/null
site=$(psql "$DATABASE_URL" -qtAc "SELECT site_id FROM sites ORDER BY id LIMIT 1")
key=$("$bin" appliance add --site "$site" --hostname bench-alerts | tail -1)
"$bin" serve --addr "127.0.0.1:$port" --smtp-url "$TEST_SMTP_URL" --api-key-rate 100000 \
  --silence-sweep-secs 0 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 150); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
echo "bench-alerts $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$bin" --version 2>/dev/null || echo posture)"
python3 - "http://127.0.0.1:$port" "$site" "$key" "$pid" "$DATABASE_URL" <<'PY'
import concurrent.futures, datetime, json, os, subprocess, sys, time, urllib.request

base, site, key, pid, dsn = sys.argv[1:]
smtp_messages = os.environ["TEST_SMTP_MESSAGES_URL"]
hooks = os.environ["TEST_WEBHOOK_URL"]
tag = f"bench{int(time.time())}"

def sql(statement):
    return subprocess.run(["psql", dsn, "-qtAc", statement], check=True, capture_output=True, text=True).stdout.strip()

def rss_mib():
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024

def report(hosts):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    drift = [{"check_type": "bitlocker_status", "hostname": h, "severity": "critical", "state": "drifted", "detected_at": now} for h in hosts]
    request = urllib.request.Request(f"{base}/api/v1/reports", data=json.dumps({"site_id": site, "checks": [], "drift": drift}).encode(),
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200, answer.status
    return time.time()

def channel(name, kind, target):
    return sql(f"INSERT INTO alert_channels (name, kind, target, secret, created_at) VALUES ('{name}', '{kind}', '{target}', 'bench', now()) RETURNING id")

def rule(name, channels):
    rule_id = sql(f"INSERT INTO alert_rules (name, event, min_severity, notify_resolved, enabled, created_at) VALUES ('{name}', 'incident', 'critical', false, true, now()) RETURNING id")
    for c in channels:
        sql(f"INSERT INTO alert_rule_channels (rule_id, channel_id) VALUES ({rule_id}, {c})")
    return rule_id

def received():
    mails = json.load(urllib.request.urlopen(smtp_messages))
    posts = json.load(urllib.request.urlopen(f"{hooks}/_received"))
    return ([m for m in mails if tag in m["rcpt_tos"][0]], [p for p in posts if tag in p["path"]])

def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

# --- 1. latency --------------------------------------------------------------------------
latency_channels = [channel(f"mail {i}", "email", f"{tag}-{i}@msp.example") for i in range(50)]
latency_channels += [channel(f"hook {i}", "webhook", f"{hooks}/{tag}/{i}") for i in range(50)]
latency_rule = rule("latency", latency_channels)
acked = {}
for i in range(10):
    host = f"LAT-{tag}-{i}"
    acked[host] = report([host])
    time.sleep(0.5)
deadline = time.time() + 120
while time.time() < deadline:
    mails, posts = received()
    if len(mails) >= 500 and len(posts) >= 500:
        break
    time.sleep(0.5)
mail_ms, hook_ms = [], []
for m in mails:
    host = next(h for h in acked if h + ")" in m["subject"])
    mail_ms.append((m["received_at"] - acked[host]) * 1000)
for p in posts:
    host = json.loads(p["body"])["hostname"]
    hook_ms.append((p["received_at"] - acked[host]) * 1000)
print(f"1,000 alerts (10 incidents x 50 mailboxes and 50 webhooks): {len(mail_ms)} mails, {len(hook_ms)} webhook POSTs")
for name, values in (("report acknowledged -> SMTP accepted", mail_ms), ("report acknowledged -> webhook received", hook_ms)):
    if values:
        print(f"  {name}: p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms")
sql(f"UPDATE alert_rules SET enabled = false WHERE id = {latency_rule}")

# --- 2. storm ----------------------------------------------------------------------------
# Rounds with the rule and without alternate, so the table's growth weighs on both alike.
def storm(label, round_no):
    batches = [[f"{label}-{tag}-{round_no}-{b}-{i}" for i in range(100)] for b in range(25)]
    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(report, batches))
    return 2_500 / (time.time() - started)

storm_rule = rule("storm", [channel("storm mail", "email", f"storm-{tag}@msp.example"), channel("storm hook", "webhook", f"{hooks}/{tag}/storm")])
before = rss_mib()
sent_before = int(sql("SELECT COUNT(*) FROM alert_deliveries WHERE status = 'sent'"))
with_alerts, without_alerts = [], []
for round_no in range(4):
    sql(f"UPDATE alert_rules SET enabled = false WHERE id = {storm_rule}")
    without_alerts.append(storm("QUIET", round_no))
    sql(f"UPDATE alert_rules SET enabled = true WHERE id = {storm_rule}")
    with_alerts.append(storm("ALERT", round_no))
time.sleep(5)
counts = dict(line.split("|") for line in sql(f"SELECT status, COUNT(*) FROM alert_deliveries WHERE rule_id = {storm_rule} GROUP BY status").splitlines())
sent_during = int(sql("SELECT COUNT(*) FROM alert_deliveries WHERE status = 'sent'")) - sent_before
after = rss_mib()
median = lambda values: sorted(values)[len(values) // 2 - 1] / 2 + sorted(values)[len(values) // 2] / 2
print("storm of 10,000 critical incidents (4 rounds of 25 reports of 100, 4 at a time), a rule to 1 mailbox and 1 webhook:")
print(f"  messages sent: {sent_during} (the hourly limit: 10 per rule and channel); folded into the hour's digest: {counts.get('folded', 0)}; digests waiting for the hour's end: {counts.get('pending', 0)}")
print(f"  ingest, rounds of 2,500 incidents alternating: with the rule {', '.join(f'{v:,.0f}' for v in with_alerts)}/s; without {', '.join(f'{v:,.0f}' for v in without_alerts)}/s")
print(f"  median {median(with_alerts):,.0f} against {median(without_alerts):,.0f} incidents/s ({(median(with_alerts) / median(without_alerts) - 1) * 100:+.0f} %)")
print(f"  server memory: {before[0]} MiB before, {after[0]} MiB after (peak {after[1]} MiB)")

# --- 3. a storm at the issue's pace: 10,000 incidents in a minute (a report of 100 every
# 0.6 s), with the rule and without: whether ingest keeps the pace, and each report's wait.
def paced(label):
    waits, started = [], time.time()
    def send(b):
        time.sleep(max(0, started + b * 0.6 - time.time()))
        sent = time.time()
        report([f"{label}-{tag}-{b}-{i}" for i in range(100)])
        waits.append((time.time() - sent) * 1000)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(100)))
    return 10_000 / (time.time() - started), waits

sql(f"UPDATE alert_rules SET enabled = true WHERE id = {storm_rule}")
paced_with = paced("PACED-ALERT")
sql(f"UPDATE alert_rules SET enabled = false WHERE id = {storm_rule}")
paced_without = paced("PACED-QUIET")
print("storm of 10,000 critical incidents in a minute (a report of 100 every 0.6 s):")
for name, (rate, waits) in (("with the rule", paced_with), ("without", paced_without)):
    print(f"  {name}: {rate:,.0f} incidents/s, report answered in p50 {percentile(waits, 50):.0f} ms, p99 {percentile(waits, 99):.0f} ms")
print(f"  throughput with the rule against without: {(paced_with[0] / paced_without[0] - 1) * 100:+.1f} %")
PY
