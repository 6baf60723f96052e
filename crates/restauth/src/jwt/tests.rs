//! Attack, wire-format, rotation and interop tests of the JWT backend.
//! The PEM files in `testdata/` were generated for these tests only.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, crypto};
use serde_json::{Value, json};

use super::*;

const SECRET: &str = "test-only-secret-0123456789abcdef-0123456789";
const NOW: i64 = 1_795_877_363;
/// `NOW` in milliseconds, as the issuing functions take it.
const NOW_MS: i64 = NOW * 1000;

fn td(name: &str) -> String {
    format!("{}/src/jwt/testdata/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(td(name)).unwrap()
}

fn settings() -> SimpleJwtSettings {
    SimpleJwtSettings::default()
}

fn hs() -> JwtBackend {
    JwtBackend::new(&settings(), SECRET).unwrap()
}

fn asym(alg: &str, signing: &str, extra: &[&str]) -> JwtBackend {
    let s = SimpleJwtSettings {
        algorithm: alg.parse().unwrap(),
        signing_key: Some(td(signing)),
        verifying_keys: extra.iter().map(|n| td(n)).collect(),
        ..settings()
    };
    JwtBackend::new(&s, "unused").unwrap()
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Signs any header and payload text with the given key, so that a test's only flaw is the
/// one it is about.
fn forge(header: &str, payload: &str, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

fn forge_hs(header: &str, payload: &str) -> String {
    forge(
        header,
        payload,
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        Algorithm::HS256,
    )
}

fn forge_rs(header: &str, payload: &str, pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(read(pem).as_bytes()).unwrap();
    forge(header, payload, &key, Algorithm::RS256)
}

const HS_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn access_payload() -> String {
    json!({"token_type":"access","exp":NOW + 300,"iat":NOW,"jti":"0123456789abcdef0123456789abcdef","user_id":"4"})
        .to_string()
}

fn payload_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v: Value = serde_json::from_str(&access_payload()).unwrap();
    f(v.as_object_mut().unwrap());
    v.to_string()
}

fn access(b: &JwtBackend, token: &str) -> Result<Claims, TokenError> {
    b.decode(token, TokenType::Access, NOW)
}

fn segment(token: &str, i: usize) -> String {
    let seg = token.split('.').nth(i).unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
}

// ---- sanity of the forging helper -------------------------------------------------------

#[test]
fn forged_token_with_real_key_is_accepted() {
    let c = access(&hs(), &forge_hs(HS_HEADER, &access_payload())).unwrap();
    assert_eq!(c.user_id.as_deref(), Some("4"));
}

// ---- algorithm attacks -----------------------------------------------------------------

fn assert_alg_refused(alg: &str) {
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let unsigned = format!("{}.{}.", b64(&header), b64(&access_payload()));
    assert_eq!(access(&hs(), &unsigned), Err(TokenError::Invalid));
    // Even with a signature segment present, the algorithm alone refuses the token.
    assert_eq!(
        access(&hs(), &forge_hs(&header, &access_payload())),
        Err(TokenError::Invalid)
    );
}

#[test]
fn alg_none_is_refused() {
    assert_alg_refused("none");
}

#[test]
fn alg_none_capitalised_is_refused() {
    assert_alg_refused("None");
}

#[test]
fn alg_none_upper_case_is_refused() {
    assert_alg_refused("NONE");
}

#[test]
fn hs256_signed_with_rsa_public_key_is_refused_when_rs256_configured() {
    let b = asym("RS256", "rsa_a.key.pem", &[]);
    let public_pem = read("rsa_a.pub.pem");
    let key = EncodingKey::from_secret(public_pem.as_bytes()).unwrap();
    let kid = b.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
    for header in [
        HS_HEADER.to_owned(),
        format!(r#"{{"alg":"HS256","kid":"{kid}","typ":"JWT"}}"#),
    ] {
        let t = forge(&header, &access_payload(), &key, Algorithm::HS256);
        assert_eq!(access(&b, &t), Err(TokenError::Invalid));
    }
}

#[test]
fn other_algorithm_than_configured_is_refused() {
    let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let t = forge(
        r#"{"alg":"HS512","typ":"JWT"}"#,
        &access_payload(),
        &key,
        Algorithm::HS512,
    );
    assert_eq!(access(&hs(), &t), Err(TokenError::Invalid));
    let t = forge_hs(r#"{"alg":"hs256","typ":"JWT"}"#, &access_payload());
    assert_eq!(access(&hs(), &t), Err(TokenError::Invalid));
}

#[test]
fn rs256_token_refused_when_es256_configured() {
    let b = asym("ES256", "ec_a.key.pem", &[]);
    let t = forge_rs(
        r#"{"alg":"RS256","typ":"JWT"}"#,
        &access_payload(),
        "rsa_a.key.pem",
    );
    assert_eq!(access(&b, &t), Err(TokenError::Invalid));
}

#[test]
fn missing_or_non_string_alg_is_refused() {
    for header in [
        r#"{"typ":"JWT"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":["HS256"]}"#,
    ] {
        assert_eq!(
            access(&hs(), &forge_hs(header, &access_payload())),
            Err(TokenError::Invalid)
        );
    }
}

// ---- dangerous header parameters -------------------------------------------------------

fn assert_header_refused(header: &str) {
    let t = forge_hs(header, &access_payload());
    assert_eq!(access(&hs(), &t), Err(TokenError::Invalid), "{header}");
}

#[test]
fn crit_header_is_refused() {
    assert_header_refused(r#"{"alg":"HS256","crit":["exp"],"typ":"JWT"}"#);
}

#[test]
fn jku_header_is_refused() {
    assert_header_refused(r#"{"alg":"HS256","jku":"http://127.0.0.1:9/jwks.json","typ":"JWT"}"#);
}

#[test]
fn x5u_header_is_refused() {
    assert_header_refused(r#"{"alg":"HS256","typ":"JWT","x5u":"http://127.0.0.1:9/cert.pem"}"#);
}

#[test]
fn jwk_header_is_refused() {
    assert_header_refused(r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"},"typ":"JWT"}"#);
}

#[test]
fn x5c_header_is_refused() {
    assert_header_refused(r#"{"alg":"HS256","typ":"JWT","x5c":["MIIB"]}"#);
}

#[test]
fn embedded_jwk_is_refused_for_asymmetric_algorithms_too() {
    let b = asym("RS256", "rsa_a.key.pem", &[]);
    let jwk = &b.jwks()["keys"][0];
    let header = json!({"alg":"RS256","jwk":jwk,"typ":"JWT"}).to_string();
    let t = forge_rs(&header, &access_payload(), "rsa_a.key.pem");
    assert_eq!(access(&b, &t), Err(TokenError::Invalid));
}

// ---- JSON and encoding strictness ------------------------------------------------------

#[test]
fn duplicate_claim_keys_are_refused() {
    let payload = format!(
        r#"{{"token_type":"access","exp":{},"iat":{NOW},"jti":"abc","user_id":"4","user_id":"1"}}"#,
        NOW + 300
    );
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &payload)),
        Err(TokenError::Invalid)
    );
    let payload = format!(
        r#"{{"token_type":"refresh","token_type":"access","exp":{},"iat":{NOW},"jti":"abc"}}"#,
        NOW + 300
    );
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &payload)),
        Err(TokenError::Invalid)
    );
}

#[test]
fn duplicate_header_keys_are_refused() {
    // The last "alg" is the good one, so a last-key-wins parser would accept this.
    assert_header_refused(r#"{"alg":"none","alg":"HS256","typ":"JWT"}"#);
}

#[test]
fn non_object_payload_is_refused() {
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, "[1,2]")),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, "not json")),
        Err(TokenError::Invalid)
    );
}

