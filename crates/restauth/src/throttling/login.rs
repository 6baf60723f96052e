//! Brute-force protection of every password check (token, JWT and session login, Basic).
//!
//! Three scopes of `[rest_framework.default_throttle_rates]`, each may be `"off"`:
//!
//! * `login_user_ip` (10/min): failures per (username, client network) pair. An attacker at one
//!   address is stopped without touching the real user elsewhere.
//! * `login_user` (30/hour): failures per username over all networks, the ceiling for an
//!   attacker spread over many addresses. It is skipped for a network the user logged in from
//!   successfully in the last 30 days (remembered in the store), so a stranger can lock a
//!   username only for networks its owner has not used lately.
//! * `login_ip` (30/min): failures per client network, whatever the username.
//!
//! A client network is an IPv4 address or an IPv6 /64. Usernames are NFKC-normalised first,
//! so look-alike spellings share their keys.
//!
//! Each attempt takes its slot in every scope atomically *before* the password is checked, so
//! a concurrent burst never gets more checks than the rates allow; a success (or a check that
//! never ran) gives its slots back, so only failures stay counted. When one scope refuses,
//! the slots the others gave are given back too.

use std::sync::Arc;

use super::{Decision, Rate, combine_waits, login_network, unix_now};
use crate::context::Restauth;
use crate::error::Error;
use crate::user::{USERNAME_MAX_LENGTH, User, normalize_username, validate_username};

/// How long a successful login keeps its network exempt from the `login_user` ceiling.
pub const KNOWN_NETWORK_SECS: i64 = 30 * 86_400;
/// A known network's time of success is rewritten at most this often, so a client logging in
/// on every request (Basic) does not write on every request.
const KNOWN_NETWORK_REFRESH_SECS: i64 = 86_400;

/// A slot taken in one scope, to give back.
struct Slot {
    key: String,
    at: f64,
}

impl Restauth {
    /// The keys and rates of the login scopes that apply to this attempt, and when the user
    /// last logged in from this network.
    async fn login_keys(
        &self,
        name: &str,
        raw: &str,
        network: &str,
    ) -> Result<(Vec<(String, Rate)>, Option<i64>), Error> {
        // The key carries at most a username's length, whatever the client sent. The network
        // comes first: it never holds '_', so no username can forge another pair's key.
        let key_name: String = name.chars().take(USERNAME_MAX_LENGTH).collect();
        let mut keys = Vec::with_capacity(3);
        if let Some(rate) = self.throttle_rate("login_user_ip") {
            keys.push((format!("throttle_login_user_ip_{network}_{key_name}"), rate));
        }
        let mut seen = None;
        if let Some(rate) = self.throttle_rate("login_user") {
            seen = self.login_network_seen(name, raw, network).await?;
            let known = seen.is_some_and(|at| at > crate::clock::now() - KNOWN_NETWORK_SECS);
            if !known {
                keys.push((format!("throttle_login_user_{key_name}"), rate));
            }
        }
        if let Some(rate) = self.throttle_rate("login_ip") {
            keys.push((format!("throttle_login_ip_{network}"), rate));
        }
        Ok((keys, seen))
    }

    /// When a user who may be the one logging in (the normalised name, else a legacy
    /// non-normalised one) last logged in from `network`.
    async fn login_network_seen(
        &self,
        name: &str,
        raw: &str,
        network: &str,
    ) -> Result<Option<i64>, Error> {
        let mut seen = None;
        for candidate in [name, raw] {
            if validate_username(candidate).is_ok() {
                let at = self.store().login_network_seen(candidate, network).await?;
                seen = seen.max(at);
            }
            if raw == name {
                break;
            }
        }
        Ok(seen)
    }

    /// Takes one slot in every scope, or none: a refusal gives back what the others took.
    async fn take_login_slots(
        &self,
        keys: Vec<(String, Rate)>,
        client: &str,
    ) -> Result<Vec<Slot>, Error> {
        let store = self.throttle_store();
        let now = unix_now();
        let mut taken = Vec::with_capacity(keys.len());
        let mut waits = Vec::new();
        let mut failed = false;
        for (key, rate) in keys {
            match store.hit(&key, rate, now).await {
                Ok(Decision::Allow) => taken.push(Slot { key, at: now }),
                Ok(Decision::Deny { wait }) => waits.push(wait),
                Err(e) => {
                    tracing::warn!(error = %e, "throttle store unavailable");
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            self.give_back(&taken).await;
            return Err(Error::Unavailable);
        }
        if !waits.is_empty() {
            self.give_back(&taken).await;
            tracing::info!(client, "login throttled");
            return Err(Error::Throttled {
                wait: combine_waits(waits),
            });
        }
        Ok(taken)
    }

    async fn give_back(&self, slots: &[Slot]) {
        let store = self.throttle_store();
        for slot in slots {
            if let Err(e) = store.release(&slot.key, slot.at).await {
                tracing::warn!(error = %e, "could not give back a login throttle slot");
            }
        }
    }

    /// [`Restauth::authenticate_credentials`] behind the login throttles (see the module).
    pub async fn authenticate_login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<Option<Arc<User>>, Error> {
        // Normalised before anything else, so every spelling of a name shares its keys.
        let name = normalize_username(username);
        let network = login_network(client);
        let (keys, seen) = self.login_keys(&name, username, &network).await?;
        let slots = self.take_login_slots(keys, client).await?;
        let result = self.authenticate_credentials(username, password).await;
        // Only a checked, wrong password keeps its slots.
        if !matches!(result, Ok(None)) {
            self.give_back(&slots).await;
        }
        if let Ok(Some(user)) = &result {
            self.remember_login_network(user, &network, seen).await;
        }
        result
    }

    /// Records the network of a successful login when the `login_user` ceiling uses it.
    async fn remember_login_network(&self, user: &User, network: &str, seen: Option<i64>) {
        if self.throttle_rate("login_user").is_none() {
            return;
        }
        let now = crate::clock::now();
        if seen.is_some_and(|at| at > now - KNOWN_NETWORK_REFRESH_SECS) {
            return;
        }
        if let Err(e) = self
            .store()
            .record_login_network(user.id, network, now)
            .await
        {
            tracing::warn!(error = %e, user_id = user.id, "could not remember a login network");
        }
    }
}
