//! DRF's `BasicAuthentication`: `Authorization: Basic base64(username:password)`.
//!
//! Every request verifies a password, so it goes through the bounded hashing pool like a login.

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderValue, Request};

use crate::core::error::Error;
use crate::core::user::{AuthInfo, Identity};
use crate::pipeline::audit::Source;
use crate::pipeline::authentication::{Authenticator, Outcome, authorization, scheme_parts};
use crate::users::Login;

pub(crate) const NO_CREDENTIALS: &str = "Invalid basic header. No credentials provided.";
pub(crate) const SPACES: &str =
    "Invalid basic header. Credentials string should not contain spaces.";
pub(crate) const NOT_BASE64: &str =
    "Invalid basic header. Credentials not correctly base64 encoded.";
pub(crate) const INVALID_CREDENTIALS: &str = "Invalid username/password.";

/// DRF's `BasicAuthentication`: `Authorization: Basic <base64 of username:password>`, a
/// throttled password check on every request. Its challenge is `Basic realm="api"`.
pub struct BasicAuthentication {
    login: Login,
}

impl BasicAuthentication {
    /// The class over `login`, whose throttles guard each password check.
    pub fn new(login: Login) -> Self {
        BasicAuthentication { login }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    NotMine,
    Refused(&'static str),
    Credentials { username: String, password: String },
}

pub(crate) fn parse(value: &[u8]) -> Parsed {
    let Some(parts) = scheme_parts(value) else {
        return Parsed::NotMine;
    };
    if !parts.scheme.eq_ignore_ascii_case(b"basic") {
        return Parsed::NotMine;
    }
    let raw = match (parts.credentials, parts.extra) {
        (None, _) => return Parsed::Refused(NO_CREDENTIALS),
        (Some(_), true) => return Parsed::Refused(SPACES),
        (Some(raw), false) => raw,
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(raw) else {
        return Parsed::Refused(NOT_BASE64);
    };
    // UTF-8 first, Latin-1 as the fallback, as DRF does.
    let text = match String::from_utf8(decoded) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    match text.split_once(':') {
        Some((user, pass)) => Parsed::Credentials {
            username: user.to_owned(),
            password: pass.to_owned(),
        },
        None => Parsed::Refused(NOT_BASE64),
    }
}

impl Authenticator for BasicAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
        let Some(value) = authorization(request.headers()) else {
            return Outcome::skip();
        };
        let (username, password) = match parse(&value) {
            Parsed::NotMine => return Outcome::skip(),
            Parsed::Refused(msg) => return Outcome::Ready(Err(Error::authentication_failed(msg))),
            Parsed::Credentials { username, password } => (username, password),
        };
        let client = match self
            .login
            .throttles()
            .client_of(request.headers(), request.extensions())
        {
            Ok(client) => client,
            Err(e) => return Outcome::Ready(Err(e)),
        };
        let source = Source::with_client(client, request.headers());
        Outcome::Pending(Box::pin(async move {
            match self
                .login
                .authenticate(&username, &password, "basic", &source)
                .await?
            {
                Some(user) => Ok(Some(Identity::authenticated(user, AuthInfo::Basic))),
                None => Err(Error::authentication_failed(INVALID_CREDENTIALS)),
            }
        }))
    }

    fn authenticate_header(&self) -> Option<HeaderValue> {
        Some(HeaderValue::from_static("Basic realm=\"api\""))
    }

    /// Without an `Authorization` header a request is never this scheme's.
    fn credentials_header(&self) -> Option<http::HeaderName> {
        Some(http::header::AUTHORIZATION)
    }

    /// Before its future runs it only reads the request and the caches.
    fn retry_safe(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "basic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_header_rows() {
        assert_eq!(parse(b"Token x"), Parsed::NotMine);
        assert_eq!(parse(b"Basic"), Parsed::Refused(NO_CREDENTIALS));
        assert_eq!(parse(b"Basic a b"), Parsed::Refused(SPACES));
        assert_eq!(parse(b"Basic !!!"), Parsed::Refused(NOT_BASE64));
        // "nocolon"
        assert_eq!(parse(b"Basic bm9jb2xvbg=="), Parsed::Refused(NOT_BASE64));
        // "alice:pa:ss" splits on the first colon
        assert_eq!(
            parse(b"basic YWxpY2U6cGE6c3M="),
            Parsed::Credentials {
                username: "alice".into(),
                password: "pa:ss".into()
            }
        );
        // Latin-1 fallback: "\xe9:x"
        assert_eq!(
            parse(b"Basic 6Tp4"),
            Parsed::Credentials {
                username: "\u{e9}".into(),
                password: "x".into()
            }
        );
    }
}
