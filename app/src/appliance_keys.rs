//! Appliance API keys this server has looked up recently, by the SHA-256 of the key.
//!
//! Appliances send a report every few seconds to minutes; with a key looked up once per TTL
//! instead of per request, authenticating costs no database read (on SQLite that read would
//! also drop the reading connection's page cache after every batch the writer commits).
//! Keys found unknown are remembered too, for a shorter time, so a client sending made-up keys
//! costs no query per request. Renaming or decommissioning a site, or revoking an appliance's
//! keys, forgets them at once on every server sharing the PostgreSQL (`crate::cluster`); on
//! SQLite the command line's revocations reach the running server within the TTL.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

/// Most keys remembered, known and unknown alike.
const CAPACITY: u64 = 100_000;
/// How long an unknown key is refused without asking the database again.
const UNKNOWN_TTL: Duration = Duration::from_secs(10);

/// The appliance a key belongs to, as the API needs it on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplianceIdentity {
    pub id: i64,
    /// `sites.id`, the stable key every table references.
    pub site: i64,
    /// `sites.site_id`, the public id requests name (an admin may rename it).
    pub site_id: String,
}

/// Cloned into every request's context, so one `Arc` around the caches.
#[derive(Clone)]
pub struct KeyCache(Arc<Keys>);

struct Keys {
    known: Cache<String, ApplianceIdentity>,
    unknown: Cache<String, ()>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self(Arc::new(Keys {
            known: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            unknown: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(UNKNOWN_TTL.min(ttl))
                .build(),
        }))
    }

    /// `Some(Some(_))`: a known key; `Some(None)`: a key recently found unknown; `None`: ask
    /// the database.
    pub fn lookup(&self, key_hash: &str) -> Option<Option<ApplianceIdentity>> {
        if let Some(identity) = self.0.known.get(key_hash) {
            return Some(Some(identity));
        }
        self.0.unknown.contains_key(key_hash).then_some(None)
    }

    pub fn remember(&self, key_hash: String, identity: Option<ApplianceIdentity>) {
        match identity {
            Some(identity) => self.0.known.insert(key_hash, identity),
            None => self.0.unknown.insert(key_hash, ()),
        }
    }

    /// Forgets every key of appliance `appliance` (revoked or replaced).
    pub fn forget_appliance(&self, appliance: i64) {
        let _ = self
            .0
            .known
            .invalidate_entries_if(move |_, identity| identity.id == appliance);
    }

    /// Forgets every key: after news of changes may have been missed.
    pub fn forget_all(&self) {
        self.0.known.invalidate_all();
        self.0.unknown.invalidate_all();
    }

    /// Forgets every key of the site whose stable key is `site` (renamed or decommissioned).
    pub fn forget_site(&self, site: i64) {
        // Only fails when invalidation closures are not enabled, which `new` does.
        let _ = self
            .0
            .known
            .invalidate_entries_if(move |_, identity| identity.site == site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_unknown_and_forgotten_keys() {
        let cache = KeyCache::new(Duration::from_secs(30));
        let identity = ApplianceIdentity {
            id: 1,
            site: 7,
            site_id: "clinic-7".into(),
        };
        assert_eq!(cache.lookup("a"), None);
        cache.remember("a".into(), Some(identity.clone()));
        cache.remember("b".into(), None);
        assert_eq!(cache.lookup("a"), Some(Some(identity)));
        assert_eq!(cache.lookup("b"), Some(None));
        cache.forget_site(7);
        cache.0.known.run_pending_tasks();
        assert_eq!(cache.lookup("a"), None);
    }
}
