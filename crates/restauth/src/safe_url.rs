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
/// Scheme-relative (`//host`), backslash (`/\host`, `\\host`), triple-slash, schemeless-host
/// (`http:///host`), non-http schemes (`javascript:`) and URLs starting with a control
/// character are refused. Surrounding whitespace is ignored; an empty URL is not safe.
pub fn is_safe_redirect(url: &str, allowed_host: &str, require_https: bool) -> bool {
    // Browsers drop tabs and line breaks anywhere before reading a URL, so every check below
    // must see the URL without them (`/\t//evil.example` is `///evil.example` to a browser).
    let url: String = url
        .trim_matches(is_python_whitespace)
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let url = url.as_str();
    if url.is_empty() {
        return false;
    }
    // Browsers read `\` as `/` in the authority, but it may also be part of user info,
    // so the URL must be safe read either way.
    allowed_as_written(url, allowed_host, require_https)
        && allowed_as_written(&url.replace('\\', "/"), allowed_host, require_https)
}

fn allowed_as_written(url: &str, allowed_host: &str, require_https: bool) -> bool {
    // Browsers treat three or more leading slashes as scheme-relative.
    if url.starts_with("///") {
        return false;
    }
    let Ok(parts) = split_url(url) else {
        return false;
    };
    // `http:///evil.example`: no host for us, but browsers take `evil.example` as the host.
    if parts.netloc.is_empty() && !parts.scheme.is_empty() {
        return false;
    }
    // Browsers skip some leading control characters and may then see `//host`.
    if url.chars().next().is_some_and(char::is_control) {
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
            "/a\\b",
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
