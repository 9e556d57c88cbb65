//! The write path for reports: a bounded queue drained by one batcher task.
//!
//! Handlers validate a report, queue it and wait. The batcher takes up to `batch` queued
//! reports (waiting at most `flush` for more once it holds one), writes them in one
//! transaction with multi-row inserts and only after COMMIT answers each waiting request, so
//! an acknowledged report is always in the database. A full queue answers 429 at once instead
//! of holding memory.
//!
//! Durability: PostgreSQL commits are fsynced. SQLite runs in WAL mode with
//! `synchronous=NORMAL`: a committed transaction is in the WAL file (the OS page cache) before
//! COMMIT returns, which survives the process being killed (`kill -9`) but not a power loss or
//! kernel crash; `synchronous=FULL` would be needed for those.

mod write;

use std::time::Duration;

use app::cache::AggregateCache;
use app::db::{Db, IncidentWindows};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::auth::Appliance;
use crate::api::error::ApiError;
use crate::api::reports::{CheckResult, DriftEvent};
use crate::hints::Hints;
use write::Connection;

/// Seconds a client is asked to wait when the queue is full.
pub const RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// Reports that may wait in the queue.
    pub queue: usize,
    /// Most reports per transaction; 1 turns batching off (and multi-row inserts with it).
    pub batch: usize,
    /// Longest a partial batch waits for more reports.
    pub flush: Duration,
}

/// A validated report of one appliance.
#[derive(Debug)]
pub struct Report {
    pub appliance: Appliance,
    pub checks: Vec<CheckResult>,
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportOutcome {
    /// The compliance bundle holding the check results; none for a report of drift only.
    pub bundle_id: Option<i64>,
    pub checks: usize,
    pub incidents: Vec<IncidentOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IncidentOutcome {
    pub dedup_key: String,
    /// The incident, or none for a remediation with nothing open.
    pub id: Option<i64>,
    pub action: IncidentAction,
    /// An update changed the severity (a sort key and a filter): the incident list's anchors
    /// cannot follow that by counting, they are rebuilt.
    #[serde(skip)]
    pub keys_changed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentAction {
    Opened,
    Updated,
    Reopened,
    Resolved,
    Unchanged,
}

pub struct Job {
    report: Report,
    ack: oneshot::Sender<Result<ReportOutcome, String>>,
}

/// The sending side, in the application state.
#[derive(Clone)]
pub struct IngestQueue {
    sender: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// A queue of `capacity` reports and its receiving end, with no batcher attached: for
    /// tests that need a queue nothing drains.
    pub fn detached(capacity: usize) -> (Self, mpsc::Receiver<Job>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (Self { sender }, receiver)
    }

    /// Queues `report` and waits until it is committed.
    pub async fn submit(&self, report: Report) -> Result<ReportOutcome, ApiError> {
        let (ack, done) = oneshot::channel();
        self.sender
            .try_send(Job { report, ack })
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => ApiError::busy(RETRY_AFTER_SECS),
                mpsc::error::TrySendError::Closed(_) => shutting_down(),
            })?;
        done.await
            .map_err(|_| shutting_down())?
            .map_err(ApiError::internal)
    }
}

fn shutting_down() -> ApiError {
    ApiError {
        retry_after: Some(RETRY_AFTER_SECS),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
    }
}

/// What the batcher needs besides the queue.
#[derive(Clone)]
pub struct Sink {
    pub db: Db,
    pub cache: AggregateCache,
    pub windows: IncidentWindows,
    pub hints: Hints,
}

/// Starts the batcher, and the publisher of its hints. The batcher ends once every
/// [`IngestQueue`] clone is dropped and the queue is drained, so awaiting the handle after the
/// server stops loses nothing queued.
pub fn start(settings: IngestSettings, sink: Sink) -> (IngestQueue, JoinHandle<()>) {
    let (queue, receiver) = IngestQueue::detached(settings.queue);
    sink.hints.publish(sink.cache.clone(), sink.windows.clone());
    let handle = tokio::spawn(run(receiver, settings, sink));
    (queue, handle)
}

async fn run(mut receiver: mpsc::Receiver<Job>, settings: IngestSettings, sink: Sink) {
    let batch = settings.batch.max(1);
    let mut jobs = Vec::with_capacity(batch);
    let mut connection = None;
    while receiver.recv_many(&mut jobs, batch).await > 0 {
        let deadline = tokio::time::Instant::now() + settings.flush;
        while jobs.len() < batch {
            let wanted = batch - jobs.len();
            match tokio::time::timeout_at(deadline, receiver.recv_many(&mut jobs, wanted)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        flush(&sink, &mut connection, std::mem::take(&mut jobs), batch > 1).await;
    }
}

/// Writes `jobs` in one transaction; when that fails, each alone, so one bad report fails
/// only its own request. A failed write drops its connection (it may be the culprit: a
/// PostgreSQL restart) and the next write opens another.
async fn flush(sink: &Sink, connection: &mut Option<Connection>, jobs: Vec<Job>, multi_row: bool) {
    let reports: Vec<&Report> = jobs.iter().map(|j| &j.report).collect();
    let written = match connection {
        Some(connection) => write::write(connection, &reports, multi_row).await,
        None => match Connection::open(&sink.db).await {
            Ok(acquired) => write::write(connection.insert(acquired), &reports, multi_row).await,
            Err(err) => Err(err),
        },
    };
    match written {
        Ok(outcomes) => {
            notify(sink, &reports, &outcomes).await;
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.ack.send(Ok(outcome));
            }
        }
        Err(err) if jobs.len() > 1 => {
            *connection = None;
            tracing::warn!(
                "batch of {} reports failed ({err}); writing each alone",
                jobs.len()
            );
            for job in jobs {
                Box::pin(flush(sink, connection, vec![job], multi_row)).await;
            }
        }
        Err(err) => {
            *connection = None;
            for job in jobs {
                let _ = job.ack.send(Err(err.to_string()));
            }
        }
    }
}

/// Keeps the incident list's anchors in step and tells dashboards. New incidents are counted
/// into the anchors; a reopened, resolved or re-graded one makes them rebuild.
async fn notify(sink: &Sink, reports: &[&Report], outcomes: &[ReportOutcome]) {
    let all = || outcomes.iter().flat_map(|o| &o.incidents);
    let incidents = all().any(|i| i.action != IncidentAction::Unchanged);
    let mut rebuild = all().any(|i| {
        i.keys_changed
            || matches!(
                i.action,
                IncidentAction::Reopened | IncidentAction::Resolved
            )
    });
    let opened: Vec<i64> = all()
        .filter(|i| i.action == IncidentAction::Opened)
        .filter_map(|i| i.id)
        .collect();
    if !rebuild && !opened.is_empty() {
        match app::db::incidents::incident_facts(&sink.db, &opened).await {
            Ok(facts) => sink.windows.note_inserted(&facts),
            Err(_) => rebuild = true,
        }
    }
    let sites = reports.iter().map(|r| r.appliance.site_id.as_str());
    sink.hints.changed(sites, incidents, rebuild);
}
