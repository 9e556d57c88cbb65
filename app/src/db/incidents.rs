//! Windows of the incident list at any offset, fast even a million rows deep, for any filter
//! and sort.
//!
//! `OFFSET 999900` makes the database walk 999,900 index entries. Instead, the sort key of
//! every [`WINDOW_ANCHOR_STRIDE`]-th row of a filter's order is sampled once (one pass over
//! the index), and a window starts from the nearest anchor at or before it: a keyset seek
//! followed by a skip of fewer than a few thousand rows. A scope of several clients has its
//! rows interleaved with others' in every index, so its anchors are sampled ten times as
//! densely ([`SEVERAL_CLIENTS_ANCHOR_STRIDE`]); see [`several_clients`] for how each database reads it.
//!
//! Anchors are kept in step with changes instead of being thrown away: an incident that
//! enters a filter's set moves every anchor after it down by one, one that leaves moves them
//! up. A sampled key stays a valid seek point even when its own row leaves the set; the other
//! servers on the same PostgreSQL are sent each change (`crate::cluster`) and do the same.
//! When changes have stretched a gap between anchors too far, or after [`ANCHOR_TTL`], they
//! are rebuilt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Db;
use super::scope::clients_in;
use super::sql::{self, Bind, Conditions, day_start};
use crate::domain::client_scope::ClientScope;
use crate::on_db;
use crate::types::{IncidentFilter, IncidentRow, IncidentSort, Severity};

pub const WINDOW_ANCHOR_STRIDE: i64 = 1_000;
/// The stride of a filter of a scope of several clients ([`several_clients`]), whose rows
/// are interleaved in every index: a skip costs more per row kept.
pub const SEVERAL_CLIENTS_ANCHOR_STRIDE: i64 = 100;
/// A gap between anchors (or before the first) larger than this many strides triggers a
/// rebuild.
const MAX_GAP_STRIDES: i64 = 3;
/// Anchors older than this are rebuilt on next use: a backstop, since every change, also on
/// the other servers (`crate::cluster`), moves them.
pub const ANCHOR_TTL: Duration = Duration::from_secs(15 * 60);

pub const COLUMNS: &str =
    "id, site_id, suppressed_until, hostname, check_type, category, severity, status, reported_at";

/// Where a row sits in a sort: rows are listed from the largest key to the smallest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    /// The sort's leading column (severity rank, site); 0 when sorting by time alone.
    lead: i64,
    reported_at: DateTime<Utc>,
    id: i64,
}

/// What the list's filters and sorts read of an incident, to keep anchors in step (also on
/// the other servers, to which `crate::cluster` sends them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct IncidentFacts {
    pub id: i64,
    pub site_id: i64,
    pub site: String,
    pub client_id: i64,
    pub hostname: String,
    pub check_type: String,
    pub category: String,
    pub severity: String,
    pub severity_rank: i64,
    pub status: String,
    pub reported_at: DateTime<Utc>,
}

/// The columns of [`IncidentFacts`], selected from `incidents i JOIN sites s`.
pub const FACTS_COLUMNS: &str = "i.id, i.site_id, s.site_id AS site, s.client_id, i.hostname, \
    i.check_type, i.category, i.severity, CAST(i.severity_rank AS BIGINT) AS severity_rank, \
    i.status, i.reported_at";

impl IncidentFacts {
    fn key(&self, sort: IncidentSort) -> SortKey {
        SortKey {
            lead: match sort {
                IncidentSort::Reported => 0,
                IncidentSort::Severity => self.severity_rank,
                IncidentSort::Site => self.site_id,
            },
            reported_at: self.reported_at,
            id: self.id,
        }
    }
}

