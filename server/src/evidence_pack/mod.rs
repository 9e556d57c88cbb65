//! `/reports/clients/:id/:month/evidence.zip`: a client's month as evidence an auditor can
//! check without trusting Posture: the report, every check result, the incidents and their
//! history, the audit entries touching the client's sites and the evidence chain, with a
//! manifest of each file's SHA-256 signed by the server's Ed25519 key. Streamed: rows are
//! read a page at a time and leave compressed as they are written.

pub mod manifest;
pub mod verify;
mod writer;

use std::collections::HashSet;

use app::accounts::AuditFilter;
use app::auth::SessionUser;
use app::db::reports::ReportSite;
use app::db::{Db, accounts, pack_rows, reports};
use app::error::AppError;
use app::pages::reports::document::standalone_html;
use app::report::{MonthlyReport, ReportMonth};
use app::services::reports::{Subject, monthly_report};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use futures::{StreamExt, stream};
use tokio::sync::mpsc;

use crate::export::csv_line;
use crate::refusals::plain_refusal;
use crate::signing;
use crate::state::AppState;
use manifest::{FORMAT, MANIFEST, Manifest, SIGNATURE};
use writer::{PackWriter, Stopped};

/// Rows read per page.
const PAGE: i64 = 2_000;

pub async fn download(
    State(state): State<AppState>,
    Extension(user): Extension<SessionUser>,
    Path((client, month)): Path<(String, String)>,
) -> Response {
    let month = match ReportMonth::parse(&month) {
        Ok(month) => month,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let Ok(client) = client.parse::<i64>() else {
        let message = format!("Not found: no client with id {client:?}");
        return (StatusCode::NOT_FOUND, message).into_response();
    };
    let now = Utc::now();
    let report = match monthly_report(
        &state.db,
        &user.clients,
        &Subject::Client(client),
        month,
        now,
    )
    .await
    {
        Ok(report) => report,
        Err(err) => return plain_refusal(&err),
    };
    let (key, sites) = match tokio::try_join!(
        async { state.pack_key.get(&state.db).await.cloned() },
        async { Ok(reports::client_sites(&state.db, client, month).await?) },
    ) {
        Ok(found) => found,
        Err(err) => {
            tracing::error!(%err, "an evidence pack could not be started");
            return plain_refusal(&AppError::Database("the pack could not be started".into()));
        }
    };
    let (out, chunks) = mpsc::channel(4);
    let pack = Pack {
        db: state.db.clone(),
        key,
        report,
        sites,
        month,
        now,
    };
    tokio::spawn(async move {
        let mut writer = PackWriter::new(out.clone());
        if let Err(err) = pack.write(&mut writer).await {
            if !matches!(err, Stopped::Abandoned) {
                tracing::error!(%err, "an evidence pack stopped part way");
                let _ = out.send(Err(std::io::Error::other(err.to_string()))).await;
            }
            return;
        }
        if let Err(err) = writer.finish().await {
            tracing::error!(%err, "an evidence pack could not be finished");
        }
    });
    let chunks = stream::unfold(chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    });
    // Fused: a body may be polled again after its end (the compression layer is).
    let body = Body::from_stream(chunks.fuse());
    let filename = format!("posture-evidence-client-{client}-{month}.zip");
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /.well-known/posture-signing-key`: the public key evidence packs are signed with.
pub async fn signing_key(State(state): State<AppState>) -> Response {
    match state.pack_key.get(&state.db).await {
        Ok(key) => Json(serde_json::json!({
            "algorithm": "Ed25519",
            "public_key": signing::public_key_text(&key.verifying_key()),
            "encoding": "base64",
            "verify_with": "posture verify-pack FILE --public-key PUBLIC_KEY",
        }))
        .into_response(),
        Err(err) => {
            tracing::error!(%err, "the signing key could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The signing key could not be read; try again shortly.",
            )
                .into_response()
        }
    }
}

struct Pack {
    db: Db,
    key: SigningKey,
    report: MonthlyReport,
    sites: Vec<ReportSite>,
    month: ReportMonth,
    now: DateTime<Utc>,
}

impl Pack {
    fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.month.start(), self.month.end().min(self.now))
    }

    fn keys(&self) -> Vec<i64> {
        self.sites.iter().map(|s| s.id).collect()
    }

    async fn write(&self, out: &mut PackWriter) -> Result<(), Stopped> {
        out.start("report.html")?;
        out.write(standalone_html(self.report.clone()).as_bytes())?;
        out.start("report.json")?;
        out.write(&serde_json::to_vec_pretty(&self.report).map_err(std::io::Error::other)?)?;
        out.send().await?;
        self.check_results(out).await?;
        let incidents = self.incidents(out).await?;
        self.incident_history(out).await?;
        self.audit_log(out, &incidents).await?;
        self.evidence_chain(out).await?;
        self.manifest(out)
    }

    async fn check_results(&self, out: &mut PackWriter) -> Result<(), Stopped> {
        out.start("check_results.csv")?;
        out.write(&csv_line(&[
            "id",
            "checked_at",
            "site_id",
            "hostname",
            "check_type",
            "status",
            "bundle_id",
        ]))?;
        let (from, until) = self.span();
        for site in &self.sites {
            let mut after = (from, 0);
            loop {
                let rows = pack_rows::check_results(&self.db, site.id, from, until, after, PAGE)
                    .await
                    .map_err(std::io::Error::other)?;
                for row in &rows {
                    out.write(&csv_line(&[
                        &row.id.to_string(),
                        &row.checked_at.to_rfc3339(),
                        &site.site_id,
                        &row.hostname,
                        &row.check_type,
                        &row.status,
                        &row.bundle_id.to_string(),
                    ]))?;
                }
                out.send().await?;
                match rows.last() {
                    Some(last) if rows.len() as i64 == PAGE => after = (last.checked_at, last.id),
                    _ => break,
                }
            }
        }
        Ok(())
    }

    /// Writes `incidents.csv`; the ids written, to find the audit entries about them.
    async fn incidents(&self, out: &mut PackWriter) -> Result<HashSet<i64>, Stopped> {
        out.start("incidents.csv")?;
        out.write(&csv_line(&[
            "id",
            "site_id",
            "hostname",
            "check_type",
            "category",
            "severity",
            "status",
            "resolution_tier",
            "reported_at",
            "resolved_at",
            "details",
        ]))?;
        let (from, until) = self.span();
        let (keys, mut ids, mut after) = (self.keys(), HashSet::new(), 0);
        loop {
            let rows = pack_rows::incidents(&self.db, &keys, from, until, after, PAGE)
                .await
                .map_err(std::io::Error::other)?;
            for row in &rows {
                ids.insert(row.id);
                out.write(&csv_line(&[
                    &row.id.to_string(),
                    self.slug(row.site_id),
                    &row.hostname,
                    &row.check_type,
                    &row.category,
                    &row.severity,
                    &row.status,
                    row.resolution_tier.as_deref().unwrap_or(""),
                    &row.reported_at.to_rfc3339(),
                    &row.resolved_at
                        .map(|at| at.to_rfc3339())
                        .unwrap_or_default(),
                    &row.details,
                ]))?;
            }
            out.send().await?;
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => after = last.id,
                _ => return Ok(ids),
            }
        }
    }

    fn slug(&self, key: i64) -> &str {
        self.sites
            .iter()
            .find(|s| s.id == key)
            .map_or("", |s| s.site_id.as_str())
    }

    async fn incident_history(&self, out: &mut PackWriter) -> Result<(), Stopped> {
        out.start("incident_history.csv")?;
        out.write(&csv_line(&[
            "id",
            "incident_id",
            "action",
            "actor",
            "note",
            "at",
        ]))?;
        let (from, until) = self.span();
        let (keys, mut after) = (self.keys(), 0);
        loop {
            let rows = pack_rows::incident_history(&self.db, &keys, from, until, after, PAGE)
                .await
                .map_err(std::io::Error::other)?;
            for (id, incident, action, actor, note, at) in &rows {
                out.write(&csv_line(&[
                    &id.to_string(),
                    &incident.to_string(),
                    action,
                    actor,
                    note,
                    &at.to_rfc3339(),
                ]))?;
            }
            out.send().await?;
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => after = last.0,
                _ => return Ok(()),
            }
        }
    }

    async fn audit_log(
        &self,
        out: &mut PackWriter,
        incidents: &HashSet<i64>,
    ) -> Result<(), Stopped> {
        out.start("audit_log.csv")?;
        out.write(&csv_line(&[
            "id", "at", "actor", "action", "target", "details", "ip",
        ]))?;
        let appliances = pack_rows::appliance_ids(&self.db, &self.keys())
            .await
            .map_err(std::io::Error::other)?;
        let touches = Touches {
            slugs: self.sites.iter().map(|s| s.site_id.clone()).collect(),
            targets: appliances
                .iter()
                .map(|id| format!("appliance {id}"))
                .chain([format!("client {}", self.report.client_id)])
                .collect(),
            incidents,
        };
        let last_day = self.month.next().first_day().pred_opt().unwrap_or_default();
        let filter = AuditFilter {
            from: self.month.first_day().to_string(),
            to: last_day.to_string(),
            ..AuditFilter::default()
        };
        let mut before = i64::MAX;
        loop {
            let entries = accounts::audit_entries(&self.db, &filter, before, PAGE)
                .await
                .map_err(std::io::Error::other)?;
            for e in entries.iter().filter(|e| touches.entry(e)) {
                out.write(&csv_line(&[
                    &e.id.to_string(),
                    &e.at.to_rfc3339(),
                    &e.actor,
                    &e.action,
                    &e.target,
                    &e.details,
                    e.ip.as_deref().unwrap_or(""),
                ]))?;
            }
            out.send().await?;
            match entries.last() {
                Some(last) if entries.len() as i64 == PAGE => before = last.id,
                _ => return Ok(()),
            }
        }
    }

    /// `evidence_chain.json`: per site, the bundles appended in the month, in order, each
    /// with the hash it links to; written a page at a time.
    async fn evidence_chain(&self, out: &mut PackWriter) -> Result<(), Stopped> {
        out.start("evidence_chain.json")?;
        out.write(b"{\"sites\": [")?;
        let (from, until) = self.span();
        for (index, site) in self.sites.iter().enumerate() {
            let separator = if index == 0 { "" } else { "," };
            let head = serde_json::to_string(&site.site_id).map_err(std::io::Error::other)?;
            out.write(format!("{separator}\n{{\"site_id\": {head}, \"bundles\": [").as_bytes())?;
            let (mut after, mut first) = (0, true);
            loop {
                let rows = pack_rows::chain_bundles(&self.db, site.id, from, until, after, PAGE)
                    .await
                    .map_err(std::io::Error::other)?;
                for (position, hash, prev_hash, created_at) in &rows {
                    let bundle = serde_json::json!({
                        "position": position,
                        "bundle_hash": hash,
                        "prev_hash": prev_hash,
                        "created_at": created_at,
                    });
                    out.write(if first { b"\n" } else { b",\n" })?;
                    out.write(bundle.to_string().as_bytes())?;
                    first = false;
                }
                out.send().await?;
                match rows.last() {
                    Some(last) if rows.len() as i64 == PAGE => after = last.0,
                    _ => break,
                }
            }
            out.write(b"]}")?;
        }
        out.write(b"\n]}\n")?;
        Ok(())
    }

    /// `manifest.json` (each file's SHA-256 and size) and `manifest.sig`, its signature.
    fn manifest(&self, out: &mut PackWriter) -> Result<(), Stopped> {
        let manifest = Manifest {
            format: FORMAT.into(),
            client_id: self.report.client_id,
            client_name: self.report.client_name.clone(),
            month: self.month.to_string(),
            generated_at: self.now,
            month_closed: self.report.closed,
            signing_key: signing::public_key_text(&self.key.verifying_key()),
            files: out.files().to_vec(),
        };
        let bytes = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        out.start(MANIFEST)?;
        out.write(&bytes)?;
        out.start(SIGNATURE)?;
        out.write(signing::sign(&self.key, &bytes).as_bytes())?;
        Ok(())
    }
}

/// Which audit entries are about the client's sites: those naming one of its sites (or a
/// host of one), its appliances or the client, and incident actions on its incidents.
struct Touches<'a> {
    slugs: HashSet<String>,
    targets: HashSet<String>,
    incidents: &'a HashSet<i64>,
}

impl Touches<'_> {
    fn entry(&self, entry: &app::accounts::AuditEntry) -> bool {
        let site = entry.target.split('/').next().unwrap_or_default();
        self.slugs.contains(site)
            || self.targets.contains(&entry.target)
            || (entry.action.starts_with("incident.") && self.names_incident(&entry.details))
    }

    fn names_incident(&self, details: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(details)
            .ok()
            .and_then(|d| d.get("ids").and_then(|ids| ids.as_array()).cloned())
            .is_some_and(|ids| {
                ids.iter()
                    .filter_map(serde_json::Value::as_i64)
                    .any(|id| self.incidents.contains(&id))
            })
    }
}
