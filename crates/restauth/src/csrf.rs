//! Django's CSRF protection (4.1+/5.x), as a pure function over the parts of a request.
//!
//! The secret lives in the `csrftoken` cookie (32 characters of `[a-zA-Z0-9]`); pages and
//! JavaScript send it back masked (64 characters: a random mask followed by the secret shifted
//! by it, so the token differs on every page against BREACH) or unmasked, in the
//! `csrfmiddlewaretoken` form field or the `X-CSRFToken` header. The reason strings are
//! Django's, byte for byte, because clients and tests match on them.

use http::Method;
use subtle::ConstantTimeEq;

pub const CSRF_SECRET_LENGTH: usize = 32;
pub const CSRF_TOKEN_LENGTH: usize = 64;

/// Django's alphabet, in Django's order (`ascii_letters + digits`): the masking arithmetic
/// depends on it.
const CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A refused request and Django's reason for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfFailure {
    reason: String,
    bad_cookie: bool,
}

impl CsrfFailure {
    fn new(reason: impl Into<String>) -> Self {
        CsrfFailure {
            reason: reason.into(),
            bad_cookie: false,
        }
    }

    /// The text after `CSRF Failed: `.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// True when the cookie itself was malformed; Django then sends a fresh one.
    pub fn cookie_needs_reset(&self) -> bool {
        self.bad_cookie
    }
}

fn index(c: u8) -> Option<usize> {
    match c {
        b'a'..=b'z' => Some(usize::from(c - b'a')),
        b'A'..=b'Z' => Some(usize::from(c - b'A') + 26),
        b'0'..=b'9' => Some(usize::from(c - b'0') + 52),
        _ => None,
    }
}

/// `len` characters of the alphabet from the OS CSPRNG, without modulo bias.
fn random_string(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        if getrandom::fill(&mut buf).is_err() {
            // No randomness means no safe token; an empty string fails every check.
            return String::new();
        }
        // 248 = 4 × 62: bytes above are rejected so every character is equally likely.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(CHARS[usize::from(b % 62)]));
        }
    }
    out
}

/// A new 32-character secret for the `csrftoken` cookie.
pub fn new_secret() -> String {
    random_string(CSRF_SECRET_LENGTH)
}

/// The 64-character masked form of `secret` (a fresh mask each call).
pub fn mask_secret(secret: &str) -> String {
    let mask = random_string(CSRF_SECRET_LENGTH);
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .filter_map(|(s, m)| Some(char::from(CHARS[(index(s)? + index(m)?) % 62])))
        .collect();
    mask + &cipher
}

/// The secret inside a 64-character masked token. The caller has checked the format.
pub fn unmask_token(token: &str) -> String {
    let (mask, cipher) = token
        .as_bytes()
        .split_at(token.len().min(CSRF_SECRET_LENGTH));
    cipher
        .iter()
        .zip(mask)
        .filter_map(|(&c, &m)| Some(char::from(CHARS[(index(c)? + 62 - index(m)?) % 62])))
        .collect()
}

/// Django's `_check_token_format`: the reason fragment when the token is malformed.
fn format_problem(token: &str) -> Option<&'static str> {
    if token.len() != CSRF_TOKEN_LENGTH && token.len() != CSRF_SECRET_LENGTH {
        return Some("has incorrect length");
    }
    if token.bytes().any(|b| index(b).is_none()) {
        return Some("has invalid characters");
    }
    None
}

/// Reads the `csrftoken` cookie: a 32-character secret, or a legacy 64-character masked token.
pub fn secret_from_cookie(value: &str) -> Result<String, CsrfFailure> {
    if let Some(problem) = format_problem(value) {
        return Err(CsrfFailure {
            reason: format!("CSRF cookie {problem}."),
            bad_cookie: true,
        });
    }
    Ok(if value.len() == CSRF_TOKEN_LENGTH {
        unmask_token(value)
    } else {
        value.to_owned()
    })
}

/// What the check needs to know about a request.
pub struct CsrfRequest<'a> {
    pub method: &'a Method,
    /// The request arrived over HTTPS (the caller decides, including a trusted proxy header).
    pub is_secure: bool,
    /// The `Host` (host[:port]).
    pub host: &'a str,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    /// The raw `csrftoken` cookie value.
    pub cookie: Option<&'a str>,
    /// `csrfmiddlewaretoken` of a form-encoded POST body.
    pub form_token: Option<&'a str>,
    /// The `X-CSRFToken` header.
    pub header_token: Option<&'a str>,
    /// `"https://example.com"` or `"https://*.example.com"` entries.
    pub trusted_origins: &'a [String],
    pub cookie_domain: Option<&'a str>,
}

/// Django's `CsrfViewMiddleware.process_view`, in its order.
pub fn check(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    if matches!(
        *req.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return Ok(());
    }
    if let Some(origin) = req.origin {
        if !origin_verified(req, origin) {
            return Err(CsrfFailure::new(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )));
        }
    } else if req.is_secure {
        check_referer(req)?;
    }
    check_token(req)
}

