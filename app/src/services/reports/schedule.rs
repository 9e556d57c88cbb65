//! The monthly schedule: once a month is over, every client's report of it is generated and
//! stored, then mailed to the contacts of the client's sites with the links to the report and
//! its evidence pack. Every server runs it; a lease in the database lets one at a time work,
//! and the stored report (one per client and month) makes a second generation a no-op.

use chrono::{DateTime, Duration, Utc};

use super::{Subject, monthly_report};
use crate::alerts::{AlertChannel, ChannelKind};
use crate::db::Db;
use crate::db::{leases, reports as store};
use crate::domain::client_scope::ClientScope;
use crate::error::AppError;
use crate::report::{ReportKind, ReportMonth, report_path};
use crate::services::alerts::Message;
use crate::services::alerts::send::AlertSender;

const LEASE: &str = "monthly-reports";
/// Longer than a round takes, so the holder keeps it while it works.
const LEASE_FOR: Duration = Duration::minutes(15);

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub generated: usize,
    pub mailed: usize,
}

/// One round for the month before `now`'s: generates the reports not stored yet and mails
/// those not mailed yet (a failed mail is tried again next round). Nothing when another
/// server holds the lease.
pub async fn run_round(
    db: &Db,
    sender: &AlertSender,
    public_url: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<Round, AppError> {
    if !leases::acquire(db, LEASE, holder, now, LEASE_FOR).await? {
        return Ok(Round::default());
    }
    let month = ReportMonth::of(now).previous();
    let mut round = Round::default();
    for client in store::clients_without_report(db, month).await? {
        monthly_report(db, &ClientScope::All, &Subject::Client(client), month, now).await?;
        round.generated += 1;
    }
    for (client, name, contacts) in store::unmailed_client_reports(db, month).await? {
        if contacts.is_empty() {
            let outcome = "not mailed: none of the client's sites has a contact e-mail";
            store::mark_mailed(db, client, month, now, outcome).await?;
            continue;
        }
        let channel = AlertChannel {
            id: 0,
            name: "monthly report".into(),
            kind: ChannelKind::Email,
            target: contacts.join(", "),
            secret: String::new(),
            created_at: now,
        };
        let message = report_mail(&name, client, month, public_url);
        let idempotency_key = format!("report-{client}-{month}");
        match sender.send(&channel, &message, &idempotency_key).await {
            Ok(answer) => {
                store::mark_mailed(db, client, month, now, &answer).await?;
                round.mailed += 1;
            }
            Err(why) => tracing::warn!(
                "the {month} report of client {client} was not mailed; tried again next round: {why}"
            ),
        }
    }
    Ok(round)
}

/// The mail that hands a client its month: where to read the report and get the pack.
pub fn report_mail(
    client_name: &str,
    client: i64,
    month: ReportMonth,
    public_url: &str,
) -> Message {
    let base = public_url.trim_end_matches('/');
    let report = format!(
        "{base}{}",
        report_path(ReportKind::Client, &client.to_string(), month)
    );
    let subject = format!("{client_name}: compliance report for {}", month.label());
    let text = format!(
        "The compliance report of {client_name} for {} is ready.\n\n\
         Report: {report}\n\
         Evidence pack (signed zip): {report}/evidence.zip\n\n\
         The report is final and kept as it is now. Verify the pack with \
         `posture verify-pack FILE --public-key KEY`, the key as {base}/.well-known/posture-signing-key gives it.\n",
        month.label()
    );
    Message {
        subject,
        text,
        json: serde_json::json!({ "client_id": client, "month": month, "report": report }),
    }
}
