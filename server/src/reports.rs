//! `/reports/open`: the report picker's plain GET form (which works without JavaScript) lands
//! here and is sent on to the report's own address.

use app::report::{ReportKind, ReportMonth, report_path};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Choice {
    /// `client:ID` or `site:SITE_ID`.
    #[serde(default)]
    subject: String,
    #[serde(default)]
    month: String,
}

pub async fn open(Query(choice): Query<Choice>) -> Response {
    let month = match ReportMonth::parse(&choice.month) {
        Ok(month) => month,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let (kind, subject) = match choice.subject.split_once(':') {
        Some(("client", id)) if id.parse::<i64>().is_ok() => (ReportKind::Client, id),
        Some(("site", slug)) if !slug.is_empty() => (ReportKind::Site, slug),
        _ => {
            let message = format!(
                "the subject must be client:ID or site:SITE_ID, not {:?}",
                choice.subject
            );
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    Redirect::to(&report_path(kind, subject, month)).into_response()
}
