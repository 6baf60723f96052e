//! `Authorization: <type> <token>` parsing, as `JWTAuthentication.get_raw_token` does it.

use super::error::BadAuthorizationHeader;
use crate::pipeline::authentication::scheme_parts;

/// Parses the Authorization header value the simplejwt way (§5.3).
///
/// - `Ok(None)`: the header is empty or blank, or its first word is not one of `header_types`
///   (compared case-sensitively, so `bearer x` is not a JWT header).
/// - `Err(BadAuthorizationHeader)`: the scheme matches but the value is not exactly two words.
/// - `Ok(Some(token))`: the second word. A token that is not UTF-8 comes back as `""`, which
///   every decoder refuses as `Token is invalid` (what simplejwt answers for it).
///
/// Words are split on ASCII whitespace runs, including vertical tab, as Python's `bytes.split()`.
pub fn parse_authorization<'a>(
    header: &'a [u8],
    header_types: &[String],
) -> Result<Option<&'a str>, BadAuthorizationHeader> {
    Ok(raw_token(header, header_types)?.map(|token| std::str::from_utf8(token).unwrap_or("")))
}

/// [`parse_authorization`]'s token as bytes: the cache of verified tokens is looked up with
/// them, and only a token to verify needs the UTF-8 check.
pub(crate) fn raw_token<'a>(
    header: &'a [u8],
    header_types: &[String],
) -> Result<Option<&'a [u8]>, BadAuthorizationHeader> {
    let Some(parts) = scheme_parts(header) else {
        return Ok(None);
    };
    if !header_types.iter().any(|t| t.as_bytes() == parts.scheme) {
        return Ok(None);
    }
    match (parts.credentials, parts.extra) {
        (Some(token), false) => Ok(Some(token)),
        _ => Err(BadAuthorizationHeader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer() -> Vec<String> {
        vec!["Bearer".to_owned()]
    }

    #[test]
    fn bearer_token_is_returned() {
        assert_eq!(
            parse_authorization(b"Bearer abc.def.ghi", &bearer()),
            Ok(Some("abc.def.ghi"))
        );
    }

    #[test]
    fn whitespace_runs_are_one_separator() {
        assert_eq!(
            parse_authorization(b"  Bearer \t x \x0b", &bearer()),
            Ok(Some("x"))
        );
    }

    #[test]
    fn scheme_alone_is_a_bad_header() {
        assert_eq!(
            parse_authorization(b"Bearer", &bearer()),
            Err(BadAuthorizationHeader)
        );
    }

    #[test]
    fn three_words_are_a_bad_header() {
        assert_eq!(
            parse_authorization(b"Bearer a b", &bearer()),
            Err(BadAuthorizationHeader)
        );
    }

    #[test]
    fn lower_case_scheme_is_not_ours() {
        assert_eq!(parse_authorization(b"bearer x", &bearer()), Ok(None));
    }

    #[test]
    fn other_scheme_is_not_ours() {
        assert_eq!(parse_authorization(b"Token x", &bearer()), Ok(None));
        assert_eq!(parse_authorization(b"Token", &bearer()), Ok(None));
    }

    #[test]
    fn empty_header_is_not_ours() {
        assert_eq!(parse_authorization(b"", &bearer()), Ok(None));
        assert_eq!(parse_authorization(b"   ", &bearer()), Ok(None));
    }

    #[test]
    fn every_configured_type_is_accepted() {
        let types = vec!["Bearer".to_owned(), "JWT".to_owned()];
        assert_eq!(parse_authorization(b"JWT t", &types), Ok(Some("t")));
    }

    /// The words of the header as Python's `bytes.split()` gives them: the reading the parser
    /// must agree with.
    fn by_words<'a>(
        header: &'a [u8],
        types: &[String],
    ) -> Result<Option<&'a str>, BadAuthorizationHeader> {
        let mut words = crate::pipeline::authentication::split_header(header);
        let Some(scheme) = words.next() else {
            return Ok(None);
        };
        if !types.iter().any(|t| t.as_bytes() == scheme) {
            return Ok(None);
        }
        match (words.next(), words.next()) {
            (Some(token), None) => Ok(Some(std::str::from_utf8(token).unwrap_or(""))),
            _ => Err(BadAuthorizationHeader),
        }
    }

    #[test]
    fn agrees_with_pythons_split_on_every_short_header() {
        let types = vec!["Bearer".to_owned(), "JWT".to_owned()];
        let pieces: [&[u8]; 7] = [b"Bearer", b" ", b"\x0b", b"a.b", b"\t\r", b"JWT", b"\xff"];
        let cases = crate::pipeline::authentication::headers_of(&pieces, 4);
        for case in &cases {
            assert_eq!(
                parse_authorization(case, &types),
                by_words(case, &types),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn non_utf8_token_becomes_empty() {
        assert_eq!(
            parse_authorization(b"Bearer \xff\xfe", &bearer()),
            Ok(Some(""))
        );
    }
}
