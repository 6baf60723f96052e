//! Django's CSRF rules, case by case.
use super::*;
use std::collections::HashSet;

const HOST: &str = "testserver";

fn base<'a>(method: &'a Method, cookie: Option<&'a str>) -> CsrfRequest<'a> {
    CsrfRequest {
        method,
        is_secure: false,
        host: HOST,
        origin: None,
        referer: None,
        cookie,
        form_token: None,
        header_token: None,
        trusted_origins: &[],
        cookie_domain: None,
    }
}

fn reason(req: &CsrfRequest<'_>) -> String {
    check(req).unwrap_err().reason().to_owned()
}

fn is_alphabet(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

// --- secrets and masking ---

#[test]
fn new_secrets_have_the_right_shape_and_are_unique() {
    let mut seen = HashSet::new();
    let mut chars_seen = HashSet::new();
    for _ in 0..10_000 {
        let secret = new_secret();
        assert_eq!(secret.len(), CSRF_SECRET_LENGTH);
        assert!(is_alphabet(&secret), "{secret}");
        chars_seen.extend(secret.bytes());
        assert!(seen.insert(secret), "duplicate secret");
    }
    // 320,000 characters: every one of the 62 must show up.
    assert_eq!(chars_seen.len(), 62);
}

#[test]
fn mask_then_unmask_gives_the_secret() {
    let secret = new_secret();
    let first = mask_secret(&secret);
    let second = mask_secret(&secret);
    assert_eq!(first.len(), CSRF_TOKEN_LENGTH);
    assert!(is_alphabet(&first));
    assert_ne!(first, second, "each mask must be fresh");
    assert_eq!(unmask_token(&first), secret);
    assert_eq!(unmask_token(&second), secret);
}

#[test]
fn masking_uses_django_alphabet_order_and_wraps() {
    // idx('a') = 0, so the cipher equals the mask.
    let mask = "abcdefghijklmnopqrstuvwxyzABCDEF";
    assert_eq!(mask_with(&"a".repeat(32), mask), format!("{mask}{mask}"));
    // idx('b') + idx('9') = 1 + 61 = 62 ≡ 0 → 'a'; idx('Z') + idx('0') = 51 + 52 = 103 ≡ 41 → 'P'.
    let token = mask_with(&"bZ".repeat(16), &"90".repeat(16));
    assert_eq!(&token[32..], "aP".repeat(16));
    assert_eq!(unmask_token(&token), "bZ".repeat(16));
}

#[test]
fn unmask_rejects_bad_input_without_panicking() {
    assert_eq!(unmask_token(""), "");
    assert_eq!(unmask_token(&"a".repeat(63)), "");
    assert_eq!(unmask_token(&format!("{}!", "a".repeat(63))), "");
    assert_eq!(unmask_token(&"é".repeat(32)), "");
}

#[test]
fn cookie_secret_formats() {
    let secret = new_secret();
    assert_eq!(secret_from_cookie(&secret).unwrap(), secret);
    assert_eq!(secret_from_cookie(&mask_secret(&secret)).unwrap(), secret);
    let short = secret_from_cookie("abc").unwrap_err();
    assert_eq!(short.reason(), "CSRF cookie has incorrect length.");
    assert!(short.cookie_needs_reset());
    let bad = secret_from_cookie(&format!("{}-", "a".repeat(31))).unwrap_err();
    assert_eq!(bad.reason(), "CSRF cookie has invalid characters.");
    assert!(bad.cookie_needs_reset());
    // Length is counted in characters, like Python.
    let accented = secret_from_cookie(&"é".repeat(32)).unwrap_err();
    assert_eq!(accented.reason(), "CSRF cookie has invalid characters.");
}

// --- token checks ---

#[test]
fn safe_methods_pass_without_anything() {
    for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
        let mut req = base(&method, None);
        req.is_secure = true;
        req.origin = Some("https://evil.example");
        assert_eq!(check(&req), Ok(()));
    }
}

