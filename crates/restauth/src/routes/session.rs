//! Browser login: Django's login page and logout (at `[session] login_url` and `logout_url`,
//! by default `/api-auth/login/` and `/api-auth/logout/`),
//! the same for single-page apps as JSON (`/api/auth/login/`, `/api/auth/logout/`,
//! `/api/auth/csrf/`), and the demo `/dashboard/` page.
//!
//! Login views check CSRF for everyone (Django's `csrf_protect`), not only for session users:
//! otherwise an attacker could log a victim into the attacker's account.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::{ApiView, no_store};
use crate::IsAuthenticated;
use crate::authentication::session::check_csrf;
use crate::context::Restauth;
use crate::cookies::{self, SetCookie};
use crate::csrf;
use crate::error::{Error, ValidationErrors, json_response};
use crate::parsers::RequestData;
use crate::policy::Access;
use crate::safe_url::{iri_to_uri, safe_redirect};
use crate::settings::{AuthClass, route_path};
use crate::templates::{self, Templates};
use crate::throttling::client_of;
use crate::user::{AuthInfo, User};

/// Django's `AuthenticationForm` message, the same for every failure.
pub const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

#[derive(Clone)]
struct Pages {
    restauth: Restauth,
    templates: Arc<Templates>,
}

/// The session routes. `dashboard` adds the demo `/dashboard/` page.
pub fn router<S: Clone + Send + Sync + 'static>(
    restauth: &Restauth,
    dashboard: bool,
) -> std::io::Result<Router<S>> {
    let session = &restauth.settings().session;
    let templates = Templates::load(session.templates_dir.as_deref())?;
    let pages = Pages {
        restauth: restauth.clone(),
        templates: Arc::new(templates),
    };
    let open = || {
        restauth
            .policy()
            .authenticators(Vec::new())
            .permissions(Vec::new())
    };
    let mut router = Router::new()
        .route(
            route_path(&session.login_url),
            get(login_page).post(login_submit),
        )
        .route(
            route_path(&session.logout_url),
            axum::routing::post(logout_submit),
        )
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
    if dashboard {
        router = router.route("/dashboard", get(dashboard_page));
    }
    Ok(router
        .method_not_allowed_fallback(
            |method: Method| async move { Error::MethodNotAllowed(method) },
        )
        .with_state(pages))
}

/// The CSRF secret of the request's cookie, or a new one.
fn csrf_secret(restauth: &Restauth, headers: &HeaderMap) -> String {
    cookies::get(headers, &restauth.settings().csrf.cookie_name)
        .and_then(|c| csrf::secret_from_cookie(c).ok())
        .unwrap_or_else(csrf::new_secret)
}

fn csrf_cookie(restauth: &Restauth, secret: &str) -> HeaderValue {
    cookies::csrf_cookie(&restauth.settings().csrf, secret)
}

/// The session cookie carrying `key`, or (`None`) the one that removes it.
fn session_cookie(restauth: &Restauth, key: Option<&str>) -> HeaderValue {
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

fn set_cookie(response: &mut Response, value: HeaderValue) {
    response.headers_mut().append(header::SET_COOKIE, value);
}

/// Django's `never_cache` plus `Vary: Cookie`.
fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// An HTML page that no other site may frame (clickjacking): Django's `X-Frame-Options: DENY`,
/// and CSP's `frame-ancestors 'none'` for browsers that prefer it.
fn html(status: StatusCode, body: String) -> Response {
    private(
        (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::X_FRAME_OPTIONS, "DENY"),
                (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            ],
            body,
        )
            .into_response(),
    )
}

/// A page whose template fails while rendering (e.g. a filter given the wrong value): the
/// template is the operator's, so the reason goes to the log and the client gets a 500.
fn template_failure(error: &minijinja::Error) -> Response {
    Error::Internal(format!("template: {error}")).into_response()
}

