//! The `[simple_jwt]` configuration section.

use std::fmt;
use std::str::FromStr;

use crate::core::settings::Seconds;

/// simplejwt's `ALGORITHM`, limited to the allow-list; any other name (`none`, a lower-case
/// spelling, an algorithm restauth does not implement) fails to load, naming the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 over `signing_key` (simplejwt's default).
    HS256,
    /// HMAC with SHA-384 over `signing_key`.
    HS384,
    /// HMAC with SHA-512 over `signing_key`.
    HS512,
    /// RSA PKCS#1 v1.5 with SHA-256: a private key signs, the public key verifies.
    RS256,
    /// RSA PKCS#1 v1.5 with SHA-384.
    RS384,
    /// RSA PKCS#1 v1.5 with SHA-512.
    RS512,
    /// ECDSA over P-256 with SHA-256.
    ES256,
    /// ECDSA over P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// Every algorithm accepted, in the order error messages list them.
    pub const ALL: [JwtAlgorithm; 9] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The name in settings and in the JOSE `alg` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// HS256/384/512: the key is a shared secret.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    /// Exact, case-sensitive names, as in settings.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, EdDSA"))
    }
}

/// simplejwt's `USER_ID_FIELD`: the user field the user id claim holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserIdField {
    /// The numeric primary key.
    Id,
    /// The username, unique as the id is.
    Username,
}

/// The `[simple_jwt]` section: simplejwt's `SIMPLE_JWT` setting names in lower case, with
/// simplejwt's defaults. `Debug` hides `signing_key`, which may be the HMAC secret itself.
#[derive(Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimpleJwtSettings {
    /// Lifetime of access tokens (default 5 minutes).
    pub access_token_lifetime: Seconds,
    /// Lifetime of refresh tokens (default 1 day).
    pub refresh_token_lifetime: Seconds,
    /// Issue a new refresh token on every refresh (default off).
    pub rotate_refresh_tokens: bool,
    /// Blacklist the refresh token that a rotation replaced (default off).
    pub blacklist_after_rotation: bool,
    /// With rotation and blacklisting on: seconds after a rotation during which refreshes of
    /// the same token all receive its one successor instead of counting as a replay (two tabs
    /// refreshing at once). 0 makes every second refresh a replay. restauth's own (default 5).
    pub rotation_grace_seconds: u64,
    /// Update `last_login` when a token pair is obtained (default off).
    pub update_last_login: bool,
    /// Signing algorithm: HS256/384/512, RS256/384/512, ES256/384 or EdDSA (default HS256).
    pub algorithm: JwtAlgorithm,
    /// HMAC: the secret itself (None: the global `secret_key`). Asymmetric: a private-key PEM file path.
    pub signing_key: Option<String>,
    /// Asymmetric only: the public-key PEM file path of `signing_key` (derived from it when unset).
    pub verifying_key: Option<String>,
    /// Asymmetric only: further public-key PEM file paths still accepted (key rotation).
    pub verifying_keys: Vec<String>,
    /// Expected and emitted `aud` claim.
    pub audience: Option<String>,
    /// Expected and emitted `iss` claim.
    pub issuer: Option<String>,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (default 0).
    pub leeway: u64,
    /// Accepted `Authorization` schemes, case-sensitive (default `["Bearer"]`).
    pub auth_header_types: Vec<String>,
    /// The user field the user id claim refers to: `id` (default) or `username`.
    pub user_id_field: UserIdField,
    /// The claim carrying the user id (default `user_id`).
    pub user_id_claim: String,
    /// The claim carrying the token type (default `token_type`).
    pub token_type_claim: String,
    /// The claim carrying the token id (default `jti`).
    pub jti_claim: String,
    /// Refuse tokens of inactive users (default on).
    pub check_user_is_active: bool,
}