#[test]
fn cookie_not_set() {
    let req = base(&Method::POST, None);
    let failure = check(&req).unwrap_err();
    assert_eq!(failure.reason(), "CSRF cookie not set.");
    assert!(!failure.cookie_needs_reset());
}

#[test]
fn bad_cookie_is_reported_and_needs_reset() {
    let mut req = base(&Method::POST, Some("short"));
    req.header_token = Some("short");
    let failure = check(&req).unwrap_err();
    assert_eq!(failure.reason(), "CSRF cookie has incorrect length.");
    assert!(failure.cookie_needs_reset());
    let empty = base(&Method::POST, Some(""));
    assert_eq!(reason(&empty), "CSRF cookie has incorrect length.");
    let chars = "!".repeat(32);
    let bad = base(&Method::POST, Some(&chars));
    let failure = check(&bad).unwrap_err();
    assert_eq!(failure.reason(), "CSRF cookie has invalid characters.");
    assert!(failure.cookie_needs_reset());
}

#[test]
fn token_missing() {
    let secret = new_secret();
    let req = base(&Method::POST, Some(&secret));
    let failure = check(&req).unwrap_err();
    assert_eq!(failure.reason(), "CSRF token missing.");
    assert!(!failure.cookie_needs_reset());
}

#[test]
fn header_token_format_and_mismatch() {
    let secret = new_secret();
    let mut req = base(&Method::POST, Some(&secret));
    req.header_token = Some("abc");
    assert_eq!(
        reason(&req),
        "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."
    );
    // A present but empty header is a length error, not a missing token.
    req.header_token = Some("");
    assert_eq!(
        reason(&req),
        "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."
    );
    let invalid = format!("{}*", "a".repeat(63));
    req.header_token = Some(&invalid);
    assert_eq!(
        reason(&req),
        "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters."
    );
    let other = new_secret();
    req.header_token = Some(&other);
    assert_eq!(
        reason(&req),
        "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
    );
}

#[test]
fn token_masked_from_another_secret_is_incorrect() {
    let secret = new_secret();
    let foreign = mask_secret(&new_secret());
    let mut req = base(&Method::POST, Some(&secret));
    req.header_token = Some(&foreign);
    assert_eq!(
        reason(&req),
        "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
    );
}

#[test]
fn masked_and_unmasked_tokens_are_accepted_everywhere() {
    let secret = new_secret();
    let masked_cookie = mask_secret(&secret);
    let masked_token = mask_secret(&secret);
    for cookie in [secret.as_str(), masked_cookie.as_str()] {
        for token in [secret.as_str(), masked_token.as_str()] {
            let mut req = base(&Method::POST, Some(cookie));
            req.header_token = Some(token);
            assert_eq!(check(&req), Ok(()), "header {token} with cookie {cookie}");
            let mut req = base(&Method::POST, Some(cookie));
            req.form_token = Some(token);
            assert_eq!(check(&req), Ok(()), "form {token} with cookie {cookie}");
        }
    }
}

#[test]
fn form_token_wins_over_header_for_post() {
    let secret = new_secret();
    let wrong = new_secret();
    let mut req = base(&Method::POST, Some(&secret));
    req.form_token = Some(&wrong);
    req.header_token = Some(&secret);
    assert_eq!(reason(&req), "CSRF token from POST incorrect.");
    req.form_token = Some("abc");
    assert_eq!(reason(&req), "CSRF token from POST has incorrect length.");
    let invalid = "é".repeat(32);
    req.form_token = Some(&invalid);
    assert_eq!(reason(&req), "CSRF token from POST has invalid characters.");
    // An empty form field falls back to the header.
    req.form_token = Some("");
    assert_eq!(check(&req), Ok(()));
}

#[test]
fn form_token_is_ignored_for_other_methods() {
    let secret = new_secret();
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let mut req = base(&method, Some(&secret));
        req.form_token = Some(&secret);
        assert_eq!(reason(&req), "CSRF token missing.");
        req.header_token = Some(&secret);
        assert_eq!(check(&req), Ok(()));
    }
}

