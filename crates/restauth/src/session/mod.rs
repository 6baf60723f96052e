//! Server-side sessions with Django's semantics: 32-character `[a-z0-9]` keys from the OS
//! random source, stored only as SHA-256 digests; the session remembers the user's session-auth
//! hash, so a password change ends it; keys are cycled at login (no fixation).

pub mod authentication;
pub mod cookies;
pub mod csrf;
#[cfg(feature = "html-login")]
pub(crate) mod html;
pub(crate) mod login;
#[cfg(feature = "openapi")]
pub mod openapi;
#[cfg(feature = "html-login")]
pub(crate) mod pages;
mod routes;
pub mod safe_url;
#[cfg(feature = "html-login")]
pub(crate) mod templates;

pub use authentication::SessionAuthentication;
#[cfg(feature = "html-login")]
pub use pages::LoginRequired;
pub use routes::router;
#[cfg(feature = "html-login")]
pub use templates::Templates;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest as _, Sha256};

use crate::core::clock::now;
use crate::core::error::Error;
use crate::core::settings::SessionSettings;
use crate::core::user::User;
use crate::pipeline::audit::Source;
use crate::session::csrf::Csrf;
use crate::store::cache::{CachedSession, Digest, Generation};
use crate::store::index::Presence;
use crate::store::{
    Credential, NewSession, Presented, ReadCache, SessionRecord, SessionStore, detached, digest_hex,
};
use crate::users::Users;

pub(crate) const SESSION_KEY_LENGTH: usize = 32;
/// `last_seen` is written at most this often per session.
const TOUCH_INTERVAL: i64 = 60;

/// How often `last_seen` is written: [`TOUCH_INTERVAL`], or more often under a shorter idle
/// limit, so that a session in use never looks idle.
fn touch_interval(idle: Option<i64>) -> i64 {
    idle.map_or(TOUCH_INTERVAL, |i| TOUCH_INTERVAL.min(i / 2).max(1))
}

/// A new random session key, unbiased over `[a-z0-9]`.
pub(crate) fn generate_session_key() -> String {
    crate::core::random::string(crate::core::random::LOWER_ALPHANUMERIC, SESSION_KEY_LENGTH)
}

/// Whether a cookie value can be a session key at all (anything else is ignored unread).
pub fn is_valid_key(key: &str) -> bool {
    // Every session request checks its cookie: one branch-free pass, which the compiler
    // vectorises, where `all` would stop and branch at each byte.
    key.len() == SESSION_KEY_LENGTH
        && key.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_lowercase() | b.is_ascii_digit())
        })
}

/// The SHA-256 digest of a session key: what the store and the cache know a session by.
pub fn digest(key: &str) -> Digest {
    Sha256::digest(key.as_bytes()).into()
}

pub use crate::core::hmac::session_auth_hash;

/// Why a session does not authenticate; all of them make the request anonymous.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// No such session (never was, logged out, or deleted).
    Unknown,
    /// Past its absolute expiry (`session.cookie_age`).
    Expired,
    /// Unused for longer than `session.idle_timeout`.
    Idle,
    /// Its user is inactive.
    Inactive,
    /// Its user's password changed since it started: Django's session auth hash no longer
    /// matches.
    PasswordChanged,
}

/// What looking up a cookie's session gives: the session and its user, or why it does not
/// authenticate.
pub type SessionVerdict = Result<(Arc<CachedSession>, Arc<User>), SessionEnd>;

/// What a session row read from the store comes to.
enum Admitted {
    Session(Arc<CachedSession>, Arc<User>),
    Unknown,
    /// Its user's password changed since it started: it must be deleted.
    PasswordChanged,
}

/// Django's sessions: log in, log out, and look up the session a cookie names.
#[derive(Clone)]
pub struct SessionService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn SessionStore>,
    cache: ReadCache,
    users: Users,
    settings: SessionSettings,
    /// A login sets a new CSRF secret, as Django's `rotate_token`; the session class checks it.
    csrf: Csrf,
}

impl SessionService {
    /// The session service over these parts; [`Restauth`](crate::Restauth) builds it.
    pub fn new(
        store: Arc<dyn SessionStore>,
        cache: ReadCache,
        users: Users,
        settings: SessionSettings,
        csrf: Csrf,
    ) -> Self {
        SessionService {
            inner: Arc::new(Inner {
                store,
                cache,
                users,
                settings,
                csrf,
            }),
        }
    }

    /// Django's CSRF check and cookie, which the session's views and class use.
    pub fn csrf(&self) -> &Csrf {
        &self.inner.csrf
    }

