//! JWT decoding: the strict JOSE parser, and the whole decode path with a configured HS256 key.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use restauth::fuzzing::jose_parse;
use restauth::jwt::{JwtBackend, SimpleJwtSettings, TokenType};
use serde_json::Value;
use sha2::Sha256;

/// The key the seed tokens in `corpus/jwt_decode` are signed with.
const SECRET: &str = "restauth-fuzzing-secret-key-0123456789abcdef";
/// 2023-11-14, before the seed tokens expire.
const NOW: i64 = 1_700_000_000;

static BACKEND: LazyLock<JwtBackend> = LazyLock::new(|| {
    JwtBackend::new(&SimpleJwtSettings::default(), SECRET).expect("HS256 with a 44-byte key")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(parts) = jose_parse(text, "HS256") {
        // Exactly three segments; the signature covers everything before the last dot.
        assert_eq!(text.split('.').count(), 3);
        assert_eq!(Some(parts.signing_input_len), text.rfind('.'));
        if let Ok(kid) = &parts.kid {
            assert_eq!(parts.header.get("alg"), Some(&Value::from("HS256")));
            assert_eq!(
                kid.as_deref(),
                parts.header.get("kid").and_then(Value::as_str)
            );
        }
        let _ = parts.payload;
    }

    for expected in [None, Some(TokenType::Access), Some(TokenType::Refresh)] {
        let decoded = match expected {
            None => BACKEND.decode_any(text, NOW),
            Some(kind) => BACKEND.decode(text, kind, NOW),
        };
        if decoded.is_ok() {
            // Accepted only with a valid HMAC under our key, checked here independently.
            let (input, signature) = text.rsplit_once('.').expect("three segments");
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any length");
            mac.update(input.as_bytes());
            assert_eq!(
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()),
                signature
            );
        }
    }

    // Round trip: any user id survives signing and decoding. Bounded so that the token stays
    // under the decoder's 16 KiB limit even when every character is escaped.
    if text.len() <= 1024 {
        // Issuing takes milliseconds (the jti carries them), decoding seconds.
        let issued = BACKEND.issue_refresh(text, NOW * 1000);
        let claims = BACKEND
            .decode(&issued.token, TokenType::Refresh, NOW)
            .expect("a token we just signed decodes");
        assert_eq!(claims, issued.claims);
        let access = BACKEND.access_for(&claims, NOW * 1000);
        assert_eq!(
            BACKEND.decode(&access.token, TokenType::Access, NOW),
            Ok(access.claims)
        );
    }
});
