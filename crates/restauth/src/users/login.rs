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
//! so look-alike spellings share their keys. A login by e-mail (`[user] login_methods`) is
//! keyed by the user the e-mail names, under that user's name: switching between a user's
//! name and e-mail counts against the same limits. An e-mail that names nobody (or several
//! users) is keyed by itself in lower case.
//!
//! Each attempt takes its slot in every scope atomically *before* the password is checked, so
//! a concurrent burst never gets more checks than the rates allow; a success (or a check that
//! never ran) gives its slots back, so only failures stay counted. When one scope refuses,
//! the slots the others gave are given back too.
//!
//! A refused attempt whose slot is held by an attempt of this process still being checked
//! waits for that check (up to `hashing_queue_timeout`) and tries again, since a success gives
//! the slot back: a user's parallel logins from one client all go through, while a burst of
//! wrong passwords still gets exactly the rate's checks and then 429.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Credentials, Users};
use crate::core::error::Error;
use crate::core::metrics;
use crate::core::settings::LoginMethods;
use crate::core::user::{USERNAME_MAX_LENGTH, User, normalize_username, validate_username};
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::pipeline::throttling::{
    Decision, Rate, Throttles, combine_waits, login_network, unix_time,
};
use crate::store::{EmailMatch, LoginNetworkStore};

/// Django's `EmailField` length: a longer name is no e-mail, and is not looked up as one.
const EMAIL_MAX_LENGTH: usize = 254;

/// Whom a login names, found before its throttles are asked so that they key on the user.
enum Named {
    /// By e-mail: this user.
    User(Box<User>),
    /// By the value of `USERNAME_FIELD`, looked up when the password is checked.
    ByName,
    /// Nobody: an e-mail no user or several users have, or a name no allowed method reads.
    Nobody,
}

/// How long a successful login keeps its network exempt from the `login_user` ceiling.
pub(crate) const KNOWN_NETWORK_SECS: i64 = 30 * 86_400;
/// A known network's time of success is rewritten at most this often, so a client logging in
/// on every request (Basic) does not write on every request.
const KNOWN_NETWORK_REFRESH_SECS: i64 = 86_400;

/// A slot taken in one scope, to give back.
struct Slot {
    key: String,
    at: f64,
}

/// What the audit of a throttled login needs: the refusing keys, their longest window, and
/// the scopes that just started refusing.
#[derive(Default)]
struct Refused {
    keys: String,
    window_ms: i64,
    newly_locked: Vec<&'static str>,
}

/// Why no slots were taken.
enum Refusal {
    /// A scope is full: DRF's wait, and the keys that refused.
    Throttled {
        wait: Option<f64>,
        denied: Vec<(String, &'static str)>,
    },
    Unavailable,
}

/// The throttled password check of every login path: the login scopes' slots taken first, the
/// password checked (a [`Users`] check), the outcome audited. Cheap to clone.
#[derive(Clone)]
pub struct Login {
    inner: Arc<LoginInner>,
}

struct LoginInner {
    users: Users,
    throttles: Throttles,
    networks: Arc<dyn LoginNetworkStore>,
    /// How long a refused attempt waits for one of this process's checks to give a slot back.
    patience: Duration,
    gate: LoginGate,
}

impl Login {
    /// The throttled password check over `users`; a refused attempt waits up to `patience`
    /// for this process's checks in flight to give their slot back.
    pub fn new(
        users: Users,
        throttles: Throttles,
        networks: Arc<dyn LoginNetworkStore>,
        patience: Duration,
    ) -> Self {
        Login {
            inner: Arc::new(LoginInner {
                users,
                throttles,
                networks,
                patience,
                gate: LoginGate::default(),
            }),
        }
    }