    /// `[session]`.
    pub fn settings(&self) -> &SessionSettings {
        &self.inner.settings
    }

    /// The store of sessions.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The accounts sessions belong to.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// Starts a session for `user` and returns its key. The session of `previous` (the cookie
    /// the browser came with) is deleted in the same transaction.
    pub async fn login_session(
        &self,
        user: &User,
        previous: Option<&str>,
    ) -> Result<String, Error> {
        self.login_session_from(user, previous, &Source::default())
            .await
    }

    /// [`SessionService::login_session`] for a request from `source`, whose `User-Agent` and
    /// address are kept beside the session for its owner's list of devices.
    pub async fn login_session_from(
        &self,
        user: &User,
        previous: Option<&str>,
        source: &Source,
    ) -> Result<String, Error> {
        let key = generate_session_key();
        let now_ms = crate::core::clock::now_ms();
        let now = now_ms.div_euclid(1000);
        let settings = &self.inner.settings;
        let session = NewSession {
            key: key.clone(),
            record: SessionRecord {
                digest: digest_hex(&digest(&key)),
                user_id: user.id,
                auth_hash: session_auth_hash(&user.password, self.inner.users.secret_key()),
                created: now_ms,
                last_seen: now,
                expires: now.saturating_add(settings.cookie_age.as_i64()),
            },
            origin: source.origin(),
        };
        let replaces = previous.filter(|k| is_valid_key(k)).map(str::to_owned);
        let replaced = replaces.is_some();
        let store = self.inner.store.clone();
        detached("storing a session", async move {
            let replaces = replaces.map(|k| (digest_hex(&digest(&k)), k));
            let replaces = replaces.as_ref().map(|(hex, k)| Presented::new(k, hex));
            store.insert_session(&session, replaces).await
        })
        .await??;
        self.inner
            .users
            .store()
            .set_last_login(user.id, now)
            .await?;
        if replaced {
            self.invalidate().await?;
        }
        Ok(key)
    }

    async fn invalidate(&self) -> Result<(), Error> {
        Ok(self.inner.cache.invalidate().await?)
    }

    /// Deletes the session of `key` (logout); a replayed cookie is then anonymous everywhere.
    pub async fn logout_session(&self, key: &str) -> Result<(), Error> {
        if is_valid_key(key) {
            self.inner
                .store
                .delete_session(Presented::new(key, &digest_hex(&digest(key))))
                .await?;
            self.invalidate().await?;
        }
        Ok(())
    }

    /// Deletes the session with this digest (hex), as carried in [`crate::AuthInfo::Session`].
    pub async fn logout_session_digest(&self, digest_hex: &str) -> Result<(), Error> {
        self.inner
            .store
            .delete_session(Presented::by_digest(digest_hex))
            .await?;
        self.invalidate().await
    }

    /// Removes expired and idle sessions (`restauth clearsessions`).
    pub async fn clear_expired_sessions(&self) -> Result<u64, Error> {
        let now = now();
        let idle = self
            .inner
            .settings
            .idle_timeout
            .map(|t| now.saturating_sub(t.as_i64()));
        Ok(self.inner.store.delete_expired_sessions(now, idle).await?)
    }

    /// Resolves a session key without waiting: from the cache, from the session index when no
    /// stored session has it, or from a read the store answers at once (SQLite); `None` when
    /// the store must be awaited (or a session whose password changed must be deleted).
    pub fn authenticate_session_at_once(&self, key: &str) -> Option<SessionVerdict> {
        let d = digest(key);
        let now = now();
        if let Some(verdict) = self.session_from_cache(&d, now) {
            return Some(verdict);
        }
        if self.inner.cache.presence(Credential::Session, &d) == Presence::Absent {
            return Some(Err(SessionEnd::Unknown));
        }
        let generation = self.inner.cache.get().generation();
        let hex_digest = digest_hex(&d);
        let found = self
            .inner
            .cache
            .database()
            .at_once()?
            .session_by_digest(Presented::new(key, &hex_digest))?
            .ok()?;
        match self.admit_session(found, &d, generation, now) {
            Admitted::Session(session, user) => Some(self.session_verdict(session, user, now)),
            Admitted::Unknown => Some(Err(SessionEnd::Unknown)),
            Admitted::PasswordChanged => None,
        }
    }

    fn session_from_cache(&self, d: &Digest, now: i64) -> Option<SessionVerdict> {
        let cache = self.inner.cache.get();
        let session = cache.session(d, now)?;
        let user = cache.user(session.user_id, now)?;
        Some(self.session_verdict(session, user, now))
    }

