//! The demo views: how an application protects its own routes with restauth.

use axum::Router;
use axum::response::Response;
use http::StatusCode;
use restauth::core::error::json_response;
use restauth::{
    ApiView, AuthClass, CurrentUser, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly,
    MaybeUser, Payload, Policy, Restauth,
};
use serde_json::json;

/// Every authentication class, in the order the explicit demo views declare them.
const ALL_CLASSES: [AuthClass; 4] = [
    AuthClass::Session,
    AuthClass::Basic,
    AuthClass::Token,
    AuthClass::Jwt,
];

pub fn router(restauth: &Restauth) -> Router {
    let all = || restauth.policy().authentication(ALL_CLASSES);
    Router::new()
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
        .route(
            "/api/jwt/profile",
            ApiView::new("Jwt Profile").get(profile).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Jwt])
                    .permission(IsAuthenticated),
            ),
        )
        .route(
            "/api/public",
            ApiView::new("Public")
                .get(public)
                .guard(all().permission(restauth::AllowAny)),
        )
        .route(
            "/api/admin-only",
            ApiView::new("Admin Only")
                .get(admin_only)
                .guard(all().permission(IsAdminUser)),
        )
        .route(
            "/api/readonly-or-auth",
            ApiView::new("Readonly Or Auth")
                .get(public)
                .post(echo)
                .guard(all().permission(IsAuthenticatedOrReadOnly)),
        )
        .route(
            "/api/echo",
            ApiView::new("Echo").post(echo).guard(echo_policy(restauth)),
        )
}

/// Limited by `[rest_framework.default_throttle_rates] echo = "…"` when that is set; without
/// it the demo route declares no scope (a declared scope without a rate is refused).
fn echo_policy(restauth: &Restauth) -> Policy {
    let policy = restauth.policy().permission(IsAuthenticated);
    policy.clone().throttle_scope("echo").unwrap_or(policy)
}

fn ok(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// The seed's `DashboardAPI`.
async fn dashboard(CurrentUser(user): CurrentUser) -> Response {
    ok(json!({
        "message": format!("Hello {}, welcome to your dashboard", user.username)
    }))
}

/// The seed's `ProfileAPI`: only public fields, never the hash.
async fn profile(CurrentUser(user): CurrentUser) -> Response {
    ok(json!({ "username": user.username, "email": user.email }))
}

async fn public(MaybeUser(user): MaybeUser) -> Response {
    ok(json!({
        "authenticated": user.is_some(),
        "username": user.as_ref().map(|u| u.username.as_str()),
    }))
}

async fn admin_only(CurrentUser(user): CurrentUser) -> Response {
    ok(json!({ "username": user.username, "is_staff": user.is_staff }))
}

async fn echo(MaybeUser(user): MaybeUser, Payload(body): Payload) -> Response {
    ok(json!({
        "received": body,
        "username": user.as_ref().map(|u| u.username.as_str()),
    }))
}
