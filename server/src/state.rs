//! What every request handler can reach.

use std::sync::Arc;
use std::time::Duration;

use app::appliance_keys::KeyCache;
use app::auth::signed_in::SignedIn;
use app::cache::AggregateCache;
use app::cluster::Peers;
use app::db::{Db, IncidentWindows};
use app::services::alerts::send::AlertSender;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::api::limits::{ApiLimits, LimitSettings};
use crate::client_ip::TrustedProxies;
use crate::cluster::{self, Targets};
use crate::config::{CacheArgs, SignInArgs};
use crate::health::Readiness;
use crate::hints::Hints;
use crate::ingest::{IngestQueue, Sink};
use crate::load_shed::DashboardLimit;
use crate::prometheus::{MetricsAccess, Scrape};
use crate::sign_in::{SignInLimits, SignInThrottle};

/// Cloned for every request (each middleware and handler takes its own), so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub cache: AggregateCache,
    pub windows: IncidentWindows,
    pub readiness: Readiness,
    /// Where the appliance API queues reports for the batcher.
    pub ingest: IngestQueue,
    /// Invalidation hints for open dashboards (`/api/v1/events`).
    pub hints: Hints,
    /// Appliance keys looked up recently.
    pub keys: KeyCache,
    /// The other servers on the same PostgreSQL.
    pub peers: Peers,
    /// What appliances may take of the server: rate per key, requests and memory.
    pub limits: ApiLimits,
    /// Sign-in throttling, client addresses, resolved sessions and open event streams.
    pub accounts: Accounts,
    /// Dashboard requests handled at once.
    pub dashboard_limit: DashboardLimit,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
    /// Sends alert mail and webhooks (the delivery worker and "send test").
    pub alerts: AlertSender,
    /// Signs evidence packs.
    pub pack_key: crate::signing::PackKey,
}

/// What differs between the server, the tests and the benchmarks; everything else of the
/// state is made the same way for all of them by [`AppState::build`].
pub struct StateParts {
    pub leptos_options: LeptosOptions,
    pub cache: AggregateCache,
    pub readiness: Readiness,
    pub limits: LimitSettings,
    pub accounts: Accounts,
    /// How long a looked-up appliance key is trusted.
    pub key_ttl: Duration,
    /// Dashboard requests (pages, server functions, exports) handled at once before 503.
    pub dashboard_in_flight: usize,
    /// The bearer token `/metrics` asks for; without one, local scrapers only.
    pub metrics_token: Option<String>,
    pub alerts: AlertSender,
    /// How often the silence sweep runs (on one server at a time); `None`: never here.
    pub silence_sweep: Option<Duration>,
}

impl AppState {
    /// The state of a server on `db`. `queue` makes the report queue from the batcher's sink:
    /// `|sink| ingest::start(settings, sink)` starts the batcher and hands back its handle; a
    /// test may return a queue of its own.
    pub fn build<T>(
        db: Db,
        parts: StateParts,
        queue: impl FnOnce(Sink) -> (IngestQueue, T),
    ) -> (Self, T) {
        let (windows, hints) = (IncidentWindows::default(), Hints::default());
        let peers = Peers::new(db.clone());
        let keys = KeyCache::new(parts.key_ttl);
        let (ingest, extra) = queue(Sink {
            db: db.clone(),
            cache: parts.cache.clone(),
            windows: windows.clone(),
            hints: hints.clone(),
            peers: peers.clone(),
        });
        cluster::listen(
            peers.clone(),
            Targets {
                cache: parts.cache.clone(),
                windows: windows.clone(),
                keys: keys.clone(),
                hints: hints.clone(),
                signed_in: parts.accounts.signed_in.clone(),
            },
        );
        crate::alerts::start(db.clone(), parts.alerts.clone(), hints.closed());
        if let Some(interval) = parts.silence_sweep {
            let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
            crate::alerts::sweep::start(
                db.clone(),
                hints.clone(),
                holder,
                interval,
                hints.closed(),
            );
        }
        let state = AppState(Arc::new(Shared {
            leptos_options: parts.leptos_options,
            db,
            cache: parts.cache,
            windows,
            readiness: parts.readiness,
            ingest,
            hints,
            keys,
            peers,
            limits: ApiLimits::new(parts.limits),
            accounts: parts.accounts,
            dashboard_limit: DashboardLimit::new(parts.dashboard_in_flight),
            metrics: MetricsAccess::new(parts.metrics_token),
            alerts: parts.alerts,
            pack_key: crate::signing::PackKey::default(),
        }));
        (state, extra)
    }
}

/// What sign-in and sessions need besides the database.
#[derive(Clone)]
pub struct Accounts {
    pub throttle: SignInThrottle,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
    /// Sessions resolved recently and open event streams, ended with their session (also
    /// reached by server functions).
    pub signed_in: SignedIn,
}

/// The default sign-in limits, no trusted proxy, sessions remembered as `serve` does.
impl Default for Accounts {
    fn default() -> Self {
        Self::new(
            SignInLimits::default(),
            TrustedProxies::default(),
            SESSION_CACHE_TTL,
        )
    }
}

/// How long `serve` remembers a resolved session by default.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(5);

impl Accounts {
    /// Sign-in limits and trusted proxies as the command line set them.
    pub fn from_args(args: &SignInArgs) -> Self {
        let limits = SignInLimits::new(args.sign_in_per_minute, args.sign_in_overall_per_second);
        Self::new(
            limits,
            TrustedProxies::new(args.trusted_proxies.iter().copied()),
            Duration::from_secs(args.session_cache_secs),
        )
    }

    /// `session_ttl`: how long a resolved session is remembered.
    pub fn new(limits: SignInLimits, proxies: TrustedProxies, session_ttl: Duration) -> Self {
        Self {
            throttle: SignInThrottle::new(limits),
            proxies,
            signed_in: SignedIn::new(session_ttl),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Self {
        state.readiness.clone()
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Scrape {
    fn from_ref(state: &AppState) -> Self {
        Scrape {
            access: state.metrics.clone(),
            db: state.db.clone(),
            ingest: state.ingest.clone(),
            hints: state.hints.clone(),
            cache: state.cache.clone(),
        }
    }
}

impl FromRef<AppState> for KeyCache {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

impl FromRef<AppState> for ApiLimits {
    fn from_ref(state: &AppState) -> Self {
        state.limits.clone()
    }
}

impl CacheArgs {
    pub fn build(&self) -> anyhow::Result<AggregateCache> {
        let ttl = std::time::Duration::from_secs(self.cache_ttl_secs);
        Ok(match &self.redis_url {
            Some(url) => AggregateCache::redis(url, ttl)
                .map_err(|e| anyhow::anyhow!("invalid REDIS_URL: {e}"))?,
            None => AggregateCache::in_process(ttl),
        })
    }
}
