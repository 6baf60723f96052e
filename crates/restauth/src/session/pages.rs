//! Django's HTML login and logout pages (at `[session] login_url` and `logout_url`): minijinja
//! templates, overridable from `[session] templates_dir`; and [`LoginRequired`], Django's
//! `login_required` for an app's own pages.

use super::SessionService;
use super::routes::*;
use crate::core::error::Error;
use crate::core::settings::SessionSettings;
use crate::core::settings::route_path;
use crate::pipeline::audit::Source;
use crate::session::authentication::check_csrf;
use crate::session::cookies;
use crate::session::csrf;
use crate::session::safe_url::{iri_to_uri, safe_redirect};
use crate::session::templates;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

/// Adds the pages to the session routes.
pub(super) fn routes(router: Router<Pages>, session: &SessionSettings) -> Router<Pages> {
    router
        .route(
            route_path(&session.login_url),
            get(login_page).post(login_submit),
        )
        .route(
            route_path(&session.logout_url),
            axum::routing::post(logout_submit),
        )
}
/// An HTML page that no other site may frame (clickjacking): Django's `X-Frame-Options: DENY`,
/// and CSP's `frame-ancestors 'none'` for browsers that prefer it.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
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
pub(crate) fn template_failure(error: &minijinja::Error) -> Response {
    Error::Internal(format!("template: {error}")).into_response()
}

pub(crate) fn redirect(location: &str) -> Response {
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
    (!crate::pipeline::negotiation::accepts(headers, "text/html"))
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

pub(crate) fn csrf_failure_page(reason: &str) -> Response {
    html(
        StatusCode::FORBIDDEN,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>403 Forbidden</title></head>\
             <body><h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p><p>{}</p></body></html>",
            crate::session::templates::escape(reason)
        ),
    )
}

/// Where to go after login: `next` when it stays on this site, else the configured page.
fn next_location(restauth: &SessionService, headers: &HeaderMap, next: Option<&str>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let secure =
        crate::core::request::is_secure(headers, restauth.settings().csrf.trust_forwarded_proto);
    match next {
        Some(n) => safe_redirect(n, host, secure)
            .unwrap_or_else(|| restauth.settings().session.login_redirect_url.clone()),
        None => restauth.settings().session.login_redirect_url.clone(),
    }
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
    let source = Source::with_client(client, &headers);
    let user = if username.is_empty() || password.is_empty() {
        None
    } else {
        match restauth
            .authenticate_login(username, password, "session", &source)
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
    match start_session(restauth, &headers, &user, &source, &mut response).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
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

/// Django's `login_required` for an HTML page of the app: the user of the request's session,
/// or a redirect to `[session] login_url` with `next` naming this page (a dead session's
/// cookie deleted on the way), or 406 when the client does not take HTML. The router's state
/// must give a [`SessionService`] (axum's `FromRef`).
///
/// ```no_run
/// use axum::{Router, extract::{FromRef, State}, response::Response, routing::get};
/// use restauth::session::{LoginRequired, SessionService, Templates};
/// use std::sync::Arc;
///
/// #[derive(Clone)]
/// struct Pages { sessions: SessionService, templates: Arc<Templates> }
/// impl FromRef<Pages> for SessionService {
///     fn from_ref(p: &Pages) -> SessionService { p.sessions.clone() }
/// }
///
/// async fn account(State(pages): State<Pages>, login: LoginRequired) -> Response {
///     let context = serde_json::json!({
///         "username": login.user.username,
///         "csrf_token": login.csrf_token(),
///     });
///     login.render(&pages.templates, "account.html", context)
/// }
///
/// # fn app(restauth: &restauth::Restauth) -> std::io::Result<Router> {
/// let templates = Templates::load(
///     restauth.settings().session.templates_dir.as_deref(),
///     &[("account.html", "<p>Hello {{ username }}</p>")],
/// )?;
/// let pages = Pages { sessions: restauth.sessions().clone(), templates: Arc::new(templates) };
/// Ok(Router::new().route("/account", get(account)).with_state(pages))
/// # }
/// ```
pub struct LoginRequired {
    /// The logged-in user.
    pub user: std::sync::Arc<crate::core::user::User>,
    sessions: SessionService,
    csrf_secret: String,
}

impl LoginRequired {
    /// A token for the hidden `csrfmiddlewaretoken` field of the page's forms (masked afresh on
    /// each call, as Django's `{% csrf_token %}`).
    pub fn csrf_token(&self) -> String {
        csrf::mask_secret(&self.csrf_secret)
    }

    /// The page `name` of `templates` rendered with `context`: HTML no other site may frame,
    /// never cached, with the CSRF cookie its forms need. A template that fails while
    /// rendering is logged and answered with 500.
    pub fn render(
        &self,
        templates: &templates::Templates,
        name: &str,
        context: impl serde::Serialize,
    ) -> Response {
        let mut response = match templates.render(name, context) {
            Ok(body) => html(StatusCode::OK, body),
            Err(e) => return template_failure(&e),
        };
        set_cookie(
            &mut response,
            csrf_cookie(&self.sessions, &self.csrf_secret),
        );
        response
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for LoginRequired
where
    SessionService: axum::extract::FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        let sessions = <SessionService as axum::extract::FromRef<S>>::from_ref(state);
        if let Some(refused) = html_refused(&parts.headers) {
            return Err(refused);
        }
        let settings = &sessions.settings().session;
        let user = match cookies::get(&parts.headers, &settings.cookie_name) {
            Some(key) if crate::session::is_valid_key(key) => {
                match sessions.authenticate_session(key).await {
                    Ok(Ok((_, user))) => Ok(user),
                    Ok(Err(_)) => Err(true),
                    Err(e) => return Err(e.into_response()),
                }
            }
            Some(_) => Err(true),
            None => Err(false),
        };
        match user {
            Ok(user) => {
                let csrf_secret = csrf_secret(&sessions, &parts.headers);
                Ok(LoginRequired {
                    user,
                    sessions,
                    csrf_secret,
                })
            }
            Err(stale) => {
                let next = next_param(&parts.uri);
                let mut response = redirect(&format!("{}?next={next}", settings.login_url));
                if stale {
                    // As Django's session middleware: a dead session's cookie is deleted.
                    clear_session_cookie(&sessions, &mut response);
                }
                Err(response)
            }
        }
    }
}

/// This page's address for `?next=`: its path as the client wrote it (the server trims the
/// trailing slash before routing, DRF's URLs keep it) and its query, percent-encoded as
/// Django's `redirect_to_login` does (`/` left as is).
fn next_param(uri: &http::Uri) -> String {
    let mut next = uri.path().to_owned();
    if !next.ends_with('/') {
        next.push('/');
    }
    if let Some(q) = uri.query() {
        next.push('?');
        next.push_str(q);
    }
    let mut out = String::with_capacity(next.len());
    for b in next.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::next_param;

    #[test]
    fn next_names_the_page_with_its_slash_and_query_encoded() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(next_param(&uri("/dashboard")), "/dashboard/");
        assert_eq!(next_param(&uri("/a/b/")), "/a/b/");
        assert_eq!(
            next_param(&uri("/a?x=1&y=%C3%A9")),
            "/a/%3Fx%3D1%26y%3D%25C3%25A9"
        );
    }
}