    /// The accounts it checks passwords of.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// The throttles it takes slots of.
    pub fn throttles(&self) -> &Throttles {
        &self.inner.throttles
    }
}

/// The throttle keys of this process's login attempts that hold slots while their password is
/// checked, and a signal each time one of them ends.
#[derive(Default)]
struct LoginGate {
    in_flight: Mutex<HashMap<String, usize>>,
    ended: Notify,
    /// Keys refused since they last let an attempt through: a lock-out is audited once, when
    /// its key first refuses, not at every refused attempt.
    locked: Mutex<HashSet<String>>,
}

/// Keys remembered as locked at most; past it the set starts again (a lock-out may then be
/// audited twice, but an attacker cycling usernames cannot grow it without bound).
const LOCKED_KEYS_MAX: usize = 10_000;

impl LoginGate {
    fn enter(&self, slots: &[Slot]) -> InFlight<'_> {
        let keys: Vec<String> = slots.iter().map(|s| s.key.clone()).collect();
        let mut map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in &keys {
            *map.entry(key.clone()).or_insert(0) += 1;
        }
        InFlight { gate: self, keys }
    }

    /// Remembers `key` as locked; `true` if it was not already.
    fn lock_out(&self, key: &str) -> bool {
        let mut locked = self.locked.lock().unwrap_or_else(PoisonError::into_inner);
        if locked.len() >= LOCKED_KEYS_MAX {
            locked.clear();
        }
        locked.insert(key.to_owned())
    }

    fn let_through(&self, key: &str) {
        let mut locked = self.locked.lock().unwrap_or_else(PoisonError::into_inner);
        if !locked.is_empty() {
            locked.remove(key);
        }
    }

    fn busy(&self, keys: &[String]) -> bool {
        let map = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.iter().any(|k| map.contains_key(k))
    }
}

/// One attempt being checked; dropping it (also when the request is abandoned) ends it.
struct InFlight<'a> {
    gate: &'a LoginGate,
    keys: Vec<String>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        {
            let mut map = self
                .gate
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for key in &self.keys {
                if let Some(n) = map.get_mut(key) {
                    *n -= 1;
                    if *n == 0 {
                        map.remove(key);
                    }
                }
            }
        }
        self.gate.ended.notify_waiters();
    }
}

