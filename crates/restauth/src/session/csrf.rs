//! Django-compatible CSRF protection (Django 4.1+ / 5.x `CsrfViewMiddleware`).
//!
//! The `csrftoken` cookie holds a 32-character secret; forms and the `X-CSRFToken` header carry
//! either that secret or a 64-character masked copy of it (a fresh mask per response, against
//! BREACH). Everything here is pure: the caller extracts the headers, cookie and form field and
//! turns a [`CsrfFailure`] into `403 {"detail":"CSRF Failed: <reason>"}`.

use http::Method;
use subtle::ConstantTimeEq;

use crate::session::safe_url::{SplitUrl, split_url};

/// Length of the secret stored in the `csrftoken` cookie.
pub const CSRF_SECRET_LENGTH: usize = 32;
/// Length of a masked token: a 32-character mask followed by a 32-character cipher.
pub const CSRF_TOKEN_LENGTH: usize = 64;

/// Python's `ascii_letters + digits`; the masking arithmetic depends on this order.
const ALLOWED_CHARS: &[u8; 62] = crate::core::random::ALPHANUMERIC;
const ALPHABET_SIZE: usize = ALLOWED_CHARS.len();

/// How the header source is named in reasons (Django renders `HTTP_X_CSRFTOKEN` this way).
const HEADER_SOURCE: &str = "the 'X-Csrftoken' HTTP header";
const FORM_SOURCE: &str = "POST";

/// A new random secret: 32 characters of `[a-zA-Z0-9]` from the operating system's CSPRNG.
pub fn new_secret() -> String {
    random_string(CSRF_SECRET_LENGTH)
}

/// Masks `secret` with a fresh random mask: returns `mask + cipher` (64 characters), where
/// `cipher[i] = chars[(idx(secret[i]) + idx(mask[i])) % 62]`.
///
/// `secret` must be a valid secret (from [`new_secret`] or [`secret_from_cookie`]); a character
/// outside the alphabet is treated as `a`.
pub fn mask_secret(secret: &str) -> String {
    let mask = random_string(CSRF_SECRET_LENGTH);
    mask_with(secret, &mask)
}

fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let sum = char_index(s).unwrap_or(0) + char_index(m).unwrap_or(0);
            char::from(ALLOWED_CHARS[sum % ALPHABET_SIZE])
        })
        .collect();
    format!("{mask}{cipher}")
}

/// Recovers the 32-character secret from a 64-character masked token.
///
/// The caller is expected to have checked the format; anything that is not 64 characters of
/// the alphabet yields an empty string, which never matches a secret.
pub fn unmask_token(token: &str) -> String {
    let bytes = token.as_bytes();
    if bytes.len() != CSRF_TOKEN_LENGTH {
        return String::new();
    }
    let (mask, cipher) = bytes.split_at(CSRF_SECRET_LENGTH);
    let mut secret = String::with_capacity(CSRF_SECRET_LENGTH);
    for (&c, &m) in cipher.iter().zip(mask) {
        let (Some(c), Some(m)) = (char_index(c), char_index(m)) else {
            return String::new();
        };
        secret.push(char::from(
            ALLOWED_CHARS[(c + ALPHABET_SIZE - m) % ALPHABET_SIZE],
        ));
    }
    secret
}

/// Reads the `csrftoken` cookie value: a 32-character secret, or a legacy 64-character masked
/// token (unmasked here). A bad length or alphabet gives the reason Django reports, with
/// [`CsrfFailure::cookie_needs_reset`] set.
pub fn secret_from_cookie(value: &str) -> Result<String, CsrfFailure> {
    check_format(value).map_err(|error| CsrfFailure {
        reason: format!("CSRF cookie {}.", error.text()),
        reset_cookie: true,
    })?;
    if value.len() == CSRF_TOKEN_LENGTH {
        Ok(unmask_token(value))
    } else {
        Ok(value.to_owned())
    }
}

