//! What one server tells the others when data changes under them. Several servers on one
//! PostgreSQL share rows but not their memory: the cached aggregates, the incident windows'
//! anchors, the appliance keys looked up recently and the dashboards connected to each. A
//! [`Change`] travels through PostgreSQL's `LISTEN/NOTIFY` on [`CHANNEL`]; each server applies
//! the others' (`server::cluster`). On SQLite there is one server, and nothing to send.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::db::Db;
use crate::domain::scope::Scope;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "posture_changes";

/// A notification's payload must stay under PostgreSQL's 8,000 bytes; a change naming more
/// sites than fit is sent as "every site".
const MAX_PAYLOAD: usize = 7_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// New reports: the scopes open dashboards should refetch; incidents changed when
    /// `scopes` holds [`Scope::Incidents`].
    Data { scopes: BTreeSet<Scope> },
    /// A site was renamed, edited or decommissioned: its appliances' keys and the site
    /// aggregates are stale.
    SiteChanged { site: i64 },
    /// An appliance's keys were revoked or replaced.
    KeysRevoked { appliance: i64 },
    /// A session ended (signed out); `session` is the SHA-256 of its token, as stored.
    SessionEnded { session: String },
    /// A user's role changed or they were disabled: their sessions are looked up again.
    UserChanged { user: i64, disabled: bool },
}

/// A change and the server it came from, as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    /// The sending server's random id, so it can skip its own notices; `0` from the CLI.
    pub origin: u64,
    /// When it was sent (Unix milliseconds), for the notification lag in `/metrics`.
    pub sent_ms: i64,
    #[serde(flatten)]
    pub change: Change,
}

impl Notice {
    /// The payload for `NOTIFY`: the change itself, or a coarser one that fits.
    pub fn payload(&self) -> String {
        let json = serde_json::to_string(self).expect("a notice serialises");
        if json.len() <= MAX_PAYLOAD {
            return json;
        }
        let coarser = Notice {
            origin: self.origin,
            sent_ms: self.sent_ms,
            change: Change::Data {
                scopes: BTreeSet::from([Scope::Everything]),
            },
        };
        serde_json::to_string(&coarser).expect("a notice serialises")
    }
}

/// The origin of notices sent by the command line (`posture appliance revoke`, ...).
pub const CLI_ORIGIN: u64 = 0;

/// This server's end of the conversation: its random id and the database notices go through.
#[derive(Clone, Debug)]
pub struct Peers {
    db: Db,
    origin: u64,
}

impl Peers {
    pub fn new(db: Db) -> Self {
        // Never `CLI_ORIGIN`.
        let origin = rand::random::<u64>() | 1;
        Peers { db, origin }
    }

    pub fn origin(&self) -> u64 {
        self.origin
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Tells the other servers of `change`.
    pub async fn tell(&self, change: Change) {
        notify(&self.db, self.origin, change).await;
    }
}

/// Tells the other servers on this database of `change` (nothing on SQLite). A failure is
/// logged, not returned: the change itself is committed, and the others catch up when their
/// caches expire.
pub async fn notify(db: &Db, origin: u64, change: Change) {
    let Db::Postgres(pool) = db else {
        return;
    };
    let sent_ms = chrono::Utc::now().timestamp_millis();
    let payload = Notice {
        origin,
        sent_ms,
        change,
    }
    .payload();
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await;
    if let Err(err) = sent {
        tracing::warn!("telling the other servers of a change failed: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::SiteSlug;

    #[test]
    fn a_notice_too_large_for_postgres_becomes_every_scope() {
        let scopes = (0..1_000)
            .map(|i| Scope::Site(SiteSlug(format!("clinic-{i:04}"))))
            .collect();
        let notice = Notice {
            origin: 7,
            sent_ms: 0,
            change: Change::Data { scopes },
        };
        let payload = notice.payload();
        assert!(payload.len() < 8_000);
        let read: Notice = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            read.change,
            Change::Data {
                scopes: BTreeSet::from([Scope::Everything])
            }
        );
    }

    #[test]
    fn notices_read_back_as_sent() {
        for change in [
            Change::SiteChanged { site: 3 },
            Change::KeysRevoked { appliance: 9 },
            Change::SessionEnded {
                session: "ab12".into(),
            },
            Change::UserChanged {
                user: 4,
                disabled: true,
            },
            Change::Data {
                scopes: BTreeSet::from([Scope::Incidents, Scope::Site(SiteSlug("a".into()))]),
            },
        ] {
            let notice = Notice {
                origin: 1,
                sent_ms: 0,
                change: change.clone(),
            };
            let read: Notice = serde_json::from_str(&notice.payload()).unwrap();
            assert_eq!((read.origin, read.change), (1, change));
        }
    }
}
