//! The cache of expensive aggregates (all-site scores, site rows, the overview's stats), 120 s
//! by default.
//! In process unless `REDIS_URL` is set, then in Redis so several servers share it. Redis
//! trouble never becomes an error page nor a wait: a circuit breaker ([`crate::breaker`])
//! skips Redis after a failure, and a copy in process memory serves meanwhile.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;

use crate::breaker::{Breaker, BreakerState};

/// Keys of the cached aggregates. A new report for a site invalidates [`KEYS_AFFECTED_BY_REPORT`].
pub const SITE_SCORES_KEY: &str = "posture:v1:scores:all";
pub const SITE_ROWS_KEY: &str = "posture:v1:sites:rows";
pub const OVERVIEW_KEY: &str = "posture:v1:overview";
pub const KEYS_AFFECTED_BY_REPORT: [&str; 3] = [SITE_SCORES_KEY, SITE_ROWS_KEY, OVERVIEW_KEY];
/// Creating, editing or decommissioning a site changes the site rows, so everything built on them.
pub const KEYS_AFFECTED_BY_SITE_CHANGE: [&str; 3] = [SITE_SCORES_KEY, SITE_ROWS_KEY, OVERVIEW_KEY];

/// Longest a Redis round trip may take before the cache is bypassed for that request.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct AggregateCache {
    backend: Arc<Backend>,
    ttl: Duration,
    /// One computation per key at a time: requests that miss together wait for the first
    /// one's value instead of all running the aggregate query (the keys are a fixed few).
    flights: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Bumped by every invalidation: a value whose computation began before one is returned
    /// to its caller but not stored, so it cannot hide the change for a whole TTL. With Redis
    /// this guards this server's invalidations; other servers' reach the shared copy as `DEL`s.
    generation: Arc<AtomicU64>,
}

type LocalCache = moka::future::Cache<String, Arc<str>>;

enum Backend {
    InProcess(LocalCache),
    Redis(Box<RedisBackend>),
}

struct RedisBackend {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    breaker: Breaker,
    /// Serves while the breaker keeps Redis out; emptied when Redis is back, since other
    /// servers' changes reached only Redis.
    fallback: LocalCache,
}

fn local_cache(ttl: Duration) -> LocalCache {
    moka::future::Cache::builder()
        .max_capacity(1_000)
        .time_to_live(ttl)
        .build()
}

impl AggregateCache {
    pub fn in_process(ttl: Duration) -> Self {
        Self::with_backend(Backend::InProcess(local_cache(ttl)), ttl)
    }

