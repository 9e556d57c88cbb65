//! SQL built from filters: one WHERE-clause builder that numbers its placeholders as values
//! are added, and those values as the arguments of a query on either database.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::query::{QueryAs, QueryScalar};
use sqlx::{Arguments, Database, Encode, FromRow, IntoArguments, Type};

/// A value bound into generated SQL.
#[derive(Debug, Clone)]
pub enum Bind {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// Conditions joined with AND, and the values of their placeholders (`$first`, `$first+1`, ...).
#[derive(Debug, Clone)]
pub struct Conditions {
    clauses: Vec<String>,
    binds: Vec<Bind>,
    first: usize,
}

impl Conditions {
    /// No condition yet; the first value added will be `$first`.
    pub fn numbered_from(first: usize) -> Self {
        Self {
            clauses: Vec::new(),
            binds: Vec::new(),
            first,
        }
    }

    /// Adds `clause`, in which each `?` stands for the next of `values`, in order.
    pub fn add(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) {
        let mut numbered = String::with_capacity(clause.len() + 8);
        let mut parts = clause.split('?');
        numbered.push_str(parts.next().unwrap_or_default());
        for (part, value) in parts.zip(values) {
            self.binds.push(value);
            numbered.push_str(&format!("${}", self.first + self.binds.len() - 1));
            numbered.push_str(part);
        }
        self.clauses.push(numbered);
    }

    /// `WHERE a AND b ...`, or nothing when there is no condition.
    pub fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }
}

/// A database [`Bind`]s can be bound on: both of ours.
pub trait BindsFilters<'q>: Database {
    /// `binds` as the arguments of a query.
    fn arguments(binds: &[Bind]) -> Result<Self::Arguments<'q>, sqlx::Error>;
}

impl<'q, DB> BindsFilters<'q> for DB
where
    DB: Database,
    String: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    fn arguments(binds: &[Bind]) -> Result<DB::Arguments<'q>, sqlx::Error> {
        let mut arguments = DB::Arguments::default();
        for bind in binds {
            match bind {
                Bind::Text(text) => arguments.add(text.clone()),
                Bind::Int(int) => arguments.add(*int),
                Bind::Time(at) => arguments.add(*at),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        Ok(arguments)
    }
}

/// `sql` with `binds` bound, returning rows of `O`, on whichever database executes it.
pub fn query_as<'q, DB, O>(
    sql: &'q str,
    binds: &[Bind],
) -> Result<QueryAs<'q, DB, O, DB::Arguments<'q>>, sqlx::Error>
where
    DB: BindsFilters<'q>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    O: for<'r> FromRow<'r, DB::Row>,
{
    Ok(sqlx::query_as_with(sql, DB::arguments(binds)?))
}

/// `sql` with `binds` bound, returning one value of `O` per row.
pub fn query_scalar<'q, DB, O>(
    sql: &'q str,
    binds: &[Bind],
) -> Result<QueryScalar<'q, DB, O, DB::Arguments<'q>>, sqlx::Error>
where
    DB: BindsFilters<'q>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    (O,): for<'r> FromRow<'r, DB::Row>,
{
    Ok(sqlx::query_scalar_with(sql, DB::arguments(binds)?))
}

/// The most rows one multi-row INSERT of `columns` columns may carry on either database,
/// under both bind-parameter limits (SQLite 32,766; PostgreSQL 65,535).
pub const fn rows_per_statement(columns: usize) -> usize {
    30_000 / columns
}

/// `ids` as the inside of an SQL `IN (...)`: integers, so written into the text safely.
/// No ids is `NULL`, which matches nothing (an empty `IN ()` is a syntax error).
pub fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".into();
    }
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Midnight UTC of a `YYYY-MM-DD` day plus `days_after` days: the bounds of a day filter.
pub fn day_start(day: &str, days_after: u64) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    let date = date.checked_add_days(chrono::Days::new(days_after))?;
    Some(date.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::{Bind, Conditions};

    #[test]
    fn placeholders_are_numbered_in_the_order_values_are_added() {
        let mut conditions = Conditions::numbered_from(2);
        assert_eq!(conditions.where_clause(), "");
        conditions.add("a = ?", [Bind::Int(1)]);
        conditions.add("(b, c) <= (?, ?)", [Bind::Int(2), Bind::Int(3)]);
        conditions.add("d IS NULL", []);
        assert_eq!(
            conditions.where_clause(),
            "WHERE a = $2 AND (b, c) <= ($3, $4) AND d IS NULL"
        );
        assert_eq!(conditions.binds().len(), 3);
    }
}
