//! Open-redirect protection for the login view's `?next=` parameter, with the same answers as
//! Django's `url_has_allowed_host_and_scheme`, plus the small URL splitter that the CSRF
//! Origin/Referer checks share (it follows Python's `urllib.parse.urlsplit`, which Django uses
//! there, so that both layers agree on what the host of a URL is).

use std::net::Ipv6Addr;

/// The five parts of a URL as `urlsplit` returns them. The scheme is lower-cased; the other parts
/// are kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitUrl {
    pub(crate) scheme: String,
    pub(crate) netloc: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) fragment: String,
}

impl SplitUrl {
    /// Reassembles the URL the way `urlunsplit` does for a URL with a scheme and a netloc
    /// (empty query and fragment markers are dropped).
    pub(crate) fn to_url_string(&self) -> String {
        let mut out = String::with_capacity(
            self.scheme.len() + self.netloc.len() + self.path.len() + self.query.len() + 8,
        );
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if !self.netloc.is_empty() {
            out.push_str("//");
            out.push_str(&self.netloc);
            if !self.path.is_empty() && !self.path.starts_with('/') {
                out.push('/');
            }
        }
        out.push_str(&self.path);
        if !self.query.is_empty() {
            out.push('?');
            out.push_str(&self.query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&self.fragment);
        }
        out
    }
}

/// The URL cannot be split (unbalanced or invalid `[...]` host, or a non-ASCII host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MalformedUrl;

/// Splits `url` into scheme, netloc, path, query and fragment like Python's `urlsplit`:
/// leading C0 controls and spaces are ignored, tabs and line breaks are removed anywhere,
/// and a bracketed host must be an IPv6 address or an `IPvFuture` literal.
///
/// A non-ASCII netloc is refused outright: browsers always send hosts in ASCII (punycode),
/// and Python's own check for Unicode look-alikes of `/?#@:` would need NFKC tables.
pub(crate) fn split_url(url: &str) -> Result<SplitUrl, MalformedUrl> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let (scheme, rest) = split_scheme(&cleaned);
    let (netloc, rest) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    check_netloc(netloc)?;
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Ok(SplitUrl {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        fragment: fragment.to_owned(),
    })
}

/// A scheme is only recognised when it starts with an ASCII letter and is made of
/// letters, digits, `+`, `-` and `.`; otherwise the whole string is left as the rest.
fn split_scheme(url: &str) -> (String, &str) {
    if let Some((candidate, rest)) = url.split_once(':') {
        let starts_with_letter = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        let all_scheme_chars = candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if starts_with_letter && all_scheme_chars {
            return (candidate.to_ascii_lowercase(), rest);
        }
    }
    (String::new(), url)
}

fn check_netloc(netloc: &str) -> Result<(), MalformedUrl> {
    if !netloc.is_ascii() {
        return Err(MalformedUrl);
    }
    match (netloc.find('['), netloc.contains(']')) {
        (None, false) => Ok(()),
        (Some(open), true) => {
            let after = &netloc[open + 1..];
            let host = after.split_once(']').map_or(after, |(host, _)| host);
            check_bracketed_host(host)
        }
        _ => Err(MalformedUrl),
    }
}

/// `[v1.xyz]` (IPvFuture) or a real IPv6 address, optionally with a non-empty `%zone`.
fn check_bracketed_host(host: &str) -> Result<(), MalformedUrl> {
    if let Some(future) = host.strip_prefix('v') {
        let valid = future.split_once('.').is_some_and(|(version, rest)| {
            !version.is_empty()
                && version.chars().all(|c| c.is_ascii_hexdigit())
                && !rest.is_empty()
        });
        return if valid { Ok(()) } else { Err(MalformedUrl) };
    }
    let address = match host.split_once('%') {
        Some((address, zone)) if !zone.is_empty() && !zone.contains('%') => address,
        Some(_) => return Err(MalformedUrl),
        None => host,
    };
    address
        .parse::<Ipv6Addr>()
        .map(|_| ())
        .map_err(|_| MalformedUrl)
}

/// Whether redirecting to `url` keeps the user on this site: true for a relative path, or for
/// an absolute `http`/`https` URL whose host (netloc, including any port) is exactly
/// `allowed_host`. With `require_https`, an absolute URL must use `https`.
///
/// Stricter than Django's `url_has_allowed_host_and_scheme`: besides scheme-relative
/// (`//host`), triple-slash, schemeless-host (`http:///host`, `https:host`) and non-http
/// schemes (`javascript:`), it refuses any control character (C0, DEL, C1) anywhere, also
/// percent-encoded, any backslash, also percent-encoded, and user info (`user@host`).
/// Browsers drop tabs and line breaks and read `\` as `/`, so these turn paths into hosts.
/// Surrounding spaces are ignored; an empty URL is not safe.
pub fn is_safe_redirect(url: &str, allowed_host: &str, require_https: bool) -> bool {
    safe_redirect(url, allowed_host, require_https).is_some()
}