#[test]
fn garbage_tokens_are_invalid() {
    let b = hs();
    for t in ["", "garbage", "a.b.c", "...", "a.b", "Bearer x", "é.é.é"] {
        assert_eq!(access(&b, t), Err(TokenError::Invalid), "{t:?}");
    }
    let good = b.issue_refresh("4", NOW_MS).token;
    assert_eq!(access(&b, &format!("{good}.x")), Err(TokenError::Invalid));
    assert_eq!(access(&b, &format!("{good}=")), Err(TokenError::Invalid));
}

// ---- tampering ----

/// Every single-character change of a valid token is refused, and nothing panics: the
/// canonical base64 check leaves no equivalent spelling of a segment.
fn assert_no_malleability(b: &JwtBackend) {
    let token = b
        .access_for(&b.issue_refresh("4", NOW_MS).claims, NOW_MS)
        .token;
    assert!(access(b, &token).is_ok());
    for i in 0..token.len() {
        for c in ['A', 'B', 'g', '_', '-', '.', '0'] {
            let mut t = token.clone().into_bytes();
            if t[i] == c as u8 {
                continue;
            }
            t[i] = c as u8;
            let t = String::from_utf8(t).unwrap();
            assert!(access(b, &t).is_err(), "position {i} -> {c}");
        }
    }
}

#[test]
fn no_single_character_change_is_accepted_hs256() {
    assert_no_malleability(&hs());
}

#[test]
fn no_single_character_change_is_accepted_eddsa() {
    assert_no_malleability(&asym("EdDSA", "ed_a.key.pem", &[]));
}

#[test]
fn tampered_payload_is_refused() {
    let b = hs();
    let t = b
        .access_for(&b.issue_refresh("4", NOW_MS).claims, NOW_MS)
        .token;
    let parts: Vec<&str> = t.split('.').collect();
    let evil = segment(&t, 1).replace(r#""user_id":"4""#, r#""user_id":"1""#);
    let forged = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    assert_eq!(access(&b, &forged), Err(TokenError::Invalid));
}

#[test]
fn tampered_signature_is_refused() {
    let b = hs();
    let t = b
        .access_for(&b.issue_refresh("4", NOW_MS).claims, NOW_MS)
        .token;
    let (rest, sig) = t.rsplit_once('.').unwrap();
    let first = if sig.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{rest}.{first}{}", &sig[1..]);
    assert_eq!(access(&b, &forged), Err(TokenError::Invalid));
}

#[test]
fn token_signed_with_another_secret_is_refused() {
    let other = JwtBackend::new(&settings(), "another-test-secret-0123456789abcdef").unwrap();
    let t = other.issue_refresh("4", NOW_MS).token;
    assert_eq!(
        hs().decode(&t, TokenType::Refresh, NOW),
        Err(TokenError::Invalid)
    );
}

#[test]
fn signature_is_checked_before_claims() {
    // An expired token with a wrong signature says "invalid", not "expired".
    let key = EncodingKey::from_secret(b"some-other-key-0123456789abcdef-xyz").unwrap();
    let payload = payload_with(|m| {
        m.insert("exp".into(), json!(NOW - 100));
    });
    let t = forge(HS_HEADER, &payload, &key, Algorithm::HS256);
    assert_eq!(access(&hs(), &t), Err(TokenError::Invalid));
}

// ---- required claims and their order ---------------------------------------------------

#[test]
fn missing_exp_is_refused() {
    let payload = payload_with(|m| {
        m.remove("exp");
    });
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &payload)),
        Err(TokenError::MissingClaim("exp".into()))
    );
}

