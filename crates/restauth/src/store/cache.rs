//! The in-process read cache of the hot path: token digest → token, user id → user.
//!
//! Entries live `ttl` seconds at most. Any revocation clears the cache: locally at once, and in
//! other processes at their next request through the store's change stamp. A generation counter
//! stops a read that started before a clear from putting stale data back after it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::core::user::{User, UserId};

/// SHA-256 of a token key.
pub type Digest = [u8; 32];

/// What the cache keeps of a token.
#[derive(Debug)]
pub struct CachedToken {
    pub id: i64,
    pub user_id: UserId,
    pub created: i64,
    pub expires: Option<i64>,
    /// Last time `last_used` was written to the store (or read from it).
    pub last_used: AtomicI64,
}

impl CachedToken {
    pub fn new(
        id: i64,
        user_id: UserId,
        created: i64,
        expires: Option<i64>,
        last_used: i64,
    ) -> Self {
        CachedToken {
            id,
            user_id,
            created,
            expires,
            last_used: AtomicI64::new(last_used),
        }
    }
}

/// What the cache keeps of a session.
#[derive(Debug)]
pub struct CachedSession {
    pub key_digest: Digest,
    /// The digest in hex, as [`AuthInfo::Session`](crate::AuthInfo::Session) carries it:
    /// formatted once, shared by every request of the session.
    pub id: Arc<str>,
    pub user_id: UserId,
    pub created: i64,
    pub expires: i64,
    pub last_seen: AtomicI64,
}

impl CachedSession {
    pub fn new(
        key_digest: Digest,
        user_id: UserId,
        created: i64,
        expires: i64,
        last_seen: i64,
    ) -> Self {
        CachedSession {
            id: crate::store::digest_hex(&key_digest).into(),
            key_digest,
            user_id,
            created,
            expires,
            last_seen: AtomicI64::new(last_seen),
        }
    }
}

/// One map of the cache: values stamped with their load time, bounded in size.
struct Shelf<K, V, H = std::hash::RandomState> {
    map: RwLock<HashMap<K, (V, i64), H>>,
    /// The `cache` label of its lookups.
    name: &'static str,
}

impl<K: std::hash::Hash + Eq, V: Clone, H: std::hash::BuildHasher + Default> Shelf<K, V, H> {
    fn new(name: &'static str) -> Self {
        Shelf {
            map: RwLock::new(HashMap::default()),
            name,
        }
    }

    fn get<Q>(&self, key: &Q, now: i64, ttl: i64) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let map = self.map.read().ok()?;
        let found = map
            .get(key)
            .filter(|(_, loaded_at)| now - loaded_at < ttl)
            .map(|(v, _)| v.clone());
        crate::core::metrics::cache_lookup(self.name, found.is_some());
        found
    }

    /// Stores `value` unless `valid()` says a clear happened since the read began.
    fn put(&self, key: K, value: V, now: i64, max_entries: usize, valid: impl Fn() -> bool) {
        if let Ok(mut map) = self.map.write() {
            if !valid() {
                return;
            }
            if map.len() >= max_entries {
                map.clear();
            }
            map.insert(key, (value, now));
        }
    }

    fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }
}

pub struct AuthCache {
    ttl: i64,
    max_entries: usize,
    generation: AtomicU64,
    seen_stamp: AtomicU64,
    tokens: Shelf<Digest, Arc<CachedToken>, Prehashed>,
    sessions: Shelf<Digest, Arc<CachedSession>, Prehashed>,
    users: Shelf<UserId, Arc<User>, Prehashed>,
    /// Access tokens whose signature and claims were verified, by their exact text.
    /// Verified access-token claims, typed by the JWT feature (the store knows no JWT).
    jwts: Shelf<Box<[u8]>, Arc<dyn Any + Send + Sync>, SignatureTail>,
}

/// Proof of when a store read began; a fill with an outdated one is dropped.
#[derive(Clone, Copy, Debug)]
pub struct Generation(u64);

impl AuthCache {
    pub fn new(ttl: i64, max_entries: usize, stamp: u64) -> Self {
        AuthCache {
            ttl,
            max_entries: max_entries.max(1),
            generation: AtomicU64::new(0),
            seen_stamp: AtomicU64::new(stamp),
            tokens: Shelf::new("token"),
            sessions: Shelf::new("session"),
            users: Shelf::new("user"),
            jwts: Shelf::new("jwt"),
        }
    }

