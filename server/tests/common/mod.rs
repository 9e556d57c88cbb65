//! Starts the real router on a throwaway SQLite database and a real TCP port.

use std::net::SocketAddr;
use std::time::Duration;

use app::db::Db;
use leptos::config::LeptosOptions;
use posture_server::config::DatabaseArgs;
use posture_server::health::Readiness;
use posture_server::state::AppState;
use posture_server::{database, routes};
use tempfile::TempDir;

pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Db,
    _dir: TempDir,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub async fn temp_database() -> (Db, DatabaseArgs, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = DatabaseArgs {
        database_url: format!("sqlite://{}", dir.path().join("test.db").display()),
    };
    let db = database::connect(&args).await.unwrap();
    database::migrate(&db).await.unwrap();
    (db, args, dir)
}

/// A server whose readiness runs the production checks.
pub async fn start() -> TestServer {
    let (db, args, dir) = temp_database().await;
    let readiness = Readiness::standard(
        db.clone(),
        database::data_dir(&db, &args),
        1,
        Duration::from_millis(800),
    );
    start_with(db, readiness, dir).await
}

pub async fn start_with(db: Db, readiness: Readiness, dir: TempDir) -> TestServer {
    let leptos_options = LeptosOptions::builder()
        .output_name("posture")
        .site_root("target/site")
        .build();
    let app = routes::router(AppState {
        leptos_options,
        db: db.clone(),
        readiness,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        addr,
        db,
        _dir: dir,
    }
}
