//! `posture-dev simulate`: many appliances against a running server. Each appliance checks in,
//! reports (mostly passing checks, occasional drift and its remediation) and, for one
//! appliance per site, sends gzip'ed evidence batches continuing its site's chain. Requests
//! answered 429, 5xx or not at all are retried with capped exponential backoff and full
//! jitter. A line a second shows the progress; the summary gives what was sent, acknowledged,
//! retried and failed, and latencies.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use app::db::Db;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::SimulateArgs;
use crate::config::DatabaseArgs;
use crate::provision::provision_appliance;

/// One simulated appliance's identity.
#[derive(Debug, Clone)]
pub struct Identity {
    pub site_id: String,
    pub key: String,
}

/// What a load run does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: String,
    pub appliances: Vec<Identity>,
    /// Requests per second over all appliances; `None` sends back to back.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub checks_per_report: usize,
    /// Retries per request before it counts as failed.
    pub max_retries: u32,
    /// Whether to mix in check-ins and evidence batches (else reports only).
    pub mixed: bool,
}

/// Counters shared by every appliance task.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acknowledged: AtomicU64,
    pub retried: AtomicU64,
    pub throttled: AtomicU64,
    pub failed: AtomicU64,
    /// Check results, drift events and evidence bundles in acknowledged requests.
    pub events: AtomicU64,
}

pub struct Summary {
    pub elapsed: Duration,
    pub sent: u64,
    pub acknowledged: u64,
    pub retried: u64,
    pub throttled: u64,
    pub failed: u64,
    pub events: u64,
    /// Latency of each acknowledged request, sorted.
    pub latencies: Vec<Duration>,
}

/// The counts, without every latency.
impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("elapsed", &self.elapsed)
            .field("sent", &self.sent)
            .field("acknowledged", &self.acknowledged)
            .field("retried", &self.retried)
            .field("throttled", &self.throttled)
            .field("failed", &self.failed)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Summary {
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank]
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    pub fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{:.1} s: sent {}, acknowledged {}, retried {} (429: {}), failed {}; \
             {} events acknowledged ({:.0}/s, {:.0} requests/s); \
             latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            self.elapsed.as_secs_f64(),
            self.sent,
            self.acknowledged,
            self.retried,
            self.throttled,
            self.failed,
            self.events,
            self.events_per_second(),
            self.acknowledged as f64 / self.elapsed.as_secs_f64(),
            ms(self.percentile(50.0)),
            ms(self.percentile(95.0)),
            ms(self.percentile(99.0)),
        );
    }
}

/// Only `--provision` needs the database (it adds the appliances); otherwise the simulator
/// speaks HTTP alone and opens nothing.
pub async fn run(database: &DatabaseArgs, args: &SimulateArgs) -> anyhow::Result<()> {
    let appliances = match (args.provision, &args.keys) {
        (true, keys) => {
            let db = crate::database::open(database).await?;
            let appliances = provision(&db, args.appliances).await;
            db.close().await;
            let appliances = appliances?;
            if let Some(path) = keys {
                write_keys(path, &appliances)?;
                println!("Wrote {} keys to {}", appliances.len(), path.display());
            }
            appliances
        }
        (false, Some(path)) => read_keys(path)?,
        (false, None) => {
            bail!("give --provision (new appliances through the database) or --keys FILE")
        }
    };
    let plan = Plan {
        url: args.url.trim_end_matches('/').to_string(),
        appliances,
        rate: Some(args.rate.0),
        duration: args.duration.0,
        checks_per_report: args.checks_per_report,
        max_retries: args.max_retries,
        mixed: true,
    };
    println!(
        "Simulating {} appliances at {:.0} requests/s for {:.0} s against {}",
        plan.appliances.len(),
        args.rate.0,
        plan.duration.as_secs_f64(),
        plan.url
    );
    let counters = Arc::new(Counters::default());
    let progress = tokio::spawn(print_progress(counters.clone()));
    let summary = load(&plan, counters).await;
    progress.abort();
    summary.print();
    Ok(())
}