/// Django's `is_same_domain`: exact, or a `.example.com` pattern matching it and subdomains.
fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(&pattern) || host == bare,
        None => host == pattern,
    }
}

/// `(scheme, netloc)` of an absolute URL, as Python's `urlsplit` would give them.
fn scheme_and_netloc(url: &str) -> (&str, &str) {
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.as_bytes()[0].is_ascii_alphabetic()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (s, r)
        }
        _ => ("", url),
    };
    let netloc = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    (scheme, netloc)
}

fn origin_verified(req: &CsrfRequest<'_>, origin: &str) -> bool {
    let scheme = if req.is_secure { "https" } else { "http" };
    if !req.host.is_empty() && origin == format!("{scheme}://{}", req.host) {
        return true;
    }
    if req
        .trusted_origins
        .iter()
        .any(|t| !t.contains('*') && t == origin)
    {
        return true;
    }
    let (origin_scheme, origin_netloc) = scheme_and_netloc(origin);
    req.trusted_origins
        .iter()
        .filter(|t| t.contains('*'))
        .map(|t| scheme_and_netloc(t))
        .any(|(s, netloc)| {
            s.eq_ignore_ascii_case(origin_scheme)
                && is_same_domain(origin_netloc, netloc.trim_start_matches('*'))
        })
}

fn check_referer(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    let Some(referer) = req.referer else {
        return Err(CsrfFailure::new("Referer checking failed - no Referer."));
    };
    let (scheme, netloc) = scheme_and_netloc(referer);
    if scheme.is_empty() || netloc.is_empty() || referer.chars().any(char::is_control) {
        return Err(CsrfFailure::new(
            "Referer checking failed - Referer is malformed.",
        ));
    }
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(CsrfFailure::new(
            "Referer checking failed - Referer is insecure while host is secure.",
        ));
    }
    let trusted = req
        .trusted_origins
        .iter()
        .map(|t| scheme_and_netloc(t).1.trim_start_matches('*'))
        .any(|host| is_same_domain(netloc, host));
    if trusted {
        return Ok(());
    }
    let good = match req.cookie_domain {
        None => req.host.to_owned(),
        Some(domain) => match req.host.rsplit_once(':').map(|(_, p)| p) {
            Some(port)
                if port != "443" && port != "80" && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("{domain}:{port}")
            }
            _ => domain.to_owned(),
        },
    };
    if is_same_domain(netloc, &good) {
        Ok(())
    } else {
        Err(CsrfFailure::new(format!(
            "Referer checking failed - {referer} does not match any trusted origins."
        )))
    }
}

