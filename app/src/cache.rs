//! The cache of expensive aggregates (all-site scores, site rows, the overview's stats), 120 s
//! by default.
//!
//! Each server keeps the values it served in process memory, decoded, with their ETag
//! computed once ([`Cached`]), so a hit costs neither a round trip nor parsing nor hashing.
//! With `REDIS_URL` set, Redis behind that copy shares the values between servers: a server
//! computes an aggregate only when no server has it. A change drops the copies of every
//! server (the others through `crate::cluster`) and Redis's. Redis trouble never becomes an
//! error page nor a wait: a circuit breaker ([`crate::breaker`]) skips Redis after a failure,
//! and the in-process copies serve meanwhile.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::breaker::{Breaker, BreakerState};

/// Keys of the cached aggregates. A new report for a site invalidates [`KEYS_AFFECTED_BY_REPORT`].
pub const SITE_SCORES_KEY: &str = "posture:v2:scores";
pub const SITE_ROWS_KEY: &str = "posture:v2:sites:rows";
pub const OVERVIEW_KEY: &str = "posture:v2:overview";
pub const KEYS_AFFECTED_BY_REPORT: [&str; 3] = [SITE_SCORES_KEY, SITE_ROWS_KEY, OVERVIEW_KEY];
/// Creating, editing or decommissioning a site changes the site rows, so everything built on them.
pub const KEYS_AFFECTED_BY_SITE_CHANGE: [&str; 3] = [SITE_SCORES_KEY, SITE_ROWS_KEY, OVERVIEW_KEY];

/// Longest a Redis round trip may take before the cache is bypassed for that request.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// A cached value, its JSON and the ETag of that JSON, made once when the value entered this
/// server's memory: an answer writes the JSON as it is ([`crate::cached_answer`]).
#[derive(Debug)]
pub struct Cached<T> {
    pub value: Arc<T>,
    pub json: Arc<RawValue>,
    pub etag: Arc<str>,
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            json: self.json.clone(),
            etag: self.etag.clone(),
        }
    }
}

impl<T> Cached<T> {
    fn new(value: Arc<T>, json: String) -> Option<Self> {
        let etag = Arc::from(etag_of(json.as_bytes()));
        let json = Arc::from(RawValue::from_string(json).ok()?);
        Some(Self { value, json, etag })
    }
}

/// A weak ETag naming `json`: the first 96 bits of its SHA-256.
pub fn etag_of(json: &[u8]) -> String {
    format!("W/\"{}\"", hex::encode(&Sha256::digest(json)[..12]))
}

/// Cloned into every request's context, so one `Arc` around it all.
#[derive(Clone)]
pub struct AggregateCache(Arc<Caches>);

struct Caches {
    /// The values this server holds, decoded; the only store without Redis.
    local: LocalCache,
    redis: Option<RedisBackend>,
    ttl: Duration,
    /// One computation per key at a time: requests that miss together wait for the first
    /// one's value instead of all running the aggregate query (a few keys, for the
    /// few scopes users have).
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Bumped by every invalidation: a value whose computation began before one is returned
    /// to its caller but not stored, so it cannot hide the change for a whole TTL.
    generation: AtomicU64,
}

/// A value of any of the cached types, as the key it is stored under implies.
#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    json: Arc<RawValue>,
    etag: Arc<str>,
}

type LocalCache = moka::future::Cache<String, Entry>;

struct RedisBackend {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    breaker: Breaker,
}

impl AggregateCache {
    pub fn in_process(ttl: Duration) -> Self {
        Self::with_redis(None, ttl)
    }

