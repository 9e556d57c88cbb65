//! Cheap polling: GET answers of server functions (`/api/...`) carry an ETag and
//! `Cache-Control: private, no-cache`. The browser then revalidates each poll with
//! `If-None-Match`, and an unchanged answer costs a bodiless 304 instead of the payload.
//! Answers made from a cached aggregate come with the ETag computed once for that value
//! (`app::aggregates::tag_answer`); the others are hashed here.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Answers larger than this are passed through without an ETag.
const MAX_TAGGED_BODY: usize = 16 * 1024 * 1024;

pub async fn etag(request: Request, next: Next) -> Response {
    let tagged = request.method() == Method::GET && request.uri().path().starts_with("/api/");
    let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    // Answers that state their own caching (health: no-store) are left alone.
    if !tagged
        || response.status() != StatusCode::OK
        || response.headers().contains_key(CACHE_CONTROL)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let (tag, body) = match parts.headers.get(ETAG) {
        Some(tag) => (tag.clone(), body),
        None => {
            let Ok(bytes) = to_bytes(body, MAX_TAGGED_BODY).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let tag = app::cache::etag_of(&bytes);
            let tag = HeaderValue::from_str(&tag).expect("hex is a valid header value");
            (tag, Body::from(bytes))
        }
    };
    let no_cache = HeaderValue::from_static("private, no-cache");
    if if_none_match.is_some_and(|sent| matches(&sent, &tag)) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified.headers_mut().insert(ETAG, tag);
        not_modified.headers_mut().insert(CACHE_CONTROL, no_cache);
        return not_modified;
    }
    parts.headers.insert(CACHE_CONTROL, no_cache);
    parts.headers.insert(ETAG, tag);
    Response::from_parts(parts, body)
}

/// Whether an `If-None-Match` list names `tag`.
fn matches(sent: &HeaderValue, tag: &HeaderValue) -> bool {
    sent.as_bytes()
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii() == tag.as_bytes())
}