impl IncidentFilter {
    /// The same test the SQL of [`filter_sql`] makes, on one incident.
    pub fn matches(&self, facts: &IncidentFacts) -> bool {
        let is =
            |wanted: &Option<String>, actual: &str| wanted.as_deref().is_none_or(|w| w == actual);
        self.clients.allows(facts.client_id)
            && is(&self.severity, &facts.severity)
            && is(&self.status, &facts.status)
            && is(&self.site, &facts.site)
            && self.client.is_none_or(|c| c == facts.client_id)
            && is(&self.category, &facts.category)
            && is(&self.check_type, &facts.check_type)
            && self
                .from
                .as_deref()
                .and_then(|d| day_start(d, 0))
                .is_none_or(|from| facts.reported_at >= from)
            && self
                .to
                .as_deref()
                .and_then(|d| day_start(d, 1))
                .is_none_or(|to| facts.reported_at < to)
            && self.q.as_deref().is_none_or(|q| {
                facts
                    .hostname
                    .to_lowercase()
                    .contains(&q.trim().to_lowercase())
            })
    }
}

/// The conditions of a filter (its clients' scope first) as SQL over `incidents` (unqualified
/// columns), with its binds numbered from `$first`.
pub fn filter_sql(filter: &IncidentFilter, first: usize) -> Conditions {
    let mut conditions = Conditions::numbered_from(first);
    if filter.clients.is_restricted() {
        conditions.add(&clients_in(&filter.clients, "client_id"), []);
    }
    let text = |v: &Option<String>| v.as_ref().map(|v| Bind::Text(v.clone()));
    // By rank, which the indexes hold; a severity that is none (never past validation) is
    // rank 0, which matches nothing.
    let rank = filter
        .severity
        .as_deref()
        .map(|s| Bind::Int(Severity::parse(s).map_or(0, Severity::rank)));
    let columns = [
        ("severity_rank = ?", rank),
        ("status = ?", text(&filter.status)),
        (
            "site_id = (SELECT id FROM sites WHERE site_id = ?)",
            text(&filter.site),
        ),
        ("client_id = ?", filter.client.map(Bind::Int)),
        ("category = ?", text(&filter.category)),
        ("check_type = ?", text(&filter.check_type)),
        (
            "reported_at >= ?",
            filter
                .from
                .as_deref()
                .and_then(|d| day_start(d, 0))
                .map(Bind::Time),
        ),
        (
            "reported_at < ?",
            filter
                .to
                .as_deref()
                .and_then(|d| day_start(d, 1))
                .map(Bind::Time),
        ),
    ];
    for (clause, value) in columns {
        if let Some(value) = value {
            conditions.add(clause, [value]);
        }
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        conditions.add(
            "lower(hostname) LIKE ? ESCAPE '\\'",
            [Bind::Text(format!("%{escaped}%"))],
        );
    }
    conditions
}

/// The columns a sort orders by (all descending) and compares keysets on.
fn sort_columns(sort: IncidentSort) -> &'static str {
    match sort {
        IncidentSort::Reported => "reported_at, id",
        IncidentSort::Severity => "severity_rank, reported_at, id",
        IncidentSort::Site => "site_id, reported_at, id",
    }
}

pub fn order_by(sort: IncidentSort) -> String {
    let columns: Vec<String> = sort_columns(sort)
        .split(", ")
        .map(|c| format!("{c} DESC"))
        .collect();
    format!("ORDER BY {}", columns.join(", "))
}

/// Adds `(columns) <= (key)`: the rows from `key` on, in the sort's order.
pub fn add_keyset(conditions: &mut Conditions, sort: IncidentSort, key: SortKey) {
    let mut values = Vec::with_capacity(3);
    if sort != IncidentSort::Reported {
        values.push(Bind::Int(key.lead));
    }
    values.extend([Bind::Time(key.reported_at), Bind::Int(key.id)]);
    let placeholders = vec!["?"; values.len()].join(", ");
    conditions.add(
        &format!("({}) <= ({placeholders})", sort_columns(sort)),
        values,
    );
}

#[derive(Debug, Clone)]
struct Anchors {
    total: i64,
    /// Rows between two sampled keys, as sampled.
    stride: i64,
    /// Sampled keys and the offset of the first row at or after each, in list order.
    points: Vec<(SortKey, i64)>,
    built: Instant,
}