/// What [`check`] needs to know about a request. All values are raw header/cookie/field values.
#[derive(Debug, Clone, Copy)]
pub struct CsrfRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// Whether the request arrived over HTTPS (the caller decides, including a trusted
    /// `X-Forwarded-Proto`).
    pub is_secure: bool,
    /// The request's host (`host[:port]`), as Django's `get_host()` gives it.
    pub host: &'a str,
    /// The `Origin` header, if present (even if empty).
    pub origin: Option<&'a str>,
    /// The `Referer` header, if present.
    pub referer: Option<&'a str>,
    /// The raw `csrftoken` cookie value, if any.
    pub cookie: Option<&'a str>,
    /// `csrfmiddlewaretoken` from a form-encoded or multipart body, if any (used for POST only).
    pub form_token: Option<&'a str>,
    /// The `X-CSRFToken` header, if present.
    pub header_token: Option<&'a str>,
    /// `CSRF_TRUSTED_ORIGINS`, e.g. `https://example.com` or `https://*.example.com`.
    pub trusted_origins: &'a [String],
    /// `CSRF_COOKIE_DOMAIN`, if configured (`None` means host-only).
    pub cookie_domain: Option<&'a str>,
}

/// Why a request failed the CSRF check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfFailure {
    reason: String,
    reset_cookie: bool,
}

impl CsrfFailure {
    fn new(reason: String) -> Self {
        Self {
            reason,
            reset_cookie: false,
        }
    }

    /// Django's reason text, e.g. `CSRF cookie not set.` (without the `CSRF Failed: ` prefix).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// True when the `csrftoken` cookie itself was malformed (bad length or characters); Django
    /// then issues a fresh cookie with the 403.
    pub fn cookie_needs_reset(&self) -> bool {
        self.reset_cookie
    }
}

impl std::fmt::Display for CsrfFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CsrfFailure {}

/// Runs Django's CSRF check: safe methods pass; then the Origin check (or, on HTTPS without an
/// `Origin`, the strict Referer check); then the cookie secret; then the request token (form
/// field for POST, else the `X-CSRFToken` header), compared in constant time after unmasking.
pub fn check(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    if crate::core::request::is_csrf_exempt_method(req.method) {
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

fn origin_verified(req: &CsrfRequest<'_>, origin: &str) -> bool {
    let scheme = if req.is_secure { "https" } else { "http" };
    let own_origin = origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"));
    if own_origin == Some(req.host) {
        return true;
    }
    if req
        .trusted_origins
        .iter()
        .any(|trusted| !trusted.contains('*') && trusted == origin)
    {
        return true;
    }
    let Ok(parsed) = split_url(origin) else {
        return false;
    };
    wildcard_origins(req.trusted_origins)
        .filter(|trusted| trusted.scheme == parsed.scheme)
        .any(|trusted| {
            let pattern = trusted.netloc.strip_prefix('*').unwrap_or(&trusted.netloc);
            is_same_domain(&parsed.netloc, pattern)
        })
}

/// Trusted origins containing `*`, parsed; unparsable entries are ignored.
fn wildcard_origins(trusted: &[String]) -> impl Iterator<Item = SplitUrl> + '_ {
    trusted
        .iter()
        .filter(|origin| origin.contains('*'))
        .filter_map(|origin| split_url(origin).ok())
}

fn check_referer(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    let fail = |reason: &str| {
        Err(CsrfFailure::new(format!(
            "Referer checking failed - {reason}"
        )))
    };
    let Some(raw) = req.referer else {
        return fail("no Referer.");
    };
    let referer = match split_url(raw) {
        Ok(url) if !url.scheme.is_empty() && !url.netloc.is_empty() => url,
        _ => return fail("Referer is malformed."),
    };
    if referer.scheme != "https" {
        return fail("Referer is insecure while host is secure.");
    }
    if trusted_referer_hosts(req.trusted_origins).any(|host| is_same_domain(&referer.netloc, &host))
    {
        return Ok(());
    }
    if is_same_domain(&referer.netloc, &good_referer_host(req)) {
        return Ok(());
    }
    fail(&format!(
        "{} does not match any trusted origins.",
        referer.to_url_string()
    ))
}

/// Hosts of all trusted origins, with a leading `*` turned into a subdomain pattern (`.x.com`).
fn trusted_referer_hosts(trusted: &[String]) -> impl Iterator<Item = String> + '_ {
    trusted
        .iter()
        .filter_map(|origin| split_url(origin).ok())
        .map(|url| url.netloc.trim_start_matches('*').to_owned())
}

