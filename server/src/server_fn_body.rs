//! One limit for every server function's request body, applied before Leptos reads it: a body
//! declared or found to be over [`MAX_SERVER_FN_BODY`] is refused with 413 having read no more
//! than the limit. Arguments that arrive but cannot be read are answered 400 by the app's own
//! error type (`app::error`), naming the field.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Server-function arguments are a form or a filter: a mebibyte is far beyond any of them.
pub const MAX_SERVER_FN_BODY: usize = 1024 * 1024;

/// The paths of the registered server functions, read once from Leptos's registry.
#[derive(Clone)]
pub struct ServerFnPaths(Arc<HashSet<&'static str>>);

impl ServerFnPaths {
    pub fn registered() -> Self {
        let paths = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _method)| path)
            .collect();
        ServerFnPaths(Arc::new(paths))
    }

    pub fn contains(&self, path: &str) -> bool {
        self.0.contains(path)
    }
}

pub async fn limit(State(paths): State<ServerFnPaths>, request: Request, next: Next) -> Response {
    if !paths.contains(request.uri().path()) {
        return next.run(request).await;
    }
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_SERVER_FN_BODY) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_SERVER_FN_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(_) => too_large(),
    }
}

/// Answered the way a server function answers its errors, so the browser's client reads it.
fn too_large() -> Response {
    let error = app::error::AppError::Invalid(format!(
        "the request body is over the {} KiB limit for server functions",
        MAX_SERVER_FN_BODY / 1024
    ));
    let body = serde_json::to_string(&error).unwrap_or_default();
    let mut response = (StatusCode::PAYLOAD_TOO_LARGE, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