impl Anchors {
    /// The last anchor at or before `offset`.
    fn at_or_before(&self, offset: i64) -> Option<(SortKey, i64)> {
        let after = self
            .points
            .partition_point(|(_, position)| *position <= offset);
        after.checked_sub(1).map(|i| self.points[i])
    }

    /// Moves the anchors after `key` by `delta` (+1: a row entered the set, -1: one left).
    fn shift_after(&mut self, key: SortKey, delta: i64) {
        self.total += delta;
        for (anchor, position) in &mut self.points {
            if *anchor < key {
                *position += delta;
            }
        }
    }

    /// Whether changes have spread the anchors so far apart that skips get long.
    fn stretched(&self) -> bool {
        let max_gap = MAX_GAP_STRIDES * self.stride;
        let mut previous = 0;
        for (_, position) in &self.points {
            if position - previous > max_gap {
                return true;
            }
            previous = *position;
        }
        self.total - previous > max_gap
    }
}

/// Most filters whose anchors are kept; past it the oldest are dropped. Filters are free text
/// (site, days, hostname search), so without a bound any reader could grow the map at will.
pub const MAX_FILTERS: usize = 256;
/// Anchor samplings (each a full pass over the filter's rows) running at once; a window that
/// finds them all busy reads with a plain OFFSET instead of waiting.
const CONCURRENT_BUILDS: usize = 2;
/// Rows of recently served windows kept (about 200 bytes each).
const ANSWER_ROWS: u64 = 100_000;
/// A served window is kept this long at most, though no change came: a backstop.
const ANSWER_TTL: Duration = Duration::from_secs(60);

/// A window as served: which filter (normalised), offset and limit.
type AnswerKey = (IncidentFilter, i64, i64);
/// A served window's rows and the change count when it was read.
type Answer = (u64, Arc<Vec<IncidentRow>>);

/// One sampling of a filter's anchors that every request needing them at once awaits.
type Flight = Arc<tokio::sync::OnceCell<Arc<Anchors>>>;

/// Why a sampling gave no anchors.
enum BuildError {
    /// [`CONCURRENT_BUILDS`] samplings are running already.
    Busy,
    Database(sqlx::Error),
}

/// The anchor cache, one entry per normalised filter (its sort included), at most
/// [`MAX_FILTERS`], and the windows served since the last change. One `Arc`: cheap to clone;
/// share one per server.
#[derive(Clone, Default)]
pub struct IncidentWindows(Arc<Windows>);

pub struct Windows {
    anchors: Mutex<HashMap<IncidentFilter, Arc<Anchors>>>,
    /// Samplings under way, by filter: a second request for the same filter's anchors waits
    /// for the first one's instead of starting another pass.
    building: Mutex<HashMap<IncidentFilter, Flight>>,
    builds: tokio::sync::Semaphore,
    /// Counts changes, so anchors sampled while a change landed are not kept, and served
    /// windows read before the last change are not served again.
    changes: AtomicU64,
    /// Windows served since the last change: a dashboard full of people looking at the same
    /// first page costs one read per change, not one per poll.
    answers: moka::sync::Cache<AnswerKey, Answer>,
}

impl Default for Windows {
    fn default() -> Self {
        Self {
            anchors: Mutex::default(),
            building: Mutex::default(),
            builds: tokio::sync::Semaphore::new(CONCURRENT_BUILDS),
            changes: AtomicU64::default(),
            answers: moka::sync::Cache::builder()
                .max_capacity(ANSWER_ROWS)
                .weigher(|_, (_, rows): &Answer| rows.len().max(1) as u32)
                .time_to_live(ANSWER_TTL)
                .build(),
        }
    }
}

impl std::ops::Deref for IncidentWindows {
    type Target = Windows;

    fn deref(&self) -> &Windows {
        &self.0
    }
}

