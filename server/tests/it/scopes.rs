//! Scopes: an operator limited to 2 of 50 clients calls every server function and route. Each
//! answer holds only those clients' data; whatever names another client answers 404 and
//! writes nothing; admin functions answer 403. A server function missing from the table fails
//! the test, so each new one must say what a scoped user gets from it.

use std::collections::{BTreeSet, HashMap};

use app::auth::Role;
use app::db::Db;
use app::db::sql::Bind;
use app::domain::client_scope::ClientScope;
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, TestServer};

const CLIENTS: i64 = 50;
/// The scoped operator's clients.
const MINE: [i64; 2] = [3, 7];
/// A client outside the scope, which the foreign calls name.
const THEIRS: i64 = 9;
const SCOPED_EMAIL: &str = "scoped@test.local";

fn slug(client: i64) -> String {
    format!("s{client:02}z")
}

/// What names client `n` in any answer: its name, clinic and window reason carry `Q..Z`,
/// its site's public id and appliance hostname `s..z`.
fn marks(client: i64) -> [String; 2] {
    [format!("Q{client:02}Z"), slug(client)]
}

/// Client `n` with one site (key `n`), an active maintenance window, a check result, an alert
/// sent and two open incidents; the scope's clients and [`THEIRS`] also get an appliance, whose keys come
/// back by client.
pub(crate) async fn populate(db: &Db) -> HashMap<i64, String> {
    let now = Utc::now();
    common::execute(
        db,
        "INSERT INTO alert_channels (id, name, kind, target, secret, created_at) \
         VALUES (1, 'on call', 'email', 'oncall@test.local', '', $1)",
        &[Bind::Time(now)],
    )
    .await;
    for n in 1..=CLIENTS {
        let name = format!("Client Q{n:02}Z");
        common::execute(
            db,
            "INSERT INTO clients (id, name) VALUES ($1, $2)",
            &[Bind::Int(n), Bind::Text(name)],
        )
        .await;
        common::execute(
            db,
            "INSERT INTO sites (id, site_id, client_id, clinic_name, tier, last_checkin_at, created_at) \
             VALUES ($1, $2, $1, $3, 'small', $4, $5)",
            &[
                Bind::Int(n),
                Bind::Text(slug(n)),
                Bind::Text(format!("Clinic Q{n:02}Z")),
                Bind::Time(now),
                Bind::Time(now - Duration::days(70)),
            ],
        )
        .await;
        common::execute(
            db,
            "INSERT INTO maintenance_windows (client_id, reason, starts_at, duration_minutes, \
             weekly, time_zone, created_by, created_at) VALUES ($1, $2, $3, 120, FALSE, 'UTC', 'test', $3)",
            &[
                Bind::Int(n),
                Bind::Text(format!("Upgrade Q{n:02}Z")),
                Bind::Time(now - Duration::minutes(10)),
            ],
        )
        .await;
        common::fixture::latest_result(db, n, "patch_status", "ws-1", "fail", now).await;
        common::execute(
            db,
            "INSERT INTO alert_deliveries (idempotency_key, channel_id, site_id, subject, payload, \
             kind, status, next_attempt_at, created_at, sent_at) \
             VALUES ($1, 1, $2, $3, '{}', 'alert', 'sent', $4, $4, $4)",
            &[
                Bind::Text(format!("alert-{n}")),
                Bind::Int(n),
                Bind::Text(format!("Backup failed at Clinic Q{n:02}Z")),
                Bind::Time(now),
            ],
        )
        .await;
        for hours in [1, 2] {
            common::fixture::incident(db, n, "high", "open", now - Duration::hours(hours)).await;
        }
    }
    let mut keys = HashMap::new();
    for n in MINE.into_iter().chain([THEIRS]) {
        let host = format!("host-{}", slug(n));
        let provisioned = posture_server::provision::provision_appliance(db, &slug(n), &host)
            .await
            .unwrap();
        keys.insert(n, provisioned.key);
    }
    keys
}

