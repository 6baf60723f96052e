//! CSRF: unmasking, the cookie secret, and the whole check with fields cut from the input.
//!
//! Input: newline-separated fields `flags, host, origin, referer, cookie, form token, header
//! token, trusted origins (space-separated), cookie domain`; a missing field is absent. The
//! first byte of `flags` picks the method and whether the request is secure.
#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use restauth::session::csrf::{CsrfRequest, check, mask_secret, secret_from_cookie, unmask_token};

fn is_secret(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let unmasked = unmask_token(text);
    assert!(unmasked.is_empty() || is_secret(&unmasked));
    if let Ok(secret) = secret_from_cookie(text) {
        assert!(is_secret(&secret));
        assert_eq!(unmask_token(&mask_secret(&secret)), secret);
    }
    // Any secret, masked with a fresh mask, unmasks to itself and reads back from a cookie.
    let candidate: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    if candidate.len() == 32 {
        let masked = mask_secret(&candidate);
        assert_eq!(masked.len(), 64);
        assert_eq!(unmask_token(&masked), candidate);
        assert_eq!(secret_from_cookie(&masked).ok(), Some(candidate.clone()));
        assert_eq!(secret_from_cookie(&candidate).ok(), Some(candidate));
    }

    let mut fields = text.split('\n');
    let flags = fields.next().unwrap_or("").bytes().next().unwrap_or(0);
    let method = match flags & 3 {
        0 => Method::POST,
        1 => Method::PUT,
        2 => Method::DELETE,
        _ => Method::GET,
    };
    let host = fields.next().unwrap_or("testserver");
    let origin = fields.next();
    let referer = fields.next();
    let cookie = fields.next();
    let form_token = fields.next();
    let header_token = fields.next();
    let trusted: Vec<String> = fields
        .next()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let cookie_domain = fields.next();
    let req = CsrfRequest {
        method: &method,
        is_secure: flags & 4 != 0,
        host,
        origin,
        referer,
        cookie,
        form_token,
        header_token,
        trusted_origins: &trusted,
        cookie_domain,
    };
    let result = check(&req);
    if result.is_ok() && method != Method::GET {
        // A state-changing request passes only with a token that is, or unmasks to, the secret.
        let secret = secret_from_cookie(cookie.expect("a cookie")).expect("a valid cookie");
        let token = form_token
            .filter(|t| !t.is_empty() && method == Method::POST)
            .or(header_token)
            .expect("a token");
        let presented = if token.len() == 64 {
            unmask_token(token)
        } else {
            token.to_owned()
        };
        assert_eq!(presented, secret);
    }
});
