//! Token claims: their wire layout and simplejwt's validation order.

use serde_json::{Map, Value};

use super::error::TokenError;

/// The two token types restauth issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// Short-lived token sent with each request.
    Access,
    /// Long-lived token exchanged for access tokens.
    Refresh,
}

impl TokenType {
    /// The token type claim value: `access` or `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    /// simplejwt's class name, as reported in `messages[].token_class`.
    pub fn token_class(self) -> &'static str {
        match self {
            Self::Access => "AccessToken",
            Self::Refresh => "RefreshToken",
        }
    }
}

/// A token's payload. The names of the type, id and user claims come from the settings;
/// everything else (including `aud`, `iss`, `nbf` and custom claims) is in `extra`.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// `access`, `refresh`, or whatever an untyped token carried (`""` when absent).
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Token id (32 lowercase hex characters for tokens issued here).
    pub jti: String,
    /// The user id, read from a string or an integer and always emitted as a string.
    pub user_id: Option<String>,
    /// Every other claim, in token order.
    pub extra: Map<String, Value>,
}

impl Claims {
    /// When the token was issued, in Unix milliseconds, for revocation cut-offs.
    ///
    /// Tokens issued here carry a UUIDv7 `jti` whose first 48 bits are that instant; it is used
    /// when it lies within the `iat` second. Any other token (a simplejwt `uuid4` jti, say) is
    /// taken as issued at the very start of its `iat` second: the earliest instant it could
    /// have been, so a cut-off in that second refuses it rather than let it through.
    pub fn issued_at_ms(&self) -> i64 {
        let start = self.iat.saturating_mul(1000);
        match uuid7_ms(&self.jti) {
            Some(ms) if ms.div_euclid(1000) == self.iat => ms,
            _ => start,
        }
    }

    /// Whether the token was issued after `cutoff_ms` (a password change, say). The `jti` is
    /// read only when the cut-off lies in the `iat` second or later: `issued_at_ms` is never
    /// before that second's start, and most tokens are checked against an older cut-off.
    pub fn issued_after(&self, cutoff_ms: i64) -> bool {
        self.iat.saturating_mul(1000) > cutoff_ms || self.issued_at_ms() > cutoff_ms
    }
}

/// The millisecond timestamp of a UUIDv7 written as 32 lowercase hex characters.
fn uuid7_ms(jti: &str) -> Option<i64> {
    let b = jti.as_bytes();
    let lower_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    if b.len() != 32 || !b.iter().all(lower_hex) {
        return None;
    }
    // Version nibble 7, variant bits 10.
    if b[12] != b'7' || !matches!(b[16], b'8' | b'9' | b'a' | b'b') {
        return None;
    }
    i64::from_str_radix(&jti[..12], 16).ok()
}

/// Claim names and validation parameters taken from the settings.
#[derive(Clone, Debug)]
pub(crate) struct ClaimRules {
    pub token_type_claim: String,
    pub jti_claim: String,
    pub user_id_claim: String,
    pub leeway: u64,
    pub audience: Option<String>,
    pub issuer: Option<String>,
}

