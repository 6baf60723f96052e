//! Authentication classes: each recognises one scheme and turns it into a user, or refuses it.
//!
//! As in DRF, a route's authenticators run in order. Each answers one of three things:
//! `Ok(None)` — not my scheme, try the next; `Ok(Some(identity))` — authenticated, stop;
//! `Err(_)` — my scheme but refused, which ends the request even on `AllowAny` routes.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};

use crate::core::error::Error;
use crate::core::user::Identity;

/// What an authenticator decided.
pub type Authentication = Result<Option<Identity>, Error>;

/// A boxed authentication future, for answers that need the store or the hashing pool.
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Authentication> + Send + 'a>>;

/// An authenticator's answer: known at once (the common, cached case, without allocating) or
/// after some asynchronous work.
pub enum Outcome<'a> {
    /// Decided without waiting.
    Ready(Authentication),
    /// Decided after some asynchronous work (a store lookup, a password check).
    Pending(AuthFuture<'a>),
}

impl Outcome<'_> {
    /// The authentication, waiting for it when it is pending.
    pub async fn resolve(self) -> Authentication {
        match self {
            Outcome::Ready(a) => a,
            Outcome::Pending(f) => f.await,
        }
    }

    /// "Not my scheme."
    pub fn skip() -> Self {
        Outcome::Ready(Ok(None))
    }
}

/// DRF's `BaseAuthentication`: a class implements [`authenticate`](Self::authenticate),
/// [`authenticate_header`](Self::authenticate_header) and [`name`](Self::name), as a DRF class
/// implements `authenticate` and `authenticate_header`. The other methods are speed hints with
/// safe defaults.
pub trait Authenticator: Send + Sync + 'static {
    /// Inspects the request. May read the body (and must then put it back).
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a>;

    /// The `WWW-Authenticate` value. When the route's *first* authenticator has none (`None`,
    /// as DRF's `SessionAuthentication`), failed authentication is answered with 403 instead
    /// of 401.
    fn authenticate_header(&self) -> Option<HeaderValue>;

    /// A short name for logs and metrics.
    fn name(&self) -> &'static str;

    /// Whether `authenticate` may be called again for the same request after a `Pending` it
    /// returned was dropped unpolled: true when, before its future runs, it changes neither
    /// the request nor anything else a second call would see twice. A policy whose classes all
    /// say so answers the requests they decide at once (a cached token or session) without a
    /// boxed future; a class that says false, the default, always runs on the async path.
    fn retry_safe(&self) -> bool {
        false
    }

    /// The one header this class takes its credentials from, when a request without that
    /// header is never this class's (`Authorization`, `Cookie`). A policy looks for all its
    /// classes' headers in one pass over the request's and skips a class whose header is
    /// absent, instead of each class looking its own up. `None`, the default: always asked.
    fn credentials_header(&self) -> Option<HeaderName> {
        None
    }
}

/// Makes an authentication class from `C` (the composition root, which holds every service a
/// class may need); registered under a name so settings can list it (DRF's dotted class
/// paths).
pub type ClassFactory<C> = Arc<dyn Fn(&C) -> Arc<dyn Authenticator> + Send + Sync>;

/// The authentication classes by name: the built-in ones and those an app registers. A
/// factory rather than an instance, so that no class holds the root that holds it.
pub struct Registry<C> {
    classes: Vec<(String, ClassFactory<C>)>,
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            classes: Vec::new(),
        }
    }
}

impl<C> Clone for Registry<C> {
    fn clone(&self) -> Self {
        Registry {
            classes: self.classes.clone(),
        }
    }
}

impl<C> Registry<C> {
    /// Registers (or replaces) the class called `name`.
    pub fn register(&mut self, name: &str, factory: ClassFactory<C>) {
        self.classes.retain(|(n, _)| n != name);
        self.classes.push((name.to_owned(), factory));
    }

    /// Whether a class is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.classes.iter().any(|(n, _)| n == name)
    }

    /// The registered names, in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.classes.iter().map(|(n, _)| n.as_str())
    }

    /// A fresh instance of the class called `name`, made from `root`.
    pub fn build(&self, name: &str, root: &C) -> Option<Arc<dyn Authenticator>> {
        let (_, factory) = self.classes.iter().find(|(n, _)| n == name)?;
        Some(factory(root))
    }
}

/// Where a [`Policy`](crate::pipeline::policy::Policy) finds the classes it names: the
/// registry, with what its factories are made from.
pub trait Classes: Send + Sync + 'static {
    /// A fresh instance of the class registered as `name`.
    fn authenticator(&self, name: &str) -> Option<Arc<dyn Authenticator>>;

    /// Reads `user`'s groups and permissions into it, for the permission classes that check
    /// them ([`Permission::needs_permissions`](crate::Permission::needs_permissions)). Where
    /// nothing can read them, nothing is loaded and only superusers hold permissions.
    fn load_permissions<'a>(
        &'a self,
        user: &'a crate::core::user::User,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>> {
        let _ = user;
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Left in a request's extensions by an authentication class that wants a cookie gone from
/// the browser (a `sessionid` naming no live session, as Django's session middleware deletes
/// it). The policy adds this `Set-Cookie` unless the response sets that cookie itself.
#[derive(Clone, Debug)]
pub struct ForgetCookie {
    /// The cookie's name.
    pub name: String,
    /// The `Set-Cookie` value that removes it.
    pub removal: HeaderValue,
}

