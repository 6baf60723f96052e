//! Django's `ALLOWED_HOSTS`: which `Host` header values a server answers.
//!
//! A request for a host the server does not serve is refused before anything builds a URL
//! (redirects, `next` checks) from its `Host` header, which the client controls.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Uri, header};

/// The `detail` of the 400 answering a host that is not allowed. Fixed text: the refused value
/// is never echoed back.
pub const INVALID_HOST: &str = "Invalid HTTP_HOST header.";

/// A list of host patterns with Django's semantics: exact names (`api.example.com`), a leading
/// dot for a domain and its subdomains (`.example.com`), `*` for any host; IPv6 addresses in
/// brackets (`[::1]`). Matching ignores case, the port and one trailing dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<String>,
    /// The patterns that are plain host names (`api.example.com`, `127.0.0.1`): a `Host` equal
    /// to one of them, with or without a port, needs no further parsing.
    exact: Vec<String>,
}

impl AllowedHosts {
    /// The patterns, as Django's `ALLOWED_HOSTS` lists them; blank ones are dropped, case is
    /// ignored.
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::of(
            patterns
                .into_iter()
                .map(|p| p.as_ref().trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    fn of(patterns: Vec<String>) -> Self {
        let exact = patterns
            .iter()
            .filter(|p| !p.starts_with('.') && domain_of(p.as_bytes()) == Some(p.as_bytes()))
            .cloned()
            .collect();
        AllowedHosts { patterns, exact }
    }

    /// The local names: `localhost`, `127.0.0.1`, `[::1]`, and the bound address when it is a
    /// loopback one. `None` when `bound` is not loopback: the names clients use must then be
    /// configured, there is no safe guess.
    pub fn local(bound: SocketAddr) -> Option<Self> {
        if !bound.ip().is_loopback() {
            return None;
        }
        let mut patterns = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "[::1]".to_owned(),
        ];
        let own = match bound.ip() {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        if !patterns.contains(&own) {
            patterns.push(own);
        }
        Some(Self::of(patterns))
    }

    /// The patterns, lower-cased.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a `Host` value (with or without port) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        self.allows_bytes(host.as_bytes())
    }

    /// [`allows`](Self::allows) on the header's bytes: anything but ASCII is refused by the
    /// syntax check anyway, so no UTF-8 check first.
    fn allows_bytes(&self, host: &[u8]) -> bool {
        let exact = |name: &String| {
            host.strip_prefix(name.as_bytes()).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix(b":")
                        .is_some_and(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit))
            })
        };
        if self.exact.iter().any(exact) {
            return true;
        }
        let Some(domain) = domain_of(host) else {
            return false;
        };
        self.patterns.iter().any(|p| matches(domain, p.as_bytes()))
    }

    /// Whether a request's host is allowed: the authority of an absolute-form target, else the
    /// `Host` header. A request naming no host at all (HTTP/1.0) is allowed, as nothing can be
    /// built from a host it did not send; two `Host` headers are not.
    pub fn allows_request(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        if let Some(authority) = uri.authority() {
            return self.allows(authority.as_str());
        }
        let mut values = headers.get_all(header::HOST).iter();
        match (values.next(), values.next()) {
            (None, _) => true,
            (Some(v), None) => self.allows_bytes(v.as_bytes()),
            (Some(_), Some(_)) => false,
        }
    }
}

/// Django's `split_domain_port`, then the domain: without port and trailing dot; `None` when
/// the value is not a host name or bracketed IPv6 address with an optional port. Every
/// request's `Host` passes here, so it is one pass over bytes.
fn domain_of(host: &[u8]) -> Option<&[u8]> {
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if host.first() == Some(&b'[') {
        let end = host.iter().position(|&b| b == b']')?;
        let (address, rest) = host.split_at(end + 1);
        let inside = &address[1..address.len() - 1];
        let colon = inside.iter().position(|&b| b == b':')?;
        let (head, tail) = (&inside[..colon], &inside[colon + 1..]);
        let hex = |s: &[u8]| {
            s.iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        };
        let port_ok = rest.is_empty() || rest.strip_prefix(b":").is_some_and(digits);
        return (hex(head)
            && !head.iter().any(|&b| b == b'.' || b == b':')
            && !tail.is_empty()
            && hex(tail)
            && port_ok)
            .then_some(address);
    }
    let domain = match host.iter().rposition(|&b| b == b':') {
        Some(colon) if digits(&host[colon + 1..]) => &host[..colon],
        Some(_) => return None,
        None => host,
    };
    let valid = !domain.is_empty()
        && domain
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid.then(|| domain.strip_suffix(b".").unwrap_or(domain))
}

