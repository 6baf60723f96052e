//! DRF's `SessionAuthentication`: the `sessionid` cookie, with Django's CSRF check for
//! authenticated, active users on unsafe methods (also on `AllowAny` routes).
//!
//! A cookie that is missing, malformed, unknown, expired or belongs to an inactive user makes
//! the request anonymous — and then, as in DRF, no CSRF check is made.

use axum::body::Body;
use http::{HeaderValue, Request};

use super::SessionService;
use crate::core::request::is_csrf_exempt_method;
use crate::core::user::{AuthInfo, Identity};
use crate::pipeline::authentication::{Authentication, Authenticator, ForgetCookie, Outcome};
use crate::session::cookies;
use crate::session::csrf::Csrf;
use crate::session::{SessionVerdict, is_valid_key};

/// DRF's `SessionAuthentication`: Django's session cookie, then Django's CSRF check on
/// unsafe methods once the session authenticates. Without a session the next class decides.
pub struct SessionAuthentication {
    sessions: SessionService,
    csrf: Csrf,
}

impl SessionAuthentication {
    /// The class over the session service and the CSRF check.
    pub fn new(sessions: SessionService, csrf: Csrf) -> Self {
        SessionAuthentication { sessions, csrf }
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

impl SessionAuthentication {
    async fn finish(
        &self,
        identity: Option<Identity>,
        request: &mut Request<Body>,
    ) -> Authentication {
        if identity.is_some() {
            self.csrf.enforce(request).await?;
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
    let settings = service.settings();
    request.extensions_mut().insert(ForgetCookie {
        name: settings.cookie_name.clone(),
        removal: cookies::session_removal(settings),
    });
}

impl Authenticator for SessionAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
        let name = &self.sessions.settings().cookie_name;
        let Some(key) = cookies::get(request.headers(), name) else {
            return Outcome::skip();
        };
        if !is_valid_key(key) {
            forget_session_cookie(&self.sessions, request);
            return Outcome::skip();
        }
        if let Some(verdict) = self.sessions.authenticate_session_at_once(key) {
            let identity = identity_marking(&self.sessions, verdict, request);
            if identity.is_none() || is_csrf_exempt_method(request.method()) {
                return Outcome::Ready(Ok(identity));
            }
            return Outcome::Pending(Box::pin(self.finish(identity, request)));
        }
        let key = key.to_owned();
        Outcome::Pending(Box::pin(async move {
            let verdict = self.sessions.authenticate_session(&key).await?;
            let identity = identity_marking(&self.sessions, verdict, request);
            self.finish(identity, request).await
        }))
    }

    fn authenticate_header(&self) -> Option<HeaderValue> {
        self.sessions
            .settings()
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