#[test]
fn missing_jti_is_refused() {
    let payload = payload_with(|m| {
        m.remove("jti");
    });
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &payload)),
        Err(TokenError::NoId)
    );
}

#[test]
fn missing_token_type_is_refused() {
    let payload = payload_with(|m| {
        m.remove("token_type");
    });
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &payload)),
        Err(TokenError::NoType)
    );
}

#[test]
fn refresh_token_used_as_access_is_wrong_type() {
    let b = hs();
    let refresh = b.issue_refresh("4", NOW_MS).token;
    assert_eq!(access(&b, &refresh), Err(TokenError::WrongType));
}

#[test]
fn access_token_used_as_refresh_is_wrong_type() {
    let b = hs();
    let at = b
        .access_for(&b.issue_refresh("4", NOW_MS).claims, NOW_MS)
        .token;
    assert_eq!(
        b.decode(&at, TokenType::Refresh, NOW),
        Err(TokenError::WrongType)
    );
}

#[test]
fn decode_any_accepts_both_types() {
    let b = hs();
    let rt = b.issue_refresh("4", NOW_MS);
    let at = b.access_for(&rt.claims, NOW_MS);
    assert_eq!(b.decode_any(&rt.token, NOW).unwrap(), rt.claims);
    assert_eq!(b.decode_any(&at.token, NOW).unwrap(), at.claims);
}

// ---- time ------------------------------------------------------------------------------

#[test]
fn expired_token_is_refused() {
    let b = hs();
    let rt = b.issue_refresh("4", NOW_MS);
    let at = b.access_for(&rt.claims, NOW_MS);
    assert!(access(&b, &at.token).is_ok());
    assert_eq!(
        b.decode(&at.token, TokenType::Access, NOW + 300),
        Err(TokenError::Expired)
    );
    assert_eq!(
        b.decode(&rt.token, TokenType::Refresh, NOW + 86_400),
        Err(TokenError::Expired)
    );
    assert!(
        b.decode(&rt.token, TokenType::Refresh, NOW + 86_399)
            .is_ok()
    );
}

#[test]
fn nbf_in_the_future_is_refused() {
    let future = payload_with(|m| {
        m.insert("nbf".into(), json!(NOW + 10));
    });
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &future)),
        Err(TokenError::Invalid)
    );
    let past = payload_with(|m| {
        m.insert("nbf".into(), json!(NOW));
    });
    assert!(access(&hs(), &forge_hs(HS_HEADER, &past)).is_ok());
}

#[test]
fn leeway_is_honoured_exactly() {
    let expired_3s_ago = forge_hs(
        HS_HEADER,
        &payload_with(|m| {
            m.insert("exp".into(), json!(NOW - 3));
        }),
    );
    let with = |leeway| {
        JwtBackend::new(
            &SimpleJwtSettings {
                leeway,
                ..settings()
            },
            SECRET,
        )
        .unwrap()
    };
    assert!(access(&with(5), &expired_3s_ago).is_ok());
    assert_eq!(access(&with(3), &expired_3s_ago), Err(TokenError::Expired));
    assert_eq!(access(&with(0), &expired_3s_ago), Err(TokenError::Expired));
    // Not the library's 60 s default either.
    assert_eq!(
        hs().decode(&expired_3s_ago, TokenType::Access, NOW),
        Err(TokenError::Expired)
    );
}

#[test]
fn leeway_also_covers_nbf() {
    let nbf_soon = forge_hs(
        HS_HEADER,
        &payload_with(|m| {
            m.insert("nbf".into(), json!(NOW + 3));
        }),
    );
    let with = |leeway| {
        JwtBackend::new(
            &SimpleJwtSettings {
                leeway,
                ..settings()
            },
            SECRET,
        )
        .unwrap()
    };
    assert!(access(&with(5), &nbf_soon).is_ok());
    assert_eq!(access(&with(0), &nbf_soon), Err(TokenError::Invalid));
}

// ---- audience and issuer ---------------------------------------------------------------

fn with_aud_iss() -> JwtBackend {
    let s = SimpleJwtSettings {
        audience: Some("restauth-api".into()),
        issuer: Some("https://auth.example".into()),
        ..settings()
    };
    JwtBackend::new(&s, SECRET).unwrap()
}