    /// Clears everything if the store's change stamp moved since last seen.
    pub fn sync(&self, stamp: u64) {
        if self.seen_stamp.load(Ordering::Acquire) != stamp {
            self.clear();
            self.seen_stamp.store(stamp, Ordering::Release);
        }
    }

    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.sessions.clear();
        self.users.clear();
        self.jwts.clear();
    }

    /// Call before reading the store for a later `put_*`.
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    fn current(&self, generation: Generation) -> impl Fn() -> bool + '_ {
        move || self.generation.load(Ordering::Acquire) == generation.0
    }

    pub fn token(&self, digest: &Digest, now: i64) -> Option<Arc<CachedToken>> {
        self.tokens.get(digest, now, self.ttl)
    }

    pub fn session(&self, digest: &Digest, now: i64) -> Option<Arc<CachedSession>> {
        self.sessions.get(digest, now, self.ttl)
    }

    pub fn user(&self, id: UserId, now: i64) -> Option<Arc<User>> {
        self.users.get(&id, now, self.ttl)
    }

    pub fn put_token(
        &self,
        generation: Generation,
        digest: Digest,
        token: Arc<CachedToken>,
        now: i64,
    ) {
        self.tokens.put(
            digest,
            token,
            now,
            self.max_entries,
            self.current(generation),
        );
    }

    pub fn put_session(
        &self,
        generation: Generation,
        digest: Digest,
        session: Arc<CachedSession>,
        now: i64,
    ) {
        self.sessions.put(
            digest,
            session,
            now,
            self.max_entries,
            self.current(generation),
        );
    }

    /// The claims of an access token verified before; the caller re-checks `exp`.
    pub fn verified_jwt<C: Any + Send + Sync>(&self, token: &[u8], now: i64) -> Option<Arc<C>> {
        self.jwts.get(token, now, self.ttl)?.downcast().ok()
    }

    pub fn put_verified_jwt<C: Any + Send + Sync>(&self, token: &[u8], claims: Arc<C>, now: i64) {
        let claims: Arc<dyn Any + Send + Sync> = claims;
        self.jwts
            .put(token.into(), claims, now, self.max_entries, || true);
    }

    pub fn put_user(&self, generation: Generation, user: Arc<User>, now: i64) {
        self.users.put(
            user.id,
            user,
            now,
            self.max_entries,
            self.current(generation),
        );
    }
}

/// Hashing for keys that need no SipHash, none of them chosen by a client (only what the store
/// knows, or tokens whose signature verified, is cached):
/// - SHA-256 digests, already uniform: their first eight bytes ([`Prehashed`]);
/// - verified access tokens, by their text: the last eight bytes, which lie in the signature
///   ([`SignatureTail`]). SipHash over two hundred bytes and more cost more than the rest of the
///   lookup, no client can make our signatures collide, and a lookup with any other text only
///   compares it with what it finds;
/// - user ids, which the database assigns, multiplied into every bit.
#[derive(Clone, Copy, Default)]
struct KeyBytes<const FROM_END: bool>;

type Prehashed = KeyBytes<false>;
type SignatureTail = KeyBytes<true>;

impl<const FROM_END: bool> std::hash::BuildHasher for KeyBytes<FROM_END> {
    type Hasher = KeyBytesHasher<FROM_END>;

    fn build_hasher(&self) -> Self::Hasher {
        KeyBytesHasher(0)
    }
}

struct KeyBytesHasher<const FROM_END: bool>(u64);

impl<const FROM_END: bool> std::hash::Hasher for KeyBytesHasher<FROM_END> {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let eight = match FROM_END {
            false => bytes.first_chunk::<8>(),
            true => bytes.last_chunk::<8>(),
        };
        match eight {
            Some(eight) => self.write_u64(u64::from_le_bytes(*eight)),
            None => bytes.iter().for_each(|&b| self.write_u64(u64::from(b))),
        }
    }

    /// The length a slice or array hashes before its bytes: the same for every digest.
    fn write_usize(&mut self, _: usize) {}

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(26);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Arc<User> {
        Arc::new(User {
            id: UserId::Int(id),
            username: format!("u{id}"),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: String::new(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            date_joined: 0,
            last_login: None,
            valid_after: 0,
            cut_off_cause: Default::default(),
            deactivated_by_admin: false,
            permissions: Default::default(),
            extra: Default::default(),
        })
    }

    #[test]
    fn entries_expire_after_ttl() {
        let c = AuthCache::new(30, 10, 0);
        c.put_user(c.generation(), user(1), 100);
        assert!(c.user(UserId::Int(1), 129).is_some());
        assert!(c.user(UserId::Int(1), 130).is_none());
    }

    #[test]
    fn a_fill_that_started_before_a_clear_is_dropped() {
        let c = AuthCache::new(30, 10, 0);
        let g = c.generation();
        c.clear();
        c.put_user(g, user(1), 100);
        assert!(c.user(UserId::Int(1), 100).is_none());
    }

    #[test]
    fn a_moved_stamp_clears_the_cache() {
        let c = AuthCache::new(30, 10, 7);
        c.put_user(c.generation(), user(1), 100);
        c.sync(7);
        assert!(c.user(UserId::Int(1), 100).is_some());
        c.sync(8);
        assert!(c.user(UserId::Int(1), 100).is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = AuthCache::new(30, 2, 0);
        for id in 0..5 {
            c.put_user(c.generation(), user(id), 100);
        }
        assert!(c.users.len() <= 2);
    }
}
