//! The HTTP surface: health endpoints, the Leptos pages and server functions, static files.

use std::time::Duration;

use anyhow::Context;
use app::db::Db;
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use leptos::config::get_configuration;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, file_and_error_handler_with_context, generate_route_list};
use tower_http::compression::predicate::{NotForContentType, Predicate};
use tower_http::compression::{CompressionLayer, DefaultPredicate};
use tower_http::services::ServeDir;

use crate::api::auth::KEY_CACHE_TTL;
use crate::config::{DatabaseArgs, ServeArgs};
use crate::health::{self, Readiness};
use crate::ingest;
use crate::server_fn_body::{self, ServerFnPaths};
use crate::state::{Accounts, AppState, StateParts};
use crate::{
    api, client_ip, database, etag, evidence_pack, export, load_shed, maintenance, prometheus,
    reports, security_headers, session, sign_in,
};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let (db, cache, windows) = (state.db.clone(), state.cache.clone(), state.windows.clone());
    let keys = state.keys.clone();
    let signed_in = state.accounts.signed_in.clone();
    let peers = state.peers.clone();
    let alerts = state.alerts.clone();
    let context = move || {
        provide_context(db.clone());
        provide_context(cache.clone());
        provide_context(windows.clone());
        provide_context(keys.clone());
        provide_context(signed_in.clone());
        provide_context(peers.clone());
        provide_context(alerts.clone());
        security_headers::provide_nonce();
    };
    let options = state.leptos_options.clone();
    let server_fns = ServerFnPaths::registered();
    // The release build leaves brotli (quality 11) and gzip copies next to the WASM, JS and CSS;
    // serving those beats compressing on the fly at a lower quality.
    let pkg_dir = format!("{}/{}", options.site_root, options.site_pkg_dir);
    let pkg = ServeDir::new(&pkg_dir)
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service(&format!("/{}", options.site_pkg_dir), pkg)
        .route("/health", get(health::liveness))
        .route("/api/health", get(health::readiness))
        .route("/metrics", get(prometheus::render))
        .route("/admin/audit.csv", get(export::audit_csv))
        .route("/incidents.csv", get(export::incidents_csv))
        .route("/reports/open", get(reports::open))
        .route(
            "/reports/clients/{id}/{month}/evidence.zip",
            get(evidence_pack::download),
        )
        .route(
            "/.well-known/posture-signing-key",
            get(evidence_pack::signing_key),
        )
        .merge(api::router(&state))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            server_fns.clone(),
            server_fn_body::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.dashboard_limit.clone(),
            load_shed::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.accounts.throttle.clone(),
            sign_in::throttle,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.accounts.proxies.clone(),
            client_ip::resolve,
        ))
        .layer(axum::middleware::from_fn(etag::etag))
        .layer(axum::middleware::from_fn_with_state(
            server_fns,
            prometheus::track,
        ))
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(CompressionLayer::new().compress_when(
            // A zip is compressed already: gzip again would only cost CPU.
            DefaultPredicate::new().and(NotForContentType::const_new("application/zip")),
        ))
        .with_state(state)
}

pub async fn serve(db: Db, database_args: &DatabaseArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let config_path = args.leptos_config.to_string_lossy();
    let mut leptos_options = get_configuration(Some(&config_path))
        .with_context(|| format!("reading Leptos settings from {config_path}"))?
        .leptos_options;
    if let Some(addr) = args.addr {
        leptos_options.site_addr = addr;
    }
    let addr = leptos_options.site_addr;
    let cache = args.cache.build()?;
    let readiness = Readiness::standard(
        db.clone(),
        cache.clone(),
        database::data_dir(&db, database_args),
        args.min_free_disk_mb * 1_048_576,
        Duration::from_millis(args.health_timeout_ms),
    );
    let parts = StateParts {
        leptos_options,
        cache,
        readiness,
        limits: args.ingest.limits(),
        accounts: Accounts::from_args(&args.sign_in),
        key_ttl: KEY_CACHE_TTL,
        dashboard_in_flight: args.max_in_flight as usize,
        metrics_token: args.metrics_token.clone(),
        alerts: args.alerts.sender()?,
        silence_sweep: (args.alerts.silence_sweep_secs > 0)
            .then(|| Duration::from_secs(args.alerts.silence_sweep_secs)),
    };
    let settings = args.ingest.settings();
    let (state, batcher) = AppState::build(db.clone(), parts, |sink| ingest::start(settings, sink));
    let hints = state.hints.clone();
    maintenance::start_sealing(db.clone());
    maintenance::start(
        db.clone(),
        chrono::Duration::days(args.retention_days.into()),
    );
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    reports::start_schedule(db, state.alerts.clone(), public_url);
    let app = router(state);

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!("Posture is serving on http://{addr}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        hints.close();
    })
    .await?;
    // The router and its queue handles are gone: the batcher writes what is queued and ends.
    batcher.await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
