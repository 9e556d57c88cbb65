//! What this server holds in memory of signed-in sessions: who a session token belongs to,
//! remembered for a few seconds so a request rarely waits on the database to learn who is
//! asking, and the open event streams. A session that ends (signed out, its user disabled or
//! given another role) is forgotten at once here; the other servers on the same PostgreSQL
//! hear of it through `crate::cluster` and forget it too. Expiry and idleness are the
//! database's rules, so they take effect at the next lookup, within the cache's few seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use crate::auth::SessionUser;
use crate::auth::session::token_hash;
use crate::auth::streams::EventStreams;
use crate::cluster::{Change, Peers};
use crate::db::{Db, accounts};

/// Sessions remembered at most.
const CAPACITY: u64 = 100_000;

/// Cloned into every request's context, so one `Arc` around it all.
#[derive(Clone)]
pub struct SignedIn(Arc<Sessions>);

struct Sessions {
    /// The user of each recently resolved session, by the SHA-256 of its token.
    users: Cache<String, SessionUser>,
    /// Bumped by every ending: a lookup that began before one is answered but not
    /// remembered, so a session ended while its lookup was under way is not revived.
    generation: AtomicU64,
    streams: EventStreams,
}

impl SignedIn {
    /// Sessions are remembered for `ttl`; zero remembers none.
    pub fn new(ttl: Duration) -> Self {
        Self(Arc::new(Sessions {
            users: Cache::builder()
                .max_capacity(if ttl.is_zero() { 0 } else { CAPACITY })
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .support_invalidation_closures()
                .build(),
            generation: AtomicU64::default(),
            streams: EventStreams::default(),
        }))
    }

    /// The open event streams on this server.
    pub fn streams(&self) -> &EventStreams {
        &self.0.streams
    }

    /// The user of the session `token`, remembered or looked up (`accounts::resolve_session`).
    pub async fn resolve(
        &self,
        db: &Db,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionUser>, sqlx::Error> {
        let hash = token_hash(token);
        if let Some(user) = self.0.users.get(&hash) {
            metrics::counter!("posture_session_lookups_total", "source" => "memory").increment(1);
            return Ok(Some(user));
        }
        metrics::counter!("posture_session_lookups_total", "source" => "database").increment(1);
        let generation = self.0.generation.load(Ordering::SeqCst);
        let user = accounts::resolve_session(db, token, now).await?;
        if let Some(user) = &user
            && self.0.generation.load(Ordering::SeqCst) == generation
        {
            self.0.users.insert(hash, user.clone());
        }
        Ok(user)
    }

    /// Applies an ending, from this server or another; other changes are not about sessions.
    pub fn apply(&self, change: &Change) {
        match change {
            Change::SessionEnded { session } => self.end_session(session),
            Change::UserChanged { user, disabled } => self.user_changed(*user, *disabled),
            Change::Data { .. } | Change::SiteChanged { .. } | Change::KeysRevoked { .. } => {}
        }
    }

    /// The session whose token hashes to `session` ended (signed out).
    fn end_session(&self, session: &str) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.users.invalidate(session);
        self.0.streams.end_session(session);
    }

    /// User `user` was changed: their sessions are looked up again, with the new role; a
    /// disabled user's streams end.
    fn user_changed(&self, user: i64, disabled: bool) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        // Only fails when invalidation closures are not enabled, which `new` does.
        let _ = self
            .0
            .users
            .invalidate_entries_if(move |_, cached| cached.id == user);
        if disabled {
            self.0.streams.end_user(user);
        }
    }

    /// Forgets every remembered session: after news of endings may have been missed.
    pub fn forget_all(&self) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.users.invalidate_all();
    }
}

/// Applies an ending on this server and tells the other servers, from a server function.
pub async fn end_everywhere(change: Change) {
    if let Some(signed_in) = leptos::prelude::use_context::<SignedIn>() {
        signed_in.apply(&change);
    }
    if let Some(peers) = leptos::prelude::use_context::<Peers>() {
        peers.tell(change).await;
    }
}