/// The `Authorization` header as raw bytes; several headers are joined with ", " the way a
/// proxy or WSGI server folds them, so they cannot smuggle a second credential past parsing.
pub fn authorization(headers: &HeaderMap) -> Option<Cow<'_, [u8]>> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next()?;
    match values.next() {
        None => Some(Cow::Borrowed(first.as_bytes())),
        Some(second) => {
            let mut joined = first.as_bytes().to_vec();
            for v in std::iter::once(second).chain(values) {
                joined.extend_from_slice(b", ");
                joined.extend_from_slice(v.as_bytes());
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// The bytes Python's `bytes.split()` treats as whitespace, which is how DRF and simplejwt
/// read an `Authorization` header.
pub(crate) fn is_py_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits on runs of whitespace as Python's `bytes.split()` does, ignoring leading and
/// trailing ones.
pub fn split_header(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| is_py_whitespace(b))
        .filter(|part| !part.is_empty())
}

/// A header split into the scheme word and at most two more parts (enough to tell "one",
/// "two" and "more than two"), as [`split_header`] would split it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SchemeParts<'a> {
    pub scheme: &'a [u8],
    pub credentials: Option<&'a [u8]>,
    pub extra: bool,
}

/// Every authenticated request passes here, with credentials of up to a few hundred bytes (a
/// JWT): the scheme is found word by word, and what follows it is checked for whitespace in
/// one pass the compiler vectorises.
pub(crate) fn scheme_parts(value: &[u8]) -> Option<SchemeParts<'_>> {
    let (scheme, rest) = scheme_and_rest(value)?;
    if rest.is_empty() {
        return Some(SchemeParts {
            scheme,
            credentials: None,
            extra: false,
        });
    }
    let spaced = rest
        .iter()
        .fold(false, |seen, &b| seen | is_py_whitespace(b));
    // Trimmed at both ends, whitespace inside means a third word.
    let credentials = match spaced {
        false => rest,
        true => rest.split(|&b| is_py_whitespace(b)).next().unwrap_or(rest),
    };
    Some(SchemeParts {
        scheme,
        credentials: Some(credentials),
        extra: spaced,
    })
}

/// The scheme word and everything after the whitespace that follows it, trimmed at the end,
/// without looking inside: when the rest is a credential known to hold no whitespace (a key
/// found in a cache of verified ones), the header is the two words [`scheme_parts`] would find.
pub(crate) fn scheme_and_rest(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let value = trim_start(value);
    let scheme_end = value
        .iter()
        .position(|&b| is_py_whitespace(b))
        .unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    (!scheme.is_empty()).then(|| (scheme, trim_end(trim_start(rest))))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_py_whitespace(b))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// Every header made of up to `count` of `pieces`, for tests that compare a parser with
/// Python's split.
#[cfg(test)]
pub(crate) fn headers_of(pieces: &[&[u8]], count: usize) -> Vec<Vec<u8>> {
    let mut headers = vec![Vec::new()];
    for _ in 0..count {
        let longer: Vec<Vec<u8>> = headers
            .iter()
            .flat_map(|header| pieces.iter().map(move |piece| [header, *piece].concat()))
            .collect();
        headers.extend(longer);
    }
    headers
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&b| !is_py_whitespace(b))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_python_bytes_split() {
        let parts: Vec<&[u8]> = split_header(b"  Token \t abc  ").collect();
        assert_eq!(parts, vec![&b"Token"[..], &b"abc"[..]]);
        assert_eq!(split_header(b"").count(), 0);
        assert_eq!(split_header(b"   ").count(), 0);
    }

    #[test]
    fn scheme_parts_agree_with_split_header_on_every_short_header() {
        let pieces: [&[u8]; 6] = [b"Token", b" ", b"\x0b", b"a.b", b"\t\r", b"\xff"];
        let cases = headers_of(&pieces, 5);
        for case in &cases {
            let mut words = split_header(case);
            let expected = words.next().map(|scheme| SchemeParts {
                scheme,
                credentials: words.next(),
                extra: words.next().is_some(),
            });
            assert_eq!(
                scheme_parts(case),
                expected,
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    /// What the JWT class relies on to look a token up before parsing: when the rest after
    /// the scheme holds no whitespace, the header is exactly those two words.
    #[test]
    fn a_rest_without_whitespace_is_the_second_of_two_words() {
        let pieces: [&[u8]; 6] = [b"Bearer", b" ", b"\x0b", b"a.b", b"\t\r", b"\xff"];
        let mut checked = 0;
        for case in headers_of(&pieces, 5) {
            let Some((scheme, rest)) = scheme_and_rest(&case) else {
                assert_eq!(split_header(&case).next(), None);
                continue;
            };
            if rest.is_empty() || rest.iter().any(|&b| is_py_whitespace(b)) {
                continue;
            }
            let words: Vec<&[u8]> = split_header(&case).collect();
            assert_eq!(
                words,
                [scheme, rest],
                "{:?}",
                String::from_utf8_lossy(&case)
            );
            checked += 1;
        }
        assert!(checked > 1_000, "{checked}");
    }

    #[test]
    fn duplicate_headers_are_folded() {
        let mut h = HeaderMap::new();
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Token a"));
        h.append(header::AUTHORIZATION, HeaderValue::from_static("Token b"));
        assert_eq!(authorization(&h).unwrap().as_ref(), b"Token a, Token b");
    }
}
