//! The login view's `?next=` check: whatever it accepts, a browser resolves on this site.
#![no_main]

use libfuzzer_sys::fuzz_target;
use restauth::session::safe_url::is_safe_redirect;
use url::Url;

const HOST: &str = "testserver";

/// The `url` crate refuses `///host` as an empty host, where the URL Standard (and browsers)
/// skip every slash or backslash after the scheme and go on to `host`; this makes it do so.
fn skip_extra_slashes(next: &str) -> String {
    let cleaned: String = next
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme_len = cleaned
        .split_once(':')
        .filter(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map_or(0, |(scheme, _)| scheme.len() + 1);
    let (scheme, rest) = cleaned.split_at(scheme_len);
    let special = scheme.is_empty()
        || scheme.eq_ignore_ascii_case("http:")
        || scheme.eq_ignore_ascii_case("https:");
    let slashes = rest.chars().take_while(|c| matches!(c, '/' | '\\')).count();
    if special && slashes > 2 {
        format!("{scheme}//{}", &rest[slashes..])
    } else {
        cleaned
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(next) = std::str::from_utf8(data) else {
        return;
    };
    for require_https in [false, true] {
        if !is_safe_redirect(next, HOST, require_https) {
            continue;
        }
        for page in [
            "https://testserver/accounts/login/",
            "http://testserver/login/",
        ] {
            let base = Url::parse(page).expect("a valid base");
            // The WHATWG URL parser, as a browser reads a Location header; one it cannot
            // parse is not followed at all.
            let Ok(target) = base.join(&skip_extra_slashes(next)) else {
                continue;
            };
            assert_eq!(target.host_str(), Some(HOST), "{next:?} leaves the site");
            assert_eq!(target.port(), None, "{next:?} changes the port");
            assert!(
                matches!(target.scheme(), "http" | "https"),
                "{next:?} changes the scheme"
            );
            if require_https && page.starts_with("https:") {
                assert_eq!(target.scheme(), "https", "{next:?} downgrades to http");
            }
        }
    }
});