    /// A Redis-backed cache. The connection is made on first use, so a Redis that is down at
    /// start only means computing until it is back.
    pub fn redis(url: &str, ttl: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Self::with_backend(
            Backend::Redis(Box::new(RedisBackend {
                client,
                connection: OnceCell::new(),
                breaker: Breaker::new("Redis"),
                fallback: local_cache(ttl),
            })),
            ttl,
        ))
    }

    fn with_backend(backend: Backend, ttl: Duration) -> Self {
        Self {
            backend: Arc::new(backend),
            ttl,
            flights: Arc::default(),
            generation: Arc::default(),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match *self.backend {
            Backend::InProcess(_) => "in-process",
            Backend::Redis(_) => "redis",
        }
    }

    /// The cached value of `key`, or `compute()`'s result, stored for the TTL.
    pub async fn get_or_compute<T, E, Fut>(
        &self,
        key: &str,
        compute: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.cached(key).await {
            metrics::counter!("posture_cache_hits_total", "key" => key.to_string()).increment(1);
            return Ok(value);
        }
        metrics::counter!("posture_cache_misses_total", "key" => key.to_string()).increment(1);
        let flight = self.flight(key);
        let _only_one = flight.lock().await;
        // The computation this request waited for may have stored the value meanwhile.
        if let Some(value) = self.cached(key).await {
            return Ok(value);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let value = compute().await?;
        if self.generation.load(Ordering::SeqCst) == generation
            && let Ok(json) = serde_json::to_string(&value)
        {
            self.set(key, json).await;
        }
        Ok(value)
    }

    async fn cached<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let cached = self.get(key).await?;
        serde_json::from_str(&cached).ok()
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        flights.entry(key.to_string()).or_default().clone()
    }

    pub async fn invalidate(&self, keys: &[&str]) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        match &*self.backend {
            Backend::InProcess(cache) => forget(cache, keys).await,
            Backend::Redis(redis) => {
                let fallback = &redis.fallback;
                forget(fallback, keys).await;
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                self.redis_op("DEL", |mut c| async move { c.del::<_, ()>(keys).await })
                    .await;
            }
        }
    }

    /// For readiness: whether the cache answers, and how. Redis is asked even while the
    /// breaker keeps requests off it, and the answer tells the breaker.
    pub async fn ping(&self) -> Result<String, redis::RedisError> {
        match &*self.backend {
            Backend::InProcess(cache) => Ok(format!("in-process, {} entries", cache.entry_count())),
            Backend::Redis(redis) => {
                let breaker = &redis.breaker;
                let answer = async {
                    let mut connection = self.connection().await?;
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
                        breaker.succeeded();
                        Ok(format!("redis {pong}, breaker closed"))
                    }
                    Err(err) => {
                        breaker.failed(&format_args!("PING: {err}"));
                        Err(err)
                    }
                }
            }
        }
    }

    /// The Redis breaker's state; `None` without Redis.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        match &*self.backend {
            Backend::InProcess(_) => None,
            Backend::Redis(redis) => Some(redis.breaker.current()),
        }
    }

    async fn get(&self, key: &str) -> Option<Arc<str>> {
        match &*self.backend {
            Backend::InProcess(cache) => cache.get(key).await,
            Backend::Redis(redis) => {
                let fallback = &redis.fallback;
                let owned = key.to_string();
                let answer = self
                    .redis_op("GET", |mut c| async move {
                        c.get::<_, Option<String>>(owned).await
                    })
                    .await;
                match answer {
                    Some(value) => value.map(Arc::from),
                    None => fallback.get(key).await,
                }
            }
        }
    }

    async fn set(&self, key: &str, json: String) {
        match &*self.backend {
            Backend::InProcess(cache) => cache.insert(key.to_string(), Arc::from(json)).await,
            Backend::Redis(redis) => {
                let fallback = &redis.fallback;
                let owned = key.to_string();
                let seconds = self.ttl.as_secs().max(1);
                let value = json.clone();
                let stored = self
                    .redis_op("SET", |mut c| async move {
                        c.set_ex::<_, _, ()>(owned, value, seconds).await
                    })
                    .await;
                if stored.is_none() {
                    fallback.insert(key.to_string(), Arc::from(json)).await;
                }
            }
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let Backend::Redis(redis) = &*self.backend else {
            unreachable!("only called for Redis");
        };
        let (client, connection) = (&redis.client, &redis.connection);
        let manager = tokio::time::timeout(
            REDIS_TIMEOUT,
            connection.get_or_try_init(|| ConnectionManager::new(client.clone())),
        )
        .await
        .map_err(|_| timed_out("connect"))??;
        Ok(manager.clone())
    }

    /// Runs one Redis command under [`REDIS_TIMEOUT`] if the breaker lets it; `None` when it
    /// did not run or failed (the breaker hears of either outcome).
    async fn redis_op<T, Fut>(
        &self,
        name: &str,
        op: impl FnOnce(ConnectionManager) -> Fut,
    ) -> Option<T>
    where
        Fut: Future<Output = Result<T, redis::RedisError>>,
    {
        let Backend::Redis(redis) = &*self.backend else {
            unreachable!("only called for Redis");
        };
        let (breaker, fallback) = (&redis.breaker, &redis.fallback);
        if !breaker.allow() {
            return None;
        }
        let outcome = match self.connection().await {
            Ok(connection) => tokio::time::timeout(REDIS_TIMEOUT, op(connection))
                .await
                .unwrap_or_else(|_| Err(timed_out(name))),
            Err(err) => Err(err),
        };
        match outcome {
            Ok(value) => {
                if breaker.current() != BreakerState::Closed {
                    fallback.invalidate_all();
                }
                breaker.succeeded();
                Some(value)
            }
            Err(err) => {
                breaker.failed(&format_args!("{name}: {err}"));
                None
            }
        }
    }
}

async fn forget(cache: &LocalCache, keys: &[&str]) {
    for key in keys {
        cache.invalidate(*key).await;
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
        let reads = (0..8).map(|_| cache.get_or_compute("k", || slow_count(&computed)));
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
        let (first, ()) = tokio::join!(cache.get_or_compute("k", stale), async {
            started.notified().await;
            cache.invalidate(&["k"]).await;
            release.notify_one();
        });
        assert_eq!(
            first.as_deref(),
            Ok("before the change"),
            "the caller still gets its value"
        );
        let fresh = || async { Ok::<_, ()>("after the change".to_string()) };
        let next = cache.get_or_compute("k", fresh).await;
        assert_eq!(
            next.as_deref(),
            Ok("after the change"),
            "the stale value was not kept"
        );
        let kept = cache
            .get_or_compute("k", || async { Err::<String, ()>(()) })
            .await;
        assert_eq!(kept.as_deref(), Ok("after the change"), "the fresh one was");
    }
}
