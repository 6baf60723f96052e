//! DRF-shaped API tokens, stored only as SHA-256 digests.
//!
//! A key is 20 bytes from the OS random source as 40 lowercase hex characters (DRF's format),
//! shown once. The store keeps `sha256(key)`; lookups go by digest, so a database read leaks no
//! usable key and the index comparison leaks nothing about one. A user may hold several tokens.

pub mod authentication;
#[cfg(feature = "openapi")]
pub mod openapi;
mod routes;

pub use authentication::TokenAuthentication;
pub use routes::router;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::core::clock::now;
use crate::core::error::Error;
use crate::core::settings::TokenSettings;
use crate::core::user::{User, UserId};
use crate::pipeline::audit::Source;
use crate::store::cache::{CachedToken, Digest, Generation};
use crate::store::index::Presence;
use crate::store::{
    Credential, NewToken, Presented, ReadCache, StoreError, TokenRecord, TokenStore, detached,
    digest_hex,
};
use crate::users::Users;

/// Length of a key in characters.
pub const KEY_LENGTH: usize = 40;
/// `last_used` is written at most this often per token.
const TOUCH_INTERVAL: i64 = 60;

/// A new random key.
pub fn generate_key() -> String {
    crate::core::random::hex::<{ KEY_LENGTH / 2 }>()
}

/// The digest a key is stored and looked up by.
pub fn digest(key: &str) -> Digest {
    Sha256::digest(key.as_bytes()).into()
}

/// Why a presented key was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenRejection {
    /// Unknown, revoked or expired: DRF's "Invalid token.".
    Invalid,
    /// The owner is inactive: DRF's "User inactive or deleted.".
    Inactive,
}

/// The token and its user, or why the key was refused.
pub type KeyVerdict = Result<(Arc<CachedToken>, Arc<User>), TokenRejection>;

/// A freshly issued token: the key (to show once) and its row.
pub struct IssuedToken {
    /// The key: shown to the client once, never stored in restauth's tables.
    pub key: String,
    /// Its row.
    pub record: TokenRecord,
}

/// DRF's tokens: issue, revoke and look up keys (stored as digests only).
#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn TokenStore>,
    cache: ReadCache,
    users: Users,
    settings: TokenSettings,
}

impl TokenService {
    /// The token service over these parts; [`Restauth`](crate::Restauth) builds it.
    pub fn new(
        store: Arc<dyn TokenStore>,
        cache: ReadCache,
        users: Users,
        settings: TokenSettings,
    ) -> Self {
        TokenService {
            inner: Arc::new(Inner {
                store,
                cache,
                users,
                settings,
            }),
        }
    }

    /// `[token]`.
    pub fn settings(&self) -> &TokenSettings {
        &self.inner.settings
    }