/// A line a second while the load runs: totals so far and the last second's rate.
async fn print_progress(counters: Arc<Counters>) {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let (mut seconds, mut acknowledged_before) = (0, 0);
    loop {
        ticker.tick().await;
        seconds += 1;
        let acknowledged = get(&counters.acknowledged);
        println!(
            "{seconds:>4} s: sent {}, acknowledged {acknowledged} ({}/s), 429 {}, retried {}, failed {}",
            get(&counters.sent),
            acknowledged - acknowledged_before,
            get(&counters.throttled),
            get(&counters.retried),
            get(&counters.failed),
        );
        acknowledged_before = acknowledged;
    }
}

/// `count` new appliances spread over the existing sites.
pub async fn provision(db: &Db, count: usize) -> anyhow::Result<Vec<Identity>> {
    let sites = app::db::site_admin::site_slugs(db).await?;
    if sites.is_empty() {
        bail!("the database has no sites: run `posture seed` first");
    }
    let mut appliances = Vec::with_capacity(count);
    for i in 0..count {
        let site_id = sites[i % sites.len()].clone();
        let key = provision_appliance(db, &site_id, &format!("sim-{i:04}"))
            .await?
            .key;
        appliances.push(Identity { site_id, key });
    }
    Ok(appliances)
}

fn write_keys(path: &std::path::Path, appliances: &[Identity]) -> anyhow::Result<()> {
    let lines: String = appliances
        .iter()
        .map(|a| format!("{} {}\n", a.site_id, a.key))
        .collect();
    std::fs::write(path, lines).with_context(|| format!("writing keys to {}", path.display()))
}

/// Lines of `site_id key`.
fn read_keys(path: &std::path::Path) -> anyhow::Result<Vec<Identity>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading keys from {}", path.display()))?;
    let mut appliances = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((site_id, key)) = line.split_once(char::is_whitespace) else {
            bail!("{}:{}: expected `site_id key`", path.display(), n + 1);
        };
        appliances.push(Identity {
            site_id: site_id.to_string(),
            key: key.trim().to_string(),
        });
    }
    if appliances.is_empty() {
        bail!("{} holds no keys", path.display());
    }
    Ok(appliances)
}

/// Runs `plan` and sums it up; `counters` may be watched while it runs.
pub async fn load(plan: &Plan, counters: Arc<Counters>) -> Summary {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4_096)
        .build()
        .expect("an HTTP client");
    let started = Instant::now();
    let deadline = started + plan.duration;
    // One appliance per site keeps that site's evidence chain.
    let mut chain_keepers = HashMap::new();
    let tasks: Vec<_> = plan
        .appliances
        .iter()
        .enumerate()
        .map(|(i, identity)| {
            let keeps_chain =
                plan.mixed && chain_keepers.insert(identity.site_id.clone(), i).is_none();
            let interval = plan
                .rate
                .map(|rate| Duration::from_secs_f64(plan.appliances.len() as f64 / rate));
            let simulated = Simulated {
                client: client.clone(),
                url: plan.url.clone(),
                identity: identity.clone(),
                counters: counters.clone(),
                max_retries: plan.max_retries,
                rng: StdRng::seed_from_u64(i as u64),
                checks_per_report: plan.checks_per_report,
                failing: HashMap::new(),
                check_types: app::scoring::all_check_types().collect(),
                chain: None,
                latencies: Vec::new(),
            };
            tokio::spawn(simulated.run(deadline, interval, keeps_chain, plan.mixed))
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        if let Ok(mut own) = task.await {
            latencies.append(&mut own);
        }
    }
    latencies.sort_unstable();
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Summary {
        elapsed: started.elapsed(),
        sent: get(&counters.sent),
        acknowledged: get(&counters.acknowledged),
        retried: get(&counters.retried),
        throttled: get(&counters.throttled),
        failed: get(&counters.failed),
        events: get(&counters.events),
        latencies,
    }
}

