//! JSON Web Tokens in djangorestframework-simplejwt's wire format.
//!
//! [`JwtBackend`] issues refresh and access tokens, rotates refresh tokens and decodes tokens
//! with simplejwt's validation order and messages. It is pure: the caller passes the clock
//! (`now`, Unix seconds) and does everything that needs a store (blacklist, user lookup).
//!
//! Decoding is strict before any cryptography runs: exactly three canonical base64url
//! segments, a header whose `alg` is exactly the configured one, no `crit`/`jku`/`x5u`/`jwk`/
//! `x5c`/`b64` header, and no duplicate JSON keys. Each key is bound to that single algorithm;
//! with asymmetric algorithms the token's `kid` selects among the signing key and the older
//! keys listed in `verifying_keys`, and [`JwtBackend::jwks`] publishes their public halves.

mod authorization;
mod claims;
mod error;
pub(crate) mod jose;
mod keys;
mod service;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

pub use crate::core::settings::jwt::{JwtAlgorithm, SimpleJwtSettings, UserIdField};
pub use authorization::parse_authorization;
pub use claims::{Claims, TokenType};
pub(crate) use error::token_not_valid_body;
pub use error::{BadAuthorizationHeader, JwtConfigError, TokenError};
pub use service::{JwtService, Pair, token_not_valid};

pub mod authentication;
#[cfg(feature = "openapi")]
pub mod openapi;
mod routes;

pub use authentication::JwtAuthentication;
pub use routes::router;

use claims::ClaimRules;
use jose::RawToken;
use keys::KeySet;

/// A freshly signed token and the claims it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Issued {
    /// The compact JWT.
    pub token: String,
    /// Its payload.
    pub claims: Claims,
}

/// Issues and checks tokens. Cheap to clone: the keys are shared.
#[derive(Clone)]
pub struct JwtBackend {
    inner: Arc<Inner>,
}

struct Inner {
    keys: KeySet,
    rules: ClaimRules,
    access_lifetime: i64,
    refresh_lifetime: i64,
    header_types: Vec<String>,
}

impl fmt::Debug for JwtBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("JwtBackend")
            .field("algorithm", &self.inner.keys.alg_name())
            .finish_non_exhaustive()
    }
}

/// Claims the configurable names may not take, or the payload would be ambiguous.
const RESERVED_CLAIMS: [&str; 5] = ["exp", "iat", "nbf", "aud", "iss"];

