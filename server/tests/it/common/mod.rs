//! Starts the real router on a throwaway SQLite database and a real TCP port, and makes
//! empty databases of both kinds for the data-layer tests.

pub mod fixture;

use app::services::alerts::send::{AlertSender, SmtpSettings};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use app::auth::Role;
use app::cache::AggregateCache;
use app::db::accounts;
use app::db::sql::{Bind, BindsFilters};
use app::db::{Db, IncidentWindows};
use app::domain::client_scope::ClientScope;
use leptos::config::LeptosOptions;
use posture_server::api::limits::LimitSettings;
use posture_server::client_ip::TrustedProxies;
use posture_server::config::DatabaseArgs;
use posture_server::health::Readiness;
use posture_server::ingest::{self, IngestQueue, IngestSettings, Sink};
use posture_server::sign_in::SignInLimits;
use posture_server::state::{Accounts, AppState, SESSION_CACHE_TTL, StateParts};
use posture_server::{database, routes};
use tempfile::TempDir;

pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Db,
    /// The server's incident-window anchors, to look at their size.
    pub windows: IncidentWindows,
    reader: tokio::sync::OnceCell<reqwest::Client>,
    _dir: TempDir,
}

pub const TEST_PASSWORD: &str = "test-password-1";

/// Test servers trust a looked-up appliance key this long, so a revocation shows quickly.
pub const KEY_TTL: Duration = Duration::from_millis(300);

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client signed in as a new user of `role` (`<role>@test.local`, created on first use).
    pub async fn client_as(&self, role: Role) -> reqwest::Client {
        let email = format!("{}@test.local", role.as_str());
        if !accounts::email_taken(&self.db, &email).await.unwrap() {
            add_user(&self.db, &email, role).await;
        }
        self.sign_in(&email, TEST_PASSWORD).await.unwrap()
    }

    /// Signs in through the login server function; `Err` carries the refusal's status and body.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> Result<reqwest::Client, (u16, String)> {
        self.sign_in_with_code(email, password, "").await
    }

    /// [`Self::sign_in`] with a second factor (`code`; empty for none).
    pub async fn sign_in_with_code(
        &self,
        email: &str,
        password: &str,
        code: &str,
    ) -> Result<reqwest::Client, (u16, String)> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A request that hangs fails the test and names itself instead of stalling CI.
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        let response = client
            .post(self.url("/api/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("next", "/"),
                ("code", code),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 200 {
            Ok(client)
        } else {
            Err((status, response.text().await.unwrap()))
        }
    }

    /// GET `path` as a signed-in read-only user.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let client = self
            .reader
            .get_or_init(|| self.client_as(Role::Readonly))
            .await;
        client.get(self.url(path)).send().await.unwrap()
    }
}

/// The one column `sql` selects, a value per row, with `binds` as its parameters.
pub async fn column<T>(db: &Db, sql: &str, binds: &[Bind]) -> Vec<T>
where
    T: Send + Unpin,
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    app::on_db!(db, |pool| app::db::sql::query_scalar(sql, binds)
        .unwrap()
        .fetch_all(pool)
        .await
        .unwrap())
}