/// The `Location` to send for a redirect to `url`: `url` without surrounding spaces,
/// percent-encoded by [`iri_to_uri`], when [`is_safe_redirect`] accepts it; otherwise `None`.
pub(crate) fn safe_redirect(url: &str, allowed_host: &str, require_https: bool) -> Option<String> {
    if url.chars().any(char::is_control) || url.contains('\\') || has_encoded_trick(url) {
        return None;
    }
    let url = url.trim_matches(is_python_whitespace);
    if url.is_empty() || !allowed_as_written(url, allowed_host, require_https) {
        return None;
    }
    Some(iri_to_uri(url))
}

/// A percent-encoded control character (`%00`–`%1F`, `%7F`, UTF-8 `%C2%80`–`%C2%9F`) or
/// backslash (`%5C`): harmless to a browser's URL parser, but a decoding proxy or application
/// in between would see the raw character.
fn has_encoded_trick(url: &str) -> bool {
    let bytes = url.as_bytes();
    let decoded = |i: usize| -> Option<u8> {
        let hex = bytes.get(i + 1..i + 3)?;
        u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'%')
        .any(|i| match decoded(i) {
            Some(b) if b < 0x20 || b == 0x7f || b == b'\\' => true,
            Some(0xc2) => {
                bytes.get(i + 3) == Some(&b'%')
                    && decoded(i + 3).is_some_and(|b| (0x80..=0x9f).contains(&b))
            }
            _ => false,
        })
}

