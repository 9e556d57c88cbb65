//! How refused requests are answered: errors in the JSON shape server functions use (so the
//! page can show them), and, when the server cannot serve a request now (the database cannot
//! tell who is asking, or the server is at capacity), a page in the app's own style for a
//! browser that says so and offers "Try again" (retrying by itself every 15 s); both 503 with
//! `Retry-After`, at once rather than after a hang.

use app::error::{AppError, RETRY_AFTER_SECS};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error in the JSON shape server functions use, so the page can show it.
/// `err` as a plain-text answer with the status it deserves (the database's trouble is 503:
/// worth trying again), for the routes a person opens or downloads.
pub fn plain_refusal(err: &AppError) -> Response {
    let status = match err {
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Database(_) | AppError::Transport(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, err.to_string()).into_response()
}

pub fn json_error(status: StatusCode, error: &AppError) -> Response {
    let body = serde_json::to_string(error).unwrap_or_default();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

#[derive(Debug, Clone, Copy)]
pub enum Reason {
    DatabaseDown,
    AtCapacity,
}

impl Reason {
    fn error(self) -> AppError {
        match self {
            Reason::DatabaseDown => AppError::Database(
                "sessions cannot be checked right now; try again shortly.".into(),
            ),
            Reason::AtCapacity => {
                AppError::Transport("the server is at capacity; try again shortly.".into())
            }
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Reason::DatabaseDown => "Posture cannot reach its database",
            Reason::AtCapacity => "Posture is busier than it can handle",
        }
    }
}

pub fn unavailable(reason: Reason, path: &str, headers: &HeaderMap) -> Response {
    let mut response = if path.starts_with("/api/") {
        json_error(StatusCode::SERVICE_UNAVAILABLE, &reason.error())
    } else {
        let page = PAGE
            .replace("{theme}", theme(headers))
            .replace("{heading}", reason.heading());
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (CONTENT_TYPE, "text/html; charset=utf-8"),
                (CACHE_CONTROL, "no-store"),
            ],
            page,
        )
            .into_response()
    };
    response
        .headers_mut()
        .insert(RETRY_AFTER, RETRY_AFTER_SECS.into());
    response
}

/// The theme the visitor chose (the cookie the theme switch keeps), so the page is not a
/// flash of the other one.
fn theme(headers: &HeaderMap) -> &'static str {
    let dark = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim() == "posture-theme=dark");
    if dark { "dark" } else { "light" }
}

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en" data-theme="{theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="15">
<title>Posture · temporarily unavailable</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/pkg/posture.css">
</head>
<body>
<main id="main" class="login-page">
<div class="login-card">
<div class="brand">Posture</div>
<div class="error-state" role="alert" data-testid="unavailable">
<h2>{heading}</h2>
<p>Nothing is lost: appliances keep every report the server has not acknowledged and send it again. This page tries again every 15 seconds.</p>
<a class="button" href="" data-testid="try-again">Try again</a>
</div>
</div>
</main>
</body>
</html>
"#;
