//! Django-compatible CSRF protection (Django 4.1+ / 5.x `CsrfViewMiddleware`).
//!
//! The `csrftoken` cookie holds a 32-character secret; forms and the `X-CSRFToken` header carry
//! either that secret or a 64-character masked copy of it (a fresh mask per response, against
//! BREACH). Everything here is pure: the caller extracts the headers, cookie and form field and
//! turns a [`CsrfFailure`] into `403 {"detail":"CSRF Failed: <reason>"}`.

use http::Method;
use subtle::ConstantTimeEq;

use crate::session::safe_url::{SplitUrl, split_url};

mod guard;

pub(crate) use guard::CSRF_FORM_FIELD;
pub use guard::Csrf;

/// Length of the secret stored in the `csrftoken` cookie.
pub(crate) const CSRF_SECRET_LENGTH: usize = 32;
/// Length of a masked token: a 32-character mask followed by a 32-character cipher.
pub const CSRF_TOKEN_LENGTH: usize = 64;

/// Python's `ascii_letters + digits`; the masking arithmetic depends on this order.
const ALLOWED_CHARS: &[u8; 62] = crate::core::random::ALPHANUMERIC;
const ALPHABET_SIZE: usize = ALLOWED_CHARS.len();

/// How the header source is named in reasons (Django renders `HTTP_X_CSRFTOKEN` this way).
const HEADER_SOURCE: &str = "the 'X-Csrftoken' HTTP header";
const FORM_SOURCE: &str = "POST";

/// A new random secret: 32 characters of `[a-zA-Z0-9]` from the operating system's CSPRNG.
pub(crate) fn new_secret() -> String {
    random_string(CSRF_SECRET_LENGTH)
}

/// Masks `secret` with a fresh random mask: returns `mask + cipher` (64 characters), where
/// `cipher[i] = chars[(idx(secret[i]) + idx(mask[i])) % 62]`.
///
/// `secret` must be a valid secret (a new one, or from [`secret_from_cookie`]); a character
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
mod tests;
