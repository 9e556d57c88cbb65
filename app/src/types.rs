//! Data shared by the server and the browser.

use serde::{Deserialize, Serialize};

/// Headline counts for the Overview page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OverviewCounts {
    pub clients: i64,
    pub sites: i64,
    /// Incidents not yet resolved: open, resolving or escalated.
    pub open_incidents: i64,
    /// When the server read these counts, in milliseconds since the Unix epoch.
    #[cfg_attr(feature = "ssr", sqlx(skip))]
    pub as_of_ms: i64,
}
