//! The seed's multi-row inserts, each sized by [`app::db::sql::rows_per_statement`].
//!
//! A macro, not a function: the closure that binds a row's values is written once and
//! compiled for each database's query builder, which a generic closure cannot be.

/// `insert_batched!(db, "INSERT INTO t (a, b) ", 2, rows, |b, row| { b.push_bind(..).push_bind(..); })`
/// writes `rows` in as few statements as the limits allow, each one atomic.
macro_rules! insert_batched {
    ($db:expr, $head:expr, $columns:expr, $rows:expr, |$b:ident, $row:ident| $push:block) => {{
        for chunk in $rows.chunks(app::db::sql::rows_per_statement($columns)) {
            app::on_db!($db, |pool| {
                sqlx::QueryBuilder::new($head)
                    .push_values(chunk, |mut $b, $row| $push)
                    .build()
                    .execute(pool)
                    .await?;
            });
        }
    }};
}

pub(crate) use insert_batched;
