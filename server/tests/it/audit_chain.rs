//! The audit log is tamper-evident: entries sealed into the hash chain verify, and an edited,
//! removed or reordered entry is named by `verify` and by `posture verify-audit`.

use std::process::Command;

use app::db::Db;
use app::db::accounts::{NewAudit, record_audit};
use app::db::audit_chain::{Verdict, seal, verify};
use app::on_db;
use chrono::Utc;
use posture_server::config::DatabaseArgs;
use posture_server::database;

use crate::common;

async fn write_entries(db: &Db, count: usize) {
    for i in 0..count {
        let audit = NewAudit {
            actor: format!("user{i}@test.local"),
            action: "user.update",
            target: format!("user:{i}"),
            details: serde_json::json!({"role": "operator", "n": i}),
            ip: Some("192.0.2.7".into()),
            at: Utc::now(),
        };
        record_audit(db, &audit).await.unwrap();
    }
}

async fn execute(db: &Db, sql: &str) {
    on_db!(db, |pool| {
        sqlx::query(sql).execute(pool).await.unwrap();
    });
}

/// A database with five entries, all sealed.
async fn sealed_five(db: &Db) {
    write_entries(db, 3).await;
    assert_eq!(seal(db, 2).await.unwrap(), 2, "a batch at a time");
    assert_eq!(seal(db, 1_000).await.unwrap(), 1);
    write_entries(db, 2).await;
    assert_eq!(seal(db, 1_000).await.unwrap(), 2);
    assert_eq!(seal(db, 1_000).await.unwrap(), 0);
}

fn broken_at(verdict: Verdict) -> (i64, String) {
    match verdict {
        Verdict::Broken {
            position, reason, ..
        } => (position, reason),
        intact => panic!("not detected: {intact:?}"),
    }
}

#[tokio::test]
async fn sealed_entries_verify_and_unsealed_ones_are_counted() {
    for test in common::databases().await {
        let db = &test.db;
        write_entries(db, 2).await;
        assert_eq!(
            verify(db).await.unwrap(),
            Verdict::Intact {
                sealed: 0,
                unsealed: 2
            },
            "{}",
            test.name
        );
        assert_eq!(seal(db, 1).await.unwrap(), 1, "{}", test.name);
        assert_eq!(
            verify(db).await.unwrap(),
            Verdict::Intact {
                sealed: 1,
                unsealed: 1
            },
            "{}",
            test.name
        );
        assert_eq!(seal(db, 1_000).await.unwrap(), 1, "{}", test.name);
        write_entries(db, 1).await;
        assert_eq!(
            verify(db).await.unwrap(),
            Verdict::Intact {
                sealed: 2,
                unsealed: 1
            },
            "{}",
            test.name
        );
    }
}

#[tokio::test]
async fn an_edited_removed_or_reordered_entry_is_found() {
    let edits = [
        (
            "UPDATE audit_log SET actor = 'someone-else' WHERE chain_position = 3",
            3,
            "does not match",
        ),
        (
            "UPDATE audit_log SET at = at WHERE chain_position = 2; \
             UPDATE audit_log SET ip = NULL WHERE chain_position = 4",
            4,
            "does not match",
        ),
        (
            "DELETE FROM audit_log WHERE chain_position = 2",
            3,
            "missing",
        ),
        // Entries 2 and 3 swapped, hashes and all.
        (
            "UPDATE audit_log SET chain_position = -2 WHERE chain_position = 2; \
             UPDATE audit_log SET chain_position = 2 WHERE chain_position = 3; \
             UPDATE audit_log SET chain_position = 3 WHERE chain_position = -2",
            2,
            "does not match",
        ),
    ];
    for (sql, position, reason) in edits {
        for test in common::databases().await {
            let db = &test.db;
            sealed_five(db).await;
            for statement in sql.split("; ") {
                execute(db, statement).await;
            }
            let (at, why) = broken_at(verify(db).await.unwrap());
            assert_eq!(at, position, "{}: {sql}", test.name);
            assert!(why.contains(reason), "{}: {sql}: {why}", test.name);
        }
    }
}

#[tokio::test]
async fn two_sealers_on_one_postgresql_build_one_chain() {
    let url = common::postgres_database_url().await;
    let (a, b) = (
        database::open(&DatabaseArgs::at(&url)).await.unwrap(),
        database::open(&DatabaseArgs::at(&url)).await.unwrap(),
    );
    for _ in 0..5 {
        write_entries(&a, 40).await;
        let (one, two) = tokio::join!(seal(&a, 30), seal(&b, 30));
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one + two, 40, "each entry sealed once");
    }
    assert_eq!(
        verify(&b).await.unwrap(),
        Verdict::Intact {
            sealed: 200,
            unsealed: 0
        }
    );
}

#[tokio::test]
async fn posture_verify_audit_exits_non_zero_naming_the_entry() {
    let (db, args, _dir) = common::temp_database().await;
    sealed_five(&db).await;
    let verify_audit = || {
        Command::new(env!("CARGO_BIN_EXE_posture"))
            .arg("verify-audit")
            .env("DATABASE_URL", &args.database_url)
            .output()
            .unwrap()
    };
    let fine = verify_audit();
    assert!(fine.status.success());
    assert!(String::from_utf8_lossy(&fine.stdout).contains("5 sealed entries verified"));

    execute(
        &db,
        "UPDATE audit_log SET details = '{}' WHERE chain_position = 4",
    )
    .await;
    let id: Vec<i64> = common::column(
        &db,
        "SELECT id FROM audit_log WHERE chain_position = 4",
        &[],
    )
    .await;
    let broken = verify_audit();
    assert_eq!(broken.status.code(), Some(1));
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(
        said.contains(&format!("chain position 4 (entry id {})", id[0])),
        "{said}"
    );
}
