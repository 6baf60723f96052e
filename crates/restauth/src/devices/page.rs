//! The account page at `/account/`: the user's tokens and sessions, each with a revoke
//! button, and "log out everywhere" — plain HTML forms, CSRF-protected, no script. Behind the
//! session login ([`LoginRequired`]); the template is overridable from
//! `[session] templates_dir` (`account.html`) like the login page.
//!
//! In the library rather than the server, so an application mounts the same page for its
//! users, over the same session cookie.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde_json::json;

use super::{DevicesService, is_current_session};
use crate::core::error::Error;
use crate::pipeline::audit::{Source, rfc3339_ms};
use crate::pipeline::throttling::Throttles;
use crate::pipeline::view::Views;
use crate::restauth::Restauth;
use crate::session::csrf::CSRF_FORM_FIELD;
use crate::session::html::{csrf_failure_page, redirect};
use crate::session::login::{Submitted, clear_session_cookie, field, read_form};
use crate::session::{LoginRequired, SessionService, Templates, cookies};

/// The account page's template: `username`, `csrf_token`, `tokens` and `sessions` (each with
/// `id`, `created`, `expiry`, `user_agent`, `address`, `current`, `revoke_url`, and
/// `last_used` or `last_seen`; times as `{iso, text}`), `logout_all_url` and `logout_url`.
pub const ACCOUNT: &str = "account.html";

/// Where the page lives.
const PAGE: &str = "/account/";

#[derive(Clone)]
struct Pages {
    devices: DevicesService,
    sessions: SessionService,
    throttles: Throttles,
    templates: Arc<Templates>,
}

impl FromRef<Pages> for SessionService {
    fn from_ref(pages: &Pages) -> SessionService {
        pages.sessions.clone()
    }
}

/// The account page and its forms' targets; an error when `account.html` of
/// `[session] templates_dir` cannot be read or parsed.
pub(super) fn views<S: Clone + Send + Sync + 'static>(
    restauth: &Restauth,
) -> Result<Views<S>, Error> {
    let sessions = restauth.sessions();
    let templates = Templates::load(
        sessions.settings().templates_dir.as_deref(),
        &[(ACCOUNT, include_str!("../../templates/account.html"))],
    )
    .map_err(|e| Error::Config(format!("session.templates_dir: {e}")))?;
    let pages = Pages {
        devices: restauth.devices().clone(),
        sessions: sessions.clone(),
        throttles: restauth.throttles().clone(),
        templates: Arc::new(templates),
    };
    let drf_405 = |method: http::Method| async move { Error::MethodNotAllowed(method) };
    let page = |route: MethodRouter<Pages>| route.fallback(drf_405).with_state(pages.clone());
    Views::new()
        .view("/account", page(get(account_page)))?
        .view("/account/tokens/{id}/revoke", page(post(revoke_token)))?
        .view("/account/sessions/{id}/revoke", page(post(revoke_session)))?
        .view("/account/logout-all", page(post(logout_all)))
}

/// An instant for people (`2026-11-30 05:08 UTC`) and for machines (RFC 3339).
fn when(ms: i64) -> serde_json::Value {
    let iso = rfc3339_ms(ms);
    let text = format!("{} {} UTC", &iso[..10], &iso[11..16]);
    json!({ "iso": iso, "text": text })
}

/// The digest (hex) of the request's session key, if its cookie holds one.
fn session_digest(sessions: &SessionService, headers: &http::HeaderMap) -> Option<String> {
    cookies::get(headers, &sessions.settings().cookie_name)
        .filter(|k| crate::session::is_valid_key(k))
        .map(|k| crate::store::digest_hex(&crate::session::digest(k)))
}