// --- Origin ---

fn with_origin<'a>(secret: &'a str, origin: &'a str, trusted: &'a [String]) -> CsrfRequest<'a> {
    let mut req = base(&Method::POST, Some(secret));
    req.header_token = Some(secret);
    req.origin = Some(origin);
    req.trusted_origins = trusted;
    req
}

#[test]
fn origin_must_match_own_scheme_and_host() {
    let secret = new_secret();
    assert_eq!(
        check(&with_origin(&secret, "http://testserver", &[])),
        Ok(())
    );
    let mut secure = with_origin(&secret, "https://testserver", &[]);
    secure.is_secure = true;
    // A matching Origin replaces the Referer check.
    assert_eq!(check(&secure), Ok(()));
    assert_eq!(
        reason(&with_origin(&secret, "https://testserver", &[])),
        "Origin checking failed - https://testserver does not match any trusted origins."
    );
    assert_eq!(
        reason(&with_origin(&secret, "https://evil.example", &[])),
        "Origin checking failed - https://evil.example does not match any trusted origins."
    );
    assert_eq!(
        reason(&with_origin(&secret, "null", &[])),
        "Origin checking failed - null does not match any trusted origins."
    );
}

#[test]
fn origin_failure_comes_before_cookie_checks() {
    let mut req = base(&Method::POST, None);
    req.origin = Some("https://evil.example");
    assert_eq!(
        reason(&req),
        "Origin checking failed - https://evil.example does not match any trusted origins."
    );
}

#[test]
fn exact_and_wildcard_trusted_origins() {
    let secret = new_secret();
    let trusted = vec![
        "https://partner.example".to_owned(),
        "https://*.example.com".to_owned(),
    ];
    for ok in [
        "https://partner.example",
        "https://api.example.com",
        "https://a.b.example.com",
        "https://example.com",
    ] {
        assert_eq!(check(&with_origin(&secret, ok, &trusted)), Ok(()), "{ok}");
    }
    for bad in [
        "http://partner.example",
        "http://api.example.com",
        "https://evilexample.com",
        "https://example.com.evil.example",
        "https://api.example.com:8443",
        "https://[::1",
    ] {
        assert_eq!(
            reason(&with_origin(&secret, bad, &trusted)),
            format!("Origin checking failed - {bad} does not match any trusted origins.")
        );
    }
}

// --- Referer (HTTPS, no Origin) ---

fn secure_post<'a>(secret: &'a str, referer: Option<&'a str>) -> CsrfRequest<'a> {
    let mut req = base(&Method::POST, Some(secret));
    req.header_token = Some(secret);
    req.is_secure = true;
    req.referer = referer;
    req
}

#[test]
fn referer_rules_on_https() {
    let secret = new_secret();
    assert_eq!(
        check(&secure_post(&secret, Some("https://testserver/page"))),
        Ok(())
    );
    assert_eq!(
        reason(&secure_post(&secret, None)),
        "Referer checking failed - no Referer."
    );
    for malformed in [
        "not a url",
        "https://",
        "//testserver/",
        "https://[::1/",
        "",
    ] {
        assert_eq!(
            reason(&secure_post(&secret, Some(malformed))),
            "Referer checking failed - Referer is malformed.",
            "{malformed:?}"
        );
    }
    assert_eq!(
        reason(&secure_post(&secret, Some("http://testserver/page"))),
        "Referer checking failed - Referer is insecure while host is secure."
    );
    assert_eq!(
        reason(&secure_post(&secret, Some("https://evil.example/x"))),
        "Referer checking failed - https://evil.example/x does not match any trusted origins."
    );
    assert_eq!(
        reason(&secure_post(
            &secret,
            Some("https://testserver.evil.example/")
        )),
        "Referer checking failed - https://testserver.evil.example/ does not match any trusted origins."
    );
}