/// How a server function is called.
#[derive(Clone)]
enum Call {
    Get(String),
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// What the scoped operator gets from a server function.
enum Expect {
    /// Their clients' data, and none of any other client's; `theirs` (the same call naming
    /// [`THEIRS`]'s site, client or incident) is 404 and writes nothing.
    Scoped { mine: Call, theirs: Option<Call> },
    /// Their own account, or data of no client (runbooks): no client's data at all.
    Own(Call),
    /// An admin's function: 403.
    AdminOnly(Call),
    /// Signing in and out, called once on their own (see the test).
    Session,
}

fn get(query: &str) -> Call {
    Call::Get(query.to_string())
}

/// Every server function, by endpoint. `{mine}` stands for an open incident of client 3;
/// `{their_site}`, `{their_client}` and `{their_incident}` for [`THEIRS`]'s (or, to compare,
/// ones that do not exist); `{month}` for last month, `{today}` for today.
fn table() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    let both = |mine: Call, theirs: Call| Scoped {
        mine,
        theirs: Some(theirs),
    };
    let list = |mine: Call| Scoped { mine, theirs: None };
    vec![
        ("get_overview", list(get(""))),
        ("list_sites", list(get("filter[q]="))),
        ("list_clients", list(get(""))),
        ("get_client", both(get("id=3"), get("id={their_client}"))),
        (
            "get_site",
            both(get("site_id=s03z"), get("site_id={their_site}")),
        ),
        (
            "get_site_on_day",
            both(
                get("site_id=s03z&day={today}"),
                get("site_id={their_site}&day={today}"),
            ),
        ),
        (
            "count_incidents",
            both(get("filter[site]=s03z"), get("filter[site]={their_site}")),
        ),
        (
            "list_incident_window",
            both(
                get("key[filter][client]=3&key[window]=0"),
                get("key[filter][client]={their_client}&key[window]=0"),
            ),
        ),
        (
            "get_incident",
            both(get("id={mine}"), get("id={their_incident}")),
        ),
        (
            "act_on_incidents",
            both(
                Call::Json(json!({"ids": ["{mine}"], "action": "escalate"})),
                Call::Json(json!({"ids": ["{mine}", "{their_incident}"], "action": "resolve"})),
            ),
        ),
        (
            "create_order",
            both(
                Call::Json(
                    json!({"site_id": "s03z", "hostname": "host-s03z", "order_type": "rescan"}),
                ),
                Call::Json(
                    json!({"site_id": "{their_site}", "hostname": "host-{their_site}", "order_type": "rescan"}),
                ),
            ),
        ),
        (
            "list_current_windows",
            both(get("site=s03z"), get("site={their_site}")),
        ),
        ("list_report_subjects", list(get(""))),
        (
            "get_report",
            both(
                get("kind=client&subject=3&month={month}"),
                get("kind=client&subject={their_client}&month={month}"),
            ),
        ),
        ("list_runbooks", Own(get("filter[q]="))),
        ("get_runbook", Own(get("id=RB-PAT-001"))),
        ("get_two_factor", Own(get(""))),
        ("start_two_factor", Own(Call::Form(vec![]))),
        (
            "confirm_two_factor",
            Own(Call::Form(vec![("code", "000000".into())])),
        ),
        (
            "disable_two_factor",
            Own(Call::Form(vec![("code", "000000".into())])),
        ),
        ("list_api_tokens", Own(get(""))),
        (
            "create_api_token",
            Own(Call::Form(vec![
                ("name", "nightly".into()),
                ("days", "30".into()),
            ])),
        ),
        (
            "revoke_api_token",
            Own(Call::Form(vec![("id", "999".into())])),
        ),
        ("get_site_form", AdminOnly(get("site_id=s03z"))),
        (
            "save_site",
            AdminOnly(Call::Json(json!({"original": "s03z", "input": {}}))),
        ),
        (
            "decommission_site",
            AdminOnly(Call::Json(json!({"site_id": "s03z"}))),
        ),
        ("list_alert_channels", AdminOnly(get(""))),
        (
            "add_alert_channel",
            AdminOnly(Call::Json(
                json!({"channel": {"name": "x", "kind": "email", "target": "x@test.local"}}),
            )),
        ),
        ("send_test_alert", AdminOnly(Call::Json(json!({"id": 1})))),
        ("list_alert_rules", AdminOnly(get(""))),
        (
            "add_alert_rule",
            AdminOnly(Call::Json(json!({"rule": {
                "name": "x", "client_id": 3, "event": "incident", "min_severity": "high",
                "notify_resolved": false, "channels": [1]
            }}))),
        ),
        ("list_alert_deliveries", list(get(""))),
        (
            "retry_alert_delivery",
            AdminOnly(Call::Json(json!({"id": 1}))),
        ),
        ("list_users", AdminOnly(get(""))),
        (
            "add_user",
            AdminOnly(Call::Json(
                json!({"email": "x@test.local", "display_name": "X", "role": "readonly", "password": ""}),
            )),
        ),
        (
            "update_user",
            AdminOnly(Call::Json(
                json!({"id": 1, "role": "admin", "disabled": false}),
            )),
        ),
        (
            "set_user_clients",
            AdminOnly(Call::Json(json!({"id": 1, "clients": null}))),
        ),
        ("list_audit", AdminOnly(get("filter[actor]="))),
        ("list_maintenance_windows", list(get(""))),
        (
            "add_maintenance_window",
            AdminOnly(Call::Json(json!({"window": {
                "site": "", "client_id": 3, "reason": "x", "start": "2026-12-01T10:00",
                "end": "2026-12-01T11:00", "weekly": false, "time_zone": "UTC"
            }}))),
        ),
        (
            "delete_maintenance_window",
            AdminOnly(Call::Json(json!({"id": 1}))),
        ),
        (
            "set_admins_need_two_factor",
            AdminOnly(Call::Form(vec![("required", "true".into())])),
        ),
        (
            "invite_clinic_staff",
            AdminOnly(Call::Json(json!({"client_id": 3, "email": "x@test.local"}))),
        ),
        ("get_invite", Own(get("token=0f3a"))),
        (
            "accept_invite",
            Own(Call::Form(vec![
                ("token", "0f3a".into()),
                ("display_name", "X".into()),
                ("password", "a-long-password-1".into()),
            ])),
        ),
        ("login", Session),
        ("logout", Session),
    ]
}

