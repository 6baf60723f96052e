//! The per-client connection cap of [`ServeOptions::max_connections_per_client`](super::ServeOptions).

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::ServeOptions;

/// How many connections each client holds, for `max_connections_per_client`.
#[derive(Clone)]
pub(super) struct Clients {
    max: usize,
    exempt: Arc<[std::net::IpAddr]>,
    open: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    last_warned: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// A connection counted for its client; dropping it ends the count.
pub(super) struct ClientConnection {
    clients: Clients,
    key: Option<std::net::IpAddr>,
}

impl Clients {
    pub(super) fn new(options: &ServeOptions) -> Self {
        Clients {
            max: options.max_connections_per_client,
            exempt: options.trusted_proxies.clone().into(),
            open: Arc::default(),
            last_warned: Arc::default(),
        }
    }

    /// An IPv4 address, or the /64 of an IPv6 one (one subscriber's range).
    fn key(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                std::net::IpAddr::V6(bits.into())
            }
            std::net::IpAddr::V6(v6) => std::net::IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            ),
            v4 => v4,
        }
    }

    /// Counts a new connection of `ip`; `None` when its client is at the cap.
    pub(super) fn enter(&self, ip: std::net::IpAddr) -> Option<ClientConnection> {
        if self.max == 0 || self.exempt.contains(&ip) {
            return Some(ClientConnection {
                clients: self.clone(),
                key: None,
            });
        }
        let key = Self::key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            clients: self.clone(),
            key: Some(key),
        })
    }

    /// Logged at most every 10 s: under a flood the line would repeat for every connection.
    pub(super) fn warn_refused(&self, ip: std::net::IpAddr) {
        let mut last = self
            .last_warned
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!(
                client = %Self::key(ip),
                max_connections_per_client = self.max,
                "a client holds as many connections as it may: its new ones are closed \
                 (list a proxy's address in trusted_proxies)"
            );
        }
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&key);
            }
        }
    }
}
