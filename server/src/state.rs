//! What every request handler can reach.

use app::db::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::health::Readiness;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub readiness: Readiness,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