/// A lock whose holder panicked still guards consistent data here (every change under it is
/// a single insert, removal or shift), so it is used rather than taking the server down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IncidentWindows {
    /// Forgets every filter's anchors.
    pub fn invalidate(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        lock(&self.anchors).clear();
    }

    /// Filters whose anchors are kept now.
    pub fn len(&self) -> usize {
        lock(&self.anchors).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps anchors in step with new incidents.
    pub fn note_inserted(&self, rows: &[IncidentFacts]) {
        self.apply(rows.iter().map(|row| (None, Some(row))));
    }

    /// Keeps anchors in step with incidents whose status (or anything else) changed.
    pub fn note_changed(&self, changes: &[(IncidentFacts, IncidentFacts)]) {
        self.apply(
            changes
                .iter()
                .map(|(before, after)| (Some(before), Some(after))),
        );
    }

    fn apply<'a>(
        &self,
        changes: impl Iterator<Item = (Option<&'a IncidentFacts>, Option<&'a IncidentFacts>)> + Clone,
    ) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        let mut all = lock(&self.anchors);
        all.retain(|filter, anchors| {
            let anchors = Arc::make_mut(anchors);
            for (before, after) in changes.clone() {
                let was = before.filter(|b| filter.matches(b));
                let is = after.filter(|a| filter.matches(a));
                if let Some(before) = was {
                    anchors.shift_after(before.key(filter.sort), -1);
                }
                if let Some(after) = is {
                    anchors.shift_after(after.key(filter.sort), 1);
                }
            }
            !anchors.stretched()
        });
    }

    /// How many incidents match `filter`: from the anchors when they exist, else one COUNT
    /// (which does not wait for anchors a first page never needs).
    pub async fn count(&self, db: &Db, filter: &IncidentFilter) -> Result<i64, sqlx::Error> {
        let filter = filter.normalized();
        if let Some(anchors) = self.cached(&filter) {
            return Ok(anchors.total);
        }
        count_matching(db, &filter).await
    }

    /// Up to `limit` incidents starting at `offset`, in the filter's order: as served before
    /// when no change has landed since, else read.
    pub async fn window(
        &self,
        db: &Db,
        filter: &IncidentFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<IncidentRow>, sqlx::Error> {
        let key = (filter.normalized(), offset, limit);
        let before = self.changes.load(Ordering::SeqCst);
        if let Some((read_at, rows)) = self.answers.get(&key)
            && read_at == before
        {
            return Ok(rows.as_ref().clone());
        }
        let rows = self.read_window(db, &key.0, offset, limit).await?;
        if self.changes.load(Ordering::SeqCst) == before {
            self.answers.insert(key, (before, Arc::new(rows.clone())));
        }
        Ok(rows)
    }

    /// Up to `limit` incidents starting at `offset`, in the filter's order, read from the
    /// database (from the nearest anchor).
    pub async fn read_window(
        &self,
        db: &Db,
        filter: &IncidentFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<IncidentRow>, sqlx::Error> {
        if offset < 0 || limit <= 0 {
            return Ok(Vec::new());
        }
        let filter = &filter.normalized();
        let anchors = match self.cached(filter) {
            Some(anchors) => Some(anchors),
            // Near the top a short OFFSET is as cheap as a seek: no anchors needed.
            None if offset < anchor_stride(filter) => None,
            // A site that does not exist lists nothing: no pass over the index to learn that.
            None if !site_exists(db, filter).await? => return Ok(Vec::new()),
            None => self.build(db, filter).await?,
        };
        let start = anchors.as_ref().and_then(|a| {
            if offset >= a.total {
                None
            } else {
                a.at_or_before(offset)
            }
        });
        if anchors.as_ref().is_some_and(|a| offset >= a.total) {
            return Ok(Vec::new());
        }
        let (from, skip) = match start {
            Some((key, position)) => (Some(key), offset - position),
            None => (None, offset),
        };
        select_rows(db, filter, from, limit, skip).await
    }

    fn cached(&self, filter: &IncidentFilter) -> Option<Arc<Anchors>> {
        lock(&self.anchors)
            .get(filter)
            .filter(|anchors| anchors.built.elapsed() < ANCHOR_TTL)
            .cloned()
    }

    /// The filter's anchors, sampled once however many requests need them at the same time.
    /// `None` when [`CONCURRENT_BUILDS`] samplings of other filters are running: the window
    /// then reads with a plain OFFSET rather than queue another full pass.
    async fn build(
        &self,
        db: &Db,
        filter: &IncidentFilter,
    ) -> Result<Option<Arc<Anchors>>, sqlx::Error> {
        let ticket = FlightTicket::join(self, filter);
        let sampled = ticket
            .flight
            .get_or_try_init(|| self.sample(db, filter))
            .await
            .cloned();
        match sampled {
            Ok(anchors) => Ok(Some(anchors)),
            Err(BuildError::Busy) => Ok(None),
            Err(BuildError::Database(err)) => Err(err),
        }
    }

    /// One sampling, under a build permit; kept unless a change landed while it ran.
    async fn sample(&self, db: &Db, filter: &IncidentFilter) -> Result<Arc<Anchors>, BuildError> {
        let _permit = self.builds.try_acquire().map_err(|_| BuildError::Busy)?;
        let before = self.changes.load(Ordering::SeqCst);
        let anchors = Arc::new(
            sample_anchors(db, filter)
                .await
                .map_err(BuildError::Database)?,
        );
        if self.changes.load(Ordering::SeqCst) == before {
            self.keep(filter.clone(), anchors.clone());
        }
        Ok(anchors)
    }

    /// Stores `anchors`, first dropping expired entries and, when still full, the oldest.
    fn keep(&self, filter: IncidentFilter, anchors: Arc<Anchors>) {
        let mut all = lock(&self.anchors);
        if all.len() >= MAX_FILTERS && !all.contains_key(&filter) {
            all.retain(|_, kept| kept.built.elapsed() < ANCHOR_TTL);
            while all.len() >= MAX_FILTERS {
                let oldest = all
                    .iter()
                    .min_by_key(|(_, kept)| kept.built)
                    .map(|(key, _)| key.clone());
                match oldest {
                    Some(key) => all.remove(&key),
                    None => break,
                };
            }
        }
        all.insert(filter, anchors);
    }
}

/// A request's share in the sampling of one filter's anchors. The sampling is forgotten when
/// the last request waiting for it leaves (done, or dropped with its connection), so
/// `building` never holds more than the filters being sampled now.
struct FlightTicket<'a> {
    windows: &'a IncidentWindows,
    filter: &'a IncidentFilter,
    flight: Flight,
}