    /// Resolves a session key, from the cache when it can.
    pub async fn authenticate_session(&self, key: &str) -> Result<SessionVerdict, Error> {
        // One digest and one clock reading for the whole lookup, cache miss included.
        let d = digest(key);
        let now = now();
        if let Some(v) = self.session_from_cache(&d, now) {
            return Ok(v);
        }
        // A key no stored session has is refused here, without a query.
        if self.inner.cache.presence(Credential::Session, &d) == Presence::Absent {
            return Ok(Err(SessionEnd::Unknown));
        }
        let generation = self.inner.cache.get().generation();
        let hex_digest = digest_hex(&d);
        let presented = Presented::new(key, &hex_digest);
        let found = self.inner.store.session_by_digest(presented).await?;
        Ok(match self.admit_session(found, &d, generation, now) {
            Admitted::Session(session, user) => self.session_verdict(session, user, now),
            Admitted::Unknown => Err(SessionEnd::Unknown),
            Admitted::PasswordChanged => {
                // Django flushes such a session; so do we.
                self.inner.store.delete_session(presented).await?;
                Err(SessionEnd::PasswordChanged)
            }
        })
    }

    /// The session a lookup found, cached (unless the cache changed since `generation`)
    /// beside its user, if its user's password is still the one it was started with.
    fn admit_session(
        &self,
        found: Option<(SessionRecord, User)>,
        d: &Digest,
        generation: Generation,
        now: i64,
    ) -> Admitted {
        let Some((record, user)) = found else {
            return Admitted::Unknown;
        };
        if !self
            .inner
            .users
            .session_hash_matches(&record.auth_hash, &user.password)
        {
            return Admitted::PasswordChanged;
        }
        let session = Arc::new(CachedSession::new(
            *d,
            record.user_id,
            record.created,
            record.expires,
            record.last_seen,
        ));
        let user = Arc::new(user);
        let cache = self.inner.cache.get();
        cache.put_session(generation, *d, session.clone(), now);
        cache.put_user(generation, user.clone(), now);
        Admitted::Session(session, user)
    }

    fn session_verdict(
        &self,
        session: Arc<CachedSession>,
        user: Arc<User>,
        now: i64,
    ) -> SessionVerdict {
        if session.expires <= now || !user.issued_valid(session.created) {
            return Err(SessionEnd::Expired);
        }
        let last_seen = session.last_seen.load(Ordering::Relaxed);
        let idle = self.inner.settings.idle_timeout.map(|t| t.as_i64());
        if let Some(idle) = idle
            && now - last_seen >= idle
        {
            return Err(SessionEnd::Idle);
        }
        if !user.is_active {
            return Err(SessionEnd::Inactive);
        }
        if now - last_seen >= touch_interval(idle)
            && session
                .last_seen
                .compare_exchange(last_seen, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            let store = self.inner.store.clone();
            let d = session.key_digest;
            tokio::spawn(async move {
                if let Err(e) = store.touch_session(&digest_hex(&d), now).await {
                    tracing::debug!(error = %e, "could not record session use");
                }
            });
        }
        Ok((session, user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_chars_of_a_z_0_9() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let k = generate_session_key();
            assert!(is_valid_key(&k), "{k}");
            assert!(seen.insert(k));
        }
        // Any other character, anywhere, or another length, is not a key.
        let valid = "abcdefghijklmnopqrstuvwxyz012345";
        assert!(is_valid_key(valid));
        for c in (0u8..=127).map(char::from).chain(['é', 'ß', '\u{7f}']) {
            for at in [0, 17, 31] {
                let mut k: Vec<char> = valid.chars().collect();
                k[at] = c;
                let k: String = k.into_iter().collect();
                let expected = c.is_ascii_lowercase() || c.is_ascii_digit();
                assert_eq!(is_valid_key(&k), expected, "{k:?}");
            }
        }
        assert!(!is_valid_key(&valid[1..]));
        assert!(!is_valid_key(&format!("{valid}a")));
    }

    #[test]
    fn sessions_in_use_are_touched_well_within_the_idle_limit() {
        assert_eq!(touch_interval(None), TOUCH_INTERVAL);
        assert_eq!(touch_interval(Some(86_400)), TOUCH_INTERVAL);
        assert_eq!(touch_interval(Some(60)), 30);
        assert_eq!(touch_interval(Some(2)), 1);
        assert_eq!(touch_interval(Some(1)), 1);
        assert_eq!(touch_interval(Some(0)), 1);
    }
}
