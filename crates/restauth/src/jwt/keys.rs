//! Signing and verifying keys, each bound to the one configured algorithm, and the JWKS.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, crypto};
use serde_json::{Map, Value, json};

use super::error::JwtConfigError;
use super::jose::RawToken;
use crate::core::settings::jwt::{JwtAlgorithm, SimpleJwtSettings};

/// What each allowed configuration name means to the JOSE library.
fn jose_algorithm(alg: JwtAlgorithm) -> Algorithm {
    match alg {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::HS384 => Algorithm::HS384,
        JwtAlgorithm::HS512 => Algorithm::HS512,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::RS384 => Algorithm::RS384,
        JwtAlgorithm::RS512 => Algorithm::RS512,
        JwtAlgorithm::ES256 => Algorithm::ES256,
        JwtAlgorithm::ES384 => Algorithm::ES384,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

/// Smallest RSA modulus accepted (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;

const SIGNING_KEY: &str = "simple_jwt.signing_key";
const VERIFYING_KEY: &str = "simple_jwt.verifying_key";
const VERIFYING_KEYS: &str = "simple_jwt.verifying_keys";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

fn family(alg: Algorithm) -> Family {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
        Algorithm::EdDSA => Family::Ed,
        _ => Family::Rsa,
    }
}

/// A verifying key and the single algorithm it may be used with.
struct Verifier {
    alg: Algorithm,
    alg_name: &'static str,
    key: DecodingKey,
    /// RFC 7638 thumbprint; None for HMAC, whose tokens carry no `kid`.
    kid: Option<String>,
}

/// The signing key, the keys tokens are verified with, and the published JWKS.
pub(crate) struct KeySet {
    alg: Algorithm,
    alg_name: &'static str,
    signer: EncodingKey,
    /// The signing key's own verifier first, then the older keys still accepted.
    verifiers: Vec<Verifier>,
    /// Pre-encoded JOSE header of issued tokens.
    header_b64: String,
    jwks: Value,
}

impl KeySet {
    /// Loads and checks every key named by the settings.
    pub fn load(s: &SimpleJwtSettings, secret_key: &str) -> Result<Self, JwtConfigError> {
        let (alg_name, alg) = (s.algorithm.as_str(), jose_algorithm(s.algorithm));
        let (signer, verifiers) = match family(alg) {
            Family::Hmac => load_hmac(s, secret_key, alg, alg_name)?,
            fam => load_asymmetric(s, fam, alg, alg_name)?,
        };
        let primary_kid = verifiers.first().and_then(|v| v.kid.clone());
        let jwks = build_jwks(&verifiers)?;
        let keys = Self {
            alg,
            alg_name,
            signer,
            verifiers,
            header_b64: URL_SAFE_NO_PAD.encode(header_json(alg_name, primary_kid.as_deref())),
            jwks,
        };
        keys.self_test()?;
        Ok(keys)
    }

    /// The configured algorithm's name, e.g. `HS256`.
    pub fn alg_name(&self) -> &'static str {
        self.alg_name
    }

    /// The published key set.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Signs `payload` (JSON bytes) and returns the compact token.
    pub fn sign(&self, payload: &[u8]) -> Result<String, jsonwebtoken::errors::Error> {
        let input = format!("{}.{}", self.header_b64, URL_SAFE_NO_PAD.encode(payload));
        let signature = crypto::sign(input.as_bytes(), &self.signer, self.alg)?;
        Ok(format!("{input}.{signature}"))
    }

    /// True when one of the keys the token may name verifies its signature. The header must
    /// already have passed `RawToken::check_header`.
    pub fn verify(&self, raw: &RawToken<'_>, kid: Option<&str>) -> bool {
        let header_alg = raw.header.get("alg").and_then(Value::as_str);
        self.verifiers
            .iter()
            .filter(|v| match (kid, &v.kid) {
                // A kid must name one of our keys (RFC 8725 §3.9): HMAC keys have none, so an
                // HMAC token that names one is refused; without a kid every key is tried.
                (Some(wanted), Some(have)) => wanted == have,
                (Some(_), None) => false,
                (None, _) => true,
            })
            // Re-check the algorithm against the key actually selected.
            .filter(|v| Some(v.alg_name) == header_alg)
            .any(|v| {
                crypto::verify(raw.signature, raw.signing_input.as_bytes(), &v.key, v.alg)
                    .unwrap_or(false)
            })
    }

    /// Signs and verifies once, so that issuing can never fail later for a key problem.
    fn self_test(&self) -> Result<(), JwtConfigError> {
        let fail = |e: String| JwtConfigError::new(SIGNING_KEY, e);
        let token = self
            .sign(b"{}")
            .map_err(|e| fail(format!("cannot sign with it: {e}")))?;
        let raw = RawToken::parse(&token).map_err(|_| fail("cannot sign with it".into()))?;
        let kid = self.verifiers.first().and_then(|v| v.kid.as_deref());
        if self.verify(&raw, kid) {
            Ok(())
        } else {
            Err(fail(
                "its signatures do not verify with the verifying key".into(),
            ))
        }
    }
}

