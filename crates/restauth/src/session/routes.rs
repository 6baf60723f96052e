//! Browser login: Django's login page and logout (at `[session] login_url` and `logout_url`,
//! by default `/api-auth/login/` and `/api-auth/logout/`), the same for single-page apps as
//! JSON (`/api/auth/login/`, `/api/auth/logout/`, `/api/auth/csrf/`).

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::settings::AuthClass;
use crate::core::user::AuthInfo;
use crate::pipeline::audit::Source;
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::Access;
use crate::pipeline::view::{ApiView, Views, no_store};
use crate::restauth::Restauth;
use crate::session::cookies;
use crate::session::csrf::CSRF_FORM_FIELD;
use crate::session::login::{
    Pages, Submitted, clear_session_cookie, field, private, read_form, set_cookie, start_session,
    user_json,
};

/// The session routes; with the `html-login` feature, also the HTML login and logout pages
/// (an error when a page of `[session] templates_dir` cannot be read or parsed).
pub fn router<S: Clone + Send + Sync + 'static>(restauth: &Restauth) -> Result<Router<S>, Error> {
    let sessions = restauth.sessions();
    let pages = Pages {
        sessions: sessions.clone(),
        login: restauth.login().clone(),
        #[cfg(feature = "html-login")]
        templates: std::sync::Arc::new(
            super::templates::Templates::load(
                sessions.settings().templates_dir.as_deref(),
                super::templates::BUILT_IN,
            )
            .map_err(|e| Error::Config(format!("session.templates_dir: {e}")))?,
        ),
    };
    let open = || {
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new())
    };
    let views = Views::new()
        .view(
            "/api/auth/login",
            ApiView::new("Login")
                .post(spa_login)
                .guard(open())
                .with_state(pages.clone()),
        )?
        .view(
            "/api/auth/logout",
            ApiView::new("Logout")
                .post(spa_logout)
                .guard(
                    restauth
                        .policy()
                        .authentication([AuthClass::Session])
                        .permission(IsAuthenticated),
                )
                .with_state(pages.clone()),
        )?
        .view(
            "/api/auth/csrf",
            ApiView::new("Csrf")
                .get(csrf_token)
                .guard(open())
                .with_state(pages.clone()),
        )?;
    #[cfg(feature = "html-login")]
    let views = views.merge(super::pages::views(pages)?)?;
    Ok(views.into_router())
}

/// `POST /api/auth/login/`: JSON credentials (and `X-CSRFToken`) → the user, plus cookies.
async fn spa_login(State(pages): State<Pages>, request: Request) -> Result<Response, Error> {
    let sessions = &pages.sessions;
    let Submitted {
        headers,
        method,
        data,
        client,
    } = read_form(sessions, pages.login.throttles(), request).await?;
    sessions
        .csrf()
        .check(&method, &headers, field(&data, CSRF_FORM_FIELD))?;
    // Django's `AuthenticationForm`: the field is `username` whatever `USERNAME_FIELD` is.
    let field = data.username_key(pages.login.users().username_field());
    let (username, password) = data.credentials_named(field)?;
    let source = Source::with_client(client, &headers);
    let Some(user) = pages
        .login
        .authenticate(&username, &password, "session", &source)
        .await?
    else {
        return Err(Error::Validation(ValidationErrors::non_field(
            crate::core::error::UNABLE_TO_LOG_IN,
        )));
    };
    let mut response = private(no_store(json_response(StatusCode::OK, &user_json(&user))));
    start_session(sessions, &headers, &user, &source, &mut response).await?;
    Ok(response)
}

/// `POST /api/auth/logout/`: ends the session of the request (CSRF-checked by
/// SessionAuthentication).
async fn spa_logout(
    State(pages): State<Pages>,
    headers: HeaderMap,
    access: Access,
) -> Result<Response, Error> {
    let sessions = &pages.sessions;
    if let Some(AuthInfo::Session { session_id }) = &access.identity.auth {
        // By the cookie's key when it names this session: a store over Django's table finds
        // the row by key, not by digest.
        match cookies::get(&headers, &sessions.settings().cookie_name) {
            Some(key) if crate::store::digest_hex(&super::digest(key)) == **session_id => {
                sessions.logout_session(key).await?
            }
            _ => sessions.logout_session_digest(session_id).await?,
        }
    }
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "detail": "Successfully logged out." }),
    ));
    clear_session_cookie(sessions, &mut response);
    Ok(response)
}

/// `GET /api/auth/csrf/`: sets the CSRF cookie and returns a token for `X-CSRFToken`.
async fn csrf_token(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let csrf = pages.sessions.csrf();
    let secret = csrf.secret_of(&headers);
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "csrfToken": csrf.token(&secret) }),
    ));
    set_cookie(&mut response, csrf.cookie(&secret));
    response
}
