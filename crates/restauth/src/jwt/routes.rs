//! simplejwt's views: `POST /api/token/`, `/refresh/`, `/verify/`, `/blacklist/`, plus
//! `POST /api/token/logout-all/` and `GET /.well-known/jwks.json`.
//!
//! As in simplejwt they run no authentication and no permission classes, and answer failures
//! with 401 and `WWW-Authenticate: Bearer realm="api"`.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::MethodRouter;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::JwtService;
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::settings::AuthClass;
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::parsers::{Body, RequestData};
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::{CurrentUser, Policy};
use crate::pipeline::throttling::ClientIdent;
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;
use crate::users::Login;

const NO_ACTIVE_ACCOUNT: &str = "No active account found with the given credentials";

/// What the views work with: the JWT service, and the login that checks a password.
#[derive(Clone)]
struct Jwt {
    jwt: JwtService,
    login: Login,
}

/// simplejwt's views at simplejwt's paths: `/api/token/` (obtain the pair), `refresh/`,
/// `verify/`, `blacklist/`, and `logout-all/`, with the public keys at
/// `/.well-known/jwks.json`.
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let state = Jwt {
        jwt: restauth.jwt().clone(),
        login: restauth.login().clone(),
    };
    let open = || {
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new())
    };
    /// One POST view behind `policy`, with the views' state.
    fn view<S, H, T>(name: &'static str, handler: H, policy: Policy, state: &Jwt) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
        H: axum::handler::Handler<T, Jwt>,
        T: 'static,
    {
        ApiView::new(name)
            .post(handler)
            .guard(policy)
            .with_state(state.clone())
    }
    let signed_in = restauth
        .policy()
        .authentication([AuthClass::Jwt])
        .permission(IsAuthenticated);
    Ok(Views::new()
        .view(
            "/api/token",
            view("Token Obtain Pair", obtain, open(), &state),
        )?
        .view(
            "/api/token/refresh",
            view("Token Refresh", refresh, open(), &state),
        )?
        .view(
            "/api/token/verify",
            view("Token Verify", verify, open(), &state),
        )?
        .view(
            "/api/token/blacklist",
            view("Token Blacklist", blacklist, open(), &state),
        )?
        .view(
            "/api/token/logout-all",
            view("Logout All", logout_all, signed_in, &state),
        )?
        .into_router()
        // Not an API view in simplejwt either: a plain JSON document.
        .route(
            "/.well-known/jwks.json",
            axum::routing::get(jwks).with_state(state),
        ))
}

/// simplejwt's views challenge with the first header type, whatever failed.
fn challenged(jwt: &JwtService, e: Error) -> Error {
    e.with_challenge(Some(&jwt.jwt().challenge()))
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
    State(Jwt { jwt, login }): State<Jwt>,
    ClientIdent(client): ClientIdent,
    headers: HeaderMap,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let (username, password) = data.credentials_named(login.users().username_field())?;
    let source = Source::with_client(client, &headers);
    let Some(user) = login
        .authenticate(&username, &password, "jwt", &source)
        .await?
    else {
        return Err(challenged(
            &jwt,
            Error::authentication_failed(NO_ACTIVE_ACCOUNT),
        ));
    };
    let pair = jwt.obtain_pair(&user).await?;
    tracing::info!(user_id = %user.id, "token pair issued");
    Ok(ok(
        &json!({ "refresh": pair.refresh, "access": pair.access }),
    ))
}

async fn refresh(
    State(Jwt { jwt, .. }): State<Jwt>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "refresh")?;
    let body = jwt
        .refresh_from(&token, &source)
        .await
        .map_err(|e| challenged(&jwt, e))?;
    Ok(ok(&body))
}

async fn verify(
    State(Jwt { jwt, .. }): State<Jwt>,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "token")?;
    let body = jwt
        .verify_token(&token)
        .await
        .map_err(|e| challenged(&jwt, e))?;
    Ok(ok(&body))
}

async fn blacklist(
    State(Jwt { jwt, .. }): State<Jwt>,
    source: Source,
    Body(data): Body<RequestData>,
) -> Result<Response, Error> {
    let token = token_field(&data, "refresh")?;
    let body = jwt
        .blacklist_refresh_from(&token, &source)
        .await
        .map_err(|e| challenged(&jwt, e))?;
    Ok(ok(&body))
}

/// Ends every token and session of the user issued until now, access tokens included.
async fn logout_all(
    State(Jwt { jwt, .. }): State<Jwt>,
    CurrentUser(user): CurrentUser,
    source: Source,
) -> Result<Response, Error> {
    jwt.users().revoke_all(&user).await?;
    jwt.users()
        .audit()
        .record(
            AuditEvent::for_user(audit::LOGOUT_ALL, audit::SUCCESS, "jwt", &user).source(&source),
        )
        .await;
    tracing::info!(user_id = %user.id, "logged out everywhere");
    Ok(ok(&json!({})))
}

async fn jwks(State(Jwt { jwt, .. }): State<Jwt>) -> Response {
    json_response(StatusCode::OK, &jwt.jwt().jwks())
}
