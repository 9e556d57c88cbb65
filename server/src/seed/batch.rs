//! Multi-row inserts sized under both databases' bind-parameter limits
//! (SQLite 32,766; PostgreSQL 65,535).

/// The most rows one INSERT of `columns` columns may carry on either database.
pub const fn rows_per_statement(columns: usize) -> usize {
    30_000 / columns
}

/// `insert_batched!(db, "INSERT INTO t (a, b) ", 2, rows, |b, row| { b.push_bind(..).push_bind(..); })`
/// writes `rows` in as few statements as the limits allow, each one atomic.
#[macro_export]
macro_rules! insert_batched {
    ($db:expr, $head:expr, $columns:expr, $rows:expr, |$b:ident, $row:ident| $push:block) => {{
        for chunk in $rows.chunks($crate::seed::batch::rows_per_statement($columns)) {
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