/// Django's `is_same_domain`, plus `*`. Patterns are lowercase; the domain is compared
/// without lowercasing a copy of it.
fn matches(domain: &[u8], pattern: &[u8]) -> bool {
    if pattern == b"*" {
        return true;
    }
    let ends_with = |suffix: &[u8]| {
        domain.len() >= suffix.len()
            && domain[domain.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    match pattern.strip_prefix(b".") {
        Some(parent) => domain.eq_ignore_ascii_case(parent) || ends_with(pattern),
        None => domain.eq_ignore_ascii_case(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_ignore_case_port_and_trailing_dot() {
        let hosts = AllowedHosts::new(["api.example.com"]);
        for ok in [
            "api.example.com",
            "API.Example.COM",
            "api.example.com:8443",
            "api.example.com.",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "example.com",
            "evil.api.example.com",
            "api.example.com.evil.net",
            "api.example.com:",
            "api.example.com:x",
            "",
            "api.example.com/x",
            "api.exämple.com",
            "user@api.example.com",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn leading_dot_covers_the_domain_and_its_subdomains() {
        let hosts = AllowedHosts::new([".example.com"]);
        assert!(hosts.allows("example.com"));
        assert!(hosts.allows("a.b.example.com:80"));
        assert!(!hosts.allows("badexample.com"));
        assert!(!hosts.allows("example.com.evil.net"));
    }

    #[test]
    fn star_allows_any_valid_host() {
        let hosts = AllowedHosts::new(["*"]);
        assert!(hosts.allows("anything.example"));
        assert!(!hosts.allows("not a host"));
    }

    #[test]
    fn ipv6_in_brackets() {
        let hosts = AllowedHosts::new(["[::1]"]);
        assert!(hosts.allows("[::1]"));
        assert!(hosts.allows("[::1]:8000"));
        assert!(!hosts.allows("::1"));
        assert!(!hosts.allows("[::2]"));
        assert!(!hosts.allows("[::1]x"));
    }

    #[test]
    fn local_defaults_only_for_loopback() {
        let local = AllowedHosts::local("127.0.0.1:8000".parse().unwrap()).unwrap();
        assert_eq!(local.patterns(), ["localhost", "127.0.0.1", "[::1]"]);
        assert!(local.allows("localhost:8000"));
        assert!(!local.allows("example.com"));
        let other = AllowedHosts::local("127.0.0.2:0".parse().unwrap()).unwrap();
        assert!(other.allows("127.0.0.2:9"));
        let v6 = AllowedHosts::local("[::1]:0".parse().unwrap()).unwrap();
        assert_eq!(v6.patterns().len(), 3);
        assert!(AllowedHosts::local("0.0.0.0:8000".parse().unwrap()).is_none());
        assert!(AllowedHosts::local("10.1.2.3:8000".parse().unwrap()).is_none());
        assert!(AllowedHosts::local("[::]:8000".parse().unwrap()).is_none());
    }

    #[test]
    fn requests_use_the_absolute_target_then_the_host_header() {
        let hosts = AllowedHosts::new(["good.example"]);
        let mut headers = HeaderMap::new();
        let origin_form: Uri = "/x".parse().unwrap();
        assert!(hosts.allows_request(&origin_form, &headers), "no Host");
        headers.insert(header::HOST, "good.example".parse().unwrap());
        assert!(hosts.allows_request(&origin_form, &headers));
        let absolute: Uri = "http://evil.example/x".parse().unwrap();
        assert!(!hosts.allows_request(&absolute, &headers));
        headers.append(header::HOST, "evil.example".parse().unwrap());
        assert!(
            !hosts.allows_request(&origin_form, &headers),
            "two Host headers"
        );
    }

    /// The shortcut for plain names must agree with the full parse on every host built from
    /// the patterns' own pieces and the characters that could fool a prefix test.
    #[test]
    fn the_exact_name_shortcut_agrees_with_the_full_check() {
        let patterns = [
            "localhost",
            "127.0.0.1",
            "[::1]",
            ".example.com",
            "api.test.",
        ];
        let hosts = AllowedHosts::new(patterns);
        let slow = AllowedHosts {
            exact: Vec::new(),
            ..hosts.clone()
        };
        assert_eq!(hosts.exact, ["localhost", "127.0.0.1", "[::1]"]);
        let heads = [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.0.0.10",
            "[::1]",
            "[::2]",
        ];
        let heads = heads
            .iter()
            .chain(&["a.example.com", "api.test", "localhost."]);
        let tails = [
            "", ":", ":8000", ":80a", "::80", ".", "x", " ", ":-1", "]:1", "\t",
        ];
        let mut checked = 0;
        for head in heads {
            for tail in tails {
                for tail2 in ["", ":1"] {
                    let host = format!("{head}{tail}{tail2}");
                    assert_eq!(hosts.allows(&host), slow.allows(&host), "{host:?}");
                    checked += 1;
                }
            }
        }
        assert!(hosts.allows("127.0.0.1:8000") && !hosts.allows("127.0.0.10:8000"));
        assert_eq!(checked, 9 * 11 * 2);
    }
}
