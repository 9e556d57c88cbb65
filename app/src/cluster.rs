//! What one server tells the others when data changes under them. Several servers on one
//! PostgreSQL share rows but not their memory: the cached aggregates, the incident windows'
//! anchors, the appliance keys looked up recently and the dashboards connected to each. A
//! [`Change`] travels through PostgreSQL's `LISTEN/NOTIFY` on [`CHANNEL`]; each server applies
//! the others' (`server::cluster`). On SQLite there is one server, and nothing to send.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::db::Db;
use crate::db::incidents::IncidentFacts;
use crate::domain::scope::Scope;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "posture_changes";

/// A notification's payload must stay under PostgreSQL's 8,000 bytes. A change with more
/// incidents than fit is sent in several notices, up to [`MAX_NOTICES`]; beyond that, or when
/// it names more sites than fit, as "everything changed".
const MAX_PAYLOAD: usize = 7_000;
/// Notices one change may take; a larger one makes the others sample their anchors again,
/// which is cheaper than reading many notices.
const MAX_NOTICES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// New reports or incident actions: the scopes open dashboards should refetch, and how
    /// the incidents changed, so each server keeps its incident windows' anchors in step.
    Data {
        scopes: BTreeSet<Scope>,
        #[serde(default, skip_serializing_if = "IncidentChanges::is_empty")]
        incidents: IncidentChanges,
    },
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

/// What happened to incidents, as the incident windows' anchors follow it
/// (`IncidentWindows::note_inserted`, `note_changed`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentChanges {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inserted: Vec<IncidentFacts>,
    /// Each changed incident before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<(IncidentFacts, IncidentFacts)>,
    /// The changes cannot be followed: the anchors must be sampled again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rebuild: bool,
}