    /// A Redis-backed cache. The connection is made on first use, so a Redis that is down at
    /// start only means computing until it is back.
    pub fn redis(url: &str, ttl: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Self::with_redis(
            Some(RedisBackend {
                client,
                connection: OnceCell::new(),
                breaker: Breaker::new("Redis"),
            }),
            ttl,
        ))
    }

    fn with_redis(redis: Option<RedisBackend>, ttl: Duration) -> Self {
        Self(Arc::new(Caches {
            local: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            redis,
            ttl,
            flights: Mutex::default(),
            generation: AtomicU64::default(),
        }))
    }

    pub fn backend_name(&self) -> &'static str {
        match self.0.redis {
            None => "in-process",
            Some(_) => "redis",
        }
    }

    /// The cached value of `key` for `scope` (the clients it was computed over, see
    /// [`crate::domain::client_scope::ClientScope::key`]) with its ETag, or `compute()`'s
    /// result, stored for the TTL. The values of one key for every scope go together: an
    /// invalidation of the key drops them all.
    pub async fn get_or_compute<T, E, Fut>(
        &self,
        key: &str,
        scope: &str,
        compute: impl FnOnce() -> Fut,
    ) -> Result<Cached<T>, E>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = Slot { key, scope };
        if let Some(cached) = self.cached(&slot).await {
            metrics::counter!("posture_cache_hits_total", "key" => key.to_string()).increment(1);
            return Ok(cached);
        }
        metrics::counter!("posture_cache_misses_total", "key" => key.to_string()).increment(1);
        let flight = self.flight(&slot.local());
        let _only_one = flight.lock().await;
        // The computation this request waited for may have stored the value meanwhile.
        if let Some(cached) = self.cached(&slot).await {
            return Ok(cached);
        }
        let generation = self.0.generation.load(Ordering::SeqCst);
        let value = Arc::new(compute().await?);
        let json = serde_json::to_string(&*value).expect("a cached aggregate serialises");
        let cached = Cached::new(value, json.clone()).expect("serde_json writes valid JSON");
        if self.0.generation.load(Ordering::SeqCst) == generation {
            self.store(&slot, &cached, json).await;
        }
        Ok(cached)
    }

    /// This server's copy of `slot`, or else Redis's (kept here from then on).
    async fn cached<T>(&self, slot: &Slot<'_>) -> Option<Cached<T>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        if let Some(entry) = self.0.local.get(&slot.local()).await
            && let Ok(value) = entry.value.downcast::<T>()
        {
            return Some(Cached {
                value,
                json: entry.json,
                etag: entry.etag,
            });
        }
        self.0.redis.as_ref()?;
        let generation = self.0.generation.load(Ordering::SeqCst);
        let (key, field) = (slot.key.to_string(), slot.scope.to_string());
        let stored = self
            .redis_op("HGET", |mut c| async move {
                c.hget::<_, _, Option<String>>(key, field).await
            })
            .await??;
        let json = fresh_json(&stored, self.0.ttl)?;
        let value: T = serde_json::from_str(json).ok()?;
        let cached = Cached::new(Arc::new(value), json.to_string())?;
        if self.0.generation.load(Ordering::SeqCst) == generation {
            self.0.local.insert(slot.local(), entry(&cached)).await;
        }
        Some(cached)
    }

    /// Keeps `cached` here and, with Redis, in the hash of its key (field: the scope), after
    /// the time it is stored: the hash lives a TTL past its newest field, so each field's own
    /// age decides whether it is still fresh ([`fresh_json`]).
    async fn store<T: Send + Sync + 'static>(
        &self,
        slot: &Slot<'_>,
        cached: &Cached<T>,
        json: String,
    ) {
        self.0.local.insert(slot.local(), entry(cached)).await;
        if self.0.redis.is_some() && !json.is_empty() {
            let (key, field) = (slot.key.to_string(), slot.scope.to_string());
            let stored = format!("{}\n{json}", Utc::now().timestamp_millis());
            let ttl_ms = self.0.ttl.as_millis().max(1) as i64;
            self.redis_op("HSET", |mut c| async move {
                redis::pipe()
                    .hset(&key, field, stored)
                    .ignore()
                    .pexpire(&key, ttl_ms)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        }
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self
            .0
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        flights.entry(key.to_string()).or_default().clone()
    }

    /// Drops `keys` (for every scope) here and in Redis: this server changed what they were
    /// computed from.
    pub async fn invalidate(&self, keys: &[&str]) {
        self.forget_here(keys).await;
        if self.0.redis.is_some() {
            let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            self.redis_op("DEL", |mut c| async move { c.del::<_, ()>(keys).await })
                .await;
        }
    }

    /// Drops this server's copies of `keys` (for every scope): another server changed what
    /// they were computed from, and has dropped Redis's.
    pub async fn forget_here(&self, keys: &[&str]) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        let prefixes: Vec<String> = keys
            .iter()
            .map(|key| format!("{key}{SCOPE_SEPARATOR}"))
            .collect();
        // Only fails when invalidation closures are not enabled, which `with_redis` does.
        let _ = self
            .0
            .local
            .invalidate_entries_if(move |slot, _| prefixes.iter().any(|p| slot.starts_with(p)));
    }

    /// For readiness: whether the cache answers, and how. Redis is asked even while the
    /// breaker keeps requests off it, and the answer tells the breaker.
    pub async fn ping(&self) -> Result<String, redis::RedisError> {
        let Some(redis) = &self.0.redis else {
            return Ok(format!(
                "in-process, {} entries",
                self.0.local.entry_count()
            ));
        };
        let answer = async {
            let mut connection = self.connection(redis).await?;
            tokio::time::timeout(
                REDIS_TIMEOUT,
                redis::cmd("PING").query_async::<String>(&mut connection),
            )
            .await
            .map_err(|_| timed_out("PING"))?
        }
        .await;
        match answer {
            Ok(pong) => {
                redis.breaker.succeeded();
                Ok(format!("redis {pong}, breaker closed"))
            }
            Err(err) => {
                redis.breaker.failed(&format_args!("PING: {err}"));
                Err(err)
            }
        }
    }

    /// The Redis breaker's state; `None` without Redis.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.0.redis.as_ref().map(|redis| redis.breaker.current())
    }

    async fn connection(
        &self,
        redis: &RedisBackend,
    ) -> Result<ConnectionManager, redis::RedisError> {
        let manager = tokio::time::timeout(
            REDIS_TIMEOUT,
            redis
                .connection
                .get_or_try_init(|| ConnectionManager::new(redis.client.clone())),
        )
        .await
        .map_err(|_| timed_out("connect"))??;
        Ok(manager.clone())
    }

    /// Runs one Redis command under [`REDIS_TIMEOUT`] if there is Redis and the breaker lets
    /// it; `None` when it did not run or failed (the breaker hears of either outcome).
    async fn redis_op<T, Fut>(
        &self,
        name: &str,
        op: impl FnOnce(ConnectionManager) -> Fut,
    ) -> Option<T>
    where
        Fut: Future<Output = Result<T, redis::RedisError>>,
    {
        let redis = self.0.redis.as_ref()?;
        if !redis.breaker.allow() {
            return None;
        }
        let outcome = match self.connection(redis).await {
            Ok(connection) => tokio::time::timeout(REDIS_TIMEOUT, op(connection))
                .await
                .unwrap_or_else(|_| Err(timed_out(name))),
            Err(err) => Err(err),
        };
        match outcome {
            Ok(value) => {
                if redis.breaker.current() != BreakerState::Closed {
                    // While Redis was skipped, other servers' values reached only Redis.
                    self.0.local.invalidate_all();
                }
                redis.breaker.succeeded();
                Some(value)
            }
            Err(err) => {
                redis.breaker.failed(&format_args!("{name}: {err}"));
                None
            }
        }
    }
}

