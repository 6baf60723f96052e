//! DRF's `TokenAuthentication`: `Authorization: Token <key>`.

use axum::body::Body;
use http::{HeaderValue, Request};

use super::TokenService;
use crate::core::error::Error;
use crate::core::user::{AuthInfo, Identity};
use crate::pipeline::authentication::{
    Authentication, Authenticator, Outcome, authorization, is_py_whitespace, scheme_parts,
};
use crate::token::{KeyVerdict, TokenRejection};

pub(crate) const NO_CREDENTIALS: &str = "Invalid token header. No credentials provided.";
pub(crate) const SPACES: &str = "Invalid token header. Token string should not contain spaces.";
pub(crate) const INVALID_CHARACTERS: &str =
    "Invalid token header. Token string should not contain invalid characters.";
pub(crate) const INVALID_TOKEN: &str = "Invalid token.";
pub(crate) const INACTIVE: &str = "User inactive or deleted.";

/// DRF's `TokenAuthentication`: `Authorization: Token <key>` (the scheme word is
/// `token.keyword`), answered from the read cache when it can.
pub struct TokenAuthentication {
    tokens: TokenService,
    keyword: String,
    challenge: HeaderValue,
}

impl TokenAuthentication {
    /// The class over the token service.
    pub fn new(tokens: TokenService) -> Self {
        let keyword = tokens.settings().keyword.clone();
        let challenge =
            HeaderValue::from_str(&keyword).unwrap_or_else(|_| HeaderValue::from_static("Token"));
        TokenAuthentication {
            tokens,
            keyword,
            challenge,
        }
    }
}

/// What the header says, before any lookup.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    NotMine,
    Refused(&'static str),
    Key(&'a str),
}

pub(crate) fn parse<'a>(value: &'a [u8], keyword: &str) -> Parsed<'a> {
    match usual_form(value, keyword) {
        Some(key) => Parsed::Key(key),
        None => full_rules(value, keyword),
    }
}

/// DRF's reading of the header, word by word.
fn full_rules<'a>(value: &'a [u8], keyword: &str) -> Parsed<'a> {
    let Some(parts) = scheme_parts(value) else {
        return Parsed::NotMine;
    };
    if !parts.scheme.eq_ignore_ascii_case(keyword.as_bytes()) {
        return Parsed::NotMine;
    }
    match (parts.credentials, parts.extra) {
        (None, _) => Parsed::Refused(NO_CREDENTIALS),
        (Some(_), true) => Parsed::Refused(SPACES),
        (Some(raw), false) => match std::str::from_utf8(raw) {
            Ok(key) => Parsed::Key(key),
            Err(_) => Parsed::Refused(INVALID_CHARACTERS),
        },
    }
}

/// The key of the header every client sends, `<keyword> <key>` with a single space and a key
/// of visible ASCII, found in one pass over the key: such a header holds no whitespace to
/// split on and no byte that is not UTF-8, so the full rules would find the same key. `None`
/// for any other header, which those rules then read.
fn usual_form<'a>(value: &'a [u8], keyword: &str) -> Option<&'a str> {
    let (scheme, rest) = value.split_at_checked(keyword.len())?;
    let key = rest.strip_prefix(b" ")?;
    let visible = key.iter().fold(true, |ok, &b| ok & (b > b' ' && b < 0x7f));
    let usual = visible
        && !key.is_empty()
        && scheme.eq_ignore_ascii_case(keyword.as_bytes())
        && !keyword.bytes().any(is_py_whitespace);
    usual.then(|| std::str::from_utf8(key).ok()).flatten()
}

fn identity(verdict: KeyVerdict) -> Authentication {
    match verdict {
        Ok((token, user)) => Ok(Some(Identity::authenticated(
            user,
            AuthInfo::Token { token_id: token.id },
        ))),
        Err(TokenRejection::Invalid) => Err(Error::authentication_failed(INVALID_TOKEN)),
        Err(TokenRejection::Inactive) => Err(Error::authentication_failed(INACTIVE)),
    }
}

impl Authenticator for TokenAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
        let Some(value) = authorization(request.headers()) else {
            return Outcome::skip();
        };
        let key = match parse(&value, &self.keyword) {
            Parsed::NotMine => return Outcome::skip(),
            Parsed::Refused(msg) => return Outcome::Ready(Err(Error::authentication_failed(msg))),
            Parsed::Key(key) => key,
        };
        if let Some(verdict) = self.tokens.authenticate_key_at_once(key) {
            return Outcome::Ready(identity(verdict));
        }
        let key = key.to_owned();
        Outcome::Pending(Box::pin(async move {
            identity(self.tokens.authenticate_key(&key).await?)
        }))
    }

    fn authenticate_header(&self) -> Option<HeaderValue> {
        Some(self.challenge.clone())
    }

    /// Without an `Authorization` header a request is never this scheme's.
    fn credentials_header(&self) -> Option<http::HeaderName> {
        Some(http::header::AUTHORIZATION)
    }

    /// Before its future runs it only reads the request, the caches and the store.
    fn retry_safe(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "token"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_header_rows() {
        assert_eq!(parse(b"", "Token"), Parsed::NotMine);
        assert_eq!(parse(b"Bearer x", "Token"), Parsed::NotMine);
        assert_eq!(parse(b"Token", "Token"), Parsed::Refused(NO_CREDENTIALS));
        assert_eq!(parse(b"Token ", "Token"), Parsed::Refused(NO_CREDENTIALS));
        assert_eq!(parse(b"Token a b", "Token"), Parsed::Refused(SPACES));
        assert_eq!(
            parse(b"Token \xff\xfe", "Token"),
            Parsed::Refused(INVALID_CHARACTERS)
        );
        assert_eq!(parse(b"token abc", "Token"), Parsed::Key("abc"));
        assert_eq!(parse(b"TOKEN abc", "Token"), Parsed::Key("abc"));
        assert_eq!(parse(b"Tokens abc", "Token"), Parsed::NotMine);
    }

    /// The one-pass reading of the usual header finds what the full rules find, on every
    /// short header made of these pieces, and on keywords that are not one word.
    #[test]
    fn the_usual_form_agrees_with_the_full_rules() {
        let pieces: [&[u8]; 8] = [
            b"Token",
            b" ",
            b"\t",
            b"ab",
            b"\x0c",
            b"\x7f",
            b"\xc3\xa9",
            b"tOKEN",
        ];
        let cases = crate::pipeline::authentication::headers_of(&pieces, 4);
        for keyword in ["Token", "Tok en", "T"] {
            for header in &cases {
                let full = full_rules(header, keyword);
                assert!(
                    usual_form(header, keyword).is_none_or(|key| full == Parsed::Key(key)),
                    "{header:?} with {keyword:?}"
                );
                assert_eq!(parse(header, keyword), full, "{header:?} with {keyword:?}");
            }
        }
        assert_eq!(usual_form(b"Token abc", "Token"), Some("abc"));
    }
}