/// The values the table's placeholders stand for.
struct Placeholders {
    mine: i64,
    /// The site slug, client id and incident id that the foreign calls name.
    theirs: (String, i64, i64),
    month: String,
    today: String,
}

/// A site, client and incident that do not exist: another client's must answer the same.
const NOBODYS: (&str, i64, i64) = ("s99z", 99, 999_999_999);

impl Placeholders {
    async fn of(db: &Db) -> Self {
        let incident = |site: i64| async move {
            common::column::<i64>(
                db,
                "SELECT id FROM incidents WHERE site_id = $1 ORDER BY id LIMIT 1",
                &[Bind::Int(site)],
            )
            .await[0]
        };
        let now = Utc::now();
        Self {
            mine: incident(MINE[0]).await,
            theirs: (slug(THEIRS), THEIRS, incident(THEIRS).await),
            month: app::report::ReportMonth::of(now).previous().to_string(),
            today: now.format("%Y-%m-%d").to_string(),
        }
    }

    fn fill(&self, text: &str) -> String {
        let (site, client, incident) = &self.theirs;
        text.replace("\"{mine}\"", &self.mine.to_string())
            .replace("\"{their_incident}\"", &incident.to_string())
            .replace("{mine}", &self.mine.to_string())
            .replace("{their_incident}", &incident.to_string())
            .replace("{their_site}", site)
            .replace("{their_client}", &client.to_string())
            .replace("{month}", &self.month)
            .replace("{today}", &self.today)
    }