/// `{"alg":…,"kid":…,"typ":"JWT"}`: sorted keys, as PyJWT writes them; `kid` for asymmetric keys only.
fn header_json(alg_name: &str, kid: Option<&str>) -> String {
    let mut header = Map::new();
    header.insert("alg".into(), alg_name.into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    header.insert("typ".into(), "JWT".into());
    Value::Object(header).to_string()
}

fn load_hmac(
    s: &SimpleJwtSettings,
    secret_key: &str,
    alg: Algorithm,
    alg_name: &'static str,
) -> Result<(EncodingKey, Vec<Verifier>), JwtConfigError> {
    if s.verifying_key.is_some() || !s.verifying_keys.is_empty() {
        let setting = if s.verifying_key.is_some() {
            VERIFYING_KEY
        } else {
            VERIFYING_KEYS
        };
        return Err(JwtConfigError::new(
            setting,
            format!("{alg_name} verifies with the signing key; remove this setting"),
        ));
    }
    let (setting, secret) = match &s.signing_key {
        Some(k) => (SIGNING_KEY, k.as_str()),
        None => ("secret_key", secret_key),
    };
    // RFC 7518 §3.2: the key is at least as long as the hash output.
    let min = match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    };
    if secret.len() < min {
        return Err(JwtConfigError::new(
            setting,
            format!(
                "{alg_name} needs a key of at least {min} bytes, this one has {}",
                secret.len()
            ),
        ));
    }
    let bad = |e: jsonwebtoken::errors::Error| JwtConfigError::new(setting, e.to_string());
    let signer = EncodingKey::from_secret(secret.as_bytes()).map_err(bad)?;
    let key = DecodingKey::from_secret(secret.as_bytes()).map_err(bad)?;
    Ok((
        signer,
        vec![Verifier {
            alg,
            alg_name,
            key,
            kid: None,
        }],
    ))
}

fn load_asymmetric(
    s: &SimpleJwtSettings,
    fam: Family,
    alg: Algorithm,
    alg_name: &'static str,
) -> Result<(EncodingKey, Vec<Verifier>), JwtConfigError> {
    let path = s.signing_key.as_deref().ok_or_else(|| {
        JwtConfigError::new(
            SIGNING_KEY,
            format!("{alg_name} needs the path of a private-key PEM file"),
        )
    })?;
    let pem = read_pem(SIGNING_KEY, path)?;
    let not_key = |what: &str| {
        JwtConfigError::new(
            SIGNING_KEY,
            format!("{path} is not {what} usable with {alg_name}"),
        )
    };
    let signer = match fam {
        Family::Rsa => EncodingKey::from_rsa_pem(&pem),
        Family::Ec => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_ed_pem(&pem),
    }
    .map_err(|_| not_key("a private key in PEM form"))?;
    let jwk = Jwk::from_encoding_key(&signer, alg).map_err(|_| not_key("a private key"))?;
    check_public(&jwk, alg)
        .map_err(|e| JwtConfigError::new(SIGNING_KEY, format!("{path}: {e}")))?;
    let primary = verifier_from_jwk(&jwk, alg, alg_name)
        .map_err(|e| JwtConfigError::new(SIGNING_KEY, format!("{path}: {e}")))?;
    if let Some(vpath) = &s.verifying_key {
        let given = load_public(VERIFYING_KEY, vpath, fam, alg, alg_name)?;
        if given.kid != primary.kid {
            return Err(JwtConfigError::new(
                VERIFYING_KEY,
                format!("{vpath} is not the public key of simple_jwt.signing_key"),
            ));
        }
    }
    let mut verifiers = vec![primary];
    for vpath in &s.verifying_keys {
        let v = load_public(VERIFYING_KEYS, vpath, fam, alg, alg_name)?;
        if !verifiers.iter().any(|known| known.kid == v.kid) {
            verifiers.push(v);
        }
    }
    Ok((signer, verifiers))
}