fn check_token(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    let Some(cookie) = req.cookie else {
        return Err(CsrfFailure::new("CSRF cookie not set."));
    };
    let secret = secret_from_cookie(cookie)?;
    let (token, source) = match (req.form_token.filter(|t| !t.is_empty()), req.header_token) {
        (Some(t), _) => (t, "POST"),
        (None, Some(t)) => (t, "the 'X-Csrftoken' HTTP header"),
        (None, None) => return Err(CsrfFailure::new("CSRF token missing.")),
    };
    if let Some(problem) = format_problem(token) {
        return Err(CsrfFailure::new(format!(
            "CSRF token from {source} {problem}."
        )));
    }
    let presented = if token.len() == CSRF_TOKEN_LENGTH {
        unmask_token(token)
    } else {
        token.to_owned()
    };
    if bool::from(presented.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(CsrfFailure::new(format!(
            "CSRF token from {source} incorrect."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcdefghijABCDEFGHIJ0123456789xy";

    fn request<'a>(
        method: &'a Method,
        cookie: Option<&'a str>,
        header: Option<&'a str>,
    ) -> CsrfRequest<'a> {
        CsrfRequest {
            method,
            is_secure: false,
            host: "testserver",
            origin: None,
            referer: None,
            cookie,
            form_token: None,
            header_token: header,
            trusted_origins: &[],
            cookie_domain: None,
        }
    }

    fn reason(r: &CsrfRequest<'_>) -> String {
        check(r).map_or_else(|e| e.reason().to_owned(), |()| "ok".into())
    }

    #[test]
    fn secrets_are_32_chars_of_the_alphabet_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let s = new_secret();
            assert_eq!(s.len(), 32);
            assert!(s.bytes().all(|b| index(b).is_some()));
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn masking_round_trips_and_differs_each_time() {
        let a = mask_secret(SECRET);
        let b = mask_secret(SECRET);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(unmask_token(&a), SECRET);
        assert_eq!(unmask_token(&b), SECRET);
    }

    #[test]
    fn djangos_masking_arithmetic() {
        // mask "b…" shifts each character by one place of Django's alphabet; z wraps to A, 9 to a.
        let mask = "b".repeat(32);
        let secret = "az9".repeat(10) + "aa";
        let masked = mask.clone() + &"bAa".repeat(10) + "bb";
        assert_eq!(unmask_token(&masked), secret);
    }

    #[test]
    fn safe_methods_pass_without_anything() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert_eq!(reason(&request(&m, None, None)), "ok");
        }
    }

    #[test]
    fn token_reasons() {
        let post = Method::POST;
        let masked = mask_secret(SECRET);
        let other = mask_secret(&new_secret());
        let umlauts = "ü".repeat(16);
        let cases: Vec<(Option<&str>, Option<&str>, &str)> = vec![
            (None, Some(SECRET), "CSRF cookie not set."),
            (
                Some("short"),
                Some(SECRET),
                "CSRF cookie has incorrect length.",
            ),
            (
                Some("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"),
                Some(SECRET),
                "CSRF cookie has invalid characters.",
            ),
            (Some(SECRET), None, "CSRF token missing."),
            (
                Some(SECRET),
                Some("abc"),
                "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
            ),
            (
                Some(SECRET),
                Some(umlauts.as_str()),
                "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
            ),
            (
                Some(SECRET),
                Some(other.as_str()),
                "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
            ),
            (
                Some(SECRET),
                Some(""),
                "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
            ),
            (Some(SECRET), Some(SECRET), "ok"),
            (Some(SECRET), Some(masked.as_str()), "ok"),
            // A legacy 64-character cookie is unmasked on read.
            (Some(masked.as_str()), Some(SECRET), "ok"),
        ];
        for (cookie, header, expected) in cases {
            assert_eq!(
                reason(&request(&post, cookie, header)),
                expected,
                "{cookie:?} {header:?}"
            );
        }
    }

    #[test]
    fn the_form_field_comes_before_the_header() {
        let post = Method::POST;
        let mut r = request(&post, Some(SECRET), Some(SECRET));
        r.form_token = Some("x".repeat(32).leak());
        assert_eq!(reason(&r), "CSRF token from POST incorrect.");
        r.form_token = Some("");
        assert_eq!(reason(&r), "ok");
    }

    #[test]
    fn bad_cookies_ask_for_a_reset() {
        assert!(
            secret_from_cookie("short")
                .unwrap_err()
                .cookie_needs_reset()
        );
        assert_eq!(secret_from_cookie(SECRET).unwrap(), SECRET);
    }

    #[test]
    fn origin_rules() {
        let post = Method::POST;
        let trusted = vec![
            "https://app.example.com".to_owned(),
            "https://*.corp.example".to_owned(),
        ];
        let mut r = request(&post, Some(SECRET), Some(SECRET));
        r.trusted_origins = &trusted;
        for (origin, ok) in [
            ("http://testserver", true),
            ("https://testserver", false),
            ("https://evil.example", false),
            ("https://app.example.com", true),
            ("https://a.corp.example", true),
            ("https://corp.example", true),
            ("http://a.corp.example", false),
            ("null", false),
        ] {
            r.origin = Some(origin);
            let expected = if ok {
                "ok".to_owned()
            } else {
                format!("Origin checking failed - {origin} does not match any trusted origins.")
            };
            assert_eq!(reason(&r), expected, "{origin}");
        }
    }

    #[test]
    fn referer_rules_on_https() {
        let post = Method::POST;
        let mut r = request(&post, Some(SECRET), Some(SECRET));
        r.is_secure = true;
        assert_eq!(reason(&r), "Referer checking failed - no Referer.");
        for (referer, expected) in [
            ("garbage", "Referer checking failed - Referer is malformed."),
            (
                "https://",
                "Referer checking failed - Referer is malformed.",
            ),
            (
                "http://testserver/x",
                "Referer checking failed - Referer is insecure while host is secure.",
            ),
            (
                "https://evil.example/x",
                "Referer checking failed - https://evil.example/x does not match any trusted origins.",
            ),
            ("https://testserver/page", "ok"),
        ] {
            r.referer = Some(referer);
            assert_eq!(reason(&r), expected, "{referer}");
        }
        // With a cookie domain, subdomains match; the port of a non-default host is kept.
        r.cookie_domain = Some(".example.com");
        r.host = "www.example.com:8443";
        r.referer = Some("https://app.example.com:8443/x");
        assert_eq!(reason(&r), "ok");
        r.referer = Some("https://app.example.com/x");
        assert!(reason(&r).ends_with("does not match any trusted origins."));
    }

    #[test]
    fn hostile_input_never_panics() {
        let post = Method::POST;
        for v in [
            "",
            "é",
            "\u{0}",
            &"a".repeat(10_000),
            "ü".repeat(32).as_str(),
            "::::",
            "https://[",
            "//",
        ] {
            let mut r = request(&post, Some(v), Some(v));
            r.origin = Some(v);
            let _ = check(&r);
            r.origin = None;
            r.is_secure = true;
            r.referer = Some(v);
            let _ = check(&r);
            let _ = unmask_token(v);
            let _ = secret_from_cookie(v);
        }
    }
}