    /// The same values, naming a site, client and incident that do not exist.
    fn nobodys(&self) -> Self {
        let (site, client, incident) = NOBODYS;
        Self {
            mine: self.mine,
            theirs: (site.to_string(), client, incident),
            month: self.month.clone(),
            today: self.today.clone(),
        }
    }

    /// `body` with the foreign ids these values put in the call replaced by `ID`.
    fn unnamed(&self, body: &str) -> String {
        let (site, client, incident) = &self.theirs;
        body.replace(&incident.to_string(), "ID")
            .replace(site.as_str(), "ID")
            .replace(&client.to_string(), "ID")
    }
}

async fn send(
    server: &TestServer,
    client: &reqwest::Client,
    endpoint: &str,
    call: &Call,
    values: &Placeholders,
) -> (StatusCode, String) {
    let url = server.url(&format!("/api/{endpoint}"));
    let request = match call {
        Call::Get(query) => client.get(format!("{url}?{}", values.fill(query))),
        Call::Json(body) => client
            .post(url)
            .header("content-type", "application/json")
            .body(values.fill(&body.to_string())),
        Call::Form(pairs) => client.post(url).form(pairs),
    };
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// Row counts of every table, to show a refused call wrote nothing.
async fn row_counts(db: &Db) -> Vec<(String, i64)> {
    let tables_sql = match db {
        Db::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE '_sqlx%' ORDER BY name"
        }
        Db::Postgres(_) => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' ORDER BY 1"
        }
    };
    let mut counts = Vec::new();
    for table in common::column::<String>(db, tables_sql, &[]).await {
        let rows = common::count(db, &table).await;
        counts.push((table, rows));
    }
    counts
}

/// The clients other than the scope's that `body` names.
fn foreign_marks(body: &str) -> Vec<String> {
    (1..=CLIENTS)
        .filter(|n| !MINE.contains(n))
        .flat_map(marks)
        .filter(|mark| body.contains(mark.as_str()))
        .collect()
}

fn names_mine(body: &str) -> bool {
    MINE.into_iter().flat_map(marks).any(|m| body.contains(&m))
}

async fn scoped_operator(server: &TestServer) -> reqwest::Client {
    common::add_scoped_user(
        &server.db,
        SCOPED_EMAIL,
        Role::Operator,
        &ClientScope::only(MINE),
    )
    .await;
    server
        .sign_in(SCOPED_EMAIL, common::TEST_PASSWORD)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scoped_operator_reaches_only_their_clients_through_every_server_function() {
    for (name, server) in common::servers_on_both().await {
        populate(&server.db).await;
        let values = Placeholders::of(&server.db).await;
        let operator = scoped_operator(&server).await;
        let table = table();

        let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.trim_start_matches("/api/").to_string())
            .collect();
        let listed: BTreeSet<String> = table.iter().map(|(e, _)| e.to_string()).collect();
        assert_eq!(
            registered, listed,
            "every server function has a row here (a new one: say what a scoped user gets)"
        );

        for (endpoint, expect) in &table {
            let at = format!("{name}: {endpoint}");
            match expect {
                Expect::Scoped { mine, theirs } => {
                    if let Some(theirs) = theirs {
                        let before = row_counts(&server.db).await;
                        let (status, body) =
                            send(&server, &operator, endpoint, theirs, &values).await;
                        assert_eq!(status, StatusCode::NOT_FOUND, "{at} (theirs): {body}");
                        assert_eq!(row_counts(&server.db).await, before, "{at}: wrote nothing");
                        let nobodys = values.nobodys();
                        let (_, missing) =
                            send(&server, &operator, endpoint, theirs, &nobodys).await;
                        assert_eq!(
                            values.unnamed(&body),
                            nobodys.unnamed(&missing),
                            "{at}: the same answer as for one that does not exist"
                        );
                    }
                    let (status, body) = send(&server, &operator, endpoint, mine, &values).await;
                    assert_eq!(status, StatusCode::OK, "{at} (mine): {body}");
                    assert_eq!(foreign_marks(&body), Vec::<String>::new(), "{at}: {body}");
                    let names_nothing = ["count_incidents", "act_on_incidents", "create_order"];
                    assert!(
                        names_nothing.contains(endpoint) || names_mine(&body),
                        "{at}: the answer holds the user's own clients: {body}"
                    );
                }
                Expect::Own(call) => {
                    let (status, body) = send(&server, &operator, endpoint, call, &values).await;
                    assert!(!status.is_server_error(), "{at}: {status} {body}");
                    assert_eq!(foreign_marks(&body), Vec::<String>::new(), "{at}: {body}");
                }
                Expect::AdminOnly(call) => {
                    let before = row_counts(&server.db).await;
                    let (status, body) = send(&server, &operator, endpoint, call, &values).await;
                    assert_eq!(status, StatusCode::FORBIDDEN, "{at}: {body}");
                    assert_eq!(foreign_marks(&body), Vec::<String>::new(), "{at}: {body}");
                    assert_eq!(row_counts(&server.db).await, before, "{at}: wrote nothing");
                }
                Expect::Session => {}
            }
        }

        let every = get("filter[sort]=reported");
        let count: i64 = send(&server, &operator, "count_incidents", &every, &values)
            .await
            .1
            .parse()
            .unwrap();
        assert_eq!(
            count, 4,
            "{name}: two open incidents at each of two clients"
        );
        let theirs_status: Vec<String> = common::column(
            &server.db,
            "SELECT status FROM incidents WHERE site_id = $1",
            &[Bind::Int(THEIRS)],
        )
        .await;
        assert_eq!(theirs_status, ["open", "open"], "{name}: untouched");

        let again = server
            .sign_in(SCOPED_EMAIL, common::TEST_PASSWORD)
            .await
            .unwrap();
        let (status, _) = send(&server, &again, "logout", &Call::Form(vec![]), &values).await;
        assert_eq!(status, StatusCode::OK, "{name}: logout");
    }
}