async fn account_page(
    State(pages): State<Pages>,
    login: LoginRequired,
    headers: http::HeaderMap,
) -> Response {
    let user = &login.user;
    let (tokens, sessions) = match (
        pages.devices.tokens(user).await,
        pages.devices.sessions(user).await,
    ) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let current =
        session_digest(&pages.sessions, &headers).map(|id| crate::core::user::AuthInfo::Session {
            session_id: id.into(),
        });
    let tokens: Vec<_> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "created": when(t.created),
                "last_used": t.last_used.map(|s| when(s.saturating_mul(1000))),
                "expiry": t.expires.map(|s| when(s.saturating_mul(1000))),
                "user_agent": t.origin.user_agent,
                "address": t.origin.address,
                "current": false,
                "revoke_url": format!("/account/tokens/{}/revoke/", t.id),
            })
        })
        .collect();
    let sessions: Vec<_> = sessions
        .iter()
        .map(|s| {
            let d = &s.device;
            json!({
                "id": s.id,
                "created": when(d.created),
                "last_seen": when(d.last_seen.saturating_mul(1000)),
                "expiry": when(d.expires.saturating_mul(1000)),
                "user_agent": d.origin.user_agent,
                "address": d.origin.address,
                "current": is_current_session(d, current.as_ref()),
                "revoke_url": format!("/account/sessions/{}/revoke/", s.id),
            })
        })
        .collect();
    let context = json!({
        "username": user.username,
        "csrf_token": login.csrf_token(),
        "tokens": tokens,
        "sessions": sessions,
        "logout_all_url": "/account/logout-all/",
        "logout_url": pages.sessions.settings().logout_url,
    });
    login.render(&pages.templates, ACCOUNT, context)
}

/// The posted form, once its CSRF token passed; else the page to answer with.
async fn checked_form(pages: &Pages, request: Request) -> Result<Submitted, Response> {
    let submitted = read_form(&pages.sessions, &pages.throttles, request)
        .await
        .map_err(IntoResponse::into_response)?;
    if let Err(Error::CsrfFailed { reason, .. }) = pages.sessions.csrf().check(
        &submitted.method,
        &submitted.headers,
        field(&submitted.data, CSRF_FORM_FIELD),
    ) {
        return Err(csrf_failure_page(&format!("CSRF Failed: {reason}")));
    }
    Ok(submitted)
}

/// Back to the page, or, when the request's own session ended, to where logging out leads.
fn after(pages: &Pages, own_session_ended: bool) -> Response {
    if !own_session_ended {
        return redirect(PAGE);
    }
    let mut response = redirect(&pages.sessions.settings().logout_redirect_url);
    clear_session_cookie(&pages.sessions, &mut response);
    response
}

async fn revoke_token(
    State(pages): State<Pages>,
    login: LoginRequired,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let form = match checked_form(&pages, request).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let id = match id
        .map_err(|_| Error::NotFound)
        .and_then(|Path(id)| crate::core::request::path_id(&id))
    {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let source = Source::with_client(form.client, &form.headers);
    match pages.devices.revoke_token(&login.user, id, &source).await {
        Ok(true) => after(&pages, false),
        Ok(false) => Error::NotFound.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn revoke_session(
    State(pages): State<Pages>,
    login: LoginRequired,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let form = match checked_form(&pages, request).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Ok(Path(id)) = id else {
        return Error::NotFound.into_response();
    };
    let own = session_digest(&pages.sessions, &form.headers)
        .is_some_and(|d| pages.devices.session_id(&d) == id);
    let source = Source::with_client(form.client, &form.headers);
    match pages
        .devices
        .revoke_session(&login.user, &id, &source)
        .await
    {
        Ok(true) => after(&pages, own),
        Ok(false) => Error::NotFound.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn logout_all(
    State(pages): State<Pages>,
    login: LoginRequired,
    request: Request,
) -> Response {
    let form = match checked_form(&pages, request).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let source = Source::with_client(form.client, &form.headers);
    match pages.devices.logout_everywhere(&login.user, &source).await {
        Ok(()) => after(&pages, true),
        Err(e) => e.into_response(),
    }
}
