//! Django's HTML login and logout pages (at `[session] login_url` and `logout_url`): minijinja
//! templates, overridable from `[session] templates_dir`; and [`LoginRequired`], Django's
//! `login_required` for an app's own pages.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http::{HeaderMap, Method, StatusCode, header};
use serde::Deserialize;

use super::SessionService;
use crate::core::error::Error;
use crate::pipeline::audit::Source;
use crate::pipeline::view::Views;
use crate::session::cookies;
use crate::session::csrf::{self, CSRF_FORM_FIELD};
use crate::session::html::{csrf_failure_page, html, html_refused, redirect, template_failure};
use crate::session::login::{
    Pages, Submitted, clear_session_cookie, field, read_form, set_cookie, start_session,
};
use crate::session::safe_url::safe_redirect;
use crate::session::templates;

/// Django's `AuthenticationForm` message, the same for every failure.
pub const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// The login and logout pages, where `[session]` puts them; other methods get DRF's 405.
pub(super) fn views<S: Clone + Send + Sync + 'static>(pages: Pages) -> Result<Views<S>, Error> {
    let session = pages.sessions.settings().clone();
    let drf_405 = |method: Method| async move { Error::MethodNotAllowed(method) };
    let login: MethodRouter<Pages> = get(login_page).post(login_submit).fallback(drf_405);
    let logout: MethodRouter<Pages> = post(logout_submit).fallback(drf_405);
    Views::new()
        .view(&session.login_url, login.with_state(pages.clone()))?
        .view(&session.logout_url, logout.with_state(pages))
}
#[derive(Deserialize, Default)]
struct NextParam {
    next: Option<String>,
}

fn render_login(pages: &Pages, secret: &str, next: &str, username: &str, error: &str) -> Response {
    let token = pages.sessions.csrf().token(secret);
    let body = pages.templates.render(
        templates::LOGIN,
        minijinja::context! {
            csrf_token => token,
            next,
            username,
            error,
            action => pages.sessions.settings().login_url,
        },
    );
    let mut response = match body {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => return template_failure(&e),
    };
    set_cookie(&mut response, pages.sessions.csrf().cookie(secret));
    response
}

async fn login_page(
    State(pages): State<Pages>,
    Query(q): Query<NextParam>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = html_refused(&headers) {
        return refused;
    }
    let secret = pages.sessions.csrf().secret_of(&headers);
    render_login(&pages, &secret, q.next.as_deref().unwrap_or(""), "", "")
}

/// Where to go after login: `next` when it stays on this site, else the configured page.
fn next_location(sessions: &SessionService, headers: &HeaderMap, next: Option<&str>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let secure =
        crate::core::request::is_secure(headers, sessions.csrf().settings().trust_forwarded_proto);
    let fallback = || sessions.settings().login_redirect_url.clone();
    match next {
        Some(n) => safe_redirect(n, host, secure).unwrap_or_else(fallback),
        None => fallback(),
    }
}

async fn login_submit(State(pages): State<Pages>, request: Request) -> Response {
    if let Some(refused) = html_refused(request.headers()) {
        return refused;
    }
    let sessions = &pages.sessions;
    let Submitted {
        headers,
        method,
        data,
        client,
    } = match read_form(sessions, pages.login.throttles(), request).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Err(Error::CsrfFailed { reason, .. }) =
        sessions
            .csrf()
            .check(&method, &headers, field(&data, CSRF_FORM_FIELD))
    {
        return csrf_failure_page(&format!("CSRF Failed: {reason}"));
    }
    let next = field(&data, "next").unwrap_or("");
    let username = field(&data, "username").unwrap_or("").trim();
    let password = field(&data, "password").unwrap_or("");
    let secret = sessions.csrf().secret_of(&headers);
    let source = Source::with_client(client, &headers);
    let user = if username.is_empty() || password.is_empty() {
        None
    } else {
        match pages
            .login
            .authenticate(username, password, "session", &source)
            .await
        {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        }
    };
    let Some(user) = user else {
        return render_login(&pages, &secret, next, username, LOGIN_FAILED);
    };
    let mut response = redirect(&next_location(sessions, &headers, Some(next)));
    match start_session(sessions, &headers, &user, &source, &mut response).await {
        Ok(()) => response,
        Err(e) => e.into_response(),
    }
}

async fn logout_submit(State(pages): State<Pages>, request: Request<Body>) -> Response {
    if let Some(refused) = html_refused(request.headers()) {
        return refused;
    }
    let sessions = &pages.sessions;
    let Submitted {
        headers,
        method,
        data,
        ..
    } = match read_form(sessions, pages.login.throttles(), request).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let Err(Error::CsrfFailed { .. }) =
        sessions
            .csrf()
            .check(&method, &headers, field(&data, CSRF_FORM_FIELD))
    {
        return csrf_failure_page("CSRF token missing or incorrect.");
    }
    if let Some(key) = cookies::get(&headers, &sessions.settings().cookie_name)
        && let Err(e) = sessions.logout_session(key).await
    {
        return e.into_response();
    }
    let mut response = redirect(&sessions.settings().logout_redirect_url);
    clear_session_cookie(sessions, &mut response);
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
            self.sessions.csrf().cookie(&self.csrf_secret),
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
        let settings = sessions.settings();
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
                let csrf_secret = sessions.csrf().secret_of(&parts.headers);
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
