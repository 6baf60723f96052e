//! Reading a cookie from `Cookie` headers. Input: the cookie name, then one header per line.
#![no_main]

use http::{HeaderMap, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use restauth::session::cookies;

fuzz_target!(|data: &[u8]| {
    let (name, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }

    if let Some(value) = cookies::get(&headers, name) {
        assert!(!value.is_empty() && value.len() <= 4096);
        assert!(!value.contains(';'));
        // The value is a piece of one of the headers, never something assembled.
        assert!(
            headers
                .get_all(COOKIE)
                .iter()
                .any(|h| h.to_str().is_ok_and(|t| t.contains(value)))
        );
    }

    // Round trip: a cookie written among others reads back as written.
    let plain_name = !name.is_empty()
        && name != "other"
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'=' && b != b';');
    let value = std::str::from_utf8(rest).unwrap_or("");
    let plain_value = !value.is_empty()
        && value.len() <= 4096
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b'"');
    if plain_name && plain_value {
        let mut headers = HeaderMap::new();
        let line = format!("other=1; {name}={value}; other=1");
        headers.append(COOKIE, HeaderValue::from_str(&line).expect("visible ASCII"));
        assert_eq!(cookies::get(&headers, name), Some(value));
    }
});
