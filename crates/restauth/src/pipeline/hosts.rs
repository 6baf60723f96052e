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
}

impl AllowedHosts {
    pub fn new<I, S>(patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        AllowedHosts {
            patterns: patterns
                .into_iter()
                .map(|p| p.as_ref().trim().to_ascii_lowercase())
                .filter(|p| !p.is_empty())
                .collect(),
        }
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
        Some(AllowedHosts { patterns })
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether a `Host` value (with or without port) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let Some(domain) = domain_of(host) else {
            return false;
        };
        self.patterns.iter().any(|p| matches(domain, p))
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
            (Some(v), None) => v.to_str().is_ok_and(|h| self.allows(h)),
            (Some(_), Some(_)) => false,
        }
    }
}

/// Django's `split_domain_port`, then the domain: lower case, without port and trailing dot;
/// `None` when the value is not a host name or bracketed IPv6 address with an optional port.
fn domain_of(host: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if host.starts_with('[') {
        let end = host.find(']')?;
        let (address, rest) = host.split_at(end + 1);
        let inside = &address[1..address.len() - 1];
        let (head, tail) = inside.split_once(':')?;
        let hex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        };
        let port_ok = rest.is_empty() || rest.strip_prefix(':').is_some_and(digits);
        return (hex(head)
            && !head.contains(['.', ':'])
            && !tail.is_empty()
            && hex(tail)
            && port_ok)
            .then_some(address);
    }
    let domain = match host.rsplit_once(':') {
        Some((domain, port)) if digits(port) => domain,
        Some(_) => return None,
        None => host,
    };
    let valid = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    valid.then(|| domain.strip_suffix('.').unwrap_or(domain))
}

/// Django's `is_same_domain`, plus `*`.
fn matches(domain: &str, pattern: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    // Patterns are lowercase; the domain is compared without lowercasing a copy of it.
    let ends_with = |suffix: &str| {
        domain.len() >= suffix.len()
            && domain.as_bytes()[domain.len() - suffix.len()..]
                .eq_ignore_ascii_case(suffix.as_bytes())
    };
    match pattern.strip_prefix('.') {
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
}