/// The cookie domain (plus the port when it is not 80/443), or else the request host.
///
/// Django takes the port from the server socket; here it comes from the `Host` value, which is
/// what the browser addressed and therefore what its Referer carries.
fn good_referer_host(req: &CsrfRequest<'_>) -> String {
    let Some(domain) = req.cookie_domain else {
        return req.host.to_owned();
    };
    match host_port(req.host) {
        Some(port) if port != "80" && port != "443" => format!("{domain}:{port}"),
        _ => domain.to_owned(),
    }
}

/// The explicit port of `host[:port]` (IPv6 literals in brackets are handled).
fn host_port(host: &str) -> Option<&str> {
    if host.ends_with(']') {
        return None;
    }
    host.rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.is_empty())
}

/// Django's `is_same_domain`: `pattern` matches `host` exactly, or, when it starts with a dot,
/// matches the domain and all its subdomains. The pattern is lower-cased, the host is not.
fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_lowercase();
    match pattern.strip_prefix('.') {
        Some(domain) => host.ends_with(&pattern) || host == domain,
        None => host == pattern,
    }
}

fn check_token(req: &CsrfRequest<'_>) -> Result<(), CsrfFailure> {
    let secret = match req.cookie {
        Some(value) => secret_from_cookie(value)?,
        None => return Err(CsrfFailure::new("CSRF cookie not set.".to_owned())),
    };
    let form_token = req
        .form_token
        .filter(|token| !token.is_empty() && *req.method == Method::POST);
    let (token, source) = match (form_token, req.header_token) {
        (Some(token), _) => (token, FORM_SOURCE),
        (None, Some(token)) => (token, HEADER_SOURCE),
        (None, None) => return Err(CsrfFailure::new("CSRF token missing.".to_owned())),
    };
    check_format(token)
        .map_err(|error| CsrfFailure::new(format!("CSRF token from {source} {}.", error.text())))?;
    if token_matches(token, &secret) {
        Ok(())
    } else {
        Err(CsrfFailure::new(format!(
            "CSRF token from {source} incorrect."
        )))
    }
}

/// Compares a well-formed request token (32 or 64 characters) with the secret in constant time.
fn token_matches(token: &str, secret: &str) -> bool {
    let candidate = if token.len() == CSRF_TOKEN_LENGTH {
        unmask_token(token)
    } else {
        token.to_owned()
    };
    candidate.as_bytes().ct_eq(secret.as_bytes()).into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatError {
    Length,
    Characters,
}

impl FormatError {
    fn text(self) -> &'static str {
        match self {
            Self::Length => "has incorrect length",
            Self::Characters => "has invalid characters",
        }
    }
}

/// Length is counted in characters (as Python does) before the alphabet is checked.
fn check_format(token: &str) -> Result<(), FormatError> {
    let length = token.chars().count();
    if length != CSRF_SECRET_LENGTH && length != CSRF_TOKEN_LENGTH {
        return Err(FormatError::Length);
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Characters);
    }
    Ok(())
}

fn char_index(c: u8) -> Option<usize> {
    let index = match c {
        b'a'..=b'z' => c - b'a',
        b'A'..=b'Z' => c - b'A' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        _ => return None,
    };
    Some(usize::from(index))
}