struct Simulated {
    client: reqwest::Client,
    url: String,
    identity: Identity,
    counters: Arc<Counters>,
    max_retries: u32,
    rng: StdRng,
    checks_per_report: usize,
    /// (hostname, check type) pairs currently failing, with their severity.
    failing: HashMap<(String, &'static str), &'static str>,
    check_types: Vec<&'static str>,
    /// The site's chain head, once known.
    chain: Option<(i64, Option<String>)>,
    latencies: Vec<Duration>,
}

/// A report as sent; typed rather than built as JSON values, so the load generator spends
/// little of the CPU it shares with the server in the benchmark.
#[derive(Serialize)]
struct ReportBody<'a> {
    site_id: &'a str,
    checks: Vec<CheckBody>,
    drift: Vec<Value>,
}

#[derive(Serialize)]
struct CheckBody {
    check_type: &'static str,
    hostname: &'static str,
    status: &'static str,
    checked_at: DateTime<Utc>,
}

const HOSTS: [&str; 6] = ["FD-01", "FD-02", "RX-01", "SRV-01", "SRV-02", "LAB-01"];
const EVIDENCE_PER_BATCH: i64 = 20;

impl Simulated {
    async fn run(
        mut self,
        deadline: Instant,
        interval: Option<Duration>,
        keeps_chain: bool,
        mixed: bool,
    ) -> Vec<Duration> {
        let mut ticker = interval.map(|every| {
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker
        });
        // Appliances do not all start in the same millisecond.
        if let Some(every) = interval {
            let offset = self.rng.random_range(0.0..every.as_secs_f64());
            tokio::time::sleep(Duration::from_secs_f64(offset)).await;
        }
        let mut n = 0u64;
        while Instant::now() < deadline {
            if let Some(ticker) = &mut ticker {
                ticker.tick().await;
            }
            n += 1;
            // Of every ten requests: a check-in first, then evidence (early, so even a short
            // run under backpressure sends some), then reports.
            match n % 10 {
                1 if mixed => self.checkin().await,
                2 if keeps_chain => self.evidence().await,
                _ => self.report().await,
            }
        }
        self.latencies
    }

    async fn checkin(&mut self) {
        let body = json!({"site_id": self.identity.site_id, "agent_version": "2.4.1"});
        self.send(
            "/api/v1/checkin",
            serde_json::to_vec(&body).expect("json"),
            false,
            0,
        )
        .await;
    }

    async fn report(&mut self) {
        let now = Utc::now();
        let mut checks = Vec::with_capacity(self.checks_per_report);
        let mut drift = Vec::new();
        for _ in 0..self.checks_per_report {
            let hostname = *HOSTS.choose(&mut self.rng).expect("hosts");
            let check_type = *self.check_types.choose(&mut self.rng).expect("check types");
            let key = (hostname.to_string(), check_type);
            let status = if let Some(severity) = self.failing.get(&key).copied() {
                // A failing check gets fixed, sooner or later.
                if self.rng.random_bool(0.3) {
                    self.failing.remove(&key);
                    drift.push(drift_event(hostname, check_type, severity, "remediated"));
                    "pass"
                } else {
                    "fail"
                }
            } else if self.rng.random_bool(0.01) {
                let severity = *app::types::SEVERITIES
                    .choose(&mut self.rng)
                    .expect("severities");
                self.failing.insert(key, severity);
                drift.push(drift_event(hostname, check_type, severity, "drifted"));
                "fail"
            } else if self.rng.random_bool(0.05) {
                "warn"
            } else {
                "pass"
            };
            checks.push(CheckBody {
                check_type,
                hostname,
                status,
                checked_at: now,
            });
        }
        let events = (checks.len() + drift.len()) as u64;
        let body = ReportBody {
            site_id: &self.identity.site_id,
            checks,
            drift,
        };
        let body = serde_json::to_vec(&body).expect("json");
        self.send("/api/v1/reports", body, false, events).await;
    }