impl ClaimRules {
    /// The payload object in simplejwt's key order: type, exp, iat, jti, user id, then the
    /// configured aud and iss, then the extra claims not already written.
    pub fn to_payload(&self, claims: &Claims) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert(
            self.token_type_claim.clone(),
            claims.token_type.clone().into(),
        );
        map.insert("exp".into(), claims.exp.into());
        map.insert("iat".into(), claims.iat.into());
        map.insert(self.jti_claim.clone(), claims.jti.clone().into());
        if let Some(user_id) = &claims.user_id {
            map.insert(self.user_id_claim.clone(), user_id.clone().into());
        }
        if let Some(aud) = &self.audience {
            map.insert("aud".into(), aud.clone().into());
        }
        if let Some(iss) = &self.issuer {
            map.insert("iss".into(), iss.clone().into());
        }
        for (key, value) in &claims.extra {
            // The fields above win over an extra claim of the same name.
            map.entry(key.clone()).or_insert_with(|| value.clone());
        }
        map
    }

    /// Validates a signature-checked payload in simplejwt's order (§5.2): PyJWT's registered-claim
    /// checks (iat, nbf, exp, iss, aud, jti type), then exp present, jti present, token type, and
    /// finally iat present (restauth's own addition: every token it issues has one).
    pub fn validate(
        &self,
        mut payload: Map<String, Value>,
        expected: Option<TokenType>,
        now: i64,
    ) -> Result<Claims, TokenError> {
        self.check_registered(&payload, now)?;
        let exp = int_claim(&payload, "exp")?.ok_or(TokenError::MissingClaim("exp".into()))?;
        let jti = match payload.remove(&self.jti_claim) {
            Some(Value::String(jti)) if !jti.is_empty() => jti,
            _ => return Err(TokenError::NoId),
        };
        let token_type = match payload.remove(&self.token_type_claim) {
            Some(Value::String(t)) => t,
            None if expected.is_some() => return Err(TokenError::NoType),
            // An untyped token (verify endpoint) may carry anything or nothing here.
            _ => String::new(),
        };
        if let Some(expected) = expected
            && token_type != expected.as_str()
        {
            return Err(TokenError::WrongType);
        }
        let iat = int_claim(&payload, "iat")?.ok_or(TokenError::MissingClaim("iat".into()))?;
        payload.remove("exp");
        payload.remove("iat");
        let user_id = payload.remove(&self.user_id_claim).and_then(user_id_of);
        Ok(Claims {
            token_type,
            exp,
            iat,
            jti,
            user_id,
            extra: payload,
        })
    }

    /// The checks PyJWT runs during `jwt.decode`, in its order. Only `exp` can say "expired".
    fn check_registered(&self, payload: &Map<String, Value>, now: i64) -> Result<(), TokenError> {
        let now = i128::from(now);
        let leeway = i128::from(self.leeway);
        // Issued or valid only in the future (beyond the leeway): refused as invalid.
        for claim in ["iat", "nbf"] {
            if let Some(t) = int_claim(payload, claim)?
                && i128::from(t) > now + leeway
            {
                return Err(TokenError::Invalid);
            }
        }
        if let Some(exp) = int_claim(payload, "exp")?
            && i128::from(exp) <= now - leeway
        {
            return Err(TokenError::Expired);
        }
        if let Some(issuer) = &self.issuer
            && payload.get("iss").and_then(Value::as_str) != Some(issuer)
        {
            return Err(TokenError::Invalid);
        }
        match &self.audience {
            Some(audience) if !audience_matches(payload.get("aud"), audience) => {
                return Err(TokenError::Invalid);
            }
            // A token meant for some audience is not meant for a server that has none
            // (RFC 8725 §3.9): refused rather than taken for a general one.
            None if payload.contains_key("aud") => return Err(TokenError::Invalid),
            _ => {}
        }
        if payload.get(&self.jti_claim).is_some_and(|j| !j.is_string()) {
            return Err(TokenError::Invalid);
        }
        Ok(())
    }
}

/// A time claim: absent, or an integer that fits in i64 (anything else is invalid).
fn int_claim(payload: &Map<String, Value>, name: &str) -> Result<Option<i64>, TokenError> {
    match payload.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(TokenError::Invalid),
    }
}

/// `aud` is a string or a list of strings, one of which must be ours.
fn audience_matches(aud: Option<&Value>, expected: &str) -> bool {
    match aud {
        Some(Value::String(a)) => a == expected,
        Some(Value::Array(items)) => {
            items.iter().all(Value::is_string) && items.iter().any(|a| a == expected)
        }
        _ => false,
    }
}