impl<'a> FlightTicket<'a> {
    fn join(windows: &'a IncidentWindows, filter: &'a IncidentFilter) -> Self {
        let flight = lock(&windows.building)
            .entry(filter.clone())
            .or_default()
            .clone();
        Self {
            windows,
            filter,
            flight,
        }
    }
}

impl Drop for FlightTicket<'_> {
    fn drop(&mut self) {
        // Clones and drops of a flight happen under this lock, so the count is exact.
        let mut building = lock(&self.windows.building);
        drop(std::mem::take(&mut self.flight));
        if building
            .get(self.filter)
            .is_some_and(|flight| Arc::strong_count(flight) == 1)
        {
            building.remove(self.filter);
        }
    }
}

/// Whether the site the filter names exists (true when it names none).
async fn site_exists(db: &Db, filter: &IncidentFilter) -> Result<bool, sqlx::Error> {
    let Some(site) = &filter.site else {
        return Ok(true);
    };
    let sql = format!(
        "SELECT id FROM sites WHERE site_id = $1 AND {}",
        clients_in(&filter.clients, "client_id")
    );
    let found: Option<i64> = on_db!(db, |pool| sqlx::query_scalar(&sql)
        .bind(site)
        .fetch_optional(pool)
        .await?);
    Ok(found.is_some())
}

