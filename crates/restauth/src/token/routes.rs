//! `POST /api-token-auth/`: DRF's `obtain_auth_token`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::TokenService;
use crate::core::error::UNABLE_TO_LOG_IN;
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::settings::route_path;
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::throttling::ClientIdent;
use crate::pipeline::view::{ApiView, no_store};

/// The token endpoint at `path`. As in DRF it keeps the default authentication classes (a
/// malformed `Authorization` header is still refused) and has no permission or throttle
/// classes; the login throttles protect it instead.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &TokenService, path: &str) -> Router<S> {
    let view = ApiView::new("Obtain Auth Token")
        .post(obtain_auth_token)
        .guard(restauth.policy().permissions(Vec::new()).throttles([]));
    // DRF's URLs end in a slash; `restauth::serve` trims it before routing, so the route is
    // mounted without it and answers both spellings.
    Router::new()
        .route(route_path(path), view)
        .with_state(restauth.clone())
}

/// Username and password (JSON, form or multipart) → `{"token": "<40 hex>"}`, a new token each time.
pub async fn obtain_auth_token(
    State(restauth): State<TokenService>,
    ClientIdent(client): ClientIdent,
    headers: HeaderMap,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let (username, password) = data.credentials_named(&restauth.settings().user.username_field)?;
    let source = Source::with_client(client, &headers);
    let Some(user) = restauth
        .authenticate_login(&username, &password, "token", &source)
        .await?
    else {
        return Err(Error::Validation(ValidationErrors::non_field(
            UNABLE_TO_LOG_IN,
        )));
    };
    let issued = restauth.issue_token_from(user.id, &source).await?;
    restauth.audit(
        AuditEvent::for_user(audit::TOKEN_CREATED, audit::SUCCESS, "token", &user).source(&source),
    );
    tracing::info!(
        user_id = user.id,
        token_id = issued.record.id,
        "token issued"
    );
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({ "token": issued.key }),
    )))
}
