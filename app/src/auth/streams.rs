//! The event streams (`/api/v1/events`) open on this server, by user and session: a user may
//! hold only so many at once, and signing out or being disabled ends them at once.
//!
//! Each open stream is an entry holding the sending half of a oneshot channel; the stream ends
//! when its receiver resolves, which happens as soon as the entry is removed (the sender is
//! dropped). The server re-checks the session now and then as well, for what happens elsewhere
//! (expiry, idleness, a sign-out on another server).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

/// Streams one user may hold open at once (tabs, windows, devices).
pub const STREAMS_PER_USER: usize = 8;

#[derive(Clone, Default)]
pub struct EventStreams {
    open: Arc<Mutex<HashMap<i64, Vec<OpenStream>>>>,
    next_id: Arc<AtomicU64>,
}

struct OpenStream {
    id: u64,
    /// The SHA-256 of the session's token.
    session: String,
    /// Never sent on: dropping it (removing the entry) is what ends the stream.
    _end: oneshot::Sender<()>,
}

/// The user already holds [`STREAMS_PER_USER`] streams.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyStreams;

/// One open stream's place in the registry, given back when dropped.
pub struct StreamLease {
    streams: EventStreams,
    user_id: i64,
    id: u64,
}

impl EventStreams {
    /// Registers a stream of `user_id`'s session `session_hash`; the receiver resolves when
    /// that session or user is ended.
    pub fn open(
        &self,
        user_id: i64,
        session_hash: &str,
    ) -> Result<(StreamLease, oneshot::Receiver<()>), TooManyStreams> {
        let mut open = self.lock();
        let streams = open.entry(user_id).or_default();
        if streams.len() >= STREAMS_PER_USER {
            return Err(TooManyStreams);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (end, ended) = oneshot::channel();
        streams.push(OpenStream {
            id,
            session: session_hash.to_string(),
            _end: end,
        });
        let lease = StreamLease {
            streams: self.clone(),
            user_id,
            id,
        };
        Ok((lease, ended))
    }

    /// Ends the streams of one session (signed out).
    pub fn end_session(&self, session_hash: &str) {
        self.lock().retain(|_, streams| {
            streams.retain(|stream| stream.session != session_hash);
            !streams.is_empty()
        });
    }

    /// Ends every stream of a user (disabled).
    pub fn end_user(&self, user_id: i64) {
        self.lock().remove(&user_id);
    }

    /// The map stays consistent through a panic elsewhere (each change is one call), so a
    /// poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Vec<OpenStream>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for StreamLease {
    fn drop(&mut self) {
        let mut open = self.streams.lock();
        if let Some(streams) = open.get_mut(&self.user_id) {
            streams.retain(|stream| stream.id != self.id);
            if streams.is_empty() {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_user_and_end_with_their_session_or_user() {
        let streams = EventStreams::default();
        let mut held: Vec<_> = (0..STREAMS_PER_USER)
            .map(|i| streams.open(1, if i == 0 { "a" } else { "b" }).unwrap())
            .collect();
        assert!(matches!(streams.open(1, "b"), Err(TooManyStreams)));
        assert!(streams.open(2, "c").is_ok(), "other users are not affected");

        use oneshot::error::TryRecvError::{Closed, Empty};
        streams.end_session("a");
        assert_eq!(held[0].1.try_recv(), Err(Closed));
        assert_eq!(held[1].1.try_recv(), Err(Empty));

        held.truncate(1);
        let mut reopened: Vec<_> = (0..STREAMS_PER_USER)
            .map(|_| streams.open(1, "d").unwrap())
            .collect();
        assert!(
            streams.open(1, "d").is_err(),
            "dropped leases gave their place back"
        );
        streams.end_user(1);
        assert!(
            reopened
                .iter_mut()
                .all(|(_, ended)| ended.try_recv() == Err(Closed))
        );
    }
}