pub async fn count_matching(db: &Db, filter: &IncidentFilter) -> Result<i64, sqlx::Error> {
    let conditions = filter_sql(filter, 1);
    let sql = format!(
        "SELECT COUNT(*) FROM incidents {}",
        conditions.where_clause()
    );
    on_db!(db, |pool| {
        sql::query_scalar(&sql, conditions.binds())?
            .fetch_one(pool)
            .await
    })
}

/// Rows between two of `filter`'s anchors.
fn anchor_stride(filter: &IncidentFilter) -> i64 {
    if several_clients(filter).is_some() {
        SEVERAL_CLIENTS_ANCHOR_STRIDE
    } else {
        WINDOW_ANCHOR_STRIDE
    }
}

async fn sample_anchors(db: &Db, filter: &IncidentFilter) -> Result<Anchors, sqlx::Error> {
    let conditions = filter_sql(filter, 1);
    let stride = anchor_stride(filter);
    let lead = match filter.sort {
        IncidentSort::Reported => "0",
        IncidentSort::Severity => "severity_rank",
        IncidentSort::Site => "site_id",
    };
    let sampled = format!(
        "SELECT lead, reported_at, id FROM ( \
            SELECT CAST({lead} AS BIGINT) AS lead, reported_at, id, \
            ROW_NUMBER() OVER ({}) - 1 AS position FROM incidents {} \
         ) ordered WHERE position % {stride} = 0 ORDER BY position",
        order_by(filter.sort),
        conditions.where_clause()
    );
    let (keys, total) = on_db!(db, |pool| {
        futures::try_join!(
            sql::query_as::<_, (i64, DateTime<Utc>, i64)>(&sampled, conditions.binds())?
                .fetch_all(pool),
            count_matching(db, filter)
        )?
    });
    let points = keys
        .into_iter()
        .enumerate()
        .map(|(i, (lead, reported_at, id))| {
            (
                SortKey {
                    lead,
                    reported_at,
                    id,
                },
                i as i64 * stride,
            )
        })
        .collect();
    Ok(Anchors {
        total,
        stride,
        points,
        built: Instant::now(),
    })
}

/// The facts of the given incidents, for anchor maintenance.
pub async fn incident_facts(db: &Db, ids: &[i64]) -> Result<Vec<IncidentFacts>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = facts_sql(ids, &ClientScope::All, "");
    on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await)
}

/// The query of [`incident_facts`] in id order, with `suffix` (a row lock) appended.
/// The facts of those of incidents `ids` at `scope`'s clients, in id order.
pub fn facts_sql(ids: &[i64], scope: &ClientScope, suffix: &str) -> String {
    format!(
        "SELECT {FACTS_COLUMNS} FROM incidents i JOIN sites s ON s.id = i.site_id \
         WHERE i.id IN ({}) AND {} ORDER BY i.id{suffix}",
        super::sql::id_list(ids),
        clients_in(scope, "s.client_id")
    )
}

/// The rows of `filter` after `after` (exclusive; `None` = from the top), at most `limit`, in
/// the filter's order: the chunks a streamed export reads one after another.
pub async fn rows_after(
    db: &Db,
    filter: &IncidentFilter,
    after: Option<&IncidentRow>,
    limit: i64,
) -> Result<Vec<IncidentRow>, sqlx::Error> {
    let from = after.map(|row| {
        let lead = match filter.sort {
            IncidentSort::Reported => 0,
            IncidentSort::Severity => Severity::parse(&row.severity).map_or(0, Severity::rank),
            IncidentSort::Site => row.site_id.0,
        };
        SortKey {
            lead,
            reported_at: row.reported_at,
            id: row.id - 1,
        }
    });
    select_rows(db, filter, from, limit, 0).await
}

