//! `/reports/open`: the report picker's plain GET form (which works without JavaScript) lands
//! here and is sent on to the report's own address. And the monthly schedule's clock.

use app::db::Db;
use app::report::{ReportKind, ReportMonth, report_path};
use app::services::alerts::send::AlertSender;
use app::services::reports::schedule;
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

/// How often the monthly schedule looks for a closed month's reports to generate or mail.
const SCHEDULE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Runs the monthly schedule's rounds (`app::services::reports::schedule`) for as long as the
/// server runs: the first at start, so a server down on the 1st catches up.
pub fn start_schedule(db: Db, sender: AlertSender, public_url: String) {
    let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SCHEDULE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = chrono::Utc::now();
            match schedule::run_round(&db, &sender, &public_url, &holder, now).await {
                Ok(round) if round != schedule::Round::default() => tracing::info!(
                    "monthly reports: {} generated, {} mailed",
                    round.generated,
                    round.mailed
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!("monthly reports: failed; tried again later: {err}"),
            }
        }
    });
}
