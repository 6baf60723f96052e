//! Django's `django.core.signing` as used for session data (Django ≥ 3.1): a
//! `TimestampSigner` whose signature is the URL-safe base64 (no padding) of
//! `salted_hmac(salt + "signer", value, key)` with SHA-256, over
//! `<payload>:<base62 timestamp>`. The payload is URL-safe base64 of the serialised JSON; a
//! leading `.` says it was zlib-compressed (and is covered by the signature).

use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

/// Largest decompressed payload accepted: a signed payload cannot be forged, but a key that
/// leaked must not turn into a memory bomb either.
pub const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// Why a signed value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// Not of the form `payload:timestamp:signature`.
    #[error("not a signed value")]
    Malformed,
    /// No key gives this signature: another secret key, or altered data.
    #[error("bad signature")]
    BadSignature,
    /// The signature holds but the payload does not decode (base64, zlib or JSON).
    #[error("signed payload does not decode: {0}")]
    Payload(String),
}

pub use crate::core::hmac::salted_hmac;

fn signature(salt: &str, value: &str, key: &str) -> String {
    let mac = salted_hmac(&format!("{salt}signer"), value.as_bytes(), key.as_bytes());
    URL_SAFE_NO_PAD.encode(mac)
}

/// Django's base62 (`0-9A-Za-z`).
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn b62_encode(mut n: u64) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn b62_decode(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        let d = BASE62.iter().position(|&c| c == b)? as i64;
        n = n.checked_mul(62)?.checked_add(d)?;
    }
    Some(if negative { -n } else { n })
}

/// A verified signed value: the JSON it carries and when it was signed (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Unsigned {
    /// The JSON value that was signed.
    pub value: serde_json::Value,
    /// When it was signed (Unix seconds), from the timestamp Django puts in the signature.
    pub signed_at: i64,
}

/// Django's `signing.loads(signed, key=…, salt=salt, serializer=JSONSerializer)` without an
/// age limit, trying each of `keys` (`SECRET_KEY`, then `SECRET_KEY_FALLBACKS`).
pub fn loads(signed: &str, salt: &str, keys: &[String]) -> Result<Unsigned, SigningError> {
    let (value, sig) = signed.rsplit_once(':').ok_or(SigningError::Malformed)?;
    let (payload, timestamp) = value.rsplit_once(':').ok_or(SigningError::Malformed)?;
    let signed_at = b62_decode(timestamp).ok_or(SigningError::Malformed)?;
    let matched = keys.iter().any(|key| {
        let expected = signature(salt, value, key);
        bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))
    });
    if !matched {
        return Err(SigningError::BadSignature);
    }
    let value = payload_value(payload)?;
    Ok(Unsigned { value, signed_at })
}

/// The JSON a signed value carries, its signature NOT checked: only for reports about a
/// database (`restauth inspect-django` lists the backends sessions name), never to trust.
pub fn peek(signed: &str) -> Result<serde_json::Value, SigningError> {
    let (value, _) = signed.rsplit_once(':').ok_or(SigningError::Malformed)?;
    let (payload, _) = value.rsplit_once(':').ok_or(SigningError::Malformed)?;
    payload_value(payload)
}

/// The JSON of a payload: base64, zlib-compressed when it starts with `.`.
fn payload_value(payload: &str) -> Result<serde_json::Value, SigningError> {
    let (compressed, b64) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let raw = URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|e| SigningError::Payload(format!("base64: {e}")))?;
    let data = if compressed {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(raw.as_slice())
            .take(MAX_PAYLOAD_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| SigningError::Payload(format!("zlib: {e}")))?;
        if out.len() as u64 > MAX_PAYLOAD_BYTES {
            return Err(SigningError::Payload(format!(
                "larger than {MAX_PAYLOAD_BYTES} bytes once decompressed"
            )));
        }
        out
    } else {
        raw
    };
    serde_json::from_slice(&data).map_err(|e| SigningError::Payload(format!("JSON: {e}")))
}

