//! The demo views: how an application protects its own routes with restauth — JSON views
//! behind each permission class, and an HTML page behind the session login.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use restauth::core::error::json_response;
use restauth::session::{LoginRequired, SessionService, Templates};
use restauth::{
    ApiView, AuthClass, Body, CurrentUser, IsAdminUser, IsAuthenticated, IsAuthenticatedOrReadOnly,
    MaybeUser, Policy, Restauth,
};
use serde_json::json;

/// Every authentication class, in the order the explicit demo views declare them.
const ALL_CLASSES: [AuthClass; 4] = [
    AuthClass::Session,
    AuthClass::Basic,
    AuthClass::Token,
    AuthClass::Jwt,
];

/// The demo page: `username`, `csrf_token` and `logout_url`; overridable from
/// `[session] templates_dir` like the login page.
const DASHBOARD: &str = "dashboard.html";

/// The demo views; an error when `dashboard.html` of `[session] templates_dir` is broken.
pub fn router(restauth: &Restauth) -> std::io::Result<Router> {
    let all = || restauth.policy().authentication(ALL_CLASSES);
    let templates = Templates::load(
        restauth.settings().session.templates_dir.as_deref(),
        &[(DASHBOARD, include_str!("../templates/dashboard.html"))],
    )?;
    let pages = Pages {
        sessions: restauth.sessions().clone(),
        templates: Arc::new(templates),
    };
    Ok(Router::new()
        .route("/dashboard", get(dashboard_page).with_state(pages))
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
        ))
}

#[derive(Clone)]
struct Pages {
    sessions: SessionService,
    templates: Arc<Templates>,
}

impl FromRef<Pages> for SessionService {
    fn from_ref(pages: &Pages) -> SessionService {
        pages.sessions.clone()
    }
}

/// The page behind the login: the greeting and a logout button.
async fn dashboard_page(State(pages): State<Pages>, login: LoginRequired) -> Response {
    let context = json!({
        "username": login.user.username,
        "csrf_token": login.csrf_token(),
        "logout_url": pages.sessions.settings().session.logout_url,
    });
    login.render(&pages.templates, DASHBOARD, context)
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
    // One allocation and three copies; `format!` costs several times that.
    let message = ["Hello ", &user.username, ", welcome to your dashboard"].concat();
    ok(json!({ "message": message }))
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

async fn echo(MaybeUser(user): MaybeUser, Body(body): Body<serde_json::Value>) -> Response {
    ok(json!({
        "received": body,
        "username": user.as_ref().map(|u| u.username.as_str()),
    }))
}
