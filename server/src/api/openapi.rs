//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.1, maintained by hand in
//! `server/openapi.json` (a test checks it lists every route in [`super::ROUTES`]).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}