/// Accepts `"4"` (simplejwt ≥ 5.5.1) and `4` (earlier versions); other types identify nobody.
fn user_id_of(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> ClaimRules {
        ClaimRules {
            token_type_claim: "token_type".into(),
            jti_claim: "jti".into(),
            user_id_claim: "user_id".into(),
            leeway: 0,
            audience: None,
            issuer: None,
        }
    }

    fn payload(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn good() -> Value {
        json!({"token_type":"access","exp":1100,"iat":1000,"jti":"ab","user_id":"4"})
    }

    fn check(v: Value) -> Result<Claims, TokenError> {
        rules().validate(payload(v), Some(TokenType::Access), 1000)
    }

    #[test]
    fn valid_payload_is_split_into_fields() {
        let mut v = good();
        v["custom"] = json!(1);
        let c = check(v).unwrap();
        assert_eq!(
            (c.token_type.as_str(), c.exp, c.iat, c.jti.as_str()),
            ("access", 1100, 1000, "ab")
        );
        assert_eq!(c.user_id.as_deref(), Some("4"));
        assert_eq!(Value::Object(c.extra), json!({"custom":1}));
    }

    #[test]
    fn float_or_string_exp_is_invalid() {
        let mut v = good();
        v["exp"] = json!(1100.5);
        assert_eq!(check(v), Err(TokenError::Invalid));
        let mut v = good();
        v["exp"] = json!("1100");
        assert_eq!(check(v), Err(TokenError::Invalid));
    }

    #[test]
    fn expiry_boundary_is_pyjwt_s() {
        // PyJWT: expired when exp <= now - leeway.
        let mut v = good();
        v["exp"] = json!(1000);
        assert_eq!(check(v), Err(TokenError::Expired));
        let mut v = good();
        v["exp"] = json!(1001);
        assert!(check(v).is_ok());
    }

    #[test]
    fn future_iat_is_invalid() {
        let mut v = good();
        v["iat"] = json!(1001);
        assert_eq!(check(v), Err(TokenError::Invalid));
    }

    #[test]
    fn missing_iat_is_reported_after_type() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("iat");
        assert_eq!(check(v), Err(TokenError::MissingClaim("iat".into())));
    }

    #[test]
    fn empty_or_non_string_jti() {
        let mut v = good();
        v["jti"] = json!("");
        assert_eq!(check(v), Err(TokenError::NoId));
        let mut v = good();
        v["jti"] = json!(5);
        assert_eq!(check(v), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_wins_over_missing_jti_and_type() {
        let v = json!({"exp":10,"iat":5});
        assert_eq!(check(v), Err(TokenError::Expired));
    }

    #[test]
    fn untyped_validation_ignores_token_type() {
        let mut v = good();
        v.as_object_mut().unwrap().remove("token_type");
        let c = rules().validate(payload(v), None, 1000).unwrap();
        assert_eq!(c.token_type, "");
    }

    #[test]
    fn odd_user_id_types_identify_nobody() {
        for odd in [json!(true), json!(1.5), json!(null), json!({"id":1})] {
            let mut v = good();
            v["user_id"] = odd;
            assert_eq!(check(v).unwrap().user_id, None);
        }
    }

    #[test]
    fn audience_list_must_be_strings_and_contain_ours() {
        assert!(audience_matches(Some(&json!(["x", "api"])), "api"));
        assert!(!audience_matches(Some(&json!(["x", 1, "api"])), "api"));
        assert!(!audience_matches(Some(&json!(["x"])), "api"));
        assert!(!audience_matches(None, "api"));
    }

    #[test]
    fn payload_order_puts_fixed_claims_first() {
        let mut r = rules();
        r.audience = Some("api".into());
        let mut extra = Map::new();
        extra.insert("custom".into(), json!(1));
        extra.insert("aud".into(), json!("other"));
        extra.insert("exp".into(), json!(0));
        let c = Claims {
            token_type: "access".into(),
            exp: 2,
            iat: 1,
            jti: "j".into(),
            user_id: None,
            extra,
        };
        assert_eq!(
            serde_json::to_string(&r.to_payload(&c)).unwrap(),
            r#"{"token_type":"access","exp":2,"iat":1,"jti":"j","aud":"api","custom":1}"#
        );
    }

    #[test]
    fn issued_after_reads_the_jti_only_when_it_matters_and_agrees_with_issued_at_ms() {
        let at = |iat: i64, jti: &str| Claims {
            token_type: "access".into(),
            exp: iat + 300,
            iat,
            jti: jti.into(),
            user_id: None,
            extra: Map::new(),
        };
        // A UUIDv7 jti 250 ms into its `iat` second; a uuid4 one; one from another second.
        let v7 = format!("{:012x}70008{}", 1_700_000_000_250_i64, "0".repeat(15));
        let tokens = [
            at(1_700_000_000, &v7),
            at(1_700_000_000, "0123456789abcdef4123812345678901"),
            at(1_700_000_001, &v7),
        ];
        assert_eq!(tokens[0].issued_at_ms(), 1_700_000_000_250);
        for token in &tokens {
            for cutoff in 1_699_999_999_000..1_700_000_002_000 {
                assert_eq!(
                    token.issued_after(cutoff),
                    token.issued_at_ms() > cutoff,
                    "{} at {cutoff}",
                    token.jti
                );
            }
        }
    }
}
