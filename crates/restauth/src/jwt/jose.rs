//! Strict parsing of the compact serialisation, done before any library sees the token.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::error::TokenError;

/// Longest token we look at; real ones are a few hundred bytes, and this bounds the work an
/// attacker can ask for before the signature check.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Header parameters that would make us fetch keys, trust embedded keys, or honour extensions
/// we do not implement (RFC 8725 §3.1, §3.10; RFC 7797).
const FORBIDDEN_HEADER_PARAMS: [&str; 6] = ["crit", "jku", "x5u", "jwk", "x5c", "b64"];

/// A token split into its three parts, with the header already parsed.
pub(crate) struct RawToken<'a> {
    /// `base64(header) "." base64(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: &'a str,
    pub header: Map<String, Value>,
    payload: &'a str,
}

impl<'a> RawToken<'a> {
    /// Splits `token` into exactly three non-empty base64url segments and parses the header.
    pub fn parse(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        if ![h, p, s].iter().all(|seg| is_b64url_segment(seg)) {
            return Err(TokenError::Invalid);
        }
        Ok(Self {
            signing_input: &token[..h.len() + 1 + p.len()],
            signature: s,
            header: decode_object(h)?,
            payload: p,
        })
    }

    /// The payload as a JSON object. Call only after the signature has been verified.
    pub fn payload(&self) -> Result<Map<String, Value>, TokenError> {
        decode_object(self.payload)
    }

    /// Checks the JOSE header against the one algorithm we accept and returns its `kid`.
    pub fn check_header(&self, alg: &str) -> Result<Option<&str>, TokenError> {
        // Exact, case-sensitive match: "none", "None", "hs256" and every other algorithm fail here.
        if self.header.get("alg").and_then(Value::as_str) != Some(alg) {
            return Err(TokenError::Invalid);
        }
        if FORBIDDEN_HEADER_PARAMS
            .iter()
            .any(|p| self.header.contains_key(*p))
        {
            return Err(TokenError::Invalid);
        }
        // A `typ` other than JWT marks another kind of token (RFC 8725 §3.11): never ours.
        match self.header.get("typ") {
            None => {}
            Some(Value::String(t)) if t.eq_ignore_ascii_case("JWT") => {}
            Some(_) => return Err(TokenError::Invalid),
        }
        match self.header.get("kid") {
            None => Ok(None),
            Some(Value::String(kid)) => Ok(Some(kid)),
            Some(_) => Err(TokenError::Invalid),
        }
    }
}

fn is_b64url_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// base64url (no padding, canonical trailing bits) → JSON object without duplicate keys.
fn decode_object(segment: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Invalid)?;
    match serde_json::from_slice::<StrictValue>(&bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        _ => Err(TokenError::Invalid),
    }
}

/// A JSON value that refuses duplicate object keys at any depth, so that two parsers can never
/// read different claims from one token.
pub(crate) struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom("duplicate key"));
            }
            let StrictValue(v) = access.next_value()?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64(payload))
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(serde_json::from_str::<StrictValue>(r#"{"a":1,"a":2}"#).is_err());
        assert!(serde_json::from_str::<StrictValue>(r#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(serde_json::from_str::<StrictValue>(r#"[{"b":1,"\u0062":1}]"#).is_err());
        assert!(serde_json::from_str::<StrictValue>(r#"{"a":1,"b":[1,2.5,null,true]}"#).is_ok());
    }

    #[test]
    fn strict_value_keeps_key_order() {
        let StrictValue(v) = serde_json::from_str(r#"{"z":1,"a":2}"#).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"z":1,"a":2}"#);
    }

    #[test]
    fn not_three_segments_is_invalid() {
        let h = b64(r#"{"alg":"HS256"}"#);
        for t in [
            String::new(),
            "abc".to_owned(),
            format!("{h}.e30"),
            format!("{h}.e30.c2ln.c2ln"),
            format!("{h}.e30."),
            format!("{h}..c2ln"),
            format!("{h}.e30=.c2ln"),
            format!("{h}.e3+.c2ln"),
            format!("{h}.e30.c2ln "),
        ] {
            assert!(RawToken::parse(&t).is_err(), "{t:?}");
        }
        assert!(RawToken::parse(&format!("{h}.e30.c2ln")).is_ok());
    }

    #[test]
    fn non_canonical_base64_is_invalid() {
        // "e31" carries non-zero trailing bits: it would decode to the same bytes as "e30".
        let h = b64(r#"{"alg":"HS256"}"#);
        let t = format!("{h}.e31.c2ln");
        let raw = RawToken::parse(&t).unwrap();
        assert_eq!(raw.payload(), Err(TokenError::Invalid));
    }

    #[test]
    fn header_must_be_an_object() {
        assert!(RawToken::parse(&token("[]", "{}")).is_err());
        assert!(RawToken::parse(&token("\"x\"", "{}")).is_err());
    }

    #[test]
    fn oversized_token_is_invalid() {
        let t = token(r#"{"alg":"HS256"}"#, &"x".repeat(MAX_TOKEN_LEN));
        assert!(RawToken::parse(&t).is_err());
    }

    #[test]
    fn signing_input_is_the_first_two_segments() {
        let t = token(r#"{"alg":"HS256"}"#, "{}");
        let raw = RawToken::parse(&t).unwrap();
        assert_eq!(format!("{}.{}", raw.signing_input, raw.signature), t);
    }

    #[test]
    fn typ_other_than_jwt_is_invalid() {
        for typ in [r#""JWT""#, r#""jwt""#, r#""Jwt""#] {
            let t = token(&format!(r#"{{"alg":"HS256","typ":{typ}}}"#), "{}");
            assert!(
                RawToken::parse(&t).unwrap().check_header("HS256").is_ok(),
                "{typ}"
            );
        }
        for typ in [r#""at+jwt""#, r#""JWS""#, r#""""#, r#""JWT ""#, "1", "null"] {
            let t = token(&format!(r#"{{"alg":"HS256","typ":{typ}}}"#), "{}");
            assert_eq!(
                RawToken::parse(&t).unwrap().check_header("HS256"),
                Err(TokenError::Invalid),
                "{typ}"
            );
        }
    }

    #[test]
    fn kid_must_be_a_string() {
        let t = token(r#"{"alg":"RS256","kid":7}"#, "{}");
        assert!(RawToken::parse(&t).unwrap().check_header("RS256").is_err());
        let t = token(r#"{"alg":"RS256","kid":"k"}"#, "{}");
        assert_eq!(
            RawToken::parse(&t).unwrap().check_header("RS256"),
            Ok(Some("k"))
        );
    }
}