#[test]
fn referer_is_not_checked_over_http() {
    let secret = new_secret();
    let mut req = secure_post(&secret, None);
    req.is_secure = false;
    assert_eq!(check(&req), Ok(()));
}

#[test]
fn referer_failure_comes_before_cookie_checks() {
    let mut req = base(&Method::POST, None);
    req.is_secure = true;
    assert_eq!(reason(&req), "Referer checking failed - no Referer.");
}

#[test]
fn referer_matching_trusted_origin_hosts() {
    let secret = new_secret();
    let trusted = vec![
        "https://partner.example".to_owned(),
        "https://*.example.com".to_owned(),
    ];
    for ok in [
        "https://partner.example/form",
        "https://www.example.com/",
        "https://example.com/",
    ] {
        let mut req = secure_post(&secret, Some(ok));
        req.trusted_origins = &trusted;
        assert_eq!(check(&req), Ok(()), "{ok}");
    }
    let mut req = secure_post(&secret, Some("https://evil.example/x"));
    req.trusted_origins = &trusted;
    assert_eq!(
        reason(&req),
        "Referer checking failed - https://evil.example/x does not match any trusted origins."
    );
}

#[test]
fn referer_matching_cookie_domain() {
    let secret = new_secret();
    let mut req = secure_post(&secret, Some("https://www.example.com/"));
    req.host = "api.example.com";
    req.cookie_domain = Some(".example.com");
    assert_eq!(check(&req), Ok(()));
    req.referer = Some("https://example.com/");
    assert_eq!(check(&req), Ok(()));
    // With a cookie domain configured, the request host itself is no longer the rule.
    req.cookie_domain = Some("www.example.com");
    req.referer = Some("https://api.example.com/");
    assert_eq!(
        reason(&req),
        "Referer checking failed - https://api.example.com/ does not match any trusted origins."
    );
}

#[test]
fn cookie_domain_adds_non_default_port() {
    let secret = new_secret();
    let mut req = secure_post(&secret, Some("https://www.example.com:8443/"));
    req.host = "api.example.com:8443";
    req.cookie_domain = Some(".example.com");
    assert_eq!(check(&req), Ok(()));
    req.referer = Some("https://www.example.com/");
    assert_eq!(
        reason(&req),
        "Referer checking failed - https://www.example.com/ does not match any trusted origins."
    );
    req.host = "api.example.com:443";
    assert_eq!(check(&req), Ok(()));
}

#[test]
fn request_host_with_port_must_match_exactly() {
    let secret = new_secret();
    let mut req = secure_post(&secret, Some("https://testserver:8443/"));
    req.host = "testserver:8443";
    assert_eq!(check(&req), Ok(()));
    req.referer = Some("https://testserver/");
    assert_eq!(
        reason(&req),
        "Referer checking failed - https://testserver/ does not match any trusted origins."
    );
}

#[test]
fn hostile_input_never_panics() {
    let long = "é".repeat(100_000);
    let masked_multibyte = format!("{}é", "a".repeat(62));
    let values = [
        "",
        "\u{0}",
        "é",
        long.as_str(),
        masked_multibyte.as_str(),
        "https://[",
        "https://]",
        "https://[v1.]/",
        "::::",
        "https://*.",
    ];
    let trusted: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    for value in values {
        for secure in [false, true] {
            let req = CsrfRequest {
                method: &Method::POST,
                is_secure: secure,
                host: value,
                origin: Some(value),
                referer: Some(value),
                cookie: Some(value),
                form_token: Some(value),
                header_token: Some(value),
                trusted_origins: &trusted,
                cookie_domain: Some(value),
            };
            assert!(check(&req).is_err());
            let mut without_origin = req;
            without_origin.origin = None;
            let _ = check(&without_origin);
            let _ = secret_from_cookie(value);
            let _ = unmask_token(value);
            let _ = mask_secret(value);
        }
    }
}
