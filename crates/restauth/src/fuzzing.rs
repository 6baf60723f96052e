//! Entry points for the fuzz targets in `fuzz/`: the network-facing parsers that are private to
//! their modules, with their answers reduced to plain types. Not a supported API; it exists so
//! that the targets exercise the same code the server runs, not a copy of it.

use serde_json::{Map, Value};

use crate::basic;
use crate::jwt::TokenError;
use crate::jwt::jose::RawToken;
use crate::token::authentication as token;

/// `TokenAuthentication`'s reading of an `Authorization` value with scheme `keyword`:
/// `None` when the scheme is not ours, `Some(Err(detail))` when refused, else the key.
pub fn token_header<'a>(value: &'a [u8], keyword: &str) -> Option<Result<&'a str, &'static str>> {
    match token::parse(value, keyword) {
        token::Parsed::NotMine => None,
        token::Parsed::Refused(detail) => Some(Err(detail)),
        token::Parsed::Key(key) => Some(Ok(key)),
    }
}

/// `BasicAuthentication`'s reading of an `Authorization` value: `None` when not `Basic`,
/// `Some(Err(detail))` when refused, else the username and password.
pub fn basic_header(value: &[u8]) -> Option<Result<(String, String), &'static str>> {
    match basic::parse(value) {
        basic::Parsed::NotMine => None,
        basic::Parsed::Refused(detail) => Some(Err(detail)),
        basic::Parsed::Credentials { username, password } => Some(Ok((username, password))),
    }
}

/// What the strict JOSE parser made of a compact token.
#[derive(Debug)]
pub struct JoseParts {
    /// Length of `header "." payload`, the bytes the signature covers.
    pub signing_input_len: usize,
    pub header: Map<String, Value>,
    /// The header check against `alg`: the `kid` it returned, or its refusal.
    pub kid: Result<Option<String>, TokenError>,
    /// The payload object, or why it is not one.
    pub payload: Result<Map<String, Value>, TokenError>,
}

/// Runs the strict parser of the compact serialisation on `token`, then the header check for
/// `alg` and the payload decoding (which the server only does after the signature check).
pub fn jose_parse(token: &str, alg: &str) -> Result<JoseParts, TokenError> {
    let raw = RawToken::parse(token)?;
    Ok(JoseParts {
        signing_input_len: raw.signing_input.len(),
        kid: raw.check_header(alg).map(|kid| kid.map(str::to_owned)),
        payload: raw.payload(),
        header: raw.header,
    })
}

/// Verifies `password` against a Django-format hash string (`pbkdf2_sha256$…`, `bcrypt$…`, …):
/// `None` when the string is not one, is malformed or is over the cost limits.
#[cfg(feature = "django-hashers")]
pub fn django_hash_verify(encoded: &str, password: &str) -> Option<bool> {
    crate::password::django::verify(encoded, password)
}

/// The multipart parser's reading of `body` under `content_type`: the text fields, or the
/// `detail` of DRF's 400 (any other refusal is a bug).
pub fn multipart_fields(content_type: &str, body: &[u8]) -> Result<Map<String, Value>, String> {
    match crate::pipeline::parsers::parse(Some(content_type), body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("not an object: {other}")),
        Err(crate::core::error::Error::Parse(detail)) => Err(detail),
        Err(other) => panic!("multipart answered {other:?}"),
    }
}

/// The original request forward authentication reads from `headers` on `path` (below
/// `/auth/forward`), trusting the nginx spelling (`X-Original-*`) when `nginx` is set, else
/// the default one: its method and URI, or the status of the refusal.
pub fn forward_original(
    headers: &[(&str, &[u8])],
    path: &str,
    nginx: bool,
) -> Result<(String, String), u16> {
    crate::forward::read_original(headers, path, nginx)
}
