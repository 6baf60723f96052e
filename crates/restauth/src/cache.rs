//! The in-process read cache of the hot path: token digest → token, user id → user.
//!
//! Entries live `ttl` seconds at most. Any revocation clears the cache: locally at once, and in
//! other processes at their next request through the store's change stamp. A generation counter
//! stops a read that started before a clear from putting stale data back after it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::user::User;

/// SHA-256 of a token key.
pub type Digest = [u8; 32];

/// What the cache keeps of a token.
#[derive(Debug)]
pub struct CachedToken {
    pub id: i64,
    pub user_id: i64,
    pub created: i64,
    pub expires: Option<i64>,
    /// Last time `last_used` was written to the store (or read from it).
    pub last_used: AtomicI64,
    loaded_at: i64,
}

impl CachedToken {
    pub fn new(
        id: i64,
        user_id: i64,
        created: i64,
        expires: Option<i64>,
        last_used: i64,
        now: i64,
    ) -> Self {
        CachedToken {
            id,
            user_id,
            created,
            expires,
            last_used: AtomicI64::new(last_used),
            loaded_at: now,
        }
    }
}

struct CachedUser {
    user: Arc<User>,
    loaded_at: i64,
}

pub struct AuthCache {
    ttl: i64,
    max_entries: usize,
    generation: AtomicU64,
    seen_stamp: AtomicU64,
    tokens: RwLock<HashMap<Digest, Arc<CachedToken>>>,
    users: RwLock<HashMap<i64, CachedUser>>,
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
            tokens: RwLock::new(HashMap::new()),
            users: RwLock::new(HashMap::new()),
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
        if let Ok(mut t) = self.tokens.write() {
            t.clear();
        }
        if let Ok(mut u) = self.users.write() {
            u.clear();
        }
    }

    /// Call before reading the store for a later [`AuthCache::put_token`]/[`AuthCache::put_user`].
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    pub fn token(&self, digest: &Digest, now: i64) -> Option<Arc<CachedToken>> {
        let map = self.tokens.read().ok()?;
        map.get(digest)
            .filter(|t| now - t.loaded_at < self.ttl)
            .cloned()
    }

    pub fn user(&self, id: i64, now: i64) -> Option<Arc<User>> {
        let map = self.users.read().ok()?;
        map.get(&id)
            .filter(|u| now - u.loaded_at < self.ttl)
            .map(|u| u.user.clone())
    }

    pub fn put_token(&self, generation: Generation, digest: Digest, token: Arc<CachedToken>) {
        if let Ok(mut map) = self.tokens.write() {
            if self.generation.load(Ordering::Acquire) != generation.0 {
                return;
            }
            if map.len() >= self.max_entries {
                map.clear();
            }
            map.insert(digest, token);
        }
    }

    pub fn put_user(&self, generation: Generation, user: Arc<User>, now: i64) {
        if let Ok(mut map) = self.users.write() {
            if self.generation.load(Ordering::Acquire) != generation.0 {
                return;
            }
            if map.len() >= self.max_entries {
                map.clear();
            }
            map.insert(
                user.id,
                CachedUser {
                    user,
                    loaded_at: now,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Arc<User> {
        Arc::new(User {
            id,
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
        })
    }

    #[test]
    fn entries_expire_after_ttl() {
        let c = AuthCache::new(30, 10, 0);
        c.put_user(c.generation(), user(1), 100);
        assert!(c.user(1, 129).is_some());
        assert!(c.user(1, 130).is_none());
    }

    #[test]
    fn a_fill_that_started_before_a_clear_is_dropped() {
        let c = AuthCache::new(30, 10, 0);
        let g = c.generation();
        c.clear();
        c.put_user(g, user(1), 100);
        assert!(c.user(1, 100).is_none());
    }

    #[test]
    fn a_moved_stamp_clears_the_cache() {
        let c = AuthCache::new(30, 10, 7);
        c.put_user(c.generation(), user(1), 100);
        c.sync(7);
        assert!(c.user(1, 100).is_some());
        c.sync(8);
        assert!(c.user(1, 100).is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = AuthCache::new(30, 2, 0);
        for id in 0..5 {
            c.put_user(c.generation(), user(id), 100);
        }
        assert!(c.users.read().unwrap().len() <= 2);
    }
}
