//! The client identity used to throttle anonymous requests.

use std::net::{IpAddr, SocketAddr};

/// The client address for anonymous throttling.
///
/// With `num_proxies` `None` (the default) or `Some(0)` this is the peer address, so a client
/// cannot change its identity with a forged `X-Forwarded-For`. With `Some(n)`, `n` trusted
/// proxies each append the address they saw, and the client is the `n`-th entry from the right
/// (the leftmost when the header is shorter), as DRF's `NUM_PROXIES`. A missing header, or an
/// entry that is not an IP address (optionally with a port), falls back to the peer.
///
/// `x_forwarded_for` is every `X-Forwarded-For` value joined with `,`. Addresses are
/// normalised (IPv4-mapped IPv6 becomes IPv4, IPv6 is compressed) so that one client has one
/// spelling.
pub(crate) fn client_ident(
    peer: IpAddr,
    x_forwarded_for: Option<&str>,
    num_proxies: Option<usize>,
) -> String {
    let forwarded = match num_proxies {
        Some(n) if n > 0 => x_forwarded_for.and_then(|xff| nth_from_right(xff, n)),
        _ => None,
    };
    forwarded.unwrap_or(peer).to_canonical().to_string()
}

/// The network a login throttle counts a client address under: the address itself for IPv4,
/// its /64 for IPv6 (one subscriber usually holds a whole /64, so counting single IPv6
/// addresses would give an attacker billions of fresh identities). Anything else is kept as is.
pub(crate) fn login_network(client: &str) -> String {
    match client.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
        Ok(ip) => ip.to_string(),
        Err(_) => client.to_owned(),
    }
}

/// The `n`-th (1-based) address from the right of an `X-Forwarded-For` list, or the leftmost
/// when the list is shorter, if it parses.
fn nth_from_right(xff: &str, n: usize) -> Option<IpAddr> {
    xff.rsplit(',')
        .take(n)
        .last()
        .and_then(|entry| parse_addr(entry.trim()))
}

/// An IP address, also accepted with a port (`1.2.3.4:80`, `[::1]:80`) as some proxies send.
fn parse_addr(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PEER: &str = "10.0.0.1";

    #[test]
    fn default_uses_the_peer_and_ignores_a_spoofed_header() {
        for xff in [
            None,
            Some("1.2.3.4"),
            Some("1.2.3.4, 5.6.7.8"),
            Some("garbage"),
        ] {
            assert_eq!(client_ident(ip(PEER), xff, None), PEER, "{xff:?}");
            assert_eq!(client_ident(ip(PEER), xff, Some(0)), PEER, "{xff:?}");
        }
    }

    #[test]
    fn one_proxy_takes_the_rightmost_entry() {
        // The client forged "6.6.6.6"; the trusted proxy appended the real address.
        let xff = Some("6.6.6.6, 203.0.113.7");
        assert_eq!(client_ident(ip(PEER), xff, Some(1)), "203.0.113.7");
        assert_eq!(
            client_ident(ip(PEER), Some("203.0.113.7"), Some(1)),
            "203.0.113.7"
        );
    }

    #[test]
    fn n_proxies_take_the_nth_from_the_right() {
        let xff = Some("6.6.6.6,203.0.113.7 , 198.51.100.2");
        assert_eq!(client_ident(ip(PEER), xff, Some(2)), "203.0.113.7");
        assert_eq!(client_ident(ip(PEER), xff, Some(3)), "6.6.6.6");
        // Shorter than n: the leftmost entry, as DRF.
        assert_eq!(client_ident(ip(PEER), xff, Some(9)), "6.6.6.6");
    }

    #[test]
    fn missing_or_malformed_header_falls_back_to_the_peer() {
        for xff in [
            None,
            Some(""),
            Some(" "),
            Some("unknown"),
            Some("1.2.3.4, nope"),
            Some(","),
        ] {
            assert_eq!(client_ident(ip(PEER), xff, Some(1)), PEER, "{xff:?}");
        }
    }

    #[test]
    fn login_network_is_the_address_or_its_ipv6_64() {
        assert_eq!(login_network("203.0.113.7"), "203.0.113.7");
        assert_eq!(login_network("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(login_network("2001:db8:1:2::ffff"), "2001:db8:1:2::/64");
        assert_eq!(login_network("::1"), "::/64");
        assert_eq!(login_network("not-an-ip"), "not-an-ip");
    }

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(
            client_ident(ip("::ffff:192.0.2.1"), None, None),
            "192.0.2.1"
        );
        assert_eq!(
            client_ident(ip(PEER), Some("2001:DB8:0:0::1"), Some(1)),
            "2001:db8::1"
        );
        assert_eq!(
            client_ident(ip(PEER), Some("192.0.2.9:4711"), Some(1)),
            "192.0.2.9"
        );
        assert_eq!(
            client_ident(ip(PEER), Some("[2001:db8::2]:443"), Some(1)),
            "2001:db8::2"
        );
        assert_eq!(client_ident(ip("::1"), None, None), "::1");
    }
}
