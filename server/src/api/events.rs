//! `GET /api/v1/events`: server-sent invalidation hints for open dashboards (see
//! [`crate::hints`]). Each event is `event: invalidate` with a JSON array of scopes; a user
//! scoped to some clients hears of no other client's site.
//!
//! A stream belongs to the session that opened it: it ends at once when that session signs
//! out or its user is disabled on this server, and within [`SESSION_RECHECK`] when the session
//! expires, idles out or is ended on another server. A user holds at most
//! [`STREAMS_PER_USER`] streams; one more is refused with 429.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use app::auth::SessionUser;
use app::auth::session::{token_from_cookie_header, token_hash};
use app::auth::streams::{STREAMS_PER_USER, StreamLease};
use app::db::{Db, accounts};
use app::domain::client_scope::ClientScope;
use app::domain::ids::SiteSlug;
use app::domain::scope::Scope;
use app::error::AppError;
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use crate::hints;
use crate::refusals::json_error;
use crate::state::AppState;

/// How often an open stream checks that its session is still valid.
pub const SESSION_RECHECK: Duration = Duration::from_secs(5);

pub async fn events(
    State(state): State<AppState>,
    user: Option<Extension<SessionUser>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(token_from_cookie_header);
    let (Some(Extension(user)), Some(token)) = (user, token) else {
        let error = AppError::Unauthorized("Sign in to continue: your session ended.".into());
        return json_error(StatusCode::UNAUTHORIZED, &error);
    };
    let session = token_hash(&token);
    let Ok((lease, ended)) = state.accounts.signed_in.streams().open(user.id, &session) else {
        let error = AppError::Invalid(format!(
            "too many live-update connections: at most {STREAMS_PER_USER} per user; close \
             other Posture tabs"
        ));
        return json_error(StatusCode::TOO_MANY_REQUESTS, &error);
    };
    let seen = match SeenSites::of(&state, &user.clients).await {
        Ok(seen) => seen,
        Err(err) => return json_error(StatusCode::SERVICE_UNAVAILABLE, &err),
    };
    let receiver = state.hints.subscribe();
    let hints = futures::stream::unfold((receiver, seen), |(mut receiver, seen)| async move {
        let scopes = match receiver.recv().await {
            Ok(scopes) => seen.narrow(scopes),
            Err(RecvError::Lagged(_)) => hints::everything(),
            Err(RecvError::Closed) => return None,
        };
        let event = Event::default().event("invalidate").data(&*scopes);
        Some((Ok::<_, std::convert::Infallible>(event), (receiver, seen)))
    });
    let end = stream_end(state, session, lease, ended);
    Sse::new(hints.take_until(end))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The sites whose hints a stream passes on: every site's for an unrestricted user; for a
/// scoped one, those of their clients' sites when the stream opened (the other hints name no
/// site, so they pass).
enum SeenSites {
    All,
    Only(HashSet<SiteSlug>),
}

impl SeenSites {
    async fn of(state: &AppState, clients: &ClientScope) -> Result<Self, AppError> {
        if !clients.is_restricted() {
            return Ok(Self::All);
        }
        let rows = app::aggregates::site_rows(&state.db, &state.cache, clients).await?;
        Ok(Self::Only(
            rows.value.iter().map(|row| row.site_id.clone()).collect(),
        ))
    }

    /// `scopes` (a hint as the server sent it) without the sites this stream does not see; a
    /// hint that cannot be read becomes "everything", which names no site.
    fn narrow(&self, scopes: Arc<str>) -> Arc<str> {
        let Self::Only(sites) = self else {
            return scopes;
        };
        let Ok(mut parsed) = serde_json::from_str::<BTreeSet<Scope>>(&scopes) else {
            return hints::everything();
        };
        parsed.retain(|scope| match scope {
            Scope::Site(slug) => sites.contains(slug),
            _ => true,
        });
        hints::serialise(&parsed)
    }
}

/// Resolves when the stream must end: its session or user ended here, the session is no
/// longer valid in the database, or the server is stopping. Holds the stream's place in the
/// registry until then (or until the client goes away and the stream is dropped).
async fn stream_end(
    state: AppState,
    session: String,
    lease: StreamLease,
    ended: oneshot::Receiver<()>,
) {
    let _lease = lease;
    tokio::select! {
        _ = ended => {}
        () = state.hints.closed() => {}
        () = session_invalid(&state.db, &session) => {}
    }
}

/// Resolves once the session is found no longer valid; a failed check is not taken as an end.
async fn session_invalid(db: &Db, session: &str) {
    loop {
        tokio::time::sleep(SESSION_RECHECK).await;
        match accounts::session_alive(db, session, chrono::Utc::now()).await {
            Ok(false) => return,
            Ok(true) => {}
            Err(err) => tracing::warn!("re-checking an event stream's session: {err}"),
        }
    }
}