impl Login {
    /// The keys and rates of the login scopes that apply to this attempt, and when the user
    /// last logged in from this network.
    async fn login_keys(
        &self,
        name: &str,
        raw: Option<&str>,
        network: &str,
    ) -> Result<(Vec<(String, Rate, &'static str)>, Option<i64>), Error> {
        // The key carries at most a username's length, whatever the client sent. The network
        // comes first: it never holds '_', so no username can forge another pair's key.
        let key_name: String = name.chars().take(USERNAME_MAX_LENGTH).collect();
        let mut keys = Vec::with_capacity(3);
        if let Some(rate) = self.inner.throttles.rate("login_user_ip") {
            keys.push((
                format!("throttle_login_user_ip_{network}_{key_name}"),
                rate,
                "login_user_ip",
            ));
        }
        let mut seen = None;
        if let Some(rate) = self.inner.throttles.rate("login_user") {
            if let Some(raw) = raw {
                seen = self.login_network_seen(name, raw, network).await?;
            }
            let known = seen.is_some_and(|at| at > crate::core::clock::now() - KNOWN_NETWORK_SECS);
            if !known {
                keys.push((
                    format!("throttle_login_user_{key_name}"),
                    rate,
                    "login_user",
                ));
            }
        }
        if let Some(rate) = self.inner.throttles.rate("login_ip") {
            keys.push((format!("throttle_login_ip_{network}"), rate, "login_ip"));
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
                let at = self
                    .inner
                    .networks
                    .login_network_seen(candidate, network)
                    .await?;
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
        keys: &[(String, Rate, &'static str)],
    ) -> Result<Vec<Slot>, Refusal> {
        let store = self.inner.throttles.store();
        let now = unix_time();
        let mut taken = Vec::with_capacity(keys.len());
        let mut waits = Vec::new();
        let mut denied = Vec::new();
        for (key, rate, scope) in keys {
            match store.hit(key, *rate, now).await {
                Ok(Decision::Allow) => {
                    self.inner.gate.let_through(key);
                    taken.push(Slot {
                        key: key.clone(),
                        at: now,
                    });
                }
                Ok(Decision::Deny { wait }) => {
                    waits.push(wait);
                    denied.push((key.clone(), *scope));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "throttle store unavailable");
                    self.give_back(&taken).await;
                    return Err(Refusal::Unavailable);
                }
            }
        }
        if waits.is_empty() {
            return Ok(taken);
        }
        self.give_back(&taken).await;
        Err(Refusal::Throttled {
            wait: combine_waits(waits),
            denied,
        })
    }

    /// Slots in every scope, waiting while a refusing scope's slot is held by an attempt of
    /// this process still being checked (it may come back), up to the hashing queue timeout.
    async fn wait_for_login_slots(
        &self,
        keys: &[(String, Rate, &'static str)],
        client: &str,
        refused: &mut Refused,
    ) -> Result<Vec<Slot>, Error> {
        let gate = &self.inner.gate;
        let patience = self.inner.patience;
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Listening before trying, so an attempt ending in between still wakes this one.
            let ended = gate.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match self.take_login_slots(keys).await {
                Ok(slots) => return Ok(slots),
                Err(Refusal::Unavailable) => return Err(Error::Unavailable),
                Err(Refusal::Throttled { wait, denied }) => {
                    let denied_keys: Vec<String> = denied.iter().map(|(k, _)| k.clone()).collect();
                    if gate.busy(&denied_keys)
                        && tokio::time::timeout_at(deadline, ended).await.is_ok()
                    {
                        continue;
                    }
                    tracing::debug!(client, "login throttled");
                    for (key, scope) in &denied {
                        let scope = *scope;
                        metrics::throttled(scope);
                        if gate.lock_out(key) {
                            refused.newly_locked.push(scope);
                        }
                        let window = keys
                            .iter()
                            .find(|(k, _, _)| k == key)
                            .map_or(0, |(_, rate, _)| rate.duration_secs);
                        refused.window_ms = refused
                            .window_ms
                            .max(i64::try_from(window.saturating_mul(1000)).unwrap_or(i64::MAX));
                        if !refused.keys.is_empty() {
                            refused.keys.push(',');
                        }
                        refused.keys.push_str(key);
                    }
                    return Err(Error::Throttled { wait });
                }
            }
        }
    }

    async fn give_back(&self, slots: &[Slot]) {
        let store = self.inner.throttles.store();
        for slot in slots {
            if let Err(e) = store.release(&slot.key, slot.at).await {
                tracing::warn!(error = %e, "could not give back a login throttle slot");
            }
        }
    }

    /// [`Users::authenticate_credentials`] behind the login throttles (see the module),
    /// audited and counted as a login through `provider` (`token`, `jwt`, `session`, `basic`)
    /// from `source`, whose `ip` is the client the throttles key on. A Basic success is
    /// neither: Basic sends the password with every request, each an ordinary authenticated
    /// request, like one with a token. `username` names the user as `[user] login_methods`
    /// allow.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
        provider: &'static str,
        source: &Source,
    ) -> Result<Option<Arc<User>>, Error> {
        let methods = self.inner.users.login_methods();
        self.authenticate_by(username, password, methods, provider, source)
            .await
    }

    /// [`Login::authenticate`] with the user named as `methods` allow, whatever `[user]
    /// login_methods` says (djoser's `LOGIN_FIELD = "email"`: [`LoginMethods::EMAIL`]).
    pub async fn authenticate_by(
        &self,
        username: &str,
        password: &str,
        methods: LoginMethods,
        provider: &'static str,
        source: &Source,
    ) -> Result<Option<Arc<User>>, Error> {
        let client = source.ip.as_str();
        let network = login_network(client);
        let named = self.name_user(username, methods).await?;
        // Normalised before anything else, so every spelling of a name shares its keys; a
        // user found by e-mail is keyed under its own name. `raw` is the name as stored or
        // sent, for the known networks' look-up.
        let (name, raw) = match &named {
            Named::User(user) => (
                normalize_username(&user.username),
                Some(user.username.as_str()),
            ),
            Named::ByName => (normalize_username(username), Some(username)),
            Named::Nobody => (username.to_lowercase(), None),
        };
        let (keys, seen) = self.login_keys(&name, raw, &network).await?;
        let mut refused = Refused::default();
        let slots = match self.wait_for_login_slots(&keys, client, &mut refused).await {
            Ok(slots) => slots,
            Err(e) => {
                if matches!(e, Error::Throttled { .. }) {
                    self.audit_login_refusal(&name, provider, source, refused)
                        .await;
                }
                return Err(e);
            }
        };
        let in_flight = self.inner.gate.enter(&slots);
        let users = &self.inner.users;
        let result = match named {
            Named::User(user) => users.check_password_of(Some(*user), password).await,
            Named::ByName => users.check_credentials(username, password).await,
            Named::Nobody => users.check_password_of(None, password).await,
        };
        // Only a checked, wrong password keeps its slots.
        if !matches!(
            result,
            Ok(Credentials::Invalid(_) | Credentials::Inactive(_))
        ) {
            self.give_back(&slots).await;
        }
        // Given back first, so the attempts this wakes find the slots free.
        drop(in_flight);
        let event = |outcome, user: Option<&User>| AuditEvent {
            action: audit::LOGIN,
            outcome,
            reason: String::new(),
            provider,
            user_id: user.map(|u| u.id),
            user_name: user.map_or_else(|| name.clone(), |u| u.username.clone()),
            source: source.clone(),
        };
        match result? {
            Credentials::Valid(user) => {
                if provider != "basic" {
                    self.inner
                        .users
                        .audit()
                        .record(event(audit::SUCCESS, Some(&user)))
                        .await;
                }
                self.remember_login_network(&user, &network, seen).await;
                Ok(Some(user))
            }
            Credentials::Invalid(user) => {
                metrics::login_failure(provider, "bad_credentials");
                self.inner
                    .users
                    .audit()
                    .record(event(audit::FAILURE, user.as_ref()).reason("bad_credentials"))
                    .await;
                Ok(None)
            }
            Credentials::Inactive(user) => {
                metrics::login_failure(provider, "inactive");
                self.inner
                    .users
                    .audit()
                    .record(event(audit::FAILURE, Some(&user)).reason("inactive"))
                    .await;
                Ok(None)
            }
        }
    }

    /// Whom `identifier` names under `methods`: an e-mail first (when allowed and it looks like
    /// one), then the value of `USERNAME_FIELD`, as django-allauth's backend tries them.
    async fn name_user(&self, identifier: &str, methods: LoginMethods) -> Result<Named, Error> {
        if methods.email && identifier.contains('@') && identifier.len() <= EMAIL_MAX_LENGTH {
            match self
                .inner
                .users
                .store()
                .user_by_login_email(identifier)
                .await?
            {
                EmailMatch::One(user) => return Ok(Named::User(user)),
                // No account is told apart from another: the generic failure.
                EmailMatch::Several => return Ok(Named::Nobody),
                EmailMatch::None => {}
            }
        }
        Ok(if methods.username_field {
            Named::ByName
        } else {
            Named::Nobody
        })
    }

    /// A login refused by its throttles: a lock-out for each scope that just started
    /// refusing, and a failed login (counted with the repeats of its throttle keys' window,
    /// see the audit log).
    async fn audit_login_refusal(
        &self,
        name: &str,
        provider: &'static str,
        source: &Source,
        refused: Refused,
    ) {
        metrics::login_failure(provider, "throttled");
        let event = |action, reason: String| AuditEvent {
            action,
            outcome: audit::FAILURE,
            reason,
            provider,
            user_id: None,
            user_name: name.to_owned(),
            source: source.clone(),
        };
        let audit = self.inner.users.audit();
        // The lock-out first: it is the cause of this refusal and of the ones that follow,
        // and it goes through the queue the writer serves first.
        if !refused.newly_locked.is_empty() {
            audit
                .record(event(
                    audit::THROTTLE_LOCKOUT,
                    refused.newly_locked.join(","),
                ))
                .await;
        }
        audit.record_throttled(
            event(audit::LOGIN, "throttled".into()),
            &refused.keys,
            refused.window_ms,
        );
    }

    /// Records the network of a successful login when the `login_user` ceiling uses it.
    async fn remember_login_network(&self, user: &User, network: &str, seen: Option<i64>) {
        if self.inner.throttles.rate("login_user").is_none() {
            return;
        }
        let now = crate::core::clock::now();
        if seen.is_some_and(|at| at > now - KNOWN_NETWORK_REFRESH_SECS) {
            return;
        }
        if let Err(e) = self
            .inner
            .networks
            .record_login_network(user.id, network, now)
            .await
        {
            tracing::warn!(error = %e, user_id = %user.id, "could not remember a login network");
        }
    }
}