/// Percent-encodes what a URI may not hold raw (spaces, quotes, `<>`, `\`, `^`, `` ` ``,
/// `{|}`, controls, non-ASCII as UTF-8), keeping reserved characters and existing `%`
/// escapes, as Django's `iri_to_uri` does before writing `Location`.
pub fn iri_to_uri(iri: &str) -> String {
    const KEEP: &[u8] = b"/#%[]=:;$&()+,!?*@'~-._";
    let mut out = String::with_capacity(iri.len());
    for &b in iri.as_bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn allowed_as_written(url: &str, allowed_host: &str, require_https: bool) -> bool {
    // Browsers treat three or more leading slashes as scheme-relative.
    if url.starts_with("///") {
        return false;
    }
    let Ok(parts) = split_url(url) else {
        return false;
    };
    // `http:///evil.example`, `https:evil.example`: no host for us, but browsers find one.
    if parts.netloc.is_empty() && !parts.scheme.is_empty() {
        return false;
    }
    // User info has no business in a redirect, and hides the real host from a reader.
    if parts.netloc.contains('@') {
        return false;
    }
    let scheme = if parts.scheme.is_empty() && !parts.netloc.is_empty() {
        "http"
    } else {
        parts.scheme.as_str()
    };
    let host_ok = parts.netloc.is_empty() || parts.netloc == allowed_host;
    let scheme_ok = match scheme {
        "" | "https" => true,
        "http" => !require_https,
        _ => false,
    };
    host_ok && scheme_ok
}

/// Python's `str.isspace`, which also counts the information separators U+001C–U+001F.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "testserver";

    fn safe(url: &str) -> bool {
        is_safe_redirect(url, HOST, false)
    }

    #[test]
    fn relative_paths_are_safe() {
        for url in [
            "/dashboard/",
            "/a?b=c",
            "/",
            "dashboard/",
            "/a#frag",
            "  /dashboard/  ",
            "/a%20b",
            "/café/",
        ] {
            assert!(safe(url), "{url:?} should be safe");
        }
    }

    #[test]
    fn other_hosts_and_tricks_are_unsafe() {
        for url in [
            "//evil.example",
            "//evil.example/path",
            "https://evil.example",
            "http://evil.example/dashboard/",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "http:///evil.example",
            "https:///evil.example",
            "///evil.example",
            "////evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://testserver/",
            "\x01//evil.example",
            "\x08//evil.example",
            "\x7f/x",
            "\u{85}\x01/x",
            " //evil.example",
            "\t//evil.example",
            "\n\n//evil.example",
            "/\t/evil.example",
            "/\r\n/evil.example",
            "\u{a0}//evil.example",
            "http://testserver\\@evil.example/",
            "/a\\b",
            "/\t//evil.example/",
            "//\t/evil.example/",
            "/\\\t/evil.example/",
            "/x\n",
            "/x\u{85}",
            "/x\u{9f}y",
            "/x\u{0}",
            "/%09//evil.example/",
            "/%0a/evil.example",
            "/%7F",
            "/%c2%85/x",
            "/%5c/evil.example",
            "/%5C%5Cevil.example",
            "http:/evil.example",
            "http:evil.example",
            "https://testserver@evil.example/",
            "http://evil.example@testserver/",
            "//user:pass@testserver/",
            "https://user@testserver/",
            "https://testserver.evil.example/",
            "https://[::1",
            "https://::1]/",
            "http://[not-ipv6]/",
            "https://évil.example/",
            "",
            "   ",
        ] {
            assert!(!safe(url), "{url:?} should be unsafe");
        }
    }

    #[test]
    fn locations_are_percent_encoded_as_iri_to_uri() {
        let location = |url| safe_redirect(url, HOST, false);
        assert_eq!(location("/dashboard/").as_deref(), Some("/dashboard/"));
        assert_eq!(
            location("  /a b/café?q=\"x\"&r=<y>#f{}|^`  ").as_deref(),
            Some("/a%20b/caf%C3%A9?q=%22x%22&r=%3Cy%3E#f%7B%7D%7C%5E%60")
        );
        // Reserved characters and existing escapes stay as they are.
        let reserved = "/p;a=1,b:2/$&()+!*'~-._?x=[1]&y=%2F#@";
        assert_eq!(location(reserved).as_deref(), Some(reserved));
        assert_eq!(location("/\t//evil.example/"), None);
    }

    /// The origin a browser lands on when a page of `http://testserver/api-auth/login/`
    /// answers with `location`, following the WHATWG URL parser where it decides the host:
    /// leading and trailing C0 controls and spaces are stripped, tabs and line breaks are
    /// removed anywhere, `\` counts as `/` for special schemes, any run of slashes after a
    /// scheme or at the start opens an authority, and user info ends at the last `@`.
    /// `None` for an opaque origin (`javascript:`, `data:`, …).
    fn browser_origin(location: &str) -> Option<(String, String)> {
        const BASE: (&str, &str) = ("http", "testserver");
        const SPECIAL: &[&str] = &["http", "https", "ws", "wss", "ftp"];
        let input: String = location
            .trim_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        let slash = |c: char| c == '/' || c == '\\';
        let scheme_end = input.find(':').filter(|&end| {
            let candidate = &input[..end];
            candidate.starts_with(|c: char| c.is_ascii_alphabetic())
                && candidate
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let (scheme, rest, authority) = match scheme_end {
            Some(end) => {
                let scheme = input[..end].to_ascii_lowercase();
                let rest = &input[end + 1..];
                if !SPECIAL.contains(&scheme.as_str()) {
                    return None;
                }
                // The base's own scheme needs two slashes for an authority; another
                // special scheme always has one, however many slashes follow.
                let authority =
                    scheme != BASE.0 || rest.chars().take(2).filter(|&c| slash(c)).count() == 2;
                (scheme, rest, authority)
            }
            None => {
                let authority = input.chars().take(2).filter(|&c| slash(c)).count() == 2;
                (BASE.0.to_owned(), input.as_str(), authority)
            }
        };
        if !authority {
            return Some((BASE.0.to_owned(), BASE.1.to_owned()));
        }
        let rest = rest.trim_start_matches(slash);
        let end = rest
            .find(|c: char| slash(c) || c == '?' || c == '#')
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = percent_decode(host_port).to_ascii_lowercase();
        let host = host
            .strip_suffix(":80")
            .filter(|_| scheme == "http")
            .map_or(host.clone(), str::to_owned);
        Some((scheme, host))
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// This host, over http or its https upgrade (which `is_safe_redirect` allows, as Django).
    fn same_origin(origin: Option<(String, String)>) -> bool {
        origin.is_some_and(|(scheme, host)| {
            matches!(scheme.as_str(), "http" | "https") && host == HOST
        })
    }

    #[test]
    fn the_resolver_sees_what_browsers_see() {
        for attack in [
            "/\t//evil.example/",
            "//\t/evil.example/",
            "/\\\t/evil.example/",
            "\\/evil.example",
            "https:evil.example",
            "http:/\\evil.example",
            " \x01//evil.example",
            "//testserver@evil.example/",
            "//evil%2Eexample/",
        ] {
            let origin = browser_origin(attack);
            assert!(
                origin.as_ref().is_some_and(|(_, h)| h == "evil.example"),
                "{attack:?}: {origin:?}"
            );
        }
        assert!(same_origin(browser_origin("/a//b")));
        assert!(same_origin(browser_origin("http:evil.example")));
        assert!(same_origin(browser_origin("//TestServer:80/x")));
        assert_eq!(
            browser_origin("javascript://evil.example/%0aalert(1)"),
            None
        );
    }

    /// Every accepted `next`, as the server writes it into `Location`, brings a browser back
    /// to this host, for every combination of the characters that have fooled URL checks.
    #[test]
    fn accepted_redirects_stay_on_this_origin_in_a_browser() {
        const PIECES: &[&str] = &[
            "/",
            "\\",
            "\t",
            "\n",
            "\r",
            " ",
            "\x01",
            "\x1f",
            "\x7f",
            "\u{85}",
            "\u{a0}",
            "%09",
            "%0d%0a",
            "%5C",
            "%2F",
            "http:",
            "https:",
            "javascript:",
            "@",
            ":",
            ".",
            "testserver",
            "%c2%85",
            "\u{3000}",
        ];
        let mut accepted = 0;
        let mut checked = 0;
        let mut check = |next: &str| {
            checked += 1;
            if let Some(location) = safe_redirect(next, HOST, false) {
                accepted += 1;
                assert!(
                    same_origin(browser_origin(&location)),
                    "{next:?} → Location {location:?} → {:?}",
                    browser_origin(&location)
                );
                assert!(
                    location.bytes().all(|b| b.is_ascii_graphic()),
                    "{location:?}"
                );
            }
        };
        for a in PIECES {
            for b in PIECES {
                for c in PIECES {
                    for tail in ["evil.example/x", "/evil.example", "@evil.example/"] {
                        check(&format!("{a}{b}{c}{tail}"));
                        check(&format!("{a}{b}{c}{tail}").replace("evil.example", "testserver"));
                    }
                }
            }
        }
        // The property is not vacuous: plenty of the combinations are plain paths.
        assert!(accepted > 1000, "{accepted} of {checked}");
    }

    #[test]
    fn absolute_url_on_allowed_host() {
        assert!(is_safe_redirect(
            "https://testserver/dashboard/",
            HOST,
            false
        ));
        assert!(is_safe_redirect(
            "https://testserver/dashboard/",
            HOST,
            true
        ));
        assert!(is_safe_redirect(
            "http://testserver/dashboard/",
            HOST,
            false
        ));
        assert!(!is_safe_redirect(
            "http://testserver/dashboard/",
            HOST,
            true
        ));
        assert!(is_safe_redirect("HTTPS://testserver/", HOST, true));
        // The port is part of the host that must match.
        assert!(!is_safe_redirect("https://testserver:8443/", HOST, false));
        assert!(is_safe_redirect(
            "https://testserver:8443/",
            "testserver:8443",
            false
        ));
    }

    #[test]
    fn scheme_relative_url_on_allowed_host_counts_as_http() {
        assert!(is_safe_redirect("//testserver/x", HOST, false));
        assert!(!is_safe_redirect("//testserver/x", HOST, true));
    }

    #[test]
    fn relative_paths_are_safe_with_require_https() {
        assert!(is_safe_redirect("/dashboard/", HOST, true));
    }

    #[test]
    fn garbage_never_panics() {
        let long = "/".repeat(100_000) + "évil";
        for url in [
            long.as_str(),
            "\u{0}",
            "[",
            "]",
            ":",
            "a:",
            "//[",
            "//]",
            "//[v1.x]",
            "é:é",
        ] {
            let _ = is_safe_redirect(url, HOST, false);
            let _ = split_url(url);
        }
    }

    #[test]
    fn split_url_follows_urlsplit() {
        let parts = split_url(" \x01HTTPS://h\tost:8/p\na?q=1#f").unwrap();
        assert_eq!(parts.scheme, "https");
        assert_eq!(parts.netloc, "host:8");
        assert_eq!(parts.path, "/pa");
        assert_eq!(parts.query, "q=1");
        assert_eq!(parts.fragment, "f");
        assert_eq!(parts.to_url_string(), "https://host:8/pa?q=1#f");
        assert_eq!(
            split_url("https://x/?#").unwrap().to_url_string(),
            "https://x/"
        );
        assert!(split_url("https://[::1]:8000/").is_ok());
        assert!(split_url("https://[fe80::1%eth0]/").is_ok());
        assert!(split_url("https://[v1.fe]/").is_ok());
        assert_eq!(split_url("https://[127.0.0.1]/"), Err(MalformedUrl));
        assert_eq!(split_url("https://[fe80::1%]/"), Err(MalformedUrl));
        // No scheme when the part before ':' is not a scheme.
        assert_eq!(split_url("1a:b").unwrap().scheme, "");
        assert_eq!(split_url("/a:b").unwrap().path, "/a:b");
    }
}