fn random_string(len: usize) -> String {
    crate::core::random::string(ALLOWED_CHARS, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const HOST: &str = "testserver";

    fn base<'a>(method: &'a Method, cookie: Option<&'a str>) -> CsrfRequest<'a> {
        CsrfRequest {
            method,
            is_secure: false,
            host: HOST,
            origin: None,
            referer: None,
            cookie,
            form_token: None,
            header_token: None,
            trusted_origins: &[],
            cookie_domain: None,
        }
    }

    fn reason(req: &CsrfRequest<'_>) -> String {
        check(req).unwrap_err().reason().to_owned()
    }

    fn is_alphabet(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    // --- secrets and masking ---

    #[test]
    fn new_secrets_have_the_right_shape_and_are_unique() {
        let mut seen = HashSet::new();
        let mut chars_seen = HashSet::new();
        for _ in 0..10_000 {
            let secret = new_secret();
            assert_eq!(secret.len(), CSRF_SECRET_LENGTH);
            assert!(is_alphabet(&secret), "{secret}");
            chars_seen.extend(secret.bytes());
            assert!(seen.insert(secret), "duplicate secret");
        }
        // 320,000 characters: every one of the 62 must show up.
        assert_eq!(chars_seen.len(), 62);
    }

    #[test]
    fn mask_then_unmask_gives_the_secret() {
        let secret = new_secret();
        let first = mask_secret(&secret);
        let second = mask_secret(&secret);
        assert_eq!(first.len(), CSRF_TOKEN_LENGTH);
        assert!(is_alphabet(&first));
        assert_ne!(first, second, "each mask must be fresh");
        assert_eq!(unmask_token(&first), secret);
        assert_eq!(unmask_token(&second), secret);
    }

    #[test]
    fn masking_uses_django_alphabet_order_and_wraps() {
        // idx('a') = 0, so the cipher equals the mask.
        let mask = "abcdefghijklmnopqrstuvwxyzABCDEF";
        assert_eq!(mask_with(&"a".repeat(32), mask), format!("{mask}{mask}"));
        // idx('b') + idx('9') = 1 + 61 = 62 ≡ 0 → 'a'; idx('Z') + idx('0') = 51 + 52 = 103 ≡ 41 → 'P'.
        let token = mask_with(&"bZ".repeat(16), &"90".repeat(16));
        assert_eq!(&token[32..], "aP".repeat(16));
        assert_eq!(unmask_token(&token), "bZ".repeat(16));
    }

    #[test]
    fn unmask_rejects_bad_input_without_panicking() {
        assert_eq!(unmask_token(""), "");
        assert_eq!(unmask_token(&"a".repeat(63)), "");
        assert_eq!(unmask_token(&format!("{}!", "a".repeat(63))), "");
        assert_eq!(unmask_token(&"é".repeat(32)), "");
    }

    #[test]
    fn cookie_secret_formats() {
        let secret = new_secret();
        assert_eq!(secret_from_cookie(&secret).unwrap(), secret);
        assert_eq!(secret_from_cookie(&mask_secret(&secret)).unwrap(), secret);
        let short = secret_from_cookie("abc").unwrap_err();
        assert_eq!(short.reason(), "CSRF cookie has incorrect length.");
        assert!(short.cookie_needs_reset());
        let bad = secret_from_cookie(&format!("{}-", "a".repeat(31))).unwrap_err();
        assert_eq!(bad.reason(), "CSRF cookie has invalid characters.");
        assert!(bad.cookie_needs_reset());
        // Length is counted in characters, like Python.
        let accented = secret_from_cookie(&"é".repeat(32)).unwrap_err();
        assert_eq!(accented.reason(), "CSRF cookie has invalid characters.");
    }

    // --- token checks ---

    #[test]
    fn safe_methods_pass_without_anything() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            let mut req = base(&method, None);
            req.is_secure = true;
            req.origin = Some("https://evil.example");
            assert_eq!(check(&req), Ok(()));
        }
    }

    #[test]
    fn cookie_not_set() {
        let req = base(&Method::POST, None);
        let failure = check(&req).unwrap_err();
        assert_eq!(failure.reason(), "CSRF cookie not set.");
        assert!(!failure.cookie_needs_reset());
    }

    #[test]
    fn bad_cookie_is_reported_and_needs_reset() {
        let mut req = base(&Method::POST, Some("short"));
        req.header_token = Some("short");
        let failure = check(&req).unwrap_err();
        assert_eq!(failure.reason(), "CSRF cookie has incorrect length.");
        assert!(failure.cookie_needs_reset());
        let empty = base(&Method::POST, Some(""));
        assert_eq!(reason(&empty), "CSRF cookie has incorrect length.");
        let chars = "!".repeat(32);
        let bad = base(&Method::POST, Some(&chars));
        let failure = check(&bad).unwrap_err();
        assert_eq!(failure.reason(), "CSRF cookie has invalid characters.");
        assert!(failure.cookie_needs_reset());
    }

    #[test]
    fn token_missing() {
        let secret = new_secret();
        let req = base(&Method::POST, Some(&secret));
        let failure = check(&req).unwrap_err();
        assert_eq!(failure.reason(), "CSRF token missing.");
        assert!(!failure.cookie_needs_reset());
    }

    #[test]
    fn header_token_format_and_mismatch() {
        let secret = new_secret();
        let mut req = base(&Method::POST, Some(&secret));
        req.header_token = Some("abc");
        assert_eq!(
            reason(&req),
            "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."
        );
        // A present but empty header is a length error, not a missing token.
        req.header_token = Some("");
        assert_eq!(
            reason(&req),
            "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."
        );
        let invalid = format!("{}*", "a".repeat(63));
        req.header_token = Some(&invalid);
        assert_eq!(
            reason(&req),
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters."
        );
        let other = new_secret();
        req.header_token = Some(&other);
        assert_eq!(
            reason(&req),
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
        );
    }

    #[test]
    fn token_masked_from_another_secret_is_incorrect() {
        let secret = new_secret();
        let foreign = mask_secret(&new_secret());
        let mut req = base(&Method::POST, Some(&secret));
        req.header_token = Some(&foreign);
        assert_eq!(
            reason(&req),
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
        );
    }

    #[test]
    fn masked_and_unmasked_tokens_are_accepted_everywhere() {
        let secret = new_secret();
        let masked_cookie = mask_secret(&secret);
        let masked_token = mask_secret(&secret);
        for cookie in [secret.as_str(), masked_cookie.as_str()] {
            for token in [secret.as_str(), masked_token.as_str()] {
                let mut req = base(&Method::POST, Some(cookie));
                req.header_token = Some(token);
                assert_eq!(check(&req), Ok(()), "header {token} with cookie {cookie}");
                let mut req = base(&Method::POST, Some(cookie));
                req.form_token = Some(token);
                assert_eq!(check(&req), Ok(()), "form {token} with cookie {cookie}");
            }
        }
    }

    #[test]
    fn form_token_wins_over_header_for_post() {
        let secret = new_secret();
        let wrong = new_secret();
        let mut req = base(&Method::POST, Some(&secret));
        req.form_token = Some(&wrong);
        req.header_token = Some(&secret);
        assert_eq!(reason(&req), "CSRF token from POST incorrect.");
        req.form_token = Some("abc");
        assert_eq!(reason(&req), "CSRF token from POST has incorrect length.");
        let invalid = "é".repeat(32);
        req.form_token = Some(&invalid);
        assert_eq!(reason(&req), "CSRF token from POST has invalid characters.");
        // An empty form field falls back to the header.
        req.form_token = Some("");
        assert_eq!(check(&req), Ok(()));
    }

    #[test]
    fn form_token_is_ignored_for_other_methods() {
        let secret = new_secret();
        for method in [Method::PUT, Method::PATCH, Method::DELETE] {
            let mut req = base(&method, Some(&secret));
            req.form_token = Some(&secret);
            assert_eq!(reason(&req), "CSRF token missing.");
            req.header_token = Some(&secret);
            assert_eq!(check(&req), Ok(()));
        }
    }

    // --- Origin ---

    fn with_origin<'a>(secret: &'a str, origin: &'a str, trusted: &'a [String]) -> CsrfRequest<'a> {
        let mut req = base(&Method::POST, Some(secret));
        req.header_token = Some(secret);
        req.origin = Some(origin);
        req.trusted_origins = trusted;
        req
    }

    #[test]
    fn origin_must_match_own_scheme_and_host() {
        let secret = new_secret();
        assert_eq!(
            check(&with_origin(&secret, "http://testserver", &[])),
            Ok(())
        );
        let mut secure = with_origin(&secret, "https://testserver", &[]);
        secure.is_secure = true;
        // A matching Origin replaces the Referer check.
        assert_eq!(check(&secure), Ok(()));
        assert_eq!(
            reason(&with_origin(&secret, "https://testserver", &[])),
            "Origin checking failed - https://testserver does not match any trusted origins."
        );
        assert_eq!(
            reason(&with_origin(&secret, "https://evil.example", &[])),
            "Origin checking failed - https://evil.example does not match any trusted origins."
        );
        assert_eq!(
            reason(&with_origin(&secret, "null", &[])),
            "Origin checking failed - null does not match any trusted origins."
        );
    }

    #[test]
    fn origin_failure_comes_before_cookie_checks() {
        let mut req = base(&Method::POST, None);
        req.origin = Some("https://evil.example");
        assert_eq!(
            reason(&req),
            "Origin checking failed - https://evil.example does not match any trusted origins."
        );
    }

    #[test]
    fn exact_and_wildcard_trusted_origins() {
        let secret = new_secret();
        let trusted = vec![
            "https://partner.example".to_owned(),
            "https://*.example.com".to_owned(),
        ];
        for ok in [
            "https://partner.example",
            "https://api.example.com",
            "https://a.b.example.com",
            "https://example.com",
        ] {
            assert_eq!(check(&with_origin(&secret, ok, &trusted)), Ok(()), "{ok}");
        }
        for bad in [
            "http://partner.example",
            "http://api.example.com",
            "https://evilexample.com",
            "https://example.com.evil.example",
            "https://api.example.com:8443",
            "https://[::1",
        ] {
            assert_eq!(
                reason(&with_origin(&secret, bad, &trusted)),
                format!("Origin checking failed - {bad} does not match any trusted origins.")
            );
        }
    }

    // --- Referer (HTTPS, no Origin) ---

    fn secure_post<'a>(secret: &'a str, referer: Option<&'a str>) -> CsrfRequest<'a> {
        let mut req = base(&Method::POST, Some(secret));
        req.header_token = Some(secret);
        req.is_secure = true;
        req.referer = referer;
        req
    }

    #[test]
    fn referer_rules_on_https() {
        let secret = new_secret();
        assert_eq!(
            check(&secure_post(&secret, Some("https://testserver/page"))),
            Ok(())
        );
        assert_eq!(
            reason(&secure_post(&secret, None)),
            "Referer checking failed - no Referer."
        );
        for malformed in [
            "not a url",
            "https://",
            "//testserver/",
            "https://[::1/",
            "",
        ] {
            assert_eq!(
                reason(&secure_post(&secret, Some(malformed))),
                "Referer checking failed - Referer is malformed.",
                "{malformed:?}"
            );
        }
        assert_eq!(
            reason(&secure_post(&secret, Some("http://testserver/page"))),
            "Referer checking failed - Referer is insecure while host is secure."
        );
        assert_eq!(
            reason(&secure_post(&secret, Some("https://evil.example/x"))),
            "Referer checking failed - https://evil.example/x does not match any trusted origins."
        );
        assert_eq!(
            reason(&secure_post(
                &secret,
                Some("https://testserver.evil.example/")
            )),
            "Referer checking failed - https://testserver.evil.example/ does not match any trusted origins."
        );
    }

    #[test]
    fn referer_is_not_checked_over_http() {
        let secret = new_secret();
        let mut req = secure_post(&secret, None);
        req.is_secure = false;
        assert_eq!(check(&req), Ok(()));
    }

    #[test]
    fn referer_failure_comes_before_cookie_checks() {
        let mut req = base(&Method::POST, None);
        req.is_secure = true;
        assert_eq!(reason(&req), "Referer checking failed - no Referer.");
    }

    #[test]
    fn referer_matching_trusted_origin_hosts() {
        let secret = new_secret();
        let trusted = vec![
            "https://partner.example".to_owned(),
            "https://*.example.com".to_owned(),
        ];
        for ok in [
            "https://partner.example/form",
            "https://www.example.com/",
            "https://example.com/",
        ] {
            let mut req = secure_post(&secret, Some(ok));
            req.trusted_origins = &trusted;
            assert_eq!(check(&req), Ok(()), "{ok}");
        }
        let mut req = secure_post(&secret, Some("https://evil.example/x"));
        req.trusted_origins = &trusted;
        assert_eq!(
            reason(&req),
            "Referer checking failed - https://evil.example/x does not match any trusted origins."
        );
    }

    #[test]
    fn referer_matching_cookie_domain() {
        let secret = new_secret();
        let mut req = secure_post(&secret, Some("https://www.example.com/"));
        req.host = "api.example.com";
        req.cookie_domain = Some(".example.com");
        assert_eq!(check(&req), Ok(()));
        req.referer = Some("https://example.com/");
        assert_eq!(check(&req), Ok(()));
        // With a cookie domain configured, the request host itself is no longer the rule.
        req.cookie_domain = Some("www.example.com");
        req.referer = Some("https://api.example.com/");
        assert_eq!(
            reason(&req),
            "Referer checking failed - https://api.example.com/ does not match any trusted origins."
        );
    }

    #[test]
    fn cookie_domain_adds_non_default_port() {
        let secret = new_secret();
        let mut req = secure_post(&secret, Some("https://www.example.com:8443/"));
        req.host = "api.example.com:8443";
        req.cookie_domain = Some(".example.com");
        assert_eq!(check(&req), Ok(()));
        req.referer = Some("https://www.example.com/");
        assert_eq!(
            reason(&req),
            "Referer checking failed - https://www.example.com/ does not match any trusted origins."
        );
        req.host = "api.example.com:443";
        assert_eq!(check(&req), Ok(()));
    }

    #[test]
    fn request_host_with_port_must_match_exactly() {
        let secret = new_secret();
        let mut req = secure_post(&secret, Some("https://testserver:8443/"));
        req.host = "testserver:8443";
        assert_eq!(check(&req), Ok(()));
        req.referer = Some("https://testserver/");
        assert_eq!(
            reason(&req),
            "Referer checking failed - https://testserver/ does not match any trusted origins."
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        let long = "é".repeat(100_000);
        let masked_multibyte = format!("{}é", "a".repeat(62));
        let values = [
            "",
            "\u{0}",
            "é",
            long.as_str(),
            masked_multibyte.as_str(),
            "https://[",
            "https://]",
            "https://[v1.]/",
            "::::",
            "https://*.",
        ];
        let trusted: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        for value in values {
            for secure in [false, true] {
                let req = CsrfRequest {
                    method: &Method::POST,
                    is_secure: secure,
                    host: value,
                    origin: Some(value),
                    referer: Some(value),
                    cookie: Some(value),
                    form_token: Some(value),
                    header_token: Some(value),
                    trusted_origins: &trusted,
                    cookie_domain: Some(value),
                };
                assert!(check(&req).is_err());
                let mut without_origin = req;
                without_origin.origin = None;
                let _ = check(&without_origin);
                let _ = secret_from_cookie(value);
                let _ = unmask_token(value);
                let _ = mask_secret(value);
            }
        }
    }
}
