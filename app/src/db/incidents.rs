//! Windows of the incident list at any offset, fast even a million rows deep.
//!
//! `OFFSET 999900` makes the database walk 999,900 index entries. Instead, every
//! [`WINDOW_ANCHOR_STRIDE`]-th (reported_at, id) key of a filter's ordering is sampled once
//! (one pass over the index), and a window starts from the nearest anchor at or before it:
//! a keyset seek followed by a skip of fewer than `STRIDE` rows. Anchors are dropped when
//! incidents change and rebuilt on the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::Db;
use crate::on_db;
use crate::types::{IncidentFilter, IncidentRow};

pub const WINDOW_ANCHOR_STRIDE: i64 = 1_000;

const COLUMNS: &str = "id, site_id, hostname, check_type, category, severity, status, reported_at";

#[derive(Debug)]
struct Anchors {
    total: i64,
    /// Key of the row at offset `i * STRIDE`, in (reported_at DESC, id DESC) order.
    keys: Vec<(DateTime<Utc>, i64)>,
}

/// The anchor cache, one entry per filter. Cheap to clone; share one per server.
#[derive(Clone, Default)]
pub struct IncidentWindows {
    anchors: Arc<Mutex<HashMap<IncidentFilter, Arc<Anchors>>>>,
}

impl IncidentWindows {
    /// Forgets every filter's anchors: call after incidents are inserted, deleted or re-sorted.
    pub fn invalidate(&self) {
        self.anchors.lock().expect("anchor lock").clear();
    }

    /// How many incidents match `filter`: from the anchors when they exist, else one
    /// index-only COUNT (which does not wait for anchors a first page never needs).
    pub async fn count(&self, db: &Db, filter: &IncidentFilter) -> Result<i64, sqlx::Error> {
        if let Some(anchors) = self.cached(filter) {
            return Ok(anchors.total);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM incidents {}",
            where_severity(filter, 1)
        );
        on_db!(db, |pool| {
            let query = sqlx::query_scalar::<_, i64>(&sql);
            let query = match &filter.severity {
                Some(severity) => query.bind(severity),
                None => query,
            };
            query.fetch_one(pool).await
        })
    }

    /// Up to `limit` incidents starting at `offset`, newest first.
    pub async fn window(
        &self,
        db: &Db,
        filter: &IncidentFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<IncidentRow>, sqlx::Error> {
        if offset < 0 || limit <= 0 {
            return Ok(Vec::new());
        }
        if offset < WINDOW_ANCHOR_STRIDE {
            // Near the top a short OFFSET is as cheap as a seek: no anchors needed.
            return top_window(db, filter, offset, limit).await;
        }
        let anchors = self.anchors_for(db, filter).await?;
        if offset >= anchors.total {
            return Ok(Vec::new());
        }
        let (reported_at, id) = anchors.keys[(offset / WINDOW_ANCHOR_STRIDE) as usize];
        let skip = offset % WINDOW_ANCHOR_STRIDE;
        let severity_clause = if filter.severity.is_some() {
            "severity = $5 AND "
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents WHERE {severity_clause}(reported_at, id) <= ($1, $2) \
             ORDER BY reported_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        on_db!(db, |pool| {
            let query = sqlx::query_as(&sql)
                .bind(reported_at)
                .bind(id)
                .bind(limit)
                .bind(skip);
            let query = match &filter.severity {
                Some(severity) => query.bind(severity),
                None => query,
            };
            query.fetch_all(pool).await
        })
    }

    fn cached(&self, filter: &IncidentFilter) -> Option<Arc<Anchors>> {
        self.anchors
            .lock()
            .expect("anchor lock")
            .get(filter)
            .cloned()
    }

    async fn anchors_for(
        &self,
        db: &Db,
        filter: &IncidentFilter,
    ) -> Result<Arc<Anchors>, sqlx::Error> {
        if let Some(anchors) = self.cached(filter) {
            return Ok(anchors);
        }
        let anchors = Arc::new(sample_anchors(db, filter).await?);
        self.anchors
            .lock()
            .expect("anchor lock")
            .insert(filter.clone(), anchors.clone());
        Ok(anchors)
    }
}

/// ` WHERE severity = $n` when the filter has a severity.
fn where_severity(filter: &IncidentFilter, parameter: usize) -> String {
    if filter.severity.is_some() {
        format!("WHERE severity = ${parameter}")
    } else {
        String::new()
    }
}

async fn top_window(
    db: &Db,
    filter: &IncidentFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<IncidentRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents {} ORDER BY reported_at DESC, id DESC LIMIT $1 OFFSET $2",
        where_severity(filter, 3)
    );
    on_db!(db, |pool| {
        let query = sqlx::query_as(&sql).bind(limit).bind(offset);
        let query = match &filter.severity {
            Some(severity) => query.bind(severity),
            None => query,
        };
        query.fetch_all(pool).await
    })
}

async fn sample_anchors(db: &Db, filter: &IncidentFilter) -> Result<Anchors, sqlx::Error> {
    let where_clause = if filter.severity.is_some() {
        "WHERE severity = $2"
    } else {
        ""
    };
    let sampled = format!(
        "SELECT reported_at, id FROM ( \
            SELECT reported_at, id, ROW_NUMBER() OVER (ORDER BY reported_at DESC, id DESC) - 1 AS position \
            FROM incidents {where_clause} \
         ) ordered WHERE position % $1 = 0 ORDER BY position"
    );
    let count = format!(
        "SELECT COUNT(*) FROM incidents {}",
        where_clause.replace("$2", "$1")
    );
    let (keys, total) = on_db!(db, |pool| {
        let keys = sqlx::query_as::<_, (DateTime<Utc>, i64)>(&sampled).bind(WINDOW_ANCHOR_STRIDE);
        let total = sqlx::query_scalar::<_, i64>(&count);
        let (keys, total) = match &filter.severity {
            Some(severity) => (keys.bind(severity), total.bind(severity)),
            None => (keys, total),
        };
        futures::try_join!(keys.fetch_all(pool), total.fetch_one(pool))?
    });
    Ok(Anchors { total, keys })
}
