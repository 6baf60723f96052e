//! `cargo run -p restauth --example quickstart`, then
//! `curl localhost:8000/api/profile/ -H 'Authorization: Token <key>'`.

use axum::{Router, response::Json};
use restauth::{
    ApiView, AuthClass, CurrentUser, IsAuthenticated, Restauth, ServeOptions, Settings,
};

async fn profile(CurrentUser(user): CurrentUser) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "username": user.username, "email": user.email }))
}

/// Paths without their trailing slash: `restauth::serve` trims it before routing, so clients
/// call `/api/profile/` (DRF's URL) or `/api/profile` alike.
pub fn app(restauth: &Restauth) -> Result<Router, restauth::Error> {
    let app = Router::new()
        // One line per route: authentication classes and permission classes.
        .route(
            "/api/profile",
            ApiView::new("Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Token])
                    .permission(IsAuthenticated),
            ),
        )
        // Or inherit the configured defaults:
        .route(
            "/api/dashboard",
            ApiView::new("Dashboard")
                .get(profile)
                .guard(restauth.policy().permission(IsAuthenticated)),
        )
        // DRF's token view, at `[token] obtain_url` (`/api-token-auth/`).
        .merge(restauth::token::router(restauth)?);
    Ok(app)
}

/// Settings in code: restauth's defaults and the database. Without a `secret_key`,
/// `Restauth::open` reads or creates `restauth.secret_key` (mode 0600) beside the SQLite file,
/// so a restart keeps everyone logged in; on PostgreSQL, set `settings.secret_key`.
pub fn settings(database_url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = database_url.into();
    settings
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Shows what restauth logs: a 500's cause with its request id, a misconfiguration.
    // RUST_LOG=debug shows each request.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Opens and migrates the store.
    let restauth = Restauth::open(settings("sqlite://quickstart.db")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    // Not axum::serve: restauth::serve hands each client's address to the throttles, times out
    // clients that never finish their request head, caps connections, and lets a client still
    // sending an oversized body read its 413.
    restauth::serve(listener, app(&restauth)?, ServeOptions::default()).await?;
    Ok(())
}
