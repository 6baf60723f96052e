//! Token errors with simplejwt's messages, and the JSON bodies they render as.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

/// Why a token was refused. `message()` is simplejwt's text for it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum TokenError {
    /// Malformed, badly signed, not yet valid, or with a wrong `aud`/`iss`.
    Invalid,
    /// `exp` is past (beyond the leeway).
    Expired,
    /// The token type claim names another type.
    WrongType,
    /// The jti claim is missing.
    NoId,
    /// The token type claim is missing.
    NoType,
    /// A required claim (`exp`, `iat`) is missing.
    MissingClaim(String),
    /// The token id is on the blacklist (decided by the store, not by this module).
    Blacklisted,
}

impl TokenError {
    /// simplejwt's message, e.g. `Token is invalid`.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::Invalid => "Token is invalid".into(),
            Self::Expired => "Token is expired".into(),
            Self::WrongType => "Token has wrong type".into(),
            Self::NoId => "Token has no id".into(),
            Self::NoType => "Token has no type".into(),
            Self::MissingClaim(claim) => format!("Token has no '{claim}' claim").into(),
            Self::Blacklisted => "Token is blacklisted".into(),
        }
    }

    /// The body the token views answer with (§5.4): `{"detail":"<message>","code":"token_not_valid"}`.
    pub fn detail_body(&self) -> Value {
        json!({"detail": self.message(), "code": "token_not_valid"})
    }
}

/// The body `JWTAuthentication` answers with when the token is refused (§5.3):
/// `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[…]}`.
pub(crate) fn token_not_valid_body(err: &TokenError, token_class: &str, token_type: &str) -> Value {
    // Built key by key: the object keeps insertion order, which is the order simplejwt emits.
    let mut message = Map::new();
    message.insert("token_class".into(), token_class.into());
    message.insert("token_type".into(), token_type.into());
    message.insert("message".into(), err.message().into());
    let mut body = Map::new();
    body.insert(
        "detail".into(),
        "Given token not valid for any token type".into(),
    );
    body.insert("code".into(), "token_not_valid".into());
    body.insert(
        "messages".into(),
        Value::Array(vec![Value::Object(message)]),
    );
    Value::Object(body)
}

/// The `Authorization` header names a JWT scheme but is not `<scheme> <token>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Authorization header must contain two space-delimited values")]
pub struct BadAuthorizationHeader;

impl BadAuthorizationHeader {
    /// The `detail` text.
    pub const DETAIL: &'static str = "Authorization header must contain two space-delimited values";
    /// The `code` value.
    pub const CODE: &'static str = "bad_authorization_header";

    /// `{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}`.
    pub fn body(&self) -> Value {
        json!({"detail": Self::DETAIL, "code": Self::CODE})
    }
}

/// The `[simple_jwt]` configuration cannot be used; the text names the setting at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct JwtConfigError {
    /// The setting at fault, e.g. `simple_jwt.signing_key`.
    pub setting: &'static str,
    /// What is wrong with it (never the key material itself).
    pub reason: String,
}

impl JwtConfigError {
    pub(crate) fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(err: &TokenError) -> String {
        serde_json::to_string(&token_not_valid_body(err, "AccessToken", "access")).unwrap()
    }

    #[test]
    fn invalid_body_is_byte_exact() {
        assert_eq!(
            body_of(&TokenError::Invalid),
            r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid"}]}"#
        );
    }

    #[test]
    fn wrong_type_body_is_byte_exact() {
        assert_eq!(
            body_of(&TokenError::WrongType),
            r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}"#
        );
    }

    #[test]
    fn expired_body_is_byte_exact() {
        assert_eq!(
            body_of(&TokenError::Expired),
            r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}"#
        );
    }

    #[test]
    fn messages_are_simplejwt_strings() {
        assert_eq!(TokenError::NoId.message(), "Token has no id");
        assert_eq!(TokenError::NoType.message(), "Token has no type");
        assert_eq!(TokenError::Blacklisted.message(), "Token is blacklisted");
        assert_eq!(
            TokenError::MissingClaim("exp".into()).message(),
            "Token has no 'exp' claim"
        );
        assert_eq!(TokenError::Expired.to_string(), "Token is expired");
    }

    #[test]
    fn detail_bodies_are_byte_exact() {
        assert_eq!(
            serde_json::to_string(&TokenError::Blacklisted.detail_body()).unwrap(),
            r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#
        );
        assert_eq!(
            serde_json::to_string(&BadAuthorizationHeader.body()).unwrap(),
            r#"{"detail":"Authorization header must contain two space-delimited values","code":"bad_authorization_header"}"#
        );
    }
}