impl std::fmt::Debug for SimpleJwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleJwtSettings")
            .field("access_token_lifetime", &self.access_token_lifetime)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("blacklist_after_rotation", &self.blacklist_after_rotation)
            .field("rotation_grace_seconds", &self.rotation_grace_seconds)
            .field("update_last_login", &self.update_last_login)
            .field("algorithm", &self.algorithm)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "[redacted]"),
            )
            .field("verifying_key", &self.verifying_key)
            .field("verifying_keys", &self.verifying_keys)
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("leeway", &self.leeway)
            .field("auth_header_types", &self.auth_header_types)
            .field("user_id_field", &self.user_id_field)
            .field("user_id_claim", &self.user_id_claim)
            .field("token_type_claim", &self.token_type_claim)
            .field("jti_claim", &self.jti_claim)
            .field("check_user_is_active", &self.check_user_is_active)
            .finish()
    }
}

impl Default for SimpleJwtSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime: Seconds(300),
            refresh_token_lifetime: Seconds(86_400),
            rotate_refresh_tokens: false,
            blacklist_after_rotation: false,
            rotation_grace_seconds: 5,
            update_last_login: false,
            algorithm: JwtAlgorithm::HS256,
            signing_key: None,
            verifying_key: None,
            verifying_keys: Vec::new(),
            audience: None,
            issuer: None,
            leeway: 0,
            auth_header_types: vec!["Bearer".to_owned()],
            user_id_field: UserIdField::Id,
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            check_user_is_active: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_simplejwt_defaults() {
        let s: SimpleJwtSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.access_token_lifetime, Seconds(300));
        assert_eq!(s.refresh_token_lifetime, Seconds(86_400));
        assert_eq!(s.algorithm, JwtAlgorithm::HS256);
        assert_eq!(s.user_id_field, UserIdField::Id);
        assert_eq!(s.auth_header_types, ["Bearer"]);
        assert_eq!(s.user_id_claim, "user_id");
        assert_eq!(s.token_type_claim, "token_type");
        assert_eq!(s.jti_claim, "jti");
        assert_eq!(s.leeway, 0);
        assert!(s.check_user_is_active);
        assert!(!s.rotate_refresh_tokens && !s.blacklist_after_rotation);
        assert_eq!(s.rotation_grace_seconds, 5);
    }

    #[test]
    fn debug_hides_the_signing_key() {
        let s = SimpleJwtSettings {
            signing_key: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && shown.contains("[redacted]"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r = serde_json::from_str::<SimpleJwtSettings>(r#"{"algorithim":"HS256"}"#);
        assert!(r.is_err());
    }

    #[test]
    fn lifetimes_accept_strings() {
        let s: SimpleJwtSettings =
            serde_json::from_str(r#"{"access_token_lifetime":"5m","refresh_token_lifetime":60}"#)
                .unwrap();
        assert_eq!(s.access_token_lifetime, Seconds(300));
        assert_eq!(s.refresh_token_lifetime, Seconds(60));
    }

    #[test]
    fn algorithm_and_user_id_field_take_only_known_names() {
        for alg in JwtAlgorithm::ALL {
            let s: SimpleJwtSettings =
                serde_json::from_value(serde_json::json!({ "algorithm": alg.as_str() })).unwrap();
            assert_eq!(s.algorithm, alg);
            assert_eq!(alg.as_str().parse::<JwtAlgorithm>(), Ok(alg));
        }
        for alg in ["none", "None", "hs256", "PS256", "ES512", "ES256K", ""] {
            let e = serde_json::from_value::<SimpleJwtSettings>(
                serde_json::json!({ "algorithm": alg }),
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("EdDSA"), "{alg}: {e}");
            assert!(alg.parse::<JwtAlgorithm>().is_err(), "{alg}");
        }
        let s: SimpleJwtSettings = serde_json::from_str(r#"{"user_id_field":"username"}"#).unwrap();
        assert_eq!(s.user_id_field, UserIdField::Username);
        for field in ["email", "ID", "pk", ""] {
            let r = serde_json::from_value::<SimpleJwtSettings>(
                serde_json::json!({ "user_id_field": field }),
            );
            assert!(r.is_err(), "{field}");
        }
    }
}
