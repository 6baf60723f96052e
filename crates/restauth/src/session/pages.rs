//! Django's HTML login and logout pages (at `[session] login_url` and `logout_url`), and the
//! demo dashboard page: minijinja templates, overridable from `[session] templates_dir`.

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
pub(super) fn routes(
    router: Router<Pages>,
    session: &SessionSettings,
    dashboard: bool,
) -> Router<Pages> {
    let router = router
        .route(
            route_path(&session.login_url),
            get(login_page).post(login_submit),
        )
        .route(
            route_path(&session.logout_url),
            axum::routing::post(logout_submit),
        );
    if dashboard {
        router.route("/dashboard", get(dashboard_page))
    } else {
        router
    }
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

fn csrf_failure_page(reason: &str) -> Response {
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
    let user = if username.is_empty() || password.is_empty() {
        None
    } else {
        match restauth
            .authenticate_login(
                username,
                password,
                "session",
                &Source::with_client(client, &headers),
            )
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

/// The demo page behind the login: the greeting and a logout button.
async fn dashboard_page(State(pages): State<Pages>, headers: HeaderMap) -> Response {
    let restauth = &pages.restauth;
    let settings = &restauth.settings().session;
    if let Some(refused) = html_refused(&headers) {
        return refused;
    }
    let user = match cookies::get(&headers, &settings.cookie_name) {
        Some(key) if crate::session::is_valid_key(key) => {
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
