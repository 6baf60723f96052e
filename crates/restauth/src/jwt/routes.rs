//! simplejwt's views: `POST /api/token/`, `/refresh/`, `/verify/`, `/blacklist/`, plus
//! `POST /api/token/logout-all/` and `GET /.well-known/jwks.json`.
//!
//! As in simplejwt they run no authentication and no permission classes, and answer failures
//! with 401 and `WWW-Authenticate: Bearer realm="api"`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::JwtService;
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::settings::AuthClass;
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::CurrentUser;
use crate::pipeline::throttling::ClientIdent;
use crate::pipeline::view::{ApiView, no_store};

const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";

pub fn router<S: Clone + Send + Sync + 'static>(restauth: &JwtService) -> Router<S> {
    let open = || {
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new())
    };
    Router::new()
        .route(
            "/api/token",
            ApiView::new("Token Obtain Pair").post(obtain).guard(open()),
        )
        .route(
            "/api/token/refresh",
            ApiView::new("Token Refresh").post(refresh).guard(open()),
        )
        .route(
            "/api/token/verify",
            ApiView::new("Token Verify").post(verify).guard(open()),
        )
        .route(
            "/api/token/blacklist",
            ApiView::new("Token Blacklist")
                .post(blacklist)
                .guard(open()),
        )
        .route(
            "/api/token/logout-all",
            ApiView::new("Logout All").post(logout_all).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Jwt])
                    .permission(IsAuthenticated),
            ),
        )
        .route("/.well-known/jwks.json", axum::routing::get(jwks))
        .with_state(restauth.clone())
}

/// simplejwt's views challenge with the first header type, whatever failed.
fn challenged(restauth: &JwtService, e: Error) -> Error {
    e.with_challenge(Some(&restauth.jwt().challenge()))
}

fn ok(body: &Value) -> Response {
    no_store(json_response(StatusCode::OK, body))
}

/// The one field these views take, with `CharField` rules.
fn token_field(data: &RequestData, name: &str) -> Result<String, Error> {
    let mut errors = ValidationErrors::new();
    let value = data.char_field(name, false, &mut errors);
    errors.into_result()?;
    value.ok_or_else(|| Error::Internal("validated field missing".into()))
}

async fn obtain(
    State(restauth): State<JwtService>,
    ClientIdent(client): ClientIdent,
    headers: HeaderMap,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let (username, password) = data.credentials_named(&restauth.settings().user.username_field)?;
    let source = Source::with_client(client, &headers);
    let Some(user) = restauth
        .authenticate_login(&username, &password, "jwt", &source)
        .await?
    else {
        return Err(challenged(
            &restauth,
            Error::authentication_failed(NO_ACTIVE_ACCOUNT),
        ));
    };
    let pair = restauth.obtain_pair(&user).await?;
    tracing::info!(user_id = user.id, "token pair issued");
    Ok(ok(
        &json!({ "refresh": pair.refresh, "access": pair.access }),
    ))
}

async fn refresh(
    State(restauth): State<JwtService>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "refresh")?;
    let body = restauth
        .refresh_from(&token, &source)
        .await
        .map_err(|e| challenged(&restauth, e))?;
    Ok(ok(&body))
}

async fn verify(
    State(restauth): State<JwtService>,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "token")?;
    let body = restauth
        .verify_token(&token)
        .await
        .map_err(|e| challenged(&restauth, e))?;
    Ok(ok(&body))
}

async fn blacklist(
    State(restauth): State<JwtService>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "refresh")?;
    let body = restauth
        .blacklist_refresh_from(&token, &source)
        .await
        .map_err(|e| challenged(&restauth, e))?;
    Ok(ok(&body))
}

/// Ends every token and session of the user issued until now, access tokens included.
async fn logout_all(
    State(restauth): State<JwtService>,
    CurrentUser(user): CurrentUser,
    source: Source,
) -> Result<Response, Error> {
    restauth.revoke_all(&user).await?;
    restauth.audit(
        AuditEvent::for_user(audit::LOGOUT_ALL, audit::SUCCESS, "jwt", &user).source(&source),
    );
    tracing::info!(user_id = user.id, "logged out everywhere");
    Ok(ok(&json!({})))
}

async fn jwks(State(restauth): State<JwtService>) -> Response {
    json_response(StatusCode::OK, &restauth.jwt().jwks())
}
