//! What the browser-facing views share: reading a login form, starting a session with its
//! cookies, the session cookie itself, and (with `html-login`) the pieces of an HTML page — no
//! framing, no caching, a redirect, Django's CSRF failure page.
//!
//! Login views check CSRF for everyone (Django's `csrf_protect`), not only for session users:
//! otherwise an attacker could log a victim into the attacker's account.

use axum::extract::Request;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::json;

use super::SessionService;
use crate::core::error::{Error, body_read_error};
use crate::core::user::User;
use crate::pipeline::audit::Source;
use crate::pipeline::parsers::RequestData;
use crate::pipeline::throttling::Throttles;
use crate::session::cookies::{self, SetCookie};
use crate::session::csrf;

/// The state of the login views: the sessions, the throttled password check, the pages.
#[derive(Clone)]
pub(crate) struct Pages {
    pub(crate) sessions: SessionService,
    pub(crate) login: crate::users::Login,
    #[cfg(feature = "html-login")]
    pub(crate) templates: std::sync::Arc<super::templates::Templates>,
}

/// What the login views read of a request.
pub(crate) struct Submitted {
    pub(crate) headers: HeaderMap,
    pub(crate) method: Method,
    pub(crate) data: RequestData,
    /// The client address login throttles key on.
    pub(crate) client: String,
}

/// Reads a form (or JSON) body with DRF's parsers, within `DATA_UPLOAD_MAX_MEMORY_SIZE`.
pub(crate) async fn read_form(
    sessions: &SessionService,
    throttles: &Throttles,
    request: Request,
) -> Result<Submitted, Error> {
    let (parts, body) = request.into_parts();
    let client = throttles.client_of(&parts.headers, &parts.extensions)?;
    let bytes = axum::body::to_bytes(body, sessions.csrf().upload_limit())
        .await
        .map_err(|e| body_read_error(&e, true))?;
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

/// A text field of a submitted form.
pub(crate) fn field<'a>(data: &'a RequestData, name: &str) -> Option<&'a str> {
    data.0.get(name).and_then(|v| v.as_str())
}

/// The session cookie carrying `key`, or (`None`) the one that removes it.
pub(crate) fn session_cookie(sessions: &SessionService, key: Option<&str>) -> HeaderValue {
    let s = sessions.settings();
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

/// Logs `user` in: a new session (the old one deleted) and a new CSRF secret.
pub(crate) async fn start_session(
    sessions: &SessionService,
    headers: &HeaderMap,
    user: &User,
    source: &Source,
    response: &mut Response,
) -> Result<(), Error> {
    let previous = cookies::get(headers, &sessions.settings().cookie_name);
    let key = sessions.login_session_from(user, previous, source).await?;
    set_cookie(response, session_cookie(sessions, Some(&key)));
    set_cookie(response, sessions.csrf().cookie(&csrf::new_secret()));
    tracing::info!(user_id = %user.id, "session login");
    Ok(())
}

pub(crate) fn clear_session_cookie(sessions: &SessionService, response: &mut Response) {
    set_cookie(response, session_cookie(sessions, None));
}

/// The user as the JSON login answers it.
pub(crate) fn user_json(user: &User) -> serde_json::Value {
    json!({
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_staff": user.is_staff,
    })
}
