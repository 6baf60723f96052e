//! Django's `url_has_allowed_host_and_scheme`: may a login redirect to this `next`?
//!
//! Browsers are lenient with URLs (backslashes as slashes, control characters ignored, three
//! slashes as absolute), so everything they might read as another host is refused.

/// True for a path on this site, or an absolute http(s) URL on `allowed_host`.
pub fn is_safe_redirect(url: &str, allowed_host: &str, require_https: bool) -> bool {
    let url = url.trim();
    if url.is_empty() {
        return false;
    }
    allowed(url, allowed_host, require_https)
        && allowed(&url.replace('\\', "/"), allowed_host, require_https)
}

fn allowed(url: &str, allowed_host: &str, require_https: bool) -> bool {
    if url.starts_with("///") {
        return false;
    }
    if url.chars().next().is_some_and(char::is_control) {
        return false;
    }
    // Python's urlsplit drops tabs and newlines anywhere before parsing; so do browsers.
    let cleaned: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let cleaned = cleaned.trim_start_matches(|c: char| c <= ' ');
    let (scheme, rest) = match cleaned.split_once(':') {
        Some((s, r))
            if !s.is_empty()
                && s.as_bytes()[0].is_ascii_alphabetic()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), cleaned),
    };
    let netloc = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let netloc = netloc.unwrap_or("");
    if netloc.is_empty() && !scheme.is_empty() {
        // "http:///evil.example", "javascript:…": a scheme without a host.
        return false;
    }
    let scheme = if scheme.is_empty() && !netloc.is_empty() {
        "http".to_owned()
    } else {
        scheme
    };
    let scheme_ok = scheme.is_empty() || scheme == "https" || (scheme == "http" && !require_https);
    (netloc.is_empty() || netloc == allowed_host) && scheme_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_paths_are_safe() {
        for url in [
            "/dashboard/",
            "/a?b=c",
            "dashboard",
            "/",
            "http://testserver/x",
            "https://testserver/",
        ] {
            assert!(is_safe_redirect(url, "testserver", false), "{url}");
        }
    }

    #[test]
    fn everything_else_is_not() {
        for url in [
            "",
            "   ",
            "//evil.example",
            "https://evil.example",
            "http://evil.example/x",
            "/\\evil.example",
            "\\\\evil.example",
            "\\/evil.example",
            "http:///evil.example",
            "///evil.example",
            "javascript:alert(1)",
            "\u{0}//evil.example",
            "\u{8}//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://testserver@evil.example",
            "ftp://testserver/",
        ] {
            assert!(!is_safe_redirect(url, "testserver", false), "{url:?}");
        }
        assert!(!is_safe_redirect("http://testserver/", "testserver", true));
    }
}
