//! `GET /api/v1/events`: server-sent invalidation hints for open dashboards (see
//! [`crate::hints`]). Each event is `event: invalidate` with a JSON array of scopes.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::hints::EVERYTHING;
use crate::state::AppState;

pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.hints.subscribe();
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        let scopes = match receiver.recv().await {
            Ok(scopes) => scopes,
            Err(RecvError::Lagged(_)) => EVERYTHING.into(),
            Err(RecvError::Closed) => return None,
        };
        let event = Event::default().event("invalidate").data(&*scopes);
        Some((Ok(event), receiver))
    });
    Sse::new(stream.take_until(state.hints.closed())).keep_alive(KeepAlive::default())
}
