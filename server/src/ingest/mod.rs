//! The write path for reports: a bounded queue drained by one batcher task.
//!
//! Handlers validate a report, queue it and wait. The batcher takes up to `batch` queued
//! reports (waiting at most `flush` for more once it holds one), writes them in one
//! transaction with multi-row inserts and only after COMMIT answers each waiting request, so
//! an acknowledged report is always in the database. A full queue answers 429 at once instead
//! of holding memory; a request not answered within `ack_timeout` answers 503, and the batcher
//! skips reports whose sender has stopped waiting.
//!
//! Failures stay with the reports that cause them: a batch that fails on its data is split in
//! halves until the culprit fails alone; a lost database fails the batch at once with 503
//! (nothing written, worth retrying); a panic while writing fails that batch with 500 and the
//! batcher goes on with the next. A report that carries a `report_id` is written once: a
//! repeat gets the first answer back.
//!
//! Durability: PostgreSQL commits are fsynced. SQLite runs in WAL mode with
//! `synchronous=NORMAL`: a committed transaction is in the WAL file (the OS page cache) before
//! COMMIT returns, which survives the process being killed (`kill -9`) but not a power loss or
//! kernel crash; `synchronous=FULL` would be needed for those.

mod alerts;
mod connection;
mod drift;
mod write;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use app::cache::AggregateCache;
use app::db::{Db, IncidentWindows};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::hints::Hints;
use crate::memory_budget::MemoryPermit;
use app::appliance_keys::ApplianceIdentity;
use app::cluster::{IncidentChanges, Peers};
use app::domain::appliance::{CheckResult, DriftEvent};
use app::error::DbFailure;
use connection::Connection;
pub(crate) use connection::{Tx, in_tx};

#[derive(Debug, Clone, Copy)]
pub struct IngestSettings {
    /// Reports that may wait in the queue.
    pub queue: usize,
    /// Most reports per transaction; 1 turns batching off (and multi-row inserts with it).
    pub batch: usize,
    /// Longest a partial batch waits for more reports.
    pub flush: Duration,
    /// Longest a request waits for its report to be committed.
    pub ack_timeout: Duration,
}

/// A validated report of one appliance.
#[derive(Debug)]
pub struct Report {
    pub appliance: ApplianceIdentity,
    /// The appliance's own id for this report: a repeat is answered, not written again.
    pub report_id: Option<String>,
    pub checks: Vec<CheckResult>,
    pub drift: Vec<DriftEvent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportOutcome {
    /// The compliance bundle holding the check results; none for a report of drift only.
    pub bundle_id: Option<i64>,
    pub checks: usize,
    pub incidents: Vec<IncidentOutcome>,
    /// This `report_id` was received before: the answer is the first one, nothing was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct IncidentOutcome {
    /// `hostname:check_type`, unique among the site's unresolved incidents.
    pub dedup_key: String,
    /// The incident, or none for a remediation with nothing open.
    pub id: Option<i64>,
    pub action: DriftOutcome,
    /// An update changed the severity (a sort key and a filter): the incident list's anchors
    /// cannot follow that by counting, they are rebuilt.
    #[serde(skip)]
    pub keys_changed: bool,
}

/// What a drift event did to its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftOutcome {
    Opened,
    Updated,
    Reopened,
    Resolved,
    Unchanged,
}

/// Why a report was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestError {
    /// The queue is full: retry shortly.
    Busy,
    /// The database cannot be reached: nothing was written, retry later.
    Unavailable,
    /// The disk under the database is full: nothing was written, retry once space returns.
    StorageFull,
    /// The report could not be written (its data, or a fault of ours); retrying will not help.
    Failed,
    /// No answer within the acknowledgement timeout: the report may or may not be stored;
    /// retry with the same `report_id`.
    TimedOut,
    /// The server is stopping.
    ShuttingDown,
}

type Ack = oneshot::Sender<Result<ReportOutcome, IngestError>>;

pub struct Job {
    report: Report,
    ack: Ack,
    /// The request's share of the memory budget, given back once the report is answered.
    memory: Option<MemoryPermit>,
}

/// The sending side, in the application state.
#[derive(Clone)]
pub struct IngestQueue {
    sender: mpsc::Sender<Job>,
    ack_timeout: Duration,
}

