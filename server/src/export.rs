//! CSV exports, streamed: rows are read in keyset-paged chunks and written as they come, so
//! an export of any size holds one chunk in memory.

use app::accounts::AuditFilter;
use app::auth::{Role, SessionUser};
use app::db::accounts;
use app::db::incidents::rows_after;
use app::incident_filter::{filter_from_query, filter_query, scoped};
use app::types::IncidentRow;
use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};

use crate::refusals::plain_refusal;
use crate::state::AppState;

const CHUNK: i64 = 1_000;

/// A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` as a formula; such cells
/// get a leading apostrophe so an exported value can never run as one.
pub fn inert_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

pub fn csv_line(fields: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let record: Vec<_> = fields.iter().map(|f| inert_cell(f)).collect();
    // Writing to memory cannot fail.
    let _ = writer.write_record(record.iter().map(|c| c.as_ref()));
    writer.into_inner().unwrap_or_default()
}

pub async fn audit_csv(
    State(state): State<AppState>,
    Extension(user): Extension<SessionUser>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    if !user.can(Role::Admin) {
        return (StatusCode::FORBIDDEN, "The audit log is for admins.").into_response();
    }
    for (name, day) in [("from", &filter.from), ("to", &filter.to)] {
        if !day.trim().is_empty() && app::db::sql::day_start(day, 0).is_none() {
            let message = format!("{name} must be a date as YYYY-MM-DD, not {day:?}");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    }
    let header_line = csv_line(&["id", "at", "actor", "action", "target", "details", "ip"]);
    let db = state.db.clone();
    // (filter, id to page back from, finished)
    let chunks = stream::unfold((filter, i64::MAX, false), move |(filter, before, done)| {
        let db = db.clone();
        async move {
            if done {
                return None;
            }
            match accounts::audit_entries(&db, &filter, before, CHUNK).await {
                Ok(entries) => {
                    let last = entries.last().map(|e| e.id);
                    let mut bytes = Vec::new();
                    for e in &entries {
                        bytes.extend(csv_line(&[
                            &e.id.to_string(),
                            &e.at.to_rfc3339(),
                            &e.actor,
                            &e.action,
                            &e.target,
                            &e.details,
                            e.ip.as_deref().unwrap_or(""),
                        ]));
                    }
                    let finished = (entries.len() as i64) < CHUNK;
                    Some((Ok(bytes), (filter, last.unwrap_or(0), finished)))
                }
                Err(err) => Some((Err(std::io::Error::other(err)), (filter, 0, true))),
            }
        }
    });
    csv_response(
        "audit",
        stream::once(async { Ok(header_line) }).chain(chunks),
    )
}

/// `/incidents.csv?<the list's filter>`: every incident the filter matches, in the list's
/// order, of the clients the signed-in user sees.
pub async fn incidents_csv(
    State(state): State<AppState>,
    Extension(user): Extension<SessionUser>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let query: leptos_router::params::ParamsMap = params.iter().cloned().collect();
    let filter = match scoped(&state.db, filter_from_query(&query), user.clients).await {
        Ok(filter) => filter,
        Err(err) => return plain_refusal(&err),
    };
    // The page drops values it does not know; an export must not silently widen instead.
    let understood = filter_query(&filter);
    for (name, value) in &params {
        let value = value.trim();
        let kept = understood.contains(&format!("{name}={}", urlencoding_of(value)));
        let default_sort = name == "sort" && value == "reported";
        if !(value.is_empty() || kept || default_sort) {
            let message =
                format!("{name}: {value:?} is not a filter value the incident list knows");
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    }
    let header_line = csv_line(&[
        "id",
        "reported_at",
        "site_id",
        "clinic",
        "hostname",
        "check_type",
        "category",
        "severity",
        "status",
        "suppressed_until",
    ]);
    let db = state.db.clone();
    // (last row written, finished)
    let chunks = stream::unfold((None::<IncidentRow>, false), move |(last, done)| {
        let (db, filter) = (db.clone(), filter.clone());
        async move {
            if done {
                return None;
            }
            match rows_after(&db, &filter, last.as_ref(), CHUNK).await {
                Ok(rows) => {
                    let mut bytes = Vec::new();
                    for r in &rows {
                        bytes.extend(csv_line(&[
                            &r.id.to_string(),
                            &r.reported_at.to_rfc3339(),
                            &r.site,
                            &r.clinic_name,
                            &r.hostname,
                            &r.check_type,
                            &r.category,
                            &r.severity,
                            &r.status,
                            &r.suppressed_until
                                .map(|t| t.to_rfc3339())
                                .unwrap_or_default(),
                        ]));
                    }
                    let finished = (rows.len() as i64) < CHUNK;
                    Some((Ok(bytes), (rows.into_iter().last(), finished)))
                }
                Err(err) => Some((Err(std::io::Error::other(err)), (None, true))),
            }
        }
    });
    csv_response(
        "incidents",
        stream::once(async { Ok(header_line) }).chain(chunks),
    )
}

/// A value as `ParamsMap::to_query_string` writes it.
fn urlencoding_of(value: &str) -> String {
    let mut one = leptos_router::params::ParamsMap::new();
    one.insert("v", value.to_string());
    one.to_query_string().trim_start_matches("?v=").to_string()
}

fn csv_response(
    name: &str,
    body: impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static,
) -> Response {
    let day = chrono::Utc::now().format("%Y-%m-%d");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"posture-{name}-{day}.csv\""),
            ),
        ],
        // Fused: the compression layer may poll once more after the end.
        Body::from_stream(body.fuse()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_and_separators_are_made_inert() {
        assert_eq!(inert_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert_cell("plain"), "plain");
        assert_eq!(
            csv_line(&["a,b", "say \"hi\""]),
            b"\"a,b\",\"say \"\"hi\"\"\"\n"
        );
    }
}