impl JwtBackend {
    /// Checks the settings and loads the keys. `secret_key` signs HMAC tokens when
    /// `signing_key` is unset. Refuses algorithms outside the allow-list, HMAC keys shorter
    /// than the hash (32 bytes for HS256), missing or unreadable PEM files, RSA keys under
    /// 2048 bits, keys of the wrong type or curve, and unusable claim names or header types.
    pub fn new(s: &SimpleJwtSettings, secret_key: &str) -> Result<Self, JwtConfigError> {
        check_claim_names(s)?;
        check_header_types(&s.auth_header_types)?;
        let access_lifetime = lifetime(
            "simple_jwt.access_token_lifetime",
            s.access_token_lifetime.0,
        )?;
        let refresh_lifetime = lifetime(
            "simple_jwt.refresh_token_lifetime",
            s.refresh_token_lifetime.0,
        )?;
        let keys = KeySet::load(s, secret_key)?;
        let rules = ClaimRules {
            token_type_claim: s.token_type_claim.clone(),
            jti_claim: s.jti_claim.clone(),
            user_id_claim: s.user_id_claim.clone(),
            leeway: s.leeway,
            audience: s.audience.clone(),
            issuer: s.issuer.clone(),
        };
        let inner = Inner {
            keys,
            rules,
            access_lifetime,
            refresh_lifetime,
            header_types: s.auth_header_types.clone(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A new refresh token for `user_id` (what a login returns), issued at `now_ms` (Unix
    /// milliseconds): `iat` is its second and the time-ordered `jti` carries the millisecond.
    pub fn issue_refresh(&self, user_id: &str, now_ms: i64) -> Issued {
        let now = now_ms.div_euclid(1000);
        self.issue(Claims {
            token_type: TokenType::Refresh.as_str().to_owned(),
            exp: now.saturating_add(self.inner.refresh_lifetime),
            iat: now,
            jti: new_jti(now_ms),
            user_id: Some(user_id.to_owned()),
            extra: serde_json::Map::new(),
        })
    }

    /// An access token minted from a validated refresh token: every refresh claim except type,
    /// exp, jti and iat is copied; jti and iat are fresh and exp is now + the access lifetime.
    pub fn access_for(&self, refresh: &Claims, now_ms: i64) -> Issued {
        let now = now_ms.div_euclid(1000);
        self.issue(Claims {
            token_type: TokenType::Access.as_str().to_owned(),
            exp: now.saturating_add(self.inner.access_lifetime),
            iat: now,
            jti: new_jti(now_ms),
            user_id: refresh.user_id.clone(),
            extra: refresh.extra.clone(),
        })
    }

    /// The refresh token that replaces `refresh` on rotation: same claims, new jti, exp and iat.
    pub fn rotate(&self, refresh: &Claims, now_ms: i64) -> Issued {
        let now = now_ms.div_euclid(1000);
        self.issue(Claims {
            token_type: refresh.token_type.clone(),
            exp: now.saturating_add(self.inner.refresh_lifetime),
            iat: now,
            jti: new_jti(now_ms),
            user_id: refresh.user_id.clone(),
            extra: refresh.extra.clone(),
        })
    }

    /// The successor [`rotate`](Self::rotate) gave `refresh`, signed again from the parts the
    /// store keeps (its jti, iat and exp): the same claims, so the same bytes (every configured
    /// algorithm signs deterministically; ECDSA with RFC 6979 nonces).
    pub fn remint_successor(&self, refresh: &Claims, jti: &str, iat: i64, exp: i64) -> Issued {
        self.issue(Claims {
            token_type: refresh.token_type.clone(),
            exp,
            iat,
            jti: jti.to_owned(),
            user_id: refresh.user_id.clone(),
            extra: refresh.extra.clone(),
        })
    }

    /// Signs `claims` as given (plus the configured `aud`/`iss`), in simplejwt's key order.
    pub fn encode(&self, claims: &Claims) -> String {
        let payload = Value::Object(self.inner.rules.to_payload(claims)).to_string();
        // The key passed a sign-and-verify self-test in `new`, and signing is deterministic in
        // the key, so a failure here means a broken build, not bad input.
        self.inner
            .keys
            .sign(payload.as_bytes())
            .expect("signing key passed its self-test")
    }

    /// Validates a token of the `expected` type: signature first, then exp (with exactly
    /// `leeway`), nbf, iss/aud when configured, jti, token type.
    pub fn decode(&self, token: &str, expected: TokenType, now: i64) -> Result<Claims, TokenError> {
        self.decode_with(token, Some(expected), now)
    }

    /// As [`decode`](Self::decode) for any token type (the verify endpoint).
    pub fn decode_any(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        self.decode_with(token, None, now)
    }

    /// `{"keys":[…]}`: the public verifying keys with `kid`, `alg` and `use`; empty for HMAC.
    pub fn jwks(&self) -> Value {
        self.inner.keys.jwks().clone()
    }

    /// `WWW-Authenticate` for JWT failures: the first header type with simplejwt's realm.
    pub fn challenge(&self) -> http::HeaderValue {
        let scheme = self.header_types().first().map_or("Bearer", String::as_str);
        http::HeaderValue::from_str(&format!("{scheme} realm=\"api\""))
            .unwrap_or_else(|_| http::HeaderValue::from_static("Bearer realm=\"api\""))
    }

    /// The accepted `Authorization` schemes: simplejwt's `AUTH_HEADER_TYPES` (`Bearer` by
    /// default).
    pub fn header_types(&self) -> &[String] {
        &self.inner.header_types
    }

    /// The configured algorithm, e.g. `HS256`.
    pub fn algorithm(&self) -> &str {
        self.inner.keys.alg_name()
    }

    fn issue(&self, claims: Claims) -> Issued {
        Issued {
            token: self.encode(&claims),
            claims,
        }
    }

    fn decode_with(
        &self,
        token: &str,
        expected: Option<TokenType>,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let raw = RawToken::parse(token)?;
        let kid = raw.check_header(self.inner.keys.alg_name())?;
        if !self.inner.keys.verify(&raw, kid) {
            return Err(TokenError::Invalid);
        }
        // Nothing of the payload is read before this point.
        let payload = raw.payload()?;
        self.inner.rules.validate(payload, expected, now)
    }
}

/// A UUIDv7 written as 32 lowercase hex characters (the shape of simplejwt's `uuid4().hex`):
/// the first 48 bits are `now_ms`, so the issue instant of a token is known to the millisecond
/// without a claim simplejwt clients do not expect; the other 74 bits come from the OS CSPRNG.
/// The jti is an identifier, not a secret.
pub(crate) fn new_jti(now_ms: i64) -> String {
    let mut bytes = crate::core::random::bytes::<16>();
    let ms = u64::try_from(now_ms).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0F); // version 7
    bytes[8] = 0x80 | (bytes[8] & 0x3F); // RFC 9562 variant
    hex::encode(bytes)
}

fn lifetime(setting: &'static str, secs: u64) -> Result<i64, JwtConfigError> {
    match i64::try_from(secs) {
        Ok(s) if s > 0 => Ok(s),
        _ => Err(JwtConfigError::new(
            setting,
            "must be a positive number of seconds",
        )),
    }
}

fn check_claim_names(s: &SimpleJwtSettings) -> Result<(), JwtConfigError> {
    let names = [
        ("simple_jwt.token_type_claim", &s.token_type_claim),
        ("simple_jwt.jti_claim", &s.jti_claim),
        ("simple_jwt.user_id_claim", &s.user_id_claim),
    ];
    for (i, (setting, name)) in names.iter().enumerate() {
        if name.is_empty() || RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(JwtConfigError::new(
                setting,
                format!("{name:?} cannot name this claim (empty or a registered claim)"),
            ));
        }
        if names[..i].iter().any(|(_, other)| other == name) {
            return Err(JwtConfigError::new(
                setting,
                format!("{name:?} is already used by another claim"),
            ));
        }
    }
    Ok(())
}

fn check_header_types(types: &[String]) -> Result<(), JwtConfigError> {
    let usable = |t: &String| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic());
    if types.is_empty() || !types.iter().all(usable) {
        return Err(JwtConfigError::new(
            "simple_jwt.auth_header_types",
            "needs at least one scheme name, each without spaces",
        ));
    }
    Ok(())
}