impl IngestQueue {
    /// Reports waiting for the batcher.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// A queue of `capacity` reports and its receiving end, with no batcher attached: for
    /// tests that need a queue nothing drains.
    pub fn detached(capacity: usize, ack_timeout: Duration) -> (Self, mpsc::Receiver<Job>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (
            Self {
                sender,
                ack_timeout,
            },
            receiver,
        )
    }

    /// Queues `report` and waits until it is committed.
    pub async fn submit(
        &self,
        report: Report,
        memory: Option<MemoryPermit>,
    ) -> Result<ReportOutcome, IngestError> {
        let (ack, done) = oneshot::channel();
        let job = Job {
            report,
            ack,
            memory,
        };
        self.sender.try_send(job).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => IngestError::Busy,
            mpsc::error::TrySendError::Closed(_) => IngestError::ShuttingDown,
        })?;
        match tokio::time::timeout(self.ack_timeout, done).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(IngestError::ShuttingDown),
            Err(_) => Err(IngestError::TimedOut),
        }
    }
}

/// What the batcher needs besides the queue.
#[derive(Clone)]
pub struct Sink {
    pub db: Db,
    pub cache: AggregateCache,
    pub windows: IncidentWindows,
    pub hints: Hints,
    /// The other servers on the same PostgreSQL, told of what the batcher wrote.
    pub peers: Peers,
}

/// Starts the batcher, and the publisher of its hints. The batcher ends once every
/// [`IngestQueue`] clone is dropped and the queue is drained, so awaiting the handle after the
/// server stops loses nothing queued.
pub fn start(settings: IngestSettings, sink: Sink) -> (IngestQueue, JoinHandle<()>) {
    let (queue, receiver) = IngestQueue::detached(settings.queue, settings.ack_timeout);
    sink.hints
        .publish(sink.cache.clone(), sink.windows.clone(), sink.peers.clone());
    (queue, spawn_batcher(receiver, settings, sink))
}

/// Starts a batcher on the receiving end of a queue.
pub fn spawn_batcher(
    receiver: mpsc::Receiver<Job>,
    settings: IngestSettings,
    sink: Sink,
) -> JoinHandle<()> {
    let batcher = Batcher {
        sink,
        connection: None,
        multi_row: settings.batch > 1,
    };
    tokio::spawn(batcher.run(receiver, settings))
}

struct Batcher {
    sink: Sink,
    /// Kept from batch to batch; dropped after a failure and opened again on the next batch.
    connection: Option<Connection>,
    multi_row: bool,
}

