//! The store on its own, on both databases: the rules its SQL keeps, without HTTP in between.

use app::db::accounts::NewAudit;
use app::db::appliances::{find_key, insert_appliance, replace_keys};
use app::db::evidence::{Appended, append_chain, chain_head};
use app::db::orders::{Transition, advance_order, insert_order};
use app::domain::appliance::EvidenceBundle;
use app::domain::order::OrderStatus;
use chrono::Utc;

use crate::common::{self, fixture};

fn audit(action: &'static str) -> NewAudit {
    NewAudit {
        actor: "test".into(),
        action,
        target: "store".into(),
        details: serde_json::json!({}),
        ip: None,
        at: Utc::now(),
    }
}

fn bundle(position: i64, hash: &str, prev: Option<&str>) -> EvidenceBundle {
    EvidenceBundle {
        position,
        bundle_hash: hash.repeat(64),
        prev_hash: prev.map(|p| p.repeat(64)),
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn an_evidence_chain_grows_only_at_its_head() {
    for test_db in common::databases().await {
        let (db, name) = (&test_db.db, test_db.name);
        fixture::client(db, 1, "Client").await;
        fixture::site(db, 1, 1, None).await;
        let now = Utc::now();
        assert_eq!(chain_head(db, 1).await.unwrap(), None, "{name}");
        let elsewhere = append_chain(db, 1, &[bundle(2, "b", Some("a"))], now).await;
        assert_eq!(
            elsewhere.unwrap(),
            Appended::Elsewhere {
                position: 0,
                hash: None
            },
            "{name}: an empty chain starts at position 1"
        );
        let first = [bundle(1, "a", None), bundle(2, "b", Some("a"))];
        assert_eq!(
            append_chain(db, 1, &first, now).await.unwrap(),
            Appended::Stored,
            "{name}"
        );
        assert_eq!(
            chain_head(db, 1).await.unwrap(),
            Some((2, "b".repeat(64))),
            "{name}"
        );
        let again = append_chain(db, 1, &first[1..], now).await.unwrap();
        assert_eq!(
            again,
            Appended::Elsewhere {
                position: 2,
                hash: Some("b".repeat(64))
            },
            "{name}: a bundle already in the chain is refused"
        );
        assert_eq!(common::count(db, "evidence_bundles").await, 2, "{name}");
    }
}

#[tokio::test]
async fn an_order_moves_forward_once_and_only_for_its_appliance() {
    for test_db in common::databases().await {
        let (db, name) = (&test_db.db, test_db.name);
        fixture::client(db, 1, "Client").await;
        fixture::site(db, 1, 1, None).await;
        let mine = insert_appliance(db, "site-1", "FD-01", "02:00:00:00:00:01", "h1")
            .await
            .unwrap()
            .unwrap();
        let other = insert_appliance(db, "site-1", "FD-02", "02:00:00:00:00:02", "h2")
            .await
            .unwrap()
            .unwrap();
        let params = serde_json::json!({});
        let order = insert_order(db, mine, "run_scan", &params, &audit("order.create"))
            .await
            .unwrap();
        let advance = |appliance, to| advance_order(db, order, appliance, to, None);
        use OrderStatus::*;
        assert_eq!(
            advance(other, Acknowledged).await.unwrap(),
            Transition::OtherAppliance,
            "{name}"
        );
        assert_eq!(
            advance(mine, Completed).await.unwrap(),
            Transition::WrongStatus(Pending),
            "{name}"
        );
        assert_eq!(
            advance(mine, Acknowledged).await.unwrap(),
            Transition::Done,
            "{name}"
        );
        assert_eq!(
            advance(mine, Acknowledged).await.unwrap(),
            Transition::WrongStatus(Acknowledged),
            "{name}: acknowledged once"
        );
        assert_eq!(
            advance(mine, Failed).await.unwrap(),
            Transition::Done,
            "{name}"
        );
        assert_eq!(
            advance(mine, Completed).await.unwrap(),
            Transition::WrongStatus(Failed),
            "{name}"
        );
        assert_eq!(
            advance_order(db, order + 100, mine, Acknowledged, None)
                .await
                .unwrap(),
            Transition::NoSuchOrder,
            "{name}"
        );
        let two_days_ago = NewAudit {
            at: Utc::now() - chrono::Duration::days(2),
            ..audit("order.create")
        };
        let stale = insert_order(db, mine, "run_scan", &params, &two_days_ago)
            .await
            .unwrap();
        assert_eq!(
            advance_order(db, stale, mine, Acknowledged, None)
                .await
                .unwrap(),
            Transition::Expired,
            "{name}: past its deadline"
        );
    }
}

#[tokio::test]
async fn replacing_keys_revokes_the_old_ones_with_an_audit_entry() {
    for test_db in common::databases().await {
        let (db, name) = (&test_db.db, test_db.name);
        fixture::client(db, 1, "Client").await;
        fixture::site(db, 1, 1, None).await;
        assert_eq!(
            insert_appliance(db, "site-9", "FD-01", "02:00:00:00:00:01", "h0")
                .await
                .unwrap(),
            None,
            "{name}: no such site"
        );
        let id = insert_appliance(db, "site-1", "FD-01", "02:00:00:00:00:01", "old")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            find_key(db, "old").await.unwrap().map(|a| a.id),
            Some(id),
            "{name}"
        );
        let revoked = replace_keys(db, id, Some("new"), &audit("appliance.rotate")).await;
        assert_eq!(revoked.unwrap(), Some(1), "{name}");
        assert_eq!(
            find_key(db, "old").await.unwrap(),
            None,
            "{name}: the old key is refused"
        );
        let found = find_key(db, "new").await.unwrap().unwrap();
        assert_eq!(
            (found.id, found.site, found.site_id.as_str()),
            (id, 1, "site-1"),
            "{name}"
        );
        let audited = common::count(db, "audit_log").await;
        assert_eq!(
            replace_keys(db, id + 1, None, &audit("appliance.revoke"))
                .await
                .unwrap(),
            None,
            "{name}: no such appliance"
        );
        assert_eq!(
            common::count(db, "audit_log").await,
            audited,
            "{name}: nothing written"
        );
    }
}
