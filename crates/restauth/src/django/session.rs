//! Django's database sessions (`django_session`): the signed session data, the logged-in
//! user it names and the session auth hash that ties it to the user's password.

use subtle::ConstantTimeEq;

use super::signing::{self, SigningError};

/// The salt of `SessionBase.encode` (`"django.contrib.sessions." + class name`).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// Django's `get_session_auth_hash` key salt.
pub const AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// What an import needs of one session's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionData {
    /// `_auth_user_id`: the user's primary key as Django wrote it (a string), if logged in.
    pub user_id: Option<String>,
    /// `_auth_user_hash`.
    pub auth_hash: Option<String>,
    /// `_auth_user_backend`.
    pub backend: Option<String>,
}

/// Why a session cannot be carried over.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The signature does not match `SECRET_KEY` (another project's key, or tampered with).
    #[error("bad signature")]
    BadSignature,
    /// Not the `data:signature` form Django 3.1 and later write.
    #[error("not Django >= 3.1 signed session data")]
    Malformed,
    /// The signed payload does not decompress or is not JSON.
    #[error("session data does not decode: {0}")]
    Payload(String),
    /// The payload is JSON, but not an object of session keys.
    #[error("session data is not a JSON object")]
    NotAnObject,
}

/// Decodes `django_session.session_data` signed with one of `keys` (`SECRET_KEY` first, then
/// any `SECRET_KEY_FALLBACKS`).
pub fn decode(session_data: &str, keys: &[String]) -> Result<SessionData, SessionError> {
    let unsigned = signing::loads(session_data, SESSION_SALT, keys).map_err(|e| match e {
        SigningError::BadSignature => SessionError::BadSignature,
        SigningError::Malformed => SessionError::Malformed,
        SigningError::Payload(p) => SessionError::Payload(p),
    })?;
    let object = unsigned
        .value
        .as_object()
        .ok_or(SessionError::NotAnObject)?;
    let text = |k: &str| -> Option<String> {
        match object.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            // A primary key some serialiser wrote as a number.
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    Ok(SessionData {
        user_id: text("_auth_user_id"),
        auth_hash: text("_auth_user_hash"),
        backend: text("_auth_user_backend"),
    })
}

pub use crate::core::hmac::session_auth_hash as auth_hash;

/// Django's database session backend's signing of `session_data`, for the store over Django's
/// tables: JSON, compressed, salted with [`SESSION_SALT`], signed with `SECRET_KEY`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub struct Codec {
    /// Django's `SECRET_KEY`, the same as the Django project's.
    pub secret_key: String,
    /// Django's `SECRET_KEY_FALLBACKS`: signatures made with these are still read.
    pub fallbacks: Vec<String>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl crate::store::django::SessionCodec for Codec {
    fn sign(&self, value: &serde_json::Value, signed_at: u64) -> String {
        signing::dumps(value, SESSION_SALT, &self.secret_key, true, signed_at)
    }

    fn unsign(&self, text: &str) -> Option<(serde_json::Value, i64)> {
        let keys: Vec<String> = std::iter::once(&self.secret_key)
            .chain(&self.fallbacks)
            .cloned()
            .collect();
        let unsigned = signing::loads(text, SESSION_SALT, &keys).ok()?;
        Some((unsigned.value, unsigned.signed_at))
    }
}

/// Whether a session's `_auth_user_hash` belongs to `password_hash` under one of `keys`, as
/// Django's `get_user` checks it (constant-time).
pub fn auth_hash_matches(session_hash: &str, password_hash: &str, keys: &[String]) -> bool {
    keys.iter().any(|key| {
        let expected = auth_hash(password_hash, key);
        bool::from(expected.as_bytes().ct_eq(session_hash.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `SECRET_KEY_FALLBACKS`: session data signed with an older key is still read.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[test]
    fn fallback_keys_still_verify() {
        use crate::store::django::SessionCodec;
        let codec = |key: &str, fallbacks: &[&str]| Codec {
            secret_key: key.into(),
            fallbacks: fallbacks.iter().map(|k| k.to_string()).collect(),
        };
        let signed = codec("old key", &[]).sign(&json!({"a": 1}), 1_700_000_000);
        assert!(codec("new key", &[]).unsign(&signed).is_none());
        assert_eq!(
            codec("new key", &["old key"]).unsign(&signed),
            Some((json!({"a": 1}), 1_700_000_000))
        );
    }

    #[test]
    fn auth_hash_is_djangos() {
        // Django 5.2: salted_hmac(AUTH_HASH_SALT, "pbkdf2_sha256$1$s$h", secret="secret",
        // algorithm="sha256").hexdigest()
        let h = "adba71d9a77392fee364d06638367d93b5818a605574763d5833bad148d035f5";
        assert_eq!(auth_hash("pbkdf2_sha256$1$s$h", "secret"), h);
        assert_eq!(
            crate::core::hmac::session_auth_hash("pbkdf2_sha256$1$s$h", "secret"),
            h
        );
        let keys = ["old".to_owned(), "secret".to_owned()];
        assert!(auth_hash_matches(h, "pbkdf2_sha256$1$s$h", &keys));
        assert!(!auth_hash_matches(h, "pbkdf2_sha256$1$s$i", &keys));
    }

    #[test]
    fn decodes_a_login() {
        let key = "k".repeat(50);
        let data = signing::dumps(
            &json!({"_auth_user_id": "7", "_auth_user_backend": "b", "_auth_user_hash": "h"}),
            SESSION_SALT,
            &key,
            true,
            1,
        );
        let s = decode(&data, std::slice::from_ref(&key)).unwrap();
        assert_eq!(s.user_id.as_deref(), Some("7"));
        assert_eq!(s.auth_hash.as_deref(), Some("h"));
        assert_eq!(
            decode(&data, &["x".into()]),
            Err(SessionError::BadSignature)
        );
        let anonymous = signing::dumps(&json!({}), SESSION_SALT, &key, true, 1);
        assert_eq!(
            decode(&anonymous, std::slice::from_ref(&key))
                .unwrap()
                .user_id,
            None
        );
        let list = signing::dumps(&json!([1]), SESSION_SALT, &key, false, 1);
        assert_eq!(decode(&list, &[key]), Err(SessionError::NotAnObject));
    }
}