/// Where one value is kept: its key, and the scope it was computed over.
struct Slot<'a> {
    key: &'a str,
    scope: &'a str,
}

/// Separates a key from its scope in this server's copies.
const SCOPE_SEPARATOR: char = '|';

impl Slot<'_> {
    /// The name of this server's copy.
    fn local(&self) -> String {
        format!("{}{SCOPE_SEPARATOR}{}", self.key, self.scope)
    }
}

/// The JSON of a Redis field written by [`AggregateCache::store`], if it is younger than `ttl`.
fn fresh_json(stored: &str, ttl: Duration) -> Option<&str> {
    let (stored_ms, json) = stored.split_once('\n')?;
    let age_ms = Utc::now().timestamp_millis() - stored_ms.parse::<i64>().ok()?;
    (u128::try_from(age_ms).ok()? < ttl.as_millis()).then_some(json)
}

fn entry<T: Send + Sync + 'static>(cached: &Cached<T>) -> Entry {
    Entry {
        value: cached.value.clone(),
        json: cached.json.clone(),
        etag: cached.etag.clone(),
    }
}

fn timed_out(what: &str) -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, format!("{what} timed out")).into()
}

/// What kind of Redis failure an error is, in words safe to show anyone.
pub fn failure_kind(err: &redis::RedisError) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_io_error() {
        "unreachable"
    } else {
        "failed"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    async fn slow_count(computed: &AtomicUsize) -> Result<usize, ()> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(computed.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn concurrent_misses_compute_once() {
        let cache = AggregateCache::in_process(Duration::from_secs(60));
        let computed = AtomicUsize::new(0);
        let reads = (0..8).map(|_| async {
            let cached = cache
                .get_or_compute("k", "all", || slow_count(&computed))
                .await;
            cached.map(|c| *c.value)
        });
        let values = futures::future::join_all(reads).await;
        assert!(values.iter().all(|v| *v == Ok(1)), "{values:?}");
        assert_eq!(computed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_value_computed_across_an_invalidation_is_not_stored() {
        let cache = AggregateCache::in_process(Duration::from_secs(60));
        let (started, release) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
        let stale = || async {
            started.notify_one();
            release.notified().await;
            Ok::<_, ()>("before the change".to_string())
        };
        let (first, ()) = tokio::join!(cache.get_or_compute("k", "all", stale), async {
            started.notified().await;
            cache.invalidate(&["k"]).await;
            release.notify_one();
        });
        assert_eq!(
            first.map(|c| c.value.to_string()).as_deref(),
            Ok("before the change"),
            "the caller still gets its value"
        );
        let fresh = || async { Ok::<_, ()>("after the change".to_string()) };
        let next = cache.get_or_compute("k", "all", fresh).await;
        assert_eq!(
            next.map(|c| c.value.to_string()).as_deref(),
            Ok("after the change"),
            "the stale value was not kept"
        );
        let kept = cache
            .get_or_compute("k", "all", || async { Err::<String, ()>(()) })
            .await;
        assert_eq!(
            kept.map(|c| c.value.to_string()).as_deref(),
            Ok("after the change"),
            "the fresh one was"
        );
    }
}