#[tokio::test]
async fn a_scoped_operator_gets_404_for_other_clients_pages_and_downloads() {
    let server = common::start().await;
    populate(&server.db).await;
    let values = Placeholders::of(&server.db).await;
    let operator = scoped_operator(&server).await;
    let month = &values.month;
    let theirs = [
        "/sites/s09z".to_string(),
        format!("/sites/s09z?at={}", values.today),
        "/clients/9".to_string(),
        format!("/reports/clients/9/{month}"),
        format!("/reports/sites/s09z/{month}"),
        format!("/reports/clients/9/{month}/evidence.zip"),
        "/incidents.csv?site=s09z".to_string(),
        "/incidents.csv?client=9".to_string(),
    ];
    for path in &theirs {
        let response = operator.get(server.url(path)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        // The answer may repeat the id asked for, and names nothing else of theirs.
        assert!(!body.contains("Q09Z"), "{path}: {body}");
    }
    let mine = [
        "/",
        "/sites",
        "/clients",
        "/incidents",
        "/reports",
        "/sites/s03z",
        "/incidents.csv",
    ];
    for path in mine {
        let response = operator.get(server.url(path)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(foreign_marks(&body), Vec::<String>::new(), "{path}");
        assert!(names_mine(&body), "{path} shows the user's clients");
    }
    let csv = operator
        .get(server.url("/incidents.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 4,
        "a header and the 4 incidents: {csv}"
    );
    let pack = operator
        .get(server.url(&format!("/reports/clients/3/{month}/evidence.zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(pack.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_scoped_users_event_stream_names_only_their_sites() {
    let server = common::start().await;
    let keys = populate(&server.db).await;
    let (mine, theirs) = (&keys[&MINE[0]], &keys[&THEIRS]);
    let operator = scoped_operator(&server).await;
    let mut events = operator
        .get(server.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    let appliance = reqwest::Client::new();
    for (key, site) in [(theirs, "s09z"), (mine, "s03z")] {
        let report = json!({
            "site_id": site,
            "checks": [crate::api::check("fail", Utc::now())],
            "drift": []
        });
        let response = appliance
            .post(server.url("/api/v1/reports"))
            .bearer_auth(key)
            .json(&report)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{site}");
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&chunk).to_string();
        assert!(!text.contains("s09z"), "{text}");
        assert_eq!(text.contains("site:s03z"), site == "s03z", "{text}");
        assert!(text.contains("\"stats\""), "{text}");
    }
}

#[tokio::test]
async fn admins_choose_the_clients_a_user_sees_and_the_user_sees_them_at_once() {
    let server = common::start().await;
    populate(&server.db).await;
    let admin = server.client_as(Role::Admin).await;
    let reader = server.client_as(Role::Readonly).await;
    let reader_id = common::column::<i64>(
        &server.db,
        "SELECT id FROM users WHERE email = 'readonly@test.local'",
        &[],
    )
    .await[0];
    let clients_seen = |client: reqwest::Client| {
        let url = server.url("/api/list_clients");
        async move {
            let body: Value = client.get(url).send().await.unwrap().json().await.unwrap();
            body.as_array().unwrap().len()
        }
    };
    assert_eq!(clients_seen(reader.clone()).await, CLIENTS as usize);
    let set = |clients: Value| {
        admin
            .post(server.url("/api/set_user_clients"))
            .json(&json!({"id": reader_id, "clients": clients}))
            .send()
    };
    assert_eq!(set(json!([3, 7])).await.unwrap().status(), StatusCode::OK);
    assert_eq!(clients_seen(reader.clone()).await, 2, "at the next request");

    let refused = set(json!([3, 999])).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("999"));
    assert_eq!(clients_seen(reader.clone()).await, 2, "unchanged");

    let admin_id = common::column::<i64>(
        &server.db,
        "SELECT id FROM users WHERE email = 'admin@test.local'",
        &[],
    )
    .await[0];
    let scoping_an_admin = admin
        .post(server.url("/api/set_user_clients"))
        .json(&json!({"id": admin_id, "clients": [3]}))
        .send()
        .await
        .unwrap();
    assert_eq!(scoping_an_admin.status(), StatusCode::BAD_REQUEST);

    assert_eq!(set(Value::Null).await.unwrap().status(), StatusCode::OK);
    assert_eq!(clients_seen(reader).await, CLIENTS as usize);
    let audited: Vec<String> = common::column(
        &server.db,
        "SELECT CAST(details AS TEXT) FROM audit_log WHERE action = 'user.clients' ORDER BY id",
        &[],
    )
    .await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited[0].contains("[3,7]"), "{audited:?}");
}

#[tokio::test]
async fn user_add_on_the_command_line_takes_the_clients() {
    let (db, args, _dir) = common::temp_database().await;
    populate(&db).await;
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_posture"));
        command
            .args(["user", "add"])
            .args(extra)
            .env("DATABASE_URL", &args.database_url)
            .env("POSTURE_USER_PASSWORD", "a-long-password-1");
        command.output().unwrap()
    };
    let added = run(&[
        "--email",
        "tech@test.local",
        "--role",
        "operator",
        "--clients",
        "3,7",
    ]);
    assert!(added.status.success(), "{added:?}");
    assert!(String::from_utf8_lossy(&added.stdout).contains("clients [3, 7]"));
    let stored: Vec<Option<String>> = common::column(
        &db,
        "SELECT client_scope FROM users WHERE email = 'tech@test.local'",
        &[],
    )
    .await;
    assert_eq!(stored, [Some("3,7".to_string())]);

    let unknown = run(&[
        "--email",
        "x@test.local",
        "--role",
        "operator",
        "--clients",
        "3,999",
    ]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("999"),
        "{unknown:?}"
    );
    let admin = run(&[
        "--email",
        "y@test.local",
        "--role",
        "admin",
        "--clients",
        "3",
    ]);
    assert!(!admin.status.success());
    assert!(String::from_utf8_lossy(&admin.stderr).contains("Admins see every client"));
    assert_eq!(
        common::count(&db, "users").await,
        1,
        "the refused ones were not added"
    );
}