#[test]
fn issued_tokens_carry_and_pass_aud_iss() {
    let b = with_aud_iss();
    let rt = b.issue_refresh("4", NOW_MS);
    let payload = segment(&rt.token, 1);
    assert!(
        payload.ends_with(r#""user_id":"4","aud":"restauth-api","iss":"https://auth.example"}"#)
    );
    assert!(b.decode(&rt.token, TokenType::Refresh, NOW).is_ok());
}

#[test]
fn audience_mismatch_is_refused() {
    let b = with_aud_iss();
    for aud in [json!("other"), json!(["other"]), Value::Null] {
        let p = payload_with(|m| {
            m.insert("iss".into(), json!("https://auth.example"));
            if !aud.is_null() {
                m.insert("aud".into(), aud.clone());
            }
        });
        assert_eq!(
            access(&b, &forge_hs(HS_HEADER, &p)),
            Err(TokenError::Invalid),
            "{aud}"
        );
    }
    let p = payload_with(|m| {
        m.insert("iss".into(), json!("https://auth.example"));
        m.insert("aud".into(), json!(["other", "restauth-api"]));
    });
    assert!(access(&b, &forge_hs(HS_HEADER, &p)).is_ok());
}

#[test]
fn issuer_mismatch_is_refused() {
    let b = with_aud_iss();
    for iss in [json!("https://evil.example"), json!(1), Value::Null] {
        let p = payload_with(|m| {
            m.insert("aud".into(), json!("restauth-api"));
            if !iss.is_null() {
                m.insert("iss".into(), iss.clone());
            }
        });
        assert_eq!(
            access(&b, &forge_hs(HS_HEADER, &p)),
            Err(TokenError::Invalid),
            "{iss}"
        );
    }
}

// ---- user id ---------------------------------------------------------------------------

#[test]
fn user_id_string_and_integer_are_accepted() {
    let b = hs();
    let as_int = payload_with(|m| {
        m.insert("user_id".into(), json!(42));
    });
    assert_eq!(
        access(&b, &forge_hs(HS_HEADER, &as_int))
            .unwrap()
            .user_id
            .as_deref(),
        Some("42")
    );
    let as_str = payload_with(|m| {
        m.insert("user_id".into(), json!("42"));
    });
    assert_eq!(
        access(&b, &forge_hs(HS_HEADER, &as_str))
            .unwrap()
            .user_id
            .as_deref(),
        Some("42")
    );
}

#[test]
fn integer_user_id_is_re_emitted_as_string() {
    let b = hs();
    let p = payload_with(|m| {
        m.insert("token_type".into(), json!("refresh"));
        m.insert("user_id".into(), json!(42));
    });
    let refresh = b
        .decode(&forge_hs(HS_HEADER, &p), TokenType::Refresh, NOW)
        .unwrap();
    let at = b.access_for(&refresh, NOW_MS);
    assert!(segment(&at.token, 1).contains(r#""user_id":"42""#));
}

#[test]
fn missing_user_id_decodes_to_none() {
    let p = payload_with(|m| {
        m.remove("user_id");
    });
    assert_eq!(
        access(&hs(), &forge_hs(HS_HEADER, &p)).unwrap().user_id,
        None
    );
}

#[test]
fn custom_claim_names_are_used() {
    let s = SimpleJwtSettings {
        user_id_claim: "sub".into(),
        token_type_claim: "typ".into(),
        jti_claim: "id".into(),
        ..settings()
    };
    let b = JwtBackend::new(&s, SECRET).unwrap();
    let rt = b.issue_refresh("7", NOW_MS);
    let payload: Value = serde_json::from_str(&segment(&rt.token, 1)).unwrap();
    let keys: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["typ", "exp", "iat", "id", "sub"]);
    assert_eq!(
        b.decode(&rt.token, TokenType::Refresh, NOW)
            .unwrap()
            .user_id
            .as_deref(),
        Some("7")
    );
    // A default-named token lacks the configured type claim.
    assert_eq!(
        hs().decode(&rt.token, TokenType::Refresh, NOW),
        Err(TokenError::NoId)
    );
}

// ---- wire format -----------------------------------------------------------------------

#[test]
fn access_payload_is_simplejwt_byte_for_byte() {
    let b = hs();
    let claims = Claims {
        token_type: "access".into(),
        exp: 1_795_877_663,
        iat: 1_795_877_363,
        jti: "b0e55299b38e4f4aadb8e168ee5c4dc0".into(),
        user_id: Some("4".into()),
        extra: serde_json::Map::new(),
    };
    let token = b.encode(&claims);
    assert_eq!(segment(&token, 0), r#"{"alg":"HS256","typ":"JWT"}"#);
    assert_eq!(
        segment(&token, 1),
        r#"{"token_type":"access","exp":1795877663,"iat":1795877363,"jti":"b0e55299b38e4f4aadb8e168ee5c4dc0","user_id":"4"}"#
    );
    assert_eq!(
        b.decode(&token, TokenType::Access, 1_795_877_363).unwrap(),
        claims
    );
}

#[test]
fn refresh_payload_is_simplejwt_byte_for_byte() {
    let b = hs();
    let claims = Claims {
        token_type: "refresh".into(),
        exp: 1_795_963_763,
        iat: 1_795_877_363,
        jti: "ef544b0e8c9f45cdb81c4286085133dd".into(),
        user_id: Some("4".into()),
        extra: serde_json::Map::new(),
    };
    assert_eq!(
        segment(&b.encode(&claims), 1),
        r#"{"token_type":"refresh","exp":1795963763,"iat":1795877363,"jti":"ef544b0e8c9f45cdb81c4286085133dd","user_id":"4"}"#
    );
}

#[test]
fn issued_refresh_has_simplejwt_shape() {
    let rt = hs().issue_refresh("4", NOW_MS);
    let c = &rt.claims;
    assert_eq!(
        (c.token_type.as_str(), c.exp, c.iat),
        ("refresh", NOW + 86_400, NOW)
    );
    assert_eq!(c.jti.len(), 32);
    assert!(
        c.jti
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(
        segment(&rt.token, 1),
        format!(
            r#"{{"token_type":"refresh","exp":{},"iat":{NOW},"jti":"{}","user_id":"4"}}"#,
            NOW + 86_400,
            c.jti
        )
    );
    assert_eq!(rt.token.split('.').count(), 3);
    assert!(!rt.token.contains('='));
}

#[test]
fn jtis_are_unique() {
    let b = hs();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        assert!(seen.insert(b.issue_refresh("4", NOW_MS).claims.jti));
    }
}

#[test]
fn access_copies_refresh_claims_except_type_exp_jti_iat() {
    let b = hs();
    let mut refresh = b.issue_refresh("4", (NOW - 100) * 1000).claims;
    refresh.extra.insert("tenant".into(), json!("acme"));
    let at = b.access_for(&refresh, NOW_MS);
    let c = &at.claims;
    assert_eq!(
        (c.token_type.as_str(), c.exp, c.iat),
        ("access", NOW + 300, NOW)
    );
    assert_ne!(c.jti, refresh.jti);
    assert_eq!(c.user_id.as_deref(), Some("4"));
    assert_eq!(c.extra.get("tenant"), Some(&json!("acme")));
    assert_eq!(access(&b, &at.token).unwrap(), at.claims);
}

#[test]
fn rotation_keeps_claims_with_new_jti_exp_iat() {
    let b = hs();
    let mut old = b.issue_refresh("4", (NOW - 1000) * 1000).claims;
    old.extra.insert("tenant".into(), json!("acme"));
    let new = b.rotate(&old, NOW_MS);
    assert_eq!(new.claims.token_type, "refresh");
    assert_eq!((new.claims.exp, new.claims.iat), (NOW + 86_400, NOW));
    assert_ne!(new.claims.jti, old.jti);
    assert_eq!(
        (&new.claims.user_id, &new.claims.extra),
        (&old.user_id, &old.extra)
    );
    assert_eq!(
        b.decode(&new.token, TokenType::Refresh, NOW).unwrap(),
        new.claims
    );
}

#[test]
fn hmac_tokens_have_no_kid_and_refuse_one() {
    let b = hs();
    assert!(!segment(&b.issue_refresh("4", NOW_MS).token, 0).contains("kid"));
    // An HMAC key has no kid, so a token naming one names a key we do not have.
    let t = forge_hs(
        r#"{"alg":"HS256","kid":"whatever","typ":"JWT"}"#,
        &access_payload(),
    );
    assert_eq!(access(&b, &t), Err(TokenError::Invalid));
}

#[test]
fn typ_must_be_jwt_in_any_case() {
    for typ in ["JWT", "jwt", "Jwt"] {
        let t = forge_hs(
            &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
            &access_payload(),
        );
        assert!(access(&hs(), &t).is_ok(), "{typ}");
    }
    // No typ at all is fine (RFC 7519 makes it optional).
    assert!(access(&hs(), &forge_hs(r#"{"alg":"HS256"}"#, &access_payload())).is_ok());
    for typ in ["at+jwt", "JWS", "", "dpop+jwt"] {
        let t = forge_hs(
            &format!(r#"{{"alg":"HS256","typ":"{typ}"}}"#),
            &access_payload(),
        );
        assert_eq!(access(&hs(), &t), Err(TokenError::Invalid), "{typ}");
    }
}

#[test]
fn aud_is_refused_when_no_audience_is_configured() {
    for aud in [json!("api"), json!(["api"]), json!([]), json!("")] {
        let p = payload_with(|m| {
            m.insert("aud".into(), aud.clone());
        });
        assert_eq!(
            access(&hs(), &forge_hs(HS_HEADER, &p)),
            Err(TokenError::Invalid),
            "{aud}"
        );
    }
}

#[test]
fn jti_is_a_uuid7_carrying_the_issue_millisecond() {
    let b = hs();
    let at_ms = NOW_MS + 789;
    let c = b.issue_refresh("4", at_ms).claims;
    assert_eq!(c.iat, NOW);
    assert_eq!(c.jti.len(), 32);
    // Version 7 and the RFC 9562 variant, as `uuid::Uuid::now_v7().simple()` would write them.
    assert_eq!(&c.jti[12..13], "7");
    assert!("89ab".contains(&c.jti[16..17]));
    assert_eq!(i64::from_str_radix(&c.jti[..12], 16).unwrap(), at_ms);
    assert_eq!(c.issued_at_ms(), at_ms);
    let a = b.access_for(&c, at_ms + 1).claims;
    assert_eq!(a.issued_at_ms(), at_ms + 1);
}

#[test]
fn issue_instant_of_foreign_jti_is_the_start_of_its_second() {
    let b = hs();
    let mut c = b.issue_refresh("4", NOW_MS + 500).claims;
    // A simplejwt jti (uuid4 hex) carries no time.
    c.jti = "0123456789ab4def8123456789abcdef".into();
    assert_eq!(c.issued_at_ms(), NOW_MS);
    // A UUIDv7 outside the iat second is not believed either.
    let mut d = b.issue_refresh("4", NOW_MS + 500).claims;
    d.iat = NOW - 1;
    assert_eq!(d.issued_at_ms(), (NOW - 1) * 1000);
}

#[test]
fn reminted_successor_is_byte_identical() {
    let backends = [
        hs(),
        asym("RS256", "rsa_a.key.pem", &[]),
        asym("ES256", "ec_a.key.pem", &[]),
        asym("EdDSA", "ed_a.key.pem", &[]),
    ];
    for b in backends {
        let mut old = b.issue_refresh("4", NOW_MS - 60_000).claims;
        old.extra.insert("tenant".into(), json!("acme"));
        let new = b.rotate(&old, NOW_MS + 250);
        let again = b.remint_successor(&old, &new.claims.jti, new.claims.iat, new.claims.exp);
        assert_eq!(again.token, new.token, "{}", b.algorithm());
    }
}

// ---- asymmetric keys, kid routing and rotation -----------------------------------------

#[test]
fn each_asymmetric_algorithm_round_trips_with_kid() {
    for (alg, key) in [
        ("RS256", "rsa_a.key.pem"),
        ("RS384", "rsa_a.key.pem"),
        ("RS512", "rsa_a.key.pem"),
        ("ES256", "ec_a.key.pem"),
        ("ES384", "ec384.key.pem"),
        ("EdDSA", "ed_a.key.pem"),
    ] {
        let b = asym(alg, key, &[]);
        let rt = b.issue_refresh("4", NOW_MS);
        let header: Value = serde_json::from_str(&segment(&rt.token, 0)).unwrap();
        let jwks = b.jwks();
        assert_eq!(header["alg"], alg);
        assert_eq!(header["kid"], jwks["keys"][0]["kid"], "{alg}");
        assert_eq!(jwks["keys"][0]["alg"], alg);
        assert_eq!(jwks["keys"][0]["use"], "sig");
        assert_eq!(
            b.decode(&rt.token, TokenType::Refresh, NOW).unwrap(),
            rt.claims,
            "{alg}"
        );
    }
}

#[test]
fn jwks_is_empty_for_hmac() {
    assert_eq!(hs().jwks(), json!({"keys":[]}));
}

#[test]
fn jwks_publishes_public_parts_only() {
    let b = asym("RS256", "rsa_a.key.pem", &["rsa_b.pub.pem"]);
    let jwks = b.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for k in keys {
        assert_eq!(k["kty"], "RSA");
        assert!(k.get("d").is_none() && k.get("p").is_none());
        assert_eq!(k["e"], "AQAB");
    }
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    let ed = asym("EdDSA", "ed_a.key.pem", &[]).jwks();
    assert_eq!(ed["keys"][0]["kty"], "OKP");
    assert_eq!(ed["keys"][0]["crv"], "Ed25519");
    assert!(ed["keys"][0].get("d").is_none());
}

#[test]
fn old_key_in_verifying_keys_still_verifies() {
    let old = asym("RS256", "rsa_a.key.pem", &[]);
    let token = old.issue_refresh("4", NOW_MS).token;
    let rotated = asym("RS256", "rsa_b.key.pem", &["rsa_a.pub.pem"]);
    assert!(rotated.decode(&token, TokenType::Refresh, NOW).is_ok());
    // New tokens are signed with the new key, which the old deployment does not know.
    let fresh = rotated.issue_refresh("4", NOW_MS).token;
    assert_eq!(
        old.decode(&fresh, TokenType::Refresh, NOW),
        Err(TokenError::Invalid)
    );
    // Once the old key is dropped, its tokens stop verifying.
    let dropped = asym("RS256", "rsa_b.key.pem", &[]);
    assert_eq!(
        dropped.decode(&token, TokenType::Refresh, NOW),
        Err(TokenError::Invalid)
    );
}

#[test]
fn old_ec_key_in_verifying_keys_still_verifies() {
    let token = asym("ES256", "ec_a.key.pem", &[])
        .issue_refresh("4", NOW_MS)
        .token;
    let rotated = asym("ES256", "ec_b.key.pem", &["ec_a.pub.pem"]);
    assert!(rotated.decode(&token, TokenType::Refresh, NOW).is_ok());
}

#[test]
fn kid_routes_to_one_key_only() {
    let b = asym("RS256", "rsa_b.key.pem", &["rsa_a.pub.pem"]);
    let kids: Vec<String> = b.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().into())
        .collect();
    let header = |kid: &str| format!(r#"{{"alg":"RS256","kid":"{kid}","typ":"JWT"}}"#);
    let p = access_payload();
    // Signed with key A and naming A: accepted.
    assert!(access(&b, &forge_rs(&header(&kids[1]), &p, "rsa_a.key.pem")).is_ok());
    // Signed with key A but naming B: B alone is tried, so refused.
    assert_eq!(
        access(&b, &forge_rs(&header(&kids[0]), &p, "rsa_a.key.pem")),
        Err(TokenError::Invalid)
    );
    // Unknown kid: refused.
    assert_eq!(
        access(&b, &forge_rs(&header("nope"), &p, "rsa_a.key.pem")),
        Err(TokenError::Invalid)
    );
    // No kid (a simplejwt-issued token): every configured key is tried.
    assert!(
        access(
            &b,
            &forge_rs(r#"{"alg":"RS256","typ":"JWT"}"#, &p, "rsa_a.key.pem")
        )
        .is_ok()
    );
}

#[test]
fn token_signed_by_unknown_rsa_key_is_refused() {
    let b = asym("RS256", "rsa_a.key.pem", &[]);
    let t = forge_rs(
        r#"{"alg":"RS256","typ":"JWT"}"#,
        &access_payload(),
        "rsa_b.key.pem",
    );
    assert_eq!(access(&b, &t), Err(TokenError::Invalid));
}

// ---- configuration ---------------------------------------------------------------------

fn config_err(s: SimpleJwtSettings, secret: &str) -> JwtConfigError {
    JwtBackend::new(&s, secret).unwrap_err()
}

#[test]
fn short_hmac_keys_are_refused() {
    let e = config_err(settings(), &"k".repeat(31));
    assert_eq!(e.setting, "secret_key");
    assert!(JwtBackend::new(&settings(), &"k".repeat(32)).is_ok());
    let s = SimpleJwtSettings {
        signing_key: Some("short".into()),
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.signing_key");
    let s = SimpleJwtSettings {
        algorithm: "HS512".parse().unwrap(),
        ..settings()
    };
    assert!(
        config_err(s.clone(), &"k".repeat(63))
            .to_string()
            .contains("64 bytes")
    );
    assert!(JwtBackend::new(&s, &"k".repeat(64)).is_ok());
}

#[test]
fn asymmetric_without_signing_key_is_refused() {
    let e = config_err(
        SimpleJwtSettings {
            algorithm: "RS256".parse().unwrap(),
            ..settings()
        },
        SECRET,
    );
    assert_eq!(e.setting, "simple_jwt.signing_key");
}

#[test]
fn missing_pem_files_are_refused() {
    let s = SimpleJwtSettings {
        algorithm: "RS256".parse().unwrap(),
        signing_key: Some(td("missing.pem")),
        ..settings()
    };
    let e = config_err(s, SECRET);
    assert_eq!(e.setting, "simple_jwt.signing_key");
    assert!(e.reason.contains("cannot read"));
    let s = SimpleJwtSettings {
        algorithm: "RS256".parse().unwrap(),
        signing_key: Some(td("rsa_a.key.pem")),
        verifying_keys: vec![td("missing.pem")],
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.verifying_keys");
}

#[test]
fn small_rsa_keys_are_refused() {
    let s = SimpleJwtSettings {
        algorithm: "RS256".parse().unwrap(),
        signing_key: Some(td("rsa_small.key.pem")),
        ..settings()
    };
    let e = config_err(s, SECRET);
    assert!(e.reason.contains("2048"), "{e}");
    let s = SimpleJwtSettings {
        algorithm: "RS256".parse().unwrap(),
        signing_key: Some(td("rsa_a.key.pem")),
        verifying_keys: vec![td("rsa_small.pub.pem")],
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.verifying_keys");
}

#[test]
fn keys_of_the_wrong_type_or_curve_are_refused() {
    for (alg, key) in [
        ("ES256", "ec384.key.pem"),
        ("ES384", "ec_a.key.pem"),
        ("RS256", "ec_a.key.pem"),
        ("EdDSA", "rsa_a.key.pem"),
        ("ES256", "ec_a.pub.pem"),
    ] {
        let s = SimpleJwtSettings {
            algorithm: alg.parse().unwrap(),
            signing_key: Some(td(key)),
            ..settings()
        };
        assert_eq!(
            config_err(s, SECRET).setting,
            "simple_jwt.signing_key",
            "{alg} {key}"
        );
    }
    let s = SimpleJwtSettings {
        algorithm: "ES256".parse().unwrap(),
        signing_key: Some(td("ec_a.key.pem")),
        verifying_keys: vec![td("ec384.pub.pem")],
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.verifying_keys");
}

#[test]
fn verifying_key_must_match_signing_key() {
    let s = SimpleJwtSettings {
        algorithm: "RS256".parse().unwrap(),
        signing_key: Some(td("rsa_a.key.pem")),
        verifying_key: Some(td("rsa_b.pub.pem")),
        ..settings()
    };
    assert_eq!(
        config_err(s.clone(), SECRET).setting,
        "simple_jwt.verifying_key"
    );
    let ok = SimpleJwtSettings {
        verifying_key: Some(td("rsa_a.pub.pem")),
        ..s
    };
    assert!(JwtBackend::new(&ok, SECRET).is_ok());
}

#[test]
fn pem_settings_are_refused_for_hmac() {
    let s = SimpleJwtSettings {
        verifying_key: Some(td("rsa_a.pub.pem")),
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.verifying_key");
    let s = SimpleJwtSettings {
        verifying_keys: vec![td("rsa_a.pub.pem")],
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.verifying_keys");
}

#[test]
fn unusable_claim_names_and_header_types_are_refused() {
    let s = SimpleJwtSettings {
        user_id_claim: "exp".into(),
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.user_id_claim");
    let s = SimpleJwtSettings {
        jti_claim: "token_type".into(),
        ..settings()
    };
    assert_eq!(config_err(s, SECRET).setting, "simple_jwt.jti_claim");
    let s = SimpleJwtSettings {
        auth_header_types: vec![],
        ..settings()
    };
    assert_eq!(
        config_err(s, SECRET).setting,
        "simple_jwt.auth_header_types"
    );
    let s = SimpleJwtSettings {
        auth_header_types: vec!["Bear er".into()],
        ..settings()
    };
    assert_eq!(
        config_err(s, SECRET).setting,
        "simple_jwt.auth_header_types"
    );
    let s = SimpleJwtSettings {
        access_token_lifetime: crate::core::settings::Seconds(0),
        ..settings()
    };
    assert_eq!(
        config_err(s, SECRET).setting,
        "simple_jwt.access_token_lifetime"
    );
}

#[test]
fn config_errors_do_not_reveal_the_secret() {
    let secret = "short-secret-value";
    assert!(!config_err(settings(), secret).to_string().contains(secret));
    assert!(!format!("{:?}", hs()).contains(SECRET));
}

#[test]
fn header_types_come_from_settings() {
    let s = SimpleJwtSettings {
        auth_header_types: vec!["JWT".into()],
        ..settings()
    };
    assert_eq!(JwtBackend::new(&s, SECRET).unwrap().header_types(), ["JWT"]);
}

// ---- interop with an independent implementation (jwt-simple) ---------------------------

mod interop {
    use jwt_simple::prelude::{
        Duration, ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, EdDSAKeyPairLike,
        EdDSAPublicKeyLike, MACLike, RSAKeyPairLike, RSAPublicKeyLike,
    };
    use jwt_simple::prelude::{
        ES256KeyPair, ES256PublicKey, Ed25519KeyPair, Ed25519PublicKey, HS256Key, RS256KeyPair,
        RS256PublicKey,
    };
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Custom {
        token_type: String,
        user_id: String,
    }

    fn now() -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        i64::try_from(d.as_secs()).unwrap()
    }

    fn their_claims() -> jwt_simple::prelude::JWTClaims<Custom> {
        let custom = Custom {
            token_type: "access".into(),
            user_id: "9".into(),
        };
        jwt_simple::prelude::Claims::with_custom_claims(custom, Duration::from_mins(5))
            .with_jwt_id("00112233445566778899aabbccddeeff")
    }

    fn check_ours(c: &jwt_simple::prelude::JWTClaims<Custom>, ours: &Issued) {
        assert_eq!(c.custom.user_id, "4");
        assert_eq!(c.custom.token_type, "access");
        assert_eq!(c.jwt_id.as_deref(), Some(ours.claims.jti.as_str()));
    }

    fn check_theirs(b: &JwtBackend, token: &str) {
        let c = b.decode(token, TokenType::Access, now()).unwrap();
        assert_eq!(c.user_id.as_deref(), Some("9"));
        assert_eq!(c.jti, "00112233445566778899aabbccddeeff");
    }

    fn ours(b: &JwtBackend) -> Issued {
        b.access_for(&b.issue_refresh("4", now() * 1000).claims, now() * 1000)
    }

    #[test]
    fn hs256_both_ways() {
        let b = hs();
        let key = HS256Key::from_bytes(SECRET.as_bytes());
        let issued = ours(&b);
        check_ours(
            &key.verify_token::<Custom>(&issued.token, None).unwrap(),
            &issued,
        );
        check_theirs(&b, &key.authenticate(their_claims()).unwrap());
    }

    #[test]
    fn rs256_both_ways() {
        let b = asym("RS256", "rsa_a.key.pem", &[]);
        let public = RS256PublicKey::from_pem(&read("rsa_a.pub.pem")).unwrap();
        let issued = ours(&b);
        check_ours(
            &public.verify_token::<Custom>(&issued.token, None).unwrap(),
            &issued,
        );
        let pair = RS256KeyPair::from_pem(&read("rsa_a.key.pem")).unwrap();
        check_theirs(&b, &pair.sign(their_claims()).unwrap());
    }

    #[test]
    fn es256_both_ways() {
        let b = asym("ES256", "ec_a.key.pem", &[]);
        let public = ES256PublicKey::from_pem(&read("ec_a.pub.pem")).unwrap();
        let issued = ours(&b);
        check_ours(
            &public.verify_token::<Custom>(&issued.token, None).unwrap(),
            &issued,
        );
        let pair = ES256KeyPair::from_pem(&read("ec_a.key.pem")).unwrap();
        check_theirs(&b, &pair.sign(their_claims()).unwrap());
    }

    #[test]
    fn eddsa_both_ways() {
        let b = asym("EdDSA", "ed_a.key.pem", &[]);
        let public = Ed25519PublicKey::from_pem(&read("ed_a.pub.pem")).unwrap();
        let issued = ours(&b);
        check_ours(
            &public.verify_token::<Custom>(&issued.token, None).unwrap(),
            &issued,
        );
        let pair = Ed25519KeyPair::from_pem(&read("ed_a.key.pem")).unwrap();
        check_theirs(&b, &pair.sign(their_claims()).unwrap());
    }

    #[test]
    fn their_token_with_wrong_key_is_refused() {
        let b = hs();
        let key = HS256Key::from_bytes(b"not-the-configured-secret-0123456789");
        let t = key.authenticate(their_claims()).unwrap();
        assert_eq!(
            b.decode(&t, TokenType::Access, now()),
            Err(TokenError::Invalid)
        );
    }
}
