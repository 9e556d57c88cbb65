//! `GET /health` (liveness: the process answers) and `GET /api/health` (readiness: every
//! dependency answers). Readiness runs its checks concurrently, each under its own timeout,
//! so a hung dependency turns the answer "degraded" (HTTP 503) instead of hanging it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use app::cache::AggregateCache;
use app::db::Db;
use app::error::DbFailure;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared, join_all};
use serde::Serialize;

type CheckFn = dyn Fn() -> BoxFuture<'static, Result<String, String>> + Send + Sync;

/// One named dependency check: `Ok(detail)` when healthy, `Err(reason)` otherwise.
#[derive(Clone)]
pub struct HealthCheck {
    name: &'static str,
    run: Arc<CheckFn>,
    /// A dependency the server can do without (Redis) is reported but does not make the
    /// server unready: taking every server out of the balancer over it would be worse.
    required: bool,
}

impl HealthCheck {
    pub fn new<F, Fut>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Self {
            name,
            run: Arc::new(move || Box::pin(check())),
            required: true,
        }
    }

    pub fn optional(self) -> Self {
        Self {
            required: false,
            ..self
        }
    }
}

/// One round of checks, awaited by every probe that arrives while it runs.
type Round = Shared<BoxFuture<'static, Arc<HealthReport>>>;

#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<HealthCheck>>,
    timeout: Duration,
    /// The round under way, if any: a flood of probes (a load balancer per server, monitoring,
    /// a client gone wild) costs one round at a time, not one each.
    round: Arc<Mutex<Option<Round>>>,
}

#[derive(Debug, Serialize)]
pub struct HealthReport {
    pub status: &'static str,
    pub checks: BTreeMap<&'static str, CheckReport>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// "ok", "fail" or "timeout".
    pub status: &'static str,
    /// Whether a failure makes the server unready.
    pub required: bool,
    pub latency_ms: f64,
    pub detail: String,
}

impl Readiness {
    pub fn new(checks: Vec<HealthCheck>, timeout: Duration) -> Self {
        Self {
            checks: Arc::new(checks),
            timeout,
            round: Arc::default(),
        }
    }

    /// The production checks: database ping, migrations current, free disk, and the cache
    /// (reported, not required).
    pub fn standard(
        db: Db,
        cache: AggregateCache,
        data_dir: PathBuf,
        min_free_bytes: u64,
        timeout: Duration,
    ) -> Self {
        let ping_db = db.clone();
        let migrations_db = db;
        // Migrations this binary knows of, once applied, stay applied: asked until they are.
        let migrations_applied = Arc::new(AtomicBool::new(false));
        Self::new(
            vec![
                HealthCheck::new("database", move || {
                    let db = ping_db.clone();
                    async move {
                        app::db::schema::ping(&db)
                            .await
                            .map_err(|e| withheld("database", DbFailure::of(&e).as_str(), &e))?;
                        Ok(db.backend_name().to_string())
                    }
                }),
                HealthCheck::new("migrations", move || {
                    let db = migrations_db.clone();
                    let applied = migrations_applied.clone();
                    async move {
                        if applied.load(Ordering::Relaxed) {
                            return Ok("all applied".to_string());
                        }
                        match app::db::schema::migrations_current(&db).await {
                            Ok(true) => {
                                applied.store(true, Ordering::Relaxed);
                                Ok("all applied".to_string())
                            }
                            Ok(false) => Err("migrations pending".to_string()),
                            Err(e) => Err(withheld("migrations", DbFailure::of(&e).as_str(), &e)),
                        }
                    }
                }),
                HealthCheck::new("disk", move || {
                    let dir = data_dir.clone();
                    async move { free_disk(dir, min_free_bytes).await }
                }),
                HealthCheck::new("cache", move || {
                    let cache = cache.clone();
                    async move {
                        cache.ping().await.map_err(|e| {
                            let reason = withheld("cache", app::cache::failure_kind(&e), &e);
                            match cache.breaker_state() {
                                Some(state) => format!("{reason}; breaker {}", state.as_str()),
                                None => reason,
                            }
                        })
                    }
                })
                .optional(),
            ],
            timeout,
        )
    }

    /// The report of a round of checks started at or after this call, shared with the other
    /// probes waiting for the same round.
    pub async fn report(&self) -> Arc<HealthReport> {
        let round = {
            let mut current = self.round.lock().unwrap_or_else(PoisonError::into_inner);
            match &*current {
                Some(round) if round.peek().is_none() => round.clone(),
                _ => {
                    let readiness = self.clone();
                    let round = async move { Arc::new(readiness.run_checks().await) }
                        .boxed()
                        .shared();
                    *current = Some(round.clone());
                    round
                }
            }
        };
        round.await
    }

    async fn run_checks(&self) -> HealthReport {
        let runs = self.checks.iter().map(|check| {
            let future = (check.run)();
            let timeout = self.timeout;
            async move {
                let started = Instant::now();
                let outcome = tokio::time::timeout(timeout, future).await;
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                let (status, detail) = match outcome {
                    Ok(Ok(detail)) => ("ok", detail),
                    Ok(Err(reason)) => ("fail", reason),
                    Err(_) => (
                        "timeout",
                        format!("no answer within {} ms", timeout.as_millis()),
                    ),
                };
                (
                    check.name,
                    CheckReport {
                        status,
                        required: check.required,
                        latency_ms,
                        detail,
                    },
                )
            }
        });
        let checks: BTreeMap<_, _> = join_all(runs).await.into_iter().collect();
        let healthy = checks.values().all(|c| c.status == "ok" || !c.required);
        HealthReport {
            status: if healthy { "ok" } else { "degraded" },
            checks,
        }
    }
}

/// The answer is public: a failing check names only the `kind` of failure, and the error
/// itself (hosts, users, SQL) goes to the log.
fn withheld(check: &str, kind: &str, err: &dyn std::fmt::Display) -> String {
    tracing::warn!("readiness check {check} failed: {err}");
    format!("{check} check {kind} (details in the server log)")
}

async fn free_disk(dir: PathBuf, min_free_bytes: u64) -> Result<String, String> {
    let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&dir))
        .await
        .map_err(|e| withheld("disk", "failed", &e))?
        .map_err(|e| withheld("disk", "failed", &e))?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let free_mb = free / 1_048_576;
    if free >= min_free_bytes {
        Ok(format!("{free_mb} MB free"))
    } else {
        Err(format!(
            "only {free_mb} MB free, below the {} MB minimum",
            min_free_bytes / 1_048_576
        ))
    }
}

pub async fn liveness() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], "ok")
}

pub async fn readiness(State(readiness): State<Readiness>) -> impl IntoResponse {
    let report = readiness.report().await;
    let status = if report.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_vec(&*report).expect("a health report serialises");
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_TYPE, "application/json"),
    ];
    (status, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn probes_arriving_together_share_one_round_and_the_next_probe_starts_another() {
        let rounds = Arc::new(AtomicUsize::new(0));
        let counted = rounds.clone();
        let check = HealthCheck::new("slow", move || {
            let rounds = counted.clone();
            async move {
                rounds.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok("fine".to_string())
            }
        });
        let readiness = Readiness::new(vec![check], Duration::from_secs(1));
        let probes = (0..20).map(|_| readiness.report());
        let reports = join_all(probes).await;
        assert!(reports.iter().all(|r| r.status == "ok"));
        assert_eq!(rounds.load(Ordering::SeqCst), 1);
        readiness.report().await;
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            2,
            "a finished round is not reused"
        );
    }
}
