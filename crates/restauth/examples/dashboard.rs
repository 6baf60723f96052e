//! The seed project's `DashboardAPI` and `ProfileAPI`, protected by restauth in a plain axum app.
//!
//! ```sh
//! cargo run -p restauth --example dashboard
//! # another terminal:
//! curl -s -X POST localhost:8001/api-token-auth/ -H 'Content-Type: application/json' \
//!      -d '{"username":"demo","password":"a demo passphrase"}'
//! curl -s localhost:8001/api/profile/ -H 'Authorization: Token <key>'
//! ```

use axum::Router;
use axum::response::Json;
use restauth::core::settings::Secret;
use restauth::{
    ApiView, AuthClass, CurrentUser, IsAuthenticated, NewAccount, Restauth, ServeOptions, Settings,
};
use serde_json::{Value, json};

/// `DashboardAPI`: any configured authentication class, authenticated users only.
async fn dashboard(CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(json!({ "message": format!("Hello {}, welcome to your dashboard", user.username) }))
}

/// `ProfileAPI`: token authentication only.
async fn profile(CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(json!({ "username": user.username, "email": user.email }))
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
    let mut settings = Settings::default();
    settings.database.url = "sqlite://example.db".into();
    // A real application reads this from its own configuration: `Settings` deserialises from
    // the keys of restauth.toml (reading the file itself is the restauth server's job).
    settings.secret_key = Some(Secret(
        std::env::var("EXAMPLE_SECRET_KEY")
            .unwrap_or_else(|_| "example-only-secret-key-change-me-0123456789".into()),
    ));
    let restauth = Restauth::open(settings).await?;
    if restauth.users().user_by_username("demo").await?.is_none() {
        restauth
            .users()
            .create_user(NewAccount {
                password: Some("a demo passphrase".into()),
                ..NewAccount::new("demo")
            })
            .await?;
    }

    let app = Router::new()
        .route(
            "/api/dashboard",
            ApiView::new("Dashboard")
                .get(dashboard)
                .guard(restauth.policy().permission(IsAuthenticated)),
        )
        .route(
            "/api/profile",
            ApiView::new("Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Token])
                    .permission(IsAuthenticated),
            ),
        )
        .merge(restauth::token::router(&restauth)?);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8001").await?;
    println!("listening on http://127.0.0.1:8001");
    // restauth::serve, not axum::serve: it gives the throttles each client's address, times
    // out clients that never finish their request, and keeps DRF's conventions (URLs with or
    // without their trailing slash, DRF's 404 and 405 bodies).
    restauth::serve(listener, app, ServeOptions::default()).await?;
    Ok(())
}
