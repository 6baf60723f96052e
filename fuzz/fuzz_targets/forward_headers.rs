//! Forward authentication's reading of the proxy's headers: any request gives an original
//! method and an origin-form path, or a 400; the spelling the settings do not trust is always
//! refused, never weighed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use restauth::fuzzing::forward_original;

const NAMES: [&str; 5] = [
    "x-forwarded-method",
    "x-original-method",
    "x-forwarded-uri",
    "x-original-uri",
    "x-forwarded-host",
];

fuzz_target!(|data: &[u8]| {
    // The input: up to five header values, split at NUL, one per name above, then a path.
    let mut parts = data.split(|&b| b == 0);
    let mut headers = Vec::new();
    for name in NAMES {
        match parts.next() {
            Some(value) if !value.is_empty() => headers.push((name, value)),
            Some(_) => {}
            None => break,
        }
    }
    let path = parts
        .next()
        .and_then(|p| std::str::from_utf8(p).ok())
        .filter(|p| p.starts_with("/auth/forward"))
        .unwrap_or("/auth/forward");
    for nginx in [false, true] {
        let distrusted = if nginx {
            ["x-forwarded-method", "x-forwarded-uri"]
        } else {
            ["x-original-method", "x-original-uri"]
        };
        // What a client can send: a valid header value, not all blanks.
        let carries_distrusted = headers.iter().any(|(n, v)| {
            distrusted.contains(n)
                && http::HeaderValue::from_bytes(v).is_ok()
                && !v.iter().all(u8::is_ascii_whitespace)
        });
        match forward_original(&headers, path, nginx) {
            Ok((method, uri)) => {
                assert!(!carries_distrusted, "{headers:?}: the other spelling was read");
                assert!(!method.is_empty() && !method.contains(char::is_whitespace));
                assert!(uri.starts_with('/') && !uri.starts_with("//"), "{uri}");
            }
            Err(status) => assert_eq!(status, 400, "{headers:?}"),
        }
    }
});
