//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.1, maintained by hand in
//! `server/openapi.json` (a test checks it lists every route in [`super::ROUTES`]).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;
    use serde::Serialize;
    use serde_json::Value;

    use super::DOCUMENT;
    use crate::api::checkin::{CheckinRequest, CheckinResponse, PendingOrder};
    use crate::api::evidence::{EvidenceBatch, EvidenceBundle, EvidenceHead, EvidenceStored};
    use crate::api::orders::{CompleteRequest, OrderState};
    use crate::ingest::{DriftOutcome, IncidentOutcome, ReportOutcome};
    use app::domain::appliance::{CheckResult, DriftEvent, DriftState, ReportRequest};
    use app::scoring::CheckStatus;
    use app::types::Severity;

    fn fields(value: impl Serialize) -> BTreeSet<String> {
        match serde_json::to_value(value).unwrap() {
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    /// Each schema's properties are exactly the fields of the Rust type it describes.
    #[test]
    fn schemas_match_the_types() {
        let document: Value = serde_json::from_str(DOCUMENT).unwrap();
        let now = Utc::now();
        let check = CheckResult {
            check_type: "backup_job".into(),
            hostname: "FD-01".into(),
            status: CheckStatus::Pass,
            checked_at: now,
        };
        let drift = DriftEvent {
            check_type: "backup_job".into(),
            hostname: "FD-01".into(),
            severity: Severity::Low,
            state: DriftState::Drifted,
            detected_at: now,
            details: Default::default(),
        };
        let bundle = EvidenceBundle {
            position: 1,
            bundle_hash: String::new(),
            prev_hash: None,
            created_at: now,
        };
        let order = PendingOrder {
            id: 1,
            order_type: String::new(),
            parameters: Value::Null,
            priority: 1,
            created_at: now,
            expires_at: now,
        };
        let incident = IncidentOutcome {
            dedup_key: String::new(),
            id: None,
            action: DriftOutcome::Opened,
            keys_changed: false,
        };
        let cases = [
            (
                "CheckinRequest",
                fields(CheckinRequest {
                    site_id: String::new(),
                    agent_version: String::new(),
                }),
            ),
            ("PendingOrder", fields(&order)),
            (
                "CheckinResponse",
                fields(CheckinResponse {
                    server_time: now,
                    orders: vec![],
                }),
            ),
            (
                "CompleteRequest",
                fields(CompleteRequest {
                    success: true,
                    result: String::new(),
                }),
            ),
            (
                "OrderState",
                fields(OrderState {
                    id: 1,
                    status: app::domain::order::OrderStatus::Acknowledged,
                }),
            ),
            ("CheckResult", fields(&check)),
            ("DriftEvent", fields(&drift)),
            (
                "ReportRequest",
                fields(ReportRequest {
                    site_id: String::new(),
                    report_id: None,
                    checks: vec![],
                    drift: vec![],
                }),
            ),
            ("IncidentOutcome", fields(&incident)),
            (
                "ReportOutcome",
                fields(ReportOutcome {
                    bundle_id: None,
                    checks: 0,
                    incidents: vec![],
                    repeated: true,
                }),
            ),
            ("EvidenceBundle", fields(&bundle)),
            (
                "EvidenceBatch",
                fields(EvidenceBatch {
                    site_id: String::new(),
                    bundles: vec![],
                }),
            ),
            (
                "EvidenceStored",
                fields(EvidenceStored {
                    stored: 0,
                    head_position: 0,
                    head_hash: String::new(),
                }),
            ),
            (
                "EvidenceHead",
                fields(EvidenceHead {
                    head_position: 0,
                    head_hash: None,
                }),
            ),
        ];
        for (name, expected) in cases {
            let schema = &document["components"]["schemas"][name]["properties"];
            let described: BTreeSet<String> = schema
                .as_object()
                .unwrap_or_else(|| panic!("no schema {name}"))
                .keys()
                .cloned()
                .collect();
            assert_eq!(described, expected, "{name}");
        }
    }
}