impl IncidentChanges {
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.changed.is_empty() && !self.rebuild
    }

    /// Adds `later`, which happened after these changes.
    pub fn extend(&mut self, later: IncidentChanges) {
        self.rebuild |= later.rebuild;
        if self.rebuild {
            *self = IncidentChanges::rebuild();
        } else {
            self.inserted.extend(later.inserted);
            self.changed.extend(later.changed);
        }
    }

    pub fn rebuild() -> Self {
        IncidentChanges {
            rebuild: true,
            ..Default::default()
        }
    }

    fn len(&self) -> usize {
        self.inserted.len() + self.changed.len()
    }

    /// The first `n` changes in order (inserted first, as recorded) and the rest.
    fn split_at(mut self, n: usize) -> (Self, Self) {
        let from_inserted = n.min(self.inserted.len());
        let rest_inserted = self.inserted.split_off(from_inserted);
        let rest_changed = self.changed.split_off(n - from_inserted);
        let rest = IncidentChanges {
            inserted: rest_inserted,
            changed: rest_changed,
            rebuild: false,
        };
        (self, rest)
    }
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
    /// The payloads for `NOTIFY`, in order: the change itself when it fits one, its incidents
    /// over several (the scopes on the last, so dashboards refetch once the anchors are in
    /// step), or "everything changed".
    pub fn payloads(&self) -> Vec<String> {
        let json = serde_json::to_string(self).expect("a notice serialises");
        if json.len() <= MAX_PAYLOAD {
            return vec![json];
        }
        self.split().unwrap_or_else(|| vec![self.coarse()])
    }

    /// The change as several notices that each fit, if it can be.
    fn split(&self) -> Option<Vec<String>> {
        let Change::Data { scopes, incidents } = &self.change else {
            return None;
        };
        let mut rest = incidents.clone();
        let mut payloads = Vec::new();
        while payloads.len() < MAX_NOTICES {
            // The most of what is left that fits one notice; the scopes go with the last.
            let mut take = rest.len();
            loop {
                let (part, left) = rest.clone().split_at(take);
                let scopes = if left.is_empty() {
                    scopes.clone()
                } else {
                    BTreeSet::new()
                };
                let json = self.with(Change::Data {
                    scopes,
                    incidents: part,
                });
                if json.len() <= MAX_PAYLOAD {
                    payloads.push(json);
                    rest = left;
                    break;
                }
                if take <= 1 {
                    return None;
                }
                take /= 2;
            }
            if rest.is_empty() {
                return Some(payloads);
            }
        }
        None
    }

    /// "Everything changed", which always fits.
    fn coarse(&self) -> String {
        self.with(Change::Data {
            scopes: BTreeSet::from([Scope::Everything]),
            incidents: IncidentChanges::rebuild(),
        })
    }

    fn with(&self, change: Change) -> String {
        let notice = Notice {
            origin: self.origin,
            sent_ms: self.sent_ms,
            change,
        };
        serde_json::to_string(&notice).expect("a notice serialises")
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
    let notice = Notice {
        origin,
        sent_ms,
        change,
    };
    // One statement, so the notices are delivered together and in order.
    let sent = sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind(CHANNEL)
        .bind(notice.payloads())
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

    fn facts(id: i64) -> IncidentFacts {
        IncidentFacts {
            id,
            site_id: 1,
            site: "clinic-0001".into(),
            client_id: 1,
            hostname: format!("host-{id}.clinic.example"),
            check_type: "backup".into(),
            category: "backup".into(),
            severity: "high".into(),
            severity_rank: 3,
            status: "open".into(),
            reported_at: chrono::DateTime::from_timestamp(1_700_000_000 + id, 0).unwrap(),
        }
    }

    fn notice(change: Change) -> Notice {
        Notice {
            origin: 7,
            sent_ms: 0,
            change,
        }
    }

    fn read(payload: &str) -> Change {
        serde_json::from_str::<Notice>(payload).unwrap().change
    }

    #[test]
    fn a_notice_naming_too_many_sites_becomes_everything() {
        let scopes = (0..1_000)
            .map(|i| Scope::Site(SiteSlug(format!("clinic-{i:04}"))))
            .collect();
        let incidents = IncidentChanges::default();
        let payloads = notice(Change::Data { scopes, incidents }).payloads();
        assert_eq!(payloads.len(), 1);
        assert!(payloads[0].len() < 8_000);
        assert_eq!(
            read(&payloads[0]),
            Change::Data {
                scopes: BTreeSet::from([Scope::Everything]),
                incidents: IncidentChanges::rebuild(),
            }
        );
    }

    #[test]
    fn many_incidents_travel_in_order_over_several_notices_with_the_scopes_last() {
        let inserted: Vec<_> = (0..60).map(facts).collect();
        let changed: Vec<_> = (60..80).map(|id| (facts(id), facts(id))).collect();
        let scopes = BTreeSet::from([Scope::Incidents]);
        let incidents = IncidentChanges {
            inserted: inserted.clone(),
            changed: changed.clone(),
            rebuild: false,
        };
        let payloads = notice(Change::Data { scopes, incidents }).payloads();
        assert!(payloads.len() > 1, "{} notices", payloads.len());
        let mut received = IncidentChanges::default();
        for (i, payload) in payloads.iter().enumerate() {
            assert!(payload.len() <= MAX_PAYLOAD);
            let Change::Data { scopes, incidents } = read(payload) else {
                panic!("a data change");
            };
            let last = i == payloads.len() - 1;
            assert_eq!(scopes.contains(&Scope::Incidents), last, "notice {i}");
            received.extend(incidents);
        }
        assert_eq!((received.inserted, received.changed), (inserted, changed));
    }

    #[test]
    fn a_storm_of_incidents_asks_for_a_rebuild_instead() {
        let inserted = (0..5_000).map(facts).collect();
        let incidents = IncidentChanges {
            inserted,
            ..Default::default()
        };
        let scopes = BTreeSet::from([Scope::Incidents]);
        let payloads = notice(Change::Data { scopes, incidents }).payloads();
        assert_eq!(payloads.len(), 1);
        let Change::Data { incidents, .. } = read(&payloads[0]) else {
            panic!("a data change");
        };
        assert!(incidents.rebuild);
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
                incidents: IncidentChanges {
                    inserted: vec![facts(1)],
                    changed: vec![(facts(2), facts(3))],
                    rebuild: false,
                },
            },
        ] {
            let payloads = notice(change.clone()).payloads();
            assert_eq!(payloads.len(), 1);
            assert_eq!(read(&payloads[0]), change);
        }
    }
}