impl Batcher {
    async fn run(mut self, mut receiver: mpsc::Receiver<Job>, settings: IngestSettings) {
        let batch = settings.batch.max(1);
        let mut jobs = Vec::with_capacity(batch);
        while receiver.recv_many(&mut jobs, batch).await > 0 {
            let deadline = tokio::time::Instant::now() + settings.flush;
            while jobs.len() < batch {
                let wanted = batch - jobs.len();
                match tokio::time::timeout_at(deadline, receiver.recv_many(&mut jobs, wanted)).await
                {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
            // A sender that stopped waiting was answered 503: its report is not written.
            jobs.retain(|job| !job.ack.is_closed());
            if !jobs.is_empty() {
                self.flush(std::mem::take(&mut jobs)).await;
            }
        }
    }

    /// Writes `jobs` and answers each.
    async fn flush(&mut self, jobs: Vec<Job>) {
        let (reports, acks): (Vec<Report>, Vec<(Ack, Option<MemoryPermit>)>) = jobs
            .into_iter()
            .map(|job| (job.report, (job.ack, job.memory)))
            .unzip();
        let refs: Vec<&Report> = reports.iter().collect();
        let started = std::time::Instant::now();
        let answers = self.write_all(&refs).await;
        metrics::histogram!("posture_ingest_batch_reports").record(refs.len() as f64);
        metrics::histogram!("posture_ingest_write_seconds").record(started.elapsed().as_secs_f64());
        let written: Vec<(&Report, &ReportOutcome)> = refs
            .iter()
            .zip(&answers)
            .filter_map(|(report, answer)| Some((*report, answer.as_ref().ok()?)))
            .filter(|(_, outcome)| !outcome.repeated)
            .collect();
        if !written.is_empty() {
            notify(&self.sink, &written).await;
        }
        for ((ack, _memory), answer) in acks.into_iter().zip(answers) {
            let _ = ack.send(answer);
        }
    }

    /// Writes `reports` in one transaction; when that fails on their data, each half alone,
    /// so a bad report costs a few extra transactions and fails only its own request.
    async fn write_all(&mut self, reports: &[&Report]) -> Vec<Result<ReportOutcome, IngestError>> {
        match self.write_once(reports).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(Failure::Data) if reports.len() > 1 => {
                let (left, right) = reports.split_at(reports.len() / 2);
                let mut answers = Box::pin(self.write_all(left)).await;
                answers.extend(Box::pin(self.write_all(right)).await);
                answers
            }
            Err(failure) => vec![Err(failure.into()); reports.len()],
        }
    }

    /// One transaction. A kept connection may have died while idle (PostgreSQL restarted
    /// since the last batch): when it fails as unreachable, a new one gets one more try, so the
    /// first reports after an outage are not refused for nothing.
    async fn write_once(&mut self, reports: &[&Report]) -> Result<Vec<ReportOutcome>, Failure> {
        let kept = self.connection.is_some();
        match self.write_on_connection(reports).await {
            Err(Failure::Unavailable) if kept => self.write_on_connection(reports).await,
            written => written,
        }
    }

    /// One transaction, on the kept connection (or a new one). A panic is caught: it fails
    /// these reports, not the batcher.
    async fn write_on_connection(
        &mut self,
        reports: &[&Report],
    ) -> Result<Vec<ReportOutcome>, Failure> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => {
                let opened = Connection::open(&self.sink.db).await.map_err(|err| {
                    tracing::warn!("ingest: cannot open a connection: {err}");
                    Failure::Unavailable
                })?;
                self.connection.insert(opened)
            }
        };
        let written = AssertUnwindSafe(write::write(connection, reports, self.multi_row))
            .catch_unwind()
            .await;
        let failure = match written {
            Ok(Ok(outcomes)) => return Ok(outcomes),
            Ok(Err(err)) if DbFailure::of(&err) == DbFailure::Full => {
                tracing::error!(
                    "ingest: the database's disk is full, {} reports refused: {err}",
                    reports.len()
                );
                Failure::Full
            }
            Ok(Err(err)) if DbFailure::of(&err).is_transient() => {
                tracing::warn!(
                    "ingest: database unavailable, {} reports refused: {err}",
                    reports.len()
                );
                Failure::Unavailable
            }
            Ok(Err(err)) => {
                tracing::warn!("ingest: a batch of {} reports failed: {err}", reports.len());
                Failure::Data
            }
            Err(_) => {
                tracing::error!(
                    "ingest: writing a batch of {} reports panicked",
                    reports.len()
                );
                Failure::Data
            }
        };
        // The connection may be the culprit (a PostgreSQL restart, a transaction left open).
        self.connection = None;
        Err(failure)
    }
}

/// How a transaction failed: on its data (split the batch to find the culprit), or because
/// the database cannot be reached or its disk is full (fail the batch at once: splitting
/// would only wait longer).
#[derive(Debug, Clone, Copy)]
enum Failure {
    Data,
    Unavailable,
    Full,
}

impl From<Failure> for IngestError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Data => IngestError::Failed,
            Failure::Unavailable => IngestError::Unavailable,
            Failure::Full => IngestError::StorageFull,
        }
    }
}

/// Keeps the incident list's anchors in step and tells dashboards. New incidents are counted
/// into the anchors; a reopened, resolved or re-graded one makes them rebuild.
async fn notify(sink: &Sink, written: &[(&Report, &ReportOutcome)]) {
    let all = || written.iter().flat_map(|(_, o)| &o.incidents);
    let incidents = all().any(|i| i.action != DriftOutcome::Unchanged);
    let mut rebuild = all().any(|i| {
        i.keys_changed || matches!(i.action, DriftOutcome::Reopened | DriftOutcome::Resolved)
    });
    let opened: Vec<i64> = all()
        .filter(|i| i.action == DriftOutcome::Opened)
        .filter_map(|i| i.id)
        .collect();
    let mut inserted = Vec::new();
    if !rebuild && !opened.is_empty() {
        match app::db::incidents::incident_facts(&sink.db, &opened).await {
            Ok(facts) => {
                sink.windows.note_inserted(&facts);
                inserted = facts;
            }
            Err(_) => rebuild = true,
        }
    }
    let windows = if rebuild {
        IncidentChanges::rebuild()
    } else {
        IncidentChanges {
            inserted,
            ..Default::default()
        }
    };
    let sites = written.iter().map(|(r, _)| r.appliance.site_id.as_str());
    sink.hints.changed(sites, incidents, windows);
}