/// Django's `signing.dumps(value, key=key, salt=salt, serializer=JSONSerializer,
/// compress=compress)` signed at `signed_at` (Unix seconds). Django's JSONSerializer writes
/// compact JSON (`","` and `":"` separators), as `serde_json` does.
pub fn dumps(
    value: &serde_json::Value,
    salt: &str,
    key: &str,
    compress: bool,
    signed_at: u64,
) -> String {
    let data = serde_json::to_vec(value).unwrap_or_default();
    let mut payload = URL_SAFE_NO_PAD.encode(&data);
    if compress {
        use std::io::Write;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let compressed = encoder
            .write_all(&data)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        // As Django: only when it saves space.
        if !compressed.is_empty() && compressed.len() < data.len().saturating_sub(1) {
            payload = format!(".{}", URL_SAFE_NO_PAD.encode(&compressed));
        }
    }
    let value = format!("{payload}:{}", b62_encode(signed_at));
    let sig = signature(salt, &value, key);
    format!("{value}:{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "a-test-key-that-is-long-enough-for-anyone-0123456789";

    #[test]
    fn base62_round_trips() {
        for n in [0u64, 1, 61, 62, 1_700_000_000, u32::MAX as u64] {
            assert_eq!(b62_decode(&b62_encode(n)), Some(n as i64));
        }
        assert_eq!(b62_decode("-1"), Some(-1));
        assert_eq!(b62_decode(""), None);
        assert_eq!(b62_decode("a!"), None);
    }

    #[test]
    fn dumps_then_loads_with_and_without_compression() {
        let small = json!({"a": 1});
        let big = json!({"k": "x".repeat(500)});
        for (v, compress) in [(&small, false), (&small, true), (&big, true)] {
            let s = dumps(v, "salt", KEY, compress, 1_700_000_000);
            let back = loads(&s, "salt", &[KEY.to_owned()]).unwrap();
            assert_eq!(&back.value, v);
            assert_eq!(back.signed_at, 1_700_000_000);
        }
        assert!(dumps(&big, "salt", KEY, true, 1).starts_with('.'));
    }

    #[test]
    fn wrong_key_salt_or_tampering_is_a_bad_signature() {
        let s = dumps(&json!({"a": 1}), "salt", KEY, false, 5);
        let keys = [KEY.to_owned()];
        assert_eq!(
            loads(&s, "salt", &["other".to_owned()]),
            Err(SigningError::BadSignature)
        );
        assert_eq!(loads(&s, "pepper", &keys), Err(SigningError::BadSignature));
        let tampered = s.replacen('e', "f", 1);
        assert!(loads(&tampered, "salt", &keys).is_err());
        assert_eq!(
            loads("nothing", "salt", &keys),
            Err(SigningError::Malformed)
        );
        // A fallback key is tried after the first.
        assert!(loads(&s, "salt", &["other".to_owned(), KEY.to_owned()]).is_ok());
    }

    /// Made with Django 5.2's `signing.dumps(value, key=KEY, salt="salt", compress=True)`
    /// with its clock at 1_700_000_000: plain, and zlib-compressed.
    #[test]
    fn reads_what_django_signed() {
        let keys = [KEY.to_owned()];
        let plain = "eyJhIjoxfQ:1r31eq:9gS-k2DmORlolJNxjSU_TAaG4mgAsgx3mo2NFmfyqjU";
        let back = loads(plain, "salt", &keys).unwrap();
        assert_eq!(
            (back.value, back.signed_at),
            (json!({"a": 1}), 1_700_000_000)
        );
        assert_eq!(
            dumps(&json!({"a": 1}), "salt", KEY, true, 1_700_000_000),
            plain
        );
        let compressed = ".eJyrVspWslKqGAUjDijVAgA_G-yG:1r31eq:\
                          vz0fCA-h1YAa-gv13W3j719KOJPUyvQKLZlyz1Y6DQ4";
        let back = loads(compressed, "salt", &keys).unwrap();
        assert_eq!(back.value, json!({"k": "x".repeat(500)}));
    }

    #[test]
    fn a_payload_too_large_once_decompressed_is_refused() {
        let big = json!({ "t": "a".repeat(MAX_PAYLOAD_BYTES as usize) });
        let signed = dumps(&big, "salt", KEY, true, 1);
        assert!(signed.len() < 100_000, "{}", signed.len());
        assert!(matches!(
            loads(&signed, "salt", &[KEY.to_owned()]),
            Err(SigningError::Payload(_))
        ));
    }

    proptest::proptest! {
        /// Whatever sits in `session_data`, reading it is a value or an error, never a panic;
        /// and anything signed with the key reads back as it was.
        #[test]
        fn any_input_is_an_answer(input in ".{0,200}", text in "[ -~]{0,300}", compress: bool) {
            let keys = [KEY.to_owned()];
            let _ = loads(&input, "salt", &keys);
            let _ = loads(&format!(".{input}"), "salt", &keys);
            let value = json!({ "t": text });
            let signed = dumps(&value, "salt", KEY, compress, 7);
            proptest::prop_assert_eq!(loads(&signed, "salt", &keys).unwrap().value, value);
        }
    }
}