/// Runs `sql` (a statement returning no rows) with `binds`.
pub async fn execute(db: &Db, sql: &str, binds: &[Bind]) {
    match db {
        Db::Sqlite(pool) => {
            let arguments = <sqlx::Sqlite as BindsFilters>::arguments(binds).unwrap();
            sqlx::query_with(sql, arguments)
                .execute(pool)
                .await
                .unwrap();
        }
        Db::Postgres(pool) => {
            let arguments = <sqlx::Postgres as BindsFilters>::arguments(binds).unwrap();
            sqlx::query_with(sql, arguments)
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

/// POSTs `form` to `path` with `client`; the status and the JSON answer (`Null` if none).
pub async fn post_form(
    client: &reqwest::Client,
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, serde_json::Value) {
    let response = client
        .post(server.url(path))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// Rows in `table`.
pub async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    app::on_db!(db, |pool| sqlx::query_scalar(&sql)
        .fetch_one(pool)
        .await
        .unwrap())
}

/// Adds a user with [`TEST_PASSWORD`] who sees every client.
pub async fn add_user(db: &Db, email: &str, role: Role) -> i64 {
    add_scoped_user(db, email, role, &ClientScope::All).await
}

/// Adds a user with [`TEST_PASSWORD`] who sees `clients`.
pub async fn add_scoped_user(db: &Db, email: &str, role: Role, clients: &ClientScope) -> i64 {
    let hash = app::auth::password::hash_password(TEST_PASSWORD).unwrap();
    let audit = accounts::NewAudit {
        actor: "test".into(),
        action: "user.add",
        target: email.into(),
        details: serde_json::json!({}),
        ip: None,
        at: chrono::Utc::now(),
    };
    let account = accounts::NewAccount {
        email,
        display_name: email,
        role,
        password_hash: &hash,
        clients,
    };
    accounts::insert_user(db, &account, &audit).await.unwrap()
}

pub async fn temp_database() -> (Db, DatabaseArgs, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = DatabaseArgs::at(format!("sqlite://{}", dir.path().join("test.db").display()));
    let db = database::connect(&args).await.unwrap();
    database::migrate(&db).await.unwrap();
    (db, args, dir)
}

/// A server whose readiness runs the production checks.
pub async fn start() -> TestServer {
    start_with_sign_in(TEST_SIGN_IN).await
}

/// Sign-in limits of test servers: far above what tests make, unless a test sets its own.
pub const TEST_SIGN_IN: (u32, u32) = (100_000, 100_000);

pub fn accounts((per_address_per_minute, overall_per_second): (u32, u32)) -> Accounts {
    let limits = SignInLimits::new(per_address_per_minute, overall_per_second);
    Accounts::new(limits, TrustedProxies::default(), SESSION_CACHE_TTL)
}

/// A server that asks the database for every request's session, so a test that changes
/// sessions in the database sees the change at the next request.
pub async fn start_without_session_cache() -> TestServer {
    let (db, _, dir) = temp_database().await;
    let limits = SignInLimits::new(TEST_SIGN_IN.0, TEST_SIGN_IN.1);
    let accounts = Accounts::new(limits, TrustedProxies::default(), Duration::ZERO);
    let parts = StateParts {
        accounts,
        ..test_parts()
    };
    start_with_parts(db, dir, parts).await
}

/// A server with its own sign-in limits (attempts per address and minute, overall per second).
pub async fn start_with_sign_in(sign_in: (u32, u32)) -> TestServer {
    let (db, args, dir) = temp_database().await;
    let readiness = Readiness::standard(
        db.clone(),
        AggregateCache::in_process(Duration::from_secs(120)),
        database::data_dir(&db, &args),
        1,
        Duration::from_millis(800),
    );
    start_with_accounts(db, readiness, dir, "target/site", accounts(sign_in)).await
}

pub async fn start_with(db: Db, readiness: Readiness, dir: TempDir) -> TestServer {
    start_with_site(db, readiness, dir, "target/site").await
}

/// A server whose static site (the `pkg` directory of WASM, JS and CSS) is under `site_root`.
pub async fn start_with_site(
    db: Db,
    readiness: Readiness,
    dir: TempDir,
    site_root: &str,
) -> TestServer {
    start_with_accounts(db, readiness, dir, site_root, accounts(TEST_SIGN_IN)).await
}

/// A server with its own sign-in throttle and trusted proxies.
pub async fn start_with_accounts(
    db: Db,
    readiness: Readiness,
    dir: TempDir,
    site_root: &str,
    accounts: Accounts,
) -> TestServer {
    let parts = StateParts {
        leptos_options: leptos_options(site_root),
        readiness,
        accounts,
        ..test_parts()
    };
    start_with_parts(db, dir, parts).await
}

/// The parts of a test server: the test limits, no readiness checks, a fresh in-process
/// cache; tests change what they are about with `StateParts { field, ..test_parts() }`.
pub fn test_parts() -> StateParts {
    StateParts {
        leptos_options: leptos_options("target/site"),
        cache: AggregateCache::in_process(Duration::from_secs(120)),
        readiness: Readiness::new(Vec::new(), Duration::from_millis(100)),
        limits: TEST_LIMITS,
        accounts: accounts(TEST_SIGN_IN),
        key_ttl: KEY_TTL,
        dashboard_in_flight: TEST_DASHBOARD_IN_FLIGHT,
        metrics_token: None,
        alerts: test_alert_sender(),
        // Tests that are about silence run the sweep themselves, at the time they choose.
        silence_sweep: None,
    }
}

/// Alerts through the test SMTP server (`TEST_SMTP_URL`, from scripts/test-services.sh), or
/// none when it is not running.
pub fn test_alert_sender() -> AlertSender {
    let smtp = std::env::var("TEST_SMTP_URL").ok().map(|url| SmtpSettings {
        url,
        from: "Posture tests <alerts@posture.test>".into(),
    });
    AlertSender::new(smtp).expect("the test SMTP settings are valid")
}

/// A server made of `parts`, with the test ingest settings.
pub async fn start_with_parts(db: Db, dir: TempDir, parts: StateParts) -> TestServer {
    let (state, _batcher) = AppState::build(db, parts, |sink| ingest::start(TEST_INGEST, sink));
    serve(state, dir).await
}

/// The ingest settings of test servers: small batches, a short flush.
pub const TEST_INGEST: IngestSettings = IngestSettings {
    queue: 256,
    batch: 32,
    flush: Duration::from_millis(2),
    ack_timeout: Duration::from_secs(10),
};

/// Dashboard requests a test server handles at once.
pub const TEST_DASHBOARD_IN_FLIGHT: usize = 1_024;

/// The appliance limits of test servers: far above what a test sends, unless it sets its own.
pub const TEST_LIMITS: LimitSettings = LimitSettings {
    per_key_rate: NonZeroU32::new(10_000).unwrap(),
    per_key_burst: NonZeroU32::new(10_000).unwrap(),
    requests_in_flight: 4_096,
    memory_bytes: 1 << 30,
};

/// A server whose report queue comes from `queue` (given the batcher's sink): one with other
/// settings, or one nothing drains.
pub async fn start_with_ingest(queue: impl FnOnce(Sink) -> IngestQueue) -> TestServer {
    start_with_limits(TEST_LIMITS, queue).await
}

/// A server with its own appliance limits and report queue.
pub async fn start_with_limits(
    limits: LimitSettings,
    queue: impl FnOnce(Sink) -> IngestQueue,
) -> TestServer {
    let (db, args, dir) = temp_database().await;
    let cache = AggregateCache::in_process(Duration::from_secs(120));
    let readiness = Readiness::standard(
        db.clone(),
        cache.clone(),
        database::data_dir(&db, &args),
        1,
        Duration::from_millis(800),
    );
    let parts = StateParts {
        cache,
        readiness,
        limits,
        ..test_parts()
    };
    let (state, ()) = AppState::build(db, parts, |sink| (queue(sink), ()));
    serve(state, dir).await
}

fn leptos_options(site_root: &str) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("posture")
        .site_root(site_root)
        .build()
}

async fn serve(state: AppState, dir: TempDir) -> TestServer {
    let (db, windows) = (state.db.clone(), state.windows.clone());
    let app = routes::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        addr,
        db,
        windows,
        reader: tokio::sync::OnceCell::new(),
        _dir: dir,
    }
}

/// A server on SQLite and one on PostgreSQL, each on a fresh database.
pub async fn servers_on_both() -> Vec<(&'static str, TestServer)> {
    let readiness = || Readiness::new(Vec::new(), Duration::from_millis(100));
    let (sqlite, _, dir) = temp_database().await;
    let postgres = postgres_database().await;
    vec![
        ("sqlite", start_with(sqlite, readiness(), dir).await),
        (
            "postgres",
            start_with(postgres, readiness(), tempfile::tempdir().unwrap()).await,
        ),
    ]
}

/// A database of each kind, migrated and empty: SQLite in a temporary directory, and a fresh
/// PostgreSQL database on the server `TEST_DATABASE_URL` names (`make test` starts one).
pub struct TestDb {
    pub name: &'static str,
    pub db: Db,
    _dir: Option<TempDir>,
}

pub async fn databases() -> Vec<TestDb> {
    let (sqlite, _, dir) = temp_database().await;
    vec![
        TestDb {
            name: "sqlite",
            db: sqlite,
            _dir: Some(dir),
        },
        TestDb {
            name: "postgres",
            db: postgres_database().await,
            _dir: None,
        },
    ]
}

pub async fn postgres_database() -> Db {
    let url = postgres_database_url().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .unwrap();
    let db = Db::Postgres(pool);
    database::migrate(&db).await.unwrap();
    db
}

/// A fresh, empty database on the server `TEST_DATABASE_URL` names; its URL.
pub async fn postgres_database_url() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);

    let url = std::env::var("TEST_DATABASE_URL").expect(
        "TEST_DATABASE_URL must name a PostgreSQL server for the data-layer tests (make test-rust starts one)",
    );
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let name = format!(
        "posture_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let (server, _) = url
        .rsplit_once('/')
        .expect("a database name in TEST_DATABASE_URL");
    format!("{server}/{name}")
}
