//! Browser login: Django's login page and logout (at `[session] login_url` and `logout_url`,
//! by default `/api-auth/login/` and `/api-auth/logout/`),
//! the same for single-page apps as JSON (`/api/auth/login/`, `/api/auth/logout/`,
//! `/api/auth/csrf/`).
//!
//! Login views check CSRF for everyone (Django's `csrf_protect`), not only for session users:
//! otherwise an attacker could log a victim into the attacker's account.

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::json;

use super::SessionService;
use crate::core::error::{Error, ValidationErrors, json_response};
use crate::core::settings::AuthClass;
use crate::core::user::{AuthInfo, User};
use crate::pipeline::audit::Source;
use crate::pipeline::parsers::RequestData;
use crate::pipeline::permissions::IsAuthenticated;
use crate::pipeline::policy::Access;
use crate::pipeline::throttling::client_of;
use crate::pipeline::view::{ApiView, no_store};
use crate::session::authentication::check_csrf;
use crate::session::cookies::{self, SetCookie};
use crate::session::csrf;

/// Django's `AuthenticationForm` message, the same for every failure.
pub const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// The routes' state.
#[derive(Clone)]
pub(super) struct Pages {
    pub(super) restauth: SessionService,
    #[cfg(feature = "html-login")]
    pub(super) templates: std::sync::Arc<super::templates::Templates>,
}

/// The session routes; with the `html-login` feature, also the HTML login and logout pages
/// (an error when a page of `[session] templates_dir` cannot be read or parsed).
pub fn router<S: Clone + Send + Sync + 'static>(
    restauth: &SessionService,
) -> std::io::Result<Router<S>> {
    let pages = Pages {
        restauth: restauth.clone(),
        #[cfg(feature = "html-login")]
        templates: std::sync::Arc::new(super::templates::Templates::load(
            restauth.settings().session.templates_dir.as_deref(),
            super::templates::BUILT_IN,
        )?),
    };
    let open = || {
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new())
    };
    let router = Router::new()
        .route(
            "/api/auth/login",
            ApiView::new("Login").post(spa_login).guard(open()),
        )
        .route(
            "/api/auth/logout",
            ApiView::new("Logout").post(spa_logout).guard(
                restauth
                    .policy()
                    .authentication([AuthClass::Session])
                    .permission(IsAuthenticated),
            ),
        )
        .route(
            "/api/auth/csrf",
            ApiView::new("Csrf").get(csrf_token).guard(open()),
        );
    #[cfg(feature = "html-login")]
    let router = super::pages::routes(router, &restauth.settings().session);
    Ok(router
        .method_not_allowed_fallback(
            |method: Method| async move { Error::MethodNotAllowed(method) },
        )
        .with_state(pages))
}

/// The CSRF secret of the request's cookie, or a new one.
pub(super) fn csrf_secret(restauth: &SessionService, headers: &HeaderMap) -> String {
    cookies::get(headers, &restauth.settings().csrf.cookie_name)
        .and_then(|c| csrf::secret_from_cookie(c).ok())
        .unwrap_or_else(csrf::new_secret)
}

pub(super) fn csrf_cookie(restauth: &SessionService, secret: &str) -> HeaderValue {
    cookies::csrf_cookie(&restauth.settings().csrf, secret)
}

/// The session cookie carrying `key`, or (`None`) the one that removes it.
pub(super) fn session_cookie(restauth: &SessionService, key: Option<&str>) -> HeaderValue {
    let s = &restauth.settings().session;
    let cookie = SetCookie {
        name: &s.cookie_name,
        value: key.unwrap_or(""),
        max_age: (!s.expire_at_browser_close).then_some(s.cookie_age.0),
        path: &s.cookie_path,
        domain: s.cookie_domain.as_deref(),
        secure: s.cookie_secure,
        http_only: true,
        same_site: s.cookie_samesite,
    };
    match key {
        Some(_) => cookie.header_value(),
        None => cookie.removal(),
    }
}

pub(crate) fn set_cookie(response: &mut Response, value: HeaderValue) {
    response.headers_mut().append(header::SET_COOKIE, value);
}

