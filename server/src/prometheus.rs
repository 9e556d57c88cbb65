//! Prometheus metrics at `/metrics`, rendered by `metrics-exporter-prometheus` from what the
//! code records through the `metrics` facade: requests per route (count and latency
//! histogram), ingest batch sizes and write times, cache hits and misses, notification lag
//! between servers; and, sampled when scraped, the ingest queue's depth, the database pool's
//! connections in use and idle, open event streams and the Redis breaker's state.
//!
//! Not public: with `--metrics-token` a scraper sends `Authorization: Bearer <token>`;
//! without one, only a client on this machine that no proxy forwarded may read it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use app::breaker::BreakerState;
use app::db::Db;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use app::cache::AggregateCache;

use crate::hints::Hints;
use crate::ingest::IngestQueue;
use crate::server_fn_body::ServerFnPaths;

/// Latency buckets, in seconds: 1 ms to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide recorder (installed once: tests start many servers in one process), and
/// its upkeep: without it, histogram samples would pile up in memory until the next scrape,
/// and with no scraper, for ever.
fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Suffix("_reports".into()), BATCH_BUCKETS)
                })
                .expect("bucket lists are not empty")
                .install_recorder()
                .expect("the one Prometheus recorder");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread for metrics upkeep");
            handle
        })
        .clone()
}

/// Who may read `/metrics`.
#[derive(Clone)]
pub struct MetricsAccess {
    token: Option<Arc<str>>,
    handle: PrometheusHandle,
}

impl MetricsAccess {
    pub fn new(token: Option<String>) -> Self {
        MetricsAccess {
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
            handle: handle(),
        }
    }

    fn allows(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
        match &self.token {
            Some(token) => headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|sent| constant_time_eq(sent.as_bytes(), token.as_bytes())),
            None => {
                peer.is_some_and(|addr| addr.ip().is_loopback())
                    && !headers.contains_key("x-forwarded-for")
                    && !headers.contains_key("forwarded")
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts every request and times it, labelled by route: the route's pattern, or for a server
/// function its own path (a fixed, registered set), so labels stay few.
pub async fn track(
    State(server_fns): State<ServerFnPaths>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let route = if server_fns.contains(path) {
        path.to_string()
    } else if let Some(matched) = request.extensions().get::<MatchedPath>() {
        matched.as_str().to_string()
    } else if path.starts_with("/pkg/") {
        "/pkg/*".to_string()
    } else {
        "other".to_string()
    };
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("posture_http_requests_total", &labels).increment(1);
    metrics::histogram!("posture_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}

/// What a scrape reads, taken from the application state.
#[derive(Clone)]
pub struct Scrape {
    pub access: MetricsAccess,
    pub db: Db,
    pub ingest: IngestQueue,
    pub hints: Hints,
    pub cache: AggregateCache,
}

pub async fn render(
    State(state): State<Scrape>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !state.access.allows(Some(peer), &headers) {
        return (
            StatusCode::FORBIDDEN,
            "metrics need the bearer token (--metrics-token), or a local scraper",
        )
            .into_response();
    }
    sample(&state);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.access.handle.render(),
    )
        .into_response()
}

/// The gauges read at scrape time.
fn sample(state: &Scrape) {
    metrics::gauge!("posture_ingest_queue_depth").set(state.ingest.depth() as f64);
    metrics::gauge!("posture_event_streams").set(state.hints.subscribers() as f64);
    let (size, idle) = match &state.db {
        Db::Sqlite(pool) => (pool.size(), pool.num_idle()),
        Db::Postgres(pool) => (pool.size(), pool.num_idle()),
    };
    let idle = idle as f64;
    metrics::gauge!("posture_db_connections", "state" => "idle").set(idle);
    metrics::gauge!("posture_db_connections", "state" => "in_use").set(f64::from(size) - idle);
    if let Some(breaker) = state.cache.breaker_state() {
        let open = match breaker {
            BreakerState::Closed => 0.0,
            BreakerState::Probing => 0.5,
            BreakerState::Open => 1.0,
        };
        metrics::gauge!("posture_redis_breaker_open").set(open);
    }
}