fn redirect(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    // Percent-encoded, a location holds no tab or line break for a browser to drop
    // (`iri_to_uri` leaves its own output unchanged).
    if let Ok(v) = HeaderValue::from_str(&iri_to_uri(location)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    private(r)
}

#[derive(Deserialize, Default)]
struct NextParam {
    next: Option<String>,
}

fn render_login(pages: &Pages, secret: &str, next: &str, username: &str, error: &str) -> Response {
    let token = csrf::mask_secret(secret);
    let body = pages.templates.render(
        templates::LOGIN,
        minijinja::context! {
            csrf_token => token,
            next,
            username,
            error,
            action => pages.restauth.settings().session.login_url,
        },
    );
    let mut response = match body {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => return template_failure(&e),
    };
    set_cookie(&mut response, csrf_cookie(&pages.restauth, secret));
    response
}

/// The 406 of a page asked for in a media type other than HTML (the pages render only
/// `text/html`, and negotiate it as DRF's views negotiate JSON).
fn html_refused(headers: &HeaderMap) -> Option<Response> {
    (!crate::negotiation::accepts(headers, "text/html"))
        .then(|| Error::NotAcceptable.into_response())
}

async fn login_page(
    State(pages): State<Pages>,
    Query(q): Query<NextParam>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = html_refused(&headers) {
        return refused;
    }
    let secret = csrf_secret(&pages.restauth, &headers);
    render_login(&pages, &secret, q.next.as_deref().unwrap_or(""), "", "")
}

/// What the login views read of a request.
struct Submitted {
    headers: HeaderMap,
    method: Method,
    data: RequestData,
    /// The client address login throttles key on.
    client: String,
}

/// Reads a form (or JSON) body with DRF's parsers.
async fn read_form(restauth: &Restauth, request: Request) -> Result<Submitted, Error> {
    let (parts, body) = request.into_parts();
    let client = client_of(
        &parts.headers,
        &parts.extensions,
        restauth.settings().rest_framework.num_proxies,
    )?;
    let limit = restauth.settings().server.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge)?;
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

fn field<'a>(data: &'a RequestData, name: &str) -> Option<&'a str> {
    data.0.get(name).and_then(|v| v.as_str())
}

fn csrf_failure_page(reason: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head>\
             <body><h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p><p>{}</p></body></html>",
            crate::templates::escape(reason)
        ),
    )
}

/// Where to go after login: `next` when it stays on this site, else the configured page.
fn next_location(restauth: &Restauth, headers: &HeaderMap, next: Option<&str>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let secure = crate::request::is_secure(headers, restauth.settings().csrf.trust_forwarded_proto);
    match next {
        Some(n) => safe_redirect(n, host, secure)
            .unwrap_or_else(|| restauth.settings().session.login_redirect_url.clone()),
        None => restauth.settings().session.login_redirect_url.clone(),
    }
}

/// Logs `user` in: a new session (the old one deleted) and a new CSRF secret.
async fn start_session(
    restauth: &Restauth,
    headers: &HeaderMap,
    user: &User,
    response: &mut Response,
) -> Result<(), Error> {
    let previous = cookies::get(headers, &restauth.settings().session.cookie_name);
    let key = restauth.login_session(user, previous).await?;
    set_cookie(response, session_cookie(restauth, Some(&key)));
    set_cookie(response, csrf_cookie(restauth, &csrf::new_secret()));
    tracing::info!(user_id = user.id, "session login");
    Ok(())
}

async fn login_submit(State(pages): State<Pages>, request: Request) -> Response {
    if let Some(refused) = html_refused(request.headers()) {
        return refused;
    }
    let restauth = &pages.restauth;
    let Submitted {
        headers,
        method,
        data,
        client,
    } = match read_form(restauth, request).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Err(Error::CsrfFailed { reason, .. }) = check_csrf(
        restauth,
        &method,
        &headers,
        field(&data, "csrfmiddlewaretoken"),
    ) {
        return csrf_failure_page(&format!("CSRF Failed: {reason}"));
    }
    let next = field(&data, "next").unwrap_or("");
    let username = field(&data, "username").unwrap_or("").trim();
    let password = field(&data, "password").unwrap_or("");
    let secret = csrf_secret(restauth, &headers);
    let user = if username.is_empty() || password.is_empty() {
        None
    } else {
        match restauth
            .authenticate_login(username, password, &client)
            .await
        {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        }
    };
    let Some(user) = user else {
        return render_login(&pages, &secret, next, username, LOGIN_FAILED);
    };
    let mut response = redirect(&next_location(restauth, &headers, Some(next)));
    match start_session(restauth, &headers, &user, &mut response).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
}