fn read_pem(setting: &'static str, path: &str) -> Result<Vec<u8>, JwtConfigError> {
    std::fs::read(path)
        .map_err(|e| JwtConfigError::new(setting, format!("cannot read {path}: {e}")))
}

/// Loads a public-key PEM file for `alg`.
fn load_public(
    setting: &'static str,
    path: &str,
    fam: Family,
    alg: Algorithm,
    alg_name: &'static str,
) -> Result<Verifier, JwtConfigError> {
    let pem = read_pem(setting, path)?;
    let fail = |e: String| JwtConfigError::new(setting, format!("{path}: {e}"));
    let key = match fam {
        Family::Rsa => DecodingKey::from_rsa_pem(&pem),
        Family::Ec => DecodingKey::from_ec_pem(&pem),
        _ => DecodingKey::from_ed_pem(&pem),
    }
    .map_err(|_| {
        fail(format!(
            "not a public key in PEM form usable with {alg_name}"
        ))
    })?;
    let jwk = Jwk::from_decoding_key(&key, Some(alg))
        .map_err(|_| fail(format!("not a public key usable with {alg_name}")))?;
    check_public(&jwk, alg).map_err(fail)?;
    verifier_from_jwk(&jwk, alg, alg_name).map_err(fail)
}

/// Builds the verifier from the public JWK, so every key is used through one representation.
fn verifier_from_jwk(
    jwk: &Jwk,
    alg: Algorithm,
    alg_name: &'static str,
) -> Result<Verifier, String> {
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| e.to_string())?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    Ok(Verifier {
        alg,
        alg_name,
        key,
        kid: Some(kid),
    })
}

/// Refuses RSA moduli under 2048 bits and curves that do not belong to `alg`.
fn check_public(jwk: &Jwk, alg: Algorithm) -> Result<(), String> {
    match (&jwk.algorithm, alg) {
        (AlgorithmParameters::RSA(p), Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) => {
            let bits = URL_SAFE_NO_PAD
                .decode(&p.n)
                .map(|n| modulus_bits(&n))
                .map_err(|_| "unreadable RSA modulus".to_owned())?;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA keys need at least {MIN_RSA_BITS} bits, this one has {bits}"
                ));
            }
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256)
            if p.curve == EllipticCurve::P256 =>
        {
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384)
            if p.curve == EllipticCurve::P384 =>
        {
            Ok(())
        }
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA)
            if p.curve == EllipticCurve::Ed25519
                && URL_SAFE_NO_PAD.decode(&p.x).is_ok_and(|x| x.len() == 32) =>
        {
            Ok(())
        }
        _ => Err("the key type or curve does not match simple_jwt.algorithm".to_owned()),
    }
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|b| *b != 0) {
        Some(first) => &n[first..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}

/// `{"keys":[…]}` with each asymmetric verifying key as a public JWK carrying kid, alg and use.
fn build_jwks(verifiers: &[Verifier]) -> Result<Value, JwtConfigError> {
    let mut keys = Vec::new();
    for v in verifiers.iter().filter(|v| v.kid.is_some()) {
        let fail = |e: String| JwtConfigError::new(SIGNING_KEY, format!("cannot publish key: {e}"));
        let mut jwk =
            Jwk::from_decoding_key(&v.key, Some(v.alg)).map_err(|e| fail(e.to_string()))?;
        jwk.common.key_id = v.kid.clone();
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        keys.push(serde_json::to_value(&jwk).map_err(|e| fail(e.to_string()))?);
    }
    Ok(json!({ "keys": keys }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_counts_from_the_top_bit() {
        assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn header_keys_are_sorted() {
        assert_eq!(header_json("HS256", None), r#"{"alg":"HS256","typ":"JWT"}"#);
        assert_eq!(
            header_json("RS256", Some("k")),
            r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#
        );
    }
}