    async fn evidence(&mut self) {
        if self.chain.is_none() {
            self.chain = self.head().await;
        }
        let Some((mut position, mut prev)) = self.chain.clone() else {
            return;
        };
        let now = Utc::now();
        let bundles: Vec<Value> = (0..EVIDENCE_PER_BATCH)
            .map(|_| {
                position += 1;
                let hash = hex::encode(Sha256::digest(format!(
                    "{}|{}|{position}|{now}",
                    prev.as_deref().unwrap_or(""),
                    self.identity.site_id
                )));
                let bundle = json!({"position": position, "bundle_hash": hash,
                                    "prev_hash": prev, "created_at": now});
                prev = Some(hash);
                bundle
            })
            .collect();
        let body = json!({"site_id": self.identity.site_id, "bundles": bundles});
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(body.to_string().as_bytes())
            .expect("gzip to memory");
        let gz = gz.finish().expect("gzip to memory");
        let status = self
            .send(
                "/api/v1/evidence/batch",
                gz,
                true,
                EVIDENCE_PER_BATCH as u64,
            )
            .await;
        self.chain = match status {
            Some(StatusCode::OK) => Some((position, prev)),
            // Someone else moved the chain (or it was never known): ask again next time.
            _ => None,
        };
    }

    async fn head(&mut self) -> Option<(i64, Option<String>)> {
        let response = self
            .client
            .get(format!("{}/api/v1/evidence/head", self.url))
            .bearer_auth(&self.identity.key)
            .send()
            .await
            .ok()?;
        let head: Value = response.json().await.ok()?;
        Some((
            head["head_position"].as_i64()?,
            head["head_hash"].as_str().map(String::from),
        ))
    }

    /// Sends one request, retrying 429, 5xx and network errors with capped exponential
    /// backoff and full jitter. Returns the final status, if any answer came.
    async fn send(
        &mut self,
        path: &str,
        body: Vec<u8>,
        gzip: bool,
        events: u64,
    ) -> Option<StatusCode> {
        const BASE: Duration = Duration::from_millis(50);
        const CAP: Duration = Duration::from_secs(5);
        let counters = self.counters.clone();
        counters.sent.fetch_add(1, Ordering::Relaxed);
        let mut attempt = 0;
        loop {
            let mut request = self
                .client
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.identity.key)
                .header("content-type", "application/json")
                .body(body.clone());
            if gzip {
                request = request.header("content-encoding", "gzip");
            }
            let started = Instant::now();
            let outcome = request.send().await;
            let status = outcome.as_ref().ok().map(|r| r.status());
            match status {
                Some(status) if status.is_success() => {
                    self.latencies.push(started.elapsed());
                    counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                    counters.events.fetch_add(events, Ordering::Relaxed);
                    return Some(status);
                }
                Some(status)
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() =>
                {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    return Some(status);
                }
                _ => {}
            }
            if status == Some(StatusCode::TOO_MANY_REQUESTS) {
                counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            if attempt >= self.max_retries {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                return status;
            }
            attempt += 1;
            counters.retried.fetch_add(1, Ordering::Relaxed);
            // The server's Retry-After is a floor under the jittered backoff.
            let retry_after = outcome
                .ok()
                .and_then(|r| r.headers().get("retry-after")?.to_str().ok()?.parse().ok())
                .map_or(Duration::ZERO, Duration::from_secs);
            let ceiling = CAP.min(BASE * 2u32.saturating_pow(attempt));
            let wait = self
                .rng
                .random_range(Duration::ZERO..=ceiling)
                .max(retry_after);
            tokio::time::sleep(wait.min(CAP)).await;
        }
    }
}

fn drift_event(hostname: &str, check_type: &str, severity: &str, state: &str) -> Value {
    json!({"check_type": check_type, "hostname": hostname, "severity": severity,
           "state": state, "detected_at": Utc::now(),
           "details": {"source": "simulator"}})
}