    /// The store of tokens.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.inner.store
    }

    /// The accounts tokens belong to.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// Issues a new token for `user_id`, honouring `token.ttl` and `token.limit_per_user`.
    pub async fn issue_token(&self, user_id: UserId) -> Result<IssuedToken, Error> {
        self.issue_token_from(user_id, &Source::default()).await
    }

    /// [`TokenService::issue_token`] for a request from `source`, whose `User-Agent` and
    /// address are kept beside the token for its owner's list of devices.
    pub async fn issue_token_from(
        &self,
        user_id: UserId,
        source: &Source,
    ) -> Result<IssuedToken, Error> {
        let settings = &self.inner.settings;
        // Over Django's tables, DRF's model: one token per user, and obtaining it again
        // returns the same key.
        if let Some((record, key)) = self.inner.store.user_token_key(user_id).await? {
            return Ok(IssuedToken { key, record });
        }
        let created_ms = crate::core::clock::now_ms();
        let created = created_ms.div_euclid(1000);
        let key = generate_key();
        let token = NewToken {
            key: key.clone(),
            digest: digest_hex(&digest(&key)),
            user_id,
            created: created_ms,
            expires: settings.ttl.map(|t| created.saturating_add(t.as_i64())),
            limit_per_user: settings.limit_per_user,
            origin: source.origin(),
        };
        let store = self.inner.store.clone();
        let inserted = detached("storing a token", async move {
            store.insert_token(&token).await
        })
        .await?;
        let record = match inserted {
            Ok(record) => record,
            // A concurrent obtain made the user's one token first: DRF's get_or_create.
            Err(StoreError::Conflict(_)) => match self.inner.store.user_token_key(user_id).await? {
                Some((record, key)) => return Ok(IssuedToken { key, record }),
                None => return Err(Error::Unavailable),
            },
            Err(e) => return Err(e.into()),
        };
        if settings.limit_per_user.is_some() {
            // An evicted token may sit in a cache.
            self.inner.cache.invalidate().await?;
        }
        Ok(IssuedToken { key, record })
    }

    /// Revokes all of the user's tokens except `keep`.
    pub async fn revoke_tokens(&self, user_id: UserId, keep: Option<i64>) -> Result<u64, Error> {
        let n = self.inner.store.delete_user_tokens(user_id, keep).await?;
        self.inner.cache.invalidate().await?;
        Ok(n)
    }

    /// Revokes one token.
    pub async fn revoke_token(&self, token_id: i64) -> Result<bool, Error> {
        let gone = self.inner.store.delete_token(token_id).await?;
        self.inner.cache.invalidate().await?;
        Ok(gone)
    }

    /// Resolves a presented key without waiting: from the cache, from the token index when no
    /// stored token has it, or from a read the store answers at once (SQLite); `None` when the
    /// store must be awaited. This is the hot path: no allocation, no I/O on a cache hit, and
    /// a client sending random keys gets its answer at once.
    pub fn authenticate_key_at_once(&self, key: &str) -> Option<KeyVerdict> {
        let d = digest(key);
        let now = now();
        if let Some(verdict) = self.key_from_cache(&d, now) {
            return Some(verdict);
        }
        if self.inner.cache.presence(Credential::Token, &d) == Presence::Absent {
            return Some(Err(TokenRejection::Invalid));
        }
        if let Some(token) = self.inner.cache.get().token(&d, now) {
            // Its user was evicted apart from it.
            return Some(match self.inner.users.user_by_id_at_once(token.user_id)? {
                Some(user) => self.verdict(token, user, now),
                None => Err(TokenRejection::Invalid),
            });
        }
        let generation = self.inner.cache.get().generation();
        let hex_digest = digest_hex(&d);
        let found = self
            .inner
            .cache
            .database()
            .at_once()?
            .token_by_digest(Presented::new(key, &hex_digest))?
            .ok()?;
        Some(
            match self.admit_token(found, &hex_digest, &d, generation, now) {
                Some((token, user)) => self.verdict(token, user, now),
                None => Err(TokenRejection::Invalid),
            },
        )
    }

    fn key_from_cache(&self, d: &Digest, now: i64) -> Option<KeyVerdict> {
        let cache = self.inner.cache.get();
        let token = cache.token(d, now)?;
        let user = cache.user(token.user_id, now)?;
        Some(self.verdict(token, user, now))
    }

    /// Resolves a presented key to its token and user, from the cache when it can.
    pub async fn authenticate_key(&self, key: &str) -> Result<KeyVerdict, Error> {
        // One digest and one clock reading for the whole lookup, cache miss included.
        let d = digest(key);
        let now = now();
        if let Some(verdict) = self.key_from_cache(&d, now) {
            return Ok(verdict);
        }
        let cached = self.inner.cache.get().token(&d, now);
        let found = match cached {
            Some(token) => self
                .inner
                .users
                .user_by_id(token.user_id)
                .await?
                .map(|user| (token, user)),
            None => self.load_token(key, &d, now).await?,
        };
        Ok(match found {
            Some((token, user)) => self.verdict(token, user, now),
            None => Err(TokenRejection::Invalid),
        })
    }

    fn verdict(&self, token: Arc<CachedToken>, user: Arc<User>, now: i64) -> KeyVerdict {
        if token.expires.is_some_and(|e| e <= now) {
            return Err(TokenRejection::Invalid);
        }
        // DRF's message for an inactive owner comes before the revocation cut-off.
        if !user.is_active {
            return Err(TokenRejection::Inactive);
        }
        if !user.issued_valid(token.created) {
            return Err(TokenRejection::Invalid);
        }
        self.maybe_touch(&token, now);
        Ok((token, user))
    }

    async fn load_token(
        &self,
        key: &str,
        d: &Digest,
        now: i64,
    ) -> Result<Option<(Arc<CachedToken>, Arc<User>)>, Error> {
        // A key no stored token has is refused here, without a query.
        if self.inner.cache.presence(Credential::Token, d) == Presence::Absent {
            return Ok(None);
        }
        let generation = self.inner.cache.get().generation();
        let hex_digest = digest_hex(d);
        let found = self
            .inner
            .store
            .token_by_digest(Presented::new(key, &hex_digest))
            .await?;
        Ok(self.admit_token(found, &hex_digest, d, generation, now))
    }

    /// The token a lookup found for `hex_digest`, cached (unless the cache changed since
    /// `generation`) beside its user.
    fn admit_token(
        &self,
        found: Option<(TokenRecord, User)>,
        hex_digest: &str,
        d: &Digest,
        generation: Generation,
        now: i64,
    ) -> Option<(Arc<CachedToken>, Arc<User>)> {
        let (record, user) = found?;
        // The index found it; compare again in constant time as defence in depth.
        if !bool::from(record.digest.as_bytes().ct_eq(hex_digest.as_bytes())) {
            return None;
        }
        let token = Arc::new(CachedToken::new(
            record.id,
            record.user_id,
            record.created,
            record.expires,
            record.last_used.unwrap_or(0),
        ));
        let user = Arc::new(user);
        let cache = self.inner.cache.get();
        cache.put_token(generation, *d, token.clone(), now);
        cache.put_user(generation, user.clone(), now);
        Some((token, user))
    }

    /// Records use at most once a minute per token, off the request's path.
    fn maybe_touch(&self, token: &CachedToken, now: i64) {
        let last = token.last_used.load(Ordering::Relaxed);
        if now - last < TOUCH_INTERVAL
            || token
                .last_used
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = self.inner.store.clone();
        let id = token.id;
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(id, now).await {
                tracing::debug!(error = %e, "could not record token use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_40_lowercase_hex_and_unique() {
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let k = generate_key();
            assert_eq!(k.len(), KEY_LENGTH);
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            );
            assert!(seen.insert(k));
        }
    }

    #[test]
    fn key_nibbles_are_uniform() {
        // Chi-square over the 16 hex digits of 20,000 keys (800,000 symbols); 15 degrees of
        // freedom, p = 0.0001 critical value 42.6.
        let mut counts = [0u64; 16];
        for _ in 0..20_000 {
            for b in generate_key().bytes() {
                let v = (b as char).to_digit(16).unwrap() as usize;
                counts[v] += 1;
            }
        }
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / 16.0;
        let chi: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi < 42.6, "chi-square {chi}");
    }

    #[test]
    fn digest_is_sha256() {
        assert_eq!(
            hex::encode(digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
