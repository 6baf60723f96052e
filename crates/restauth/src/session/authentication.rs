//! DRF's `SessionAuthentication`: the `sessionid` cookie, with Django's CSRF check for
//! authenticated, active users on unsafe methods (also on `AllowAny` routes).
//!
//! A cookie that is missing, malformed, unknown, expired or belongs to an inactive user makes
//! the request anonymous — and then, as in DRF, no CSRF check is made.

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, header};

use super::SessionService;
use crate::core::error::Error;
use crate::core::request::{is_csrf_exempt_method, is_secure};
use crate::core::user::{AuthInfo, Identity};
use crate::pipeline::authentication::{Authentication, Authenticator, ForgetCookie, Outcome};
use crate::pipeline::parsers::RequestData;
use crate::session::cookies;
use crate::session::csrf::{self, CsrfRequest};
use crate::session::{SessionVerdict, is_valid_key};

const CSRF_FORM_FIELD: &str = "csrfmiddlewaretoken";
const CSRF_HEADER: &str = "x-csrftoken";

pub struct SessionAuthentication {
    restauth: SessionService,
}

impl SessionAuthentication {
    pub fn new(restauth: SessionService) -> Self {
        SessionAuthentication { restauth }
    }
}

fn identity(verdict: SessionVerdict) -> Option<Identity> {
    verdict.ok().map(|(session, user)| {
        Identity::authenticated(
            user,
            AuthInfo::Session {
                session_id: session.id.clone(),
            },
        )
    })
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim();
            m.eq_ignore_ascii_case("application/x-www-form-urlencoded")
                || m.eq_ignore_ascii_case("multipart/form-data")
        })
}

/// Runs Django's CSRF check on `request`. Reads (and puts back) a form body to find
/// `csrfmiddlewaretoken`. Failures are 403 `CSRF Failed: <reason>`.
pub async fn enforce_csrf(
    restauth: &SessionService,
    request: &mut Request<Body>,
) -> Result<(), Error> {
    if is_csrf_exempt_method(request.method()) {
        return Ok(());
    }
    let form_token = if is_form(request.headers()) {
        read_form_token(restauth, request).await?
    } else {
        None
    };
    check_csrf(
        restauth,
        request.method(),
        request.headers(),
        form_token.as_deref(),
    )
}

/// The CSRF check on already-read parts (`form_token` from a parsed form body, if any).
pub fn check_csrf(
    restauth: &SessionService,
    method: &Method,
    headers: &HeaderMap,
    form_token: Option<&str>,
) -> Result<(), Error> {
    let settings = restauth.settings();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let is_secure = is_secure(headers, settings.csrf.trust_forwarded_proto);
    let host = text(header::HOST).unwrap_or("");
    let request = CsrfRequest {
        method,
        is_secure,
        host,
        origin: text(header::ORIGIN),
        referer: text(header::REFERER),
        cookie: cookies::get(headers, &settings.csrf.cookie_name),
        form_token: form_token.filter(|t| !t.is_empty()),
        header_token: headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
        trusted_origins: &settings.csrf.trusted_origins,
        cookie_domain: settings.csrf.cookie_domain.as_deref(),
    };
    csrf::check(&request).map_err(|failure| {
        tracing::info!(reason = failure.reason(), "CSRF check failed");
        Error::CsrfFailed {
            reason: failure.reason().to_owned(),
            new_cookie: failure
                .cookie_needs_reset()
                .then(|| cookies::csrf_cookie(&settings.csrf, &csrf::new_secret())),
        }
    })
}

async fn read_form_token(
    restauth: &SessionService,
    request: &mut Request<Body>,
) -> Result<Option<String>, Error> {
    let limit = restauth.settings().data_upload_max_memory_size.0;
    let body = std::mem::take(request.body_mut());
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| crate::core::error::body_read_error(&e, true))?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // A body that does not parse carries no token; the view's parser reports it.
    let token = RequestData::parse(content_type, &bytes)
        .ok()
        .and_then(|mut data| match data.0.remove(CSRF_FORM_FIELD) {
            Some(serde_json::Value::String(t)) => Some(t),
            _ => None,
        });
    *request.body_mut() = Body::from(bytes);
    Ok(token)
}

impl SessionAuthentication {
    async fn finish(
        &self,
        identity: Option<Identity>,
        request: &mut Request<Body>,
    ) -> Authentication {
        if identity.is_some() {
            enforce_csrf(&self.restauth, request).await?;
        }
        Ok(identity)
    }
}

/// The identity of a verdict, marking the request when the session is gone.
fn identity_marking(
    service: &SessionService,
    verdict: SessionVerdict,
    request: &mut Request<Body>,
) -> Option<Identity> {
    let identity = identity(verdict);
    if identity.is_none() {
        forget_session_cookie(service, request);
    }
    identity
}

/// The cookie names no live session (unknown, expired, ended or malformed): the response
/// deletes it, as Django does.
fn forget_session_cookie(service: &SessionService, request: &mut Request<Body>) {
    let settings = &service.settings().session;
    request.extensions_mut().insert(ForgetCookie {
        name: settings.cookie_name.clone(),
        removal: cookies::session_removal(settings),
    });
}

impl Authenticator for SessionAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
        let name = &self.restauth.settings().session.cookie_name;
        let Some(key) = cookies::get(request.headers(), name) else {
            return Outcome::skip();
        };
        if !is_valid_key(key) {
            forget_session_cookie(&self.restauth, request);
            return Outcome::skip();
        }
        if let Some(verdict) = self.restauth.authenticate_session_now(key) {
            let identity = identity_marking(&self.restauth, verdict, request);
            if identity.is_none() || is_csrf_exempt_method(request.method()) {
                return Outcome::Ready(Ok(identity));
            }
            return Outcome::Pending(Box::pin(self.finish(identity, request)));
        }
        let key = key.to_owned();
        Outcome::Pending(Box::pin(async move {
            let verdict = self.restauth.authenticate_session(&key).await?;
            let identity = identity_marking(&self.restauth, verdict, request);
            self.finish(identity, request).await
        }))
    }

    fn authenticate_header(&self) -> Option<HeaderValue> {
        self.restauth
            .settings()
            .session
            .www_authenticate
            .then(|| HeaderValue::from_static("Session"))
    }

    /// Without a `Cookie` header a request has no session cookie.
    fn credentials_header(&self) -> Option<http::HeaderName> {
        Some(http::header::COOKIE)
    }

    /// Before its future runs it only reads the request, the caches and the store.
    fn retry_safe(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "session"
    }
}