/// Up to `limit` incidents of `filter` from the key `from` on (`None`: from the top), in the
/// filter's order, the first `skip` skipped.
async fn select_rows(
    db: &Db,
    filter: &IncidentFilter,
    from: Option<SortKey>,
    limit: i64,
    skip: i64,
) -> Result<Vec<IncidentRow>, sqlx::Error> {
    let (sql, binds) = match (db, several_clients(filter)) {
        (Db::Sqlite(_), Some(clients)) => merged_window_sql(filter, clients, from, limit, skip),
        _ => {
            let conditions = window_conditions(filter, from, 1);
            let sql = format!(
                "SELECT {COLUMNS} FROM incidents {} {} LIMIT {limit} OFFSET {skip}",
                conditions.where_clause(),
                order_by(filter.sort)
            );
            (sql, conditions.binds().to_vec())
        }
    };
    let mut rows = on_db!(db, |pool| {
        sql::query_as(&sql, &binds)?.fetch_all(pool).await
    })?;
    name_sites(db, &mut rows).await?;
    Ok(rows)
}

/// The filter's conditions, and the keyset from `from` on.
fn window_conditions(filter: &IncidentFilter, from: Option<SortKey>, first: usize) -> Conditions {
    let mut conditions = filter_sql(filter, first);
    if let Some(key) = from {
        add_keyset(&mut conditions, filter.sort, key);
    }
    conditions
}

/// The clients of a scope of several that the filter narrows to no one client or site.
///
/// An `IN` list on the first column of the client-led indexes yields each client's rows in
/// order but not their union. PostgreSQL, knowing from its statistics how many rows the
/// scope holds, walks the list's own index and passes over other clients' rows when the
/// scope is large, and sorts the scope's rows when it is small. SQLite would sort every row
/// of the scope for each window, so there the window is read client by client and merged
/// ([`merged_window_sql`]).
fn several_clients(filter: &IncidentFilter) -> Option<&[i64]> {
    let clients = filter.clients.clients()?;
    (clients.len() > 1 && filter.client.is_none() && filter.site.is_none()).then_some(clients)
}

/// The clients' ordered reads of sort keys (an index range each, read from the index alone
/// when it holds the filter's columns) merged as they come (a compound SELECT with its own
/// ORDER BY and LIMIT, which SQLite merges), so the merge reads `skip + limit` keys in all,
/// however many clients; then the whole rows of the `limit` kept.
fn merged_window_sql(
    filter: &IncidentFilter,
    clients: &[i64],
    from: Option<SortKey>,
    limit: i64,
    skip: i64,
) -> (String, Vec<Bind>) {
    let order = order_by(filter.sort);
    let keys = sort_columns(filter.sort);
    let mut binds = Vec::new();
    let mut reads = Vec::with_capacity(clients.len());
    for client in clients {
        let one_client = IncidentFilter {
            clients: ClientScope::only([*client]),
            ..filter.clone()
        };
        let conditions = window_conditions(&one_client, from, binds.len() + 1);
        reads.push(format!(
            "SELECT {keys} FROM incidents {}",
            conditions.where_clause()
        ));
        binds.extend_from_slice(conditions.binds());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE id IN (\
            SELECT id FROM ({} {order} LIMIT {limit} OFFSET {skip})\
         ) {order}",
        reads.join(" UNION ALL ")
    );
    (sql, binds)
}

/// Fills in the site slug and clinic name of `rows` with one lookup of their sites. Apart
/// from the window query so that a window's skipped rows never pay for the join.
pub async fn name_sites(db: &Db, rows: &mut [IncidentRow]) -> Result<(), sqlx::Error> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r.site_id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT id, site_id, clinic_name FROM sites WHERE id IN ({})",
        super::sql::id_list(&ids)
    );
    let names: Vec<(i64, String, String)> =
        on_db!(db, |pool| sqlx::query_as(&sql).fetch_all(pool).await?);
    let names: HashMap<i64, (String, String)> = names
        .into_iter()
        .map(|(id, site, clinic)| (id, (site, clinic)))
        .collect();
    for row in rows {
        if let Some((site, clinic)) = names.get(&row.site_id.0) {
            row.site.clone_from(site);
            row.clinic_name.clone_from(clinic);
        }
    }
    Ok(())
}
