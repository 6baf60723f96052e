//! The `Authorization` header parsers: Token, Basic and Bearer (simplejwt's reading).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use restauth::pipeline::authentication::split_header;
use restauth::fuzzing::{basic_header, token_header};
use restauth::jwt::parse_authorization;

/// Python's `bytes.split()` whitespace, which all three parsers split on.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fuzz_target!(|data: &[u8]| {
    let words: Vec<&[u8]> = split_header(data).collect();
    for word in &words {
        assert!(!word.is_empty() && !word.iter().copied().any(is_space));
    }

    for keyword in ["Token", "Bearer"] {
        if let Some(Ok(key)) = token_header(data, keyword) {
            // Accepted only as exactly `<keyword> <key>`, the scheme in any case.
            assert_eq!(words.len(), 2);
            assert!(words[0].eq_ignore_ascii_case(keyword.as_bytes()));
            assert_eq!(words[1], key.as_bytes());
        }
    }

    let types = ["Bearer".to_owned(), "JWT".to_owned()];
    if let Ok(Some(token)) = parse_authorization(data, &types) {
        assert_eq!(words.len(), 2);
        assert!(types.iter().any(|t| t.as_bytes() == words[0]));
        // A token that is not UTF-8 comes back empty, which every decoder refuses.
        assert!(token.is_empty() || token.as_bytes() == words[1]);
    }

    if let Some(Ok((user, pass))) = basic_header(data) {
        assert!(!user.contains(':'));
        // What was read, written again, reads the same.
        let again = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
        assert_eq!(basic_header(again.as_bytes()), Some(Ok((user, pass))));
    }

    // From the other side: credentials and keys taken from the input survive the round trip.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((user, pass)) = text.split_once('\n')
            && !user.contains(':')
        {
            let header = format!("basic {}", STANDARD.encode(format!("{user}:{pass}")));
            assert_eq!(
                basic_header(header.as_bytes()),
                Some(Ok((user.to_owned(), pass.to_owned())))
            );
        }
        if !text.is_empty() && !text.bytes().any(is_space) {
            let header = format!(" Token\t{text} ");
            assert_eq!(token_header(header.as_bytes(), "Token"), Some(Ok(text)));
            let header = format!("Bearer {text}");
            assert_eq!(
                parse_authorization(header.as_bytes(), &types),
                Ok(Some(text))
            );
        }
    }
});
