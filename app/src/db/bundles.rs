//! The latest compliance reports of every site, from one windowed query.

use super::Db;
use crate::on_db;
use crate::types::BundleSummary;

const LATEST_PER_SITE_SQL: &str = "SELECT id, site_id, appliance_id, submitted_at, \
    pass_count, warn_count, fail_count FROM ( \
        SELECT b.*, ROW_NUMBER() OVER (PARTITION BY site_id ORDER BY submitted_at DESC) AS recency \
        FROM compliance_bundles b \
    ) ranked WHERE recency <= $1 ORDER BY site_id, submitted_at DESC";

pub async fn latest_bundles_per_site(
    db: &Db,
    per_site: i64,
) -> Result<Vec<BundleSummary>, sqlx::Error> {
    on_db!(db, |pool| {
        sqlx::query_as(LATEST_PER_SITE_SQL)
            .bind(per_site)
            .fetch_all(pool)
            .await
    })
}
