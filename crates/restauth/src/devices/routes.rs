//! The JSON views: `GET /api/auth/tokens/`, `DELETE /api/auth/tokens/{id}/`,
//! `GET /api/auth/sessions/`, `DELETE /api/auth/sessions/{id}/` and
//! `POST /api/auth/logout-all/` (knox's `logoutall`: 204, empty body).
//!
//! They use the default authentication classes and `IsAuthenticated`; with session
//! authentication, unsafe methods need CSRF as everywhere.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::Value;

use super::{DevicesService, session_json, token_json};
use crate::core::error::{Error, json_response};
use crate::pipeline::audit::Source;
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::{Access, CurrentUser};
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;

/// The device views, each under the default authentication classes and `IsAuthenticated`;
/// with `html-login`, also the account page (an error when `account.html` of `[session]
/// templates_dir` cannot be read or parsed).
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let devices = restauth.devices();
    let policy = || restauth.policy().permission(IsAuthenticated);
    let views = Views::new()
        .view(
            "/api/auth/tokens",
            ApiView::new("Token List")
                .get(list_tokens)
                .guard(policy())
                .with_state(devices.clone()),
        )?
        .view(
            "/api/auth/tokens/{id}",
            ApiView::new("Token Detail")
                .delete(revoke_token)
                .guard(policy())
                .with_state(devices.clone()),
        )?
        .view(
            "/api/auth/sessions",
            ApiView::new("Session List")
                .get(list_sessions)
                .guard(policy())
                .with_state(devices.clone()),
        )?
        .view(
            "/api/auth/sessions/{id}",
            ApiView::new("Session Detail")
                .delete(revoke_session)
                .guard(policy())
                .with_state(devices.clone()),
        )?
        .view(
            "/api/auth/logout-all",
            ApiView::new("Logout All Devices")
                .post(logout_all)
                .guard(policy())
                .with_state(devices.clone()),
        )?;
    #[cfg(feature = "html-login")]
    let views = views.merge(super::page::views(restauth)?)?;
    Ok(views.into_router())
}

fn ok(body: &Value) -> Response {
    no_store(json_response(StatusCode::OK, body))
}

async fn list_tokens(
    State(devices): State<DevicesService>,
    CurrentUser(user): CurrentUser,
    access: Access,
) -> Result<Response, Error> {
    let auth = access.identity.auth.as_ref();
    let tokens: Vec<Value> = devices
        .tokens(&user)
        .await?
        .iter()
        .map(|t| token_json(t, auth))
        .collect();
    Ok(ok(&Value::Array(tokens)))
}

async fn revoke_token(
    State(devices): State<DevicesService>,
    CurrentUser(user): CurrentUser,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    source: Source,
) -> Result<Response, Error> {
    let Ok(Path(id)) = id else {
        return Err(Error::NotFound);
    };
    let id = crate::core::request::path_id(&id)?;
    if !devices.revoke_token(&user, id, &source).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_sessions(
    State(devices): State<DevicesService>,
    CurrentUser(user): CurrentUser,
    access: Access,
) -> Result<Response, Error> {
    let auth = access.identity.auth.as_ref();
    let sessions: Vec<Value> = devices
        .sessions(&user)
        .await?
        .iter()
        .map(|s| session_json(s, auth))
        .collect();
    Ok(ok(&Value::Array(sessions)))
}

async fn revoke_session(
    State(devices): State<DevicesService>,
    CurrentUser(user): CurrentUser,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    source: Source,
) -> Result<Response, Error> {
    let Ok(Path(id)) = id else {
        return Err(Error::NotFound);
    };
    if !devices.revoke_session(&user, &id, &source).await? {
        return Err(Error::NotFound);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout_all(
    State(devices): State<DevicesService>,
    CurrentUser(user): CurrentUser,
    source: Source,
) -> Result<Response, Error> {
    devices.logout_everywhere(&user, &source).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