/// Django's `never_cache` plus `Vary: Cookie`.
pub(crate) fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// What the login views read of a request.
pub(crate) struct Submitted {
    pub(crate) headers: HeaderMap,
    pub(crate) method: Method,
    pub(crate) data: RequestData,
    /// The client address login throttles key on.
    pub(crate) client: String,
}

/// Reads a form (or JSON) body with DRF's parsers.
pub(crate) async fn read_form(
    restauth: &SessionService,
    request: Request,
) -> Result<Submitted, Error> {
    let (parts, body) = request.into_parts();
    let client = client_of(
        &parts.headers,
        &parts.extensions,
        restauth.settings().rest_framework.num_proxies,
    )?;
    let limit = restauth.settings().data_upload_max_memory_size.0;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| crate::core::error::body_read_error(&e, true))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let data = RequestData::parse(content_type, &bytes)?;
    Ok(Submitted {
        headers: parts.headers,
        method: parts.method,
        data,
        client,
    })
}

pub(crate) fn field<'a>(data: &'a RequestData, name: &str) -> Option<&'a str> {
    data.0.get(name).and_then(|v| v.as_str())
}

/// Logs `user` in: a new session (the old one deleted) and a new CSRF secret.
pub(super) async fn start_session(
    restauth: &SessionService,
    headers: &HeaderMap,
    user: &User,
    source: &Source,
    response: &mut Response,
) -> Result<(), Error> {
    let previous = cookies::get(headers, &restauth.settings().session.cookie_name);
    let key = restauth.login_session_from(user, previous, source).await?;
    set_cookie(response, session_cookie(restauth, Some(&key)));
    set_cookie(response, csrf_cookie(restauth, &csrf::new_secret()));
    tracing::info!(user_id = user.id, "session login");
    Ok(())
}

pub(crate) fn clear_session_cookie(restauth: &SessionService, response: &mut Response) {
    set_cookie(response, session_cookie(restauth, None));
}

pub(super) fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
    })
}

/// `POST /api/auth/login/`: JSON credentials (and `X-CSRFToken`) → the user, plus cookies.
pub(super) async fn spa_login(
    State(pages): State<Pages>,
    request: Request,
) -> Result<Response, Error> {
    let restauth = &pages.restauth;
    let Submitted {
        headers,
        method,
        data,
        client,
    } = read_form(restauth, request).await?;
    check_csrf(
        restauth,
        &method,
        &headers,
        field(&data, "csrfmiddlewaretoken"),
    )?;
    let (username, password) = data.credentials_named(&restauth.settings().user.username_field)?;
    let source = Source::with_client(client, &headers);
    let Some(user) = restauth
        .authenticate_login(&username, &password, "session", &source)
        .await?
    else {
        return Err(Error::Validation(ValidationErrors::non_field(
            crate::core::error::UNABLE_TO_LOG_IN,
        )));
    };
    let mut response = private(no_store(json_response(StatusCode::OK, &user_json(&user))));
    start_session(restauth, &headers, &user, &source, &mut response).await?;
    Ok(response)
}

/// `POST /api/auth/logout/`: ends the session of the request (CSRF-checked by
/// SessionAuthentication).
pub(super) async fn spa_logout(
    State(pages): State<Pages>,
    headers: HeaderMap,
    access: Access,
) -> Result<Response, Error> {
    let restauth = &pages.restauth;
    if let Some(AuthInfo::Session { session_id }) = &access.identity.auth {
        // By the cookie's key when it names this session: a store over Django's table finds
        // the row by key, not by digest.
        match cookies::get(&headers, &restauth.settings().session.cookie_name) {
            Some(key) if crate::store::digest_hex(&super::digest(key)) == **session_id => {
                restauth.logout_session(key).await?
            }
            _ => restauth.logout_session_digest(session_id).await?,
        }
    }
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "detail": "Successfully logged out." }),
    ));
    clear_session_cookie(restauth, &mut response);
    Ok(response)
}

/// `GET /api/auth/csrf/`: sets the CSRF cookie and returns a token for `X-CSRFToken`.
pub(super) async fn csrf_token(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let secret = csrf_secret(&pages.restauth, &headers);
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "csrfToken": csrf::mask_secret(&secret) }),
    ));
    set_cookie(&mut response, csrf_cookie(&pages.restauth, &secret));
    response
}
