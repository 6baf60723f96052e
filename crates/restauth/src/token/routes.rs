//! `POST /api-token-auth/`: DRF's `obtain_auth_token`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::TokenService;
use crate::core::error::UNABLE_TO_LOG_IN;
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::throttling::ClientIdent;
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;
use crate::users::Login;

/// What the view works with: the tokens it issues, the login that checks the password.
#[derive(Clone)]
struct Obtain {
    tokens: TokenService,
    login: Login,
}

/// The token endpoint at `[token] obtain_url`. As in DRF it keeps the default authentication
/// classes (a malformed `Authorization` header is still refused) and has no permission or
/// throttle classes; the login throttles protect it instead.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let view = ApiView::new("Obtain Auth Token")
        .post(obtain_auth_token)
        .guard(restauth.policy().permissions(Vec::new()).throttles([]))
        .with_state(Obtain {
            tokens: restauth.tokens().clone(),
            login: restauth.login().clone(),
        });
    Ok(Views::new()
        .view(&restauth.tokens().settings().obtain_url, view)?
        .into_router())
}

/// Username and password (JSON, form or multipart) → `{"token": "<40 hex>"}`, a new token each time.
async fn obtain_auth_token(
    State(Obtain { tokens, login }): State<Obtain>,
    ClientIdent(client): ClientIdent,
    headers: HeaderMap,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    // DRF's `AuthTokenSerializer` reads `username` whatever `USERNAME_FIELD` is, and matches
    // it against `USERNAME_FIELD` (Django's `ModelBackend`).
    let field = data.username_key(login.users().username_field());
    let (username, password) = data.credentials_named(field)?;
    let source = Source::with_client(client, &headers);
    let Some(user) = login
        .authenticate(&username, &password, "token", &source)
        .await?
    else {
        return Err(Error::Validation(ValidationErrors::non_field(
            UNABLE_TO_LOG_IN,
        )));
    };
    let issued = tokens.issue_token_from(user.id, &source).await?;
    login
        .users()
        .audit()
        .record(
            AuditEvent::for_user(audit::TOKEN_CREATED, audit::SUCCESS, "token", &user)
                .source(&source),
        )
        .await;
    tracing::info!(
        user_id = %user.id,
        token_id = issued.record.id,
        "token issued"
    );
    Ok(no_store(json_response(
        StatusCode::OK,
        &json!({ "token": issued.key }),
    )))
}