fn clear_session_cookie(restauth: &Restauth, response: &mut Response) {
    set_cookie(response, session_cookie(restauth, None));
}

async fn logout_submit(State(pages): State<Pages>, request: Request<Body>) -> Response {
    if let Some(refused) = html_refused(request.headers()) {
        return refused;
    }
    let restauth = &pages.restauth;
    let Submitted {
        headers,
        method,
        data,
        ..
    } = match read_form(restauth, request).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Err(Error::CsrfFailed { .. }) = check_csrf(
        restauth,
        &method,
        &headers,
        field(&data, "csrfmiddlewaretoken"),
    ) {
        return csrf_failure_page("CSRF token missing or incorrect.");
    }
    if let Some(key) = cookies::get(&headers, &restauth.settings().session.cookie_name)
        && let Err(e) = restauth.logout_session(key).await
    {
        return e.into_response();
    }
    let mut response = redirect(&restauth.settings().session.logout_redirect_url);
    clear_session_cookie(restauth, &mut response);
    response
}

fn user_json(user: &User) -> serde_json::Value {
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
async fn spa_login(State(pages): State<Pages>, request: Request) -> Result<Response, Error> {
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
    let Some(user) = restauth
        .authenticate_login(&username, &password, &client)
        .await?
    else {
        return Err(Error::Validation(ValidationErrors::non_field(
            super::token::UNABLE_TO_LOG_IN,
        )));
    };
    let mut response = private(no_store(json_response(StatusCode::OK, &user_json(&user))));
    start_session(restauth, &headers, &user, &mut response).await?;
    Ok(response)
}

/// `POST /api/auth/logout/`: ends the session of the request (CSRF-checked by
/// SessionAuthentication).
async fn spa_logout(State(pages): State<Pages>, access: Access) -> Result<Response, Error> {
    let restauth = &pages.restauth;
    if let Some(AuthInfo::Session { session_id }) = &access.identity.auth {
        restauth.logout_session_digest(session_id).await?;
    }
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "detail": "Successfully logged out." }),
    ));
    clear_session_cookie(restauth, &mut response);
    Ok(response)
}

/// `GET /api/auth/csrf/`: sets the CSRF cookie and returns a token for `X-CSRFToken`.
async fn csrf_token(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let secret = csrf_secret(&pages.restauth, &headers);
    let mut response = private(json_response(
        StatusCode::OK,
        &json!({ "csrfToken": csrf::mask_secret(&secret) }),
    ));
    set_cookie(&mut response, csrf_cookie(&pages.restauth, &secret));
    response
}

/// The demo page behind the login: the greeting and a logout button.
async fn dashboard_page(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let restauth = &pages.restauth;
    let settings = &restauth.settings().session;
    if let Some(refused) = html_refused(&headers) {
        return refused;
    }
    let user = match cookies::get(&headers, &settings.cookie_name) {
        Some(key) if crate::sessions::is_valid_key(key) => {
            match restauth.authenticate_session(key).await {
                Ok(Ok((_, user))) => Ok(user),
                Ok(Err(_)) => Err(true),
                Err(e) => return e.into_response(),
            }
        }
        Some(_) => Err(true),
        None => Err(false),
    };
    let user = match user {
        Ok(user) => user,
        Err(stale) => {
            let mut response = redirect(&format!("{}?next=/dashboard/", settings.login_url));
            if stale {
                // As Django's session middleware: a dead session's cookie is deleted.
                clear_session_cookie(restauth, &mut response);
            }
            return response;
        }
    };
    let secret = csrf_secret(restauth, &headers);
    let token = csrf::mask_secret(&secret);
    let logout = settings.logout_url.as_str();
    let body = pages.templates.render(
        templates::DASHBOARD,
        minijinja::context! {
            username => user.username,
            csrf_token => token,
            logout_url => logout,
        },
    );
    let mut response = match body {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => return template_failure(&e),
    };
    set_cookie(&mut response, csrf_cookie(restauth, &secret));
    response
}
