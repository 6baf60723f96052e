//! [`Restauth`]: the shared state every authenticator, permission and route works with.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::AuthCache;
use crate::error::Error;
use crate::jwt::JwtBackend;
use crate::password::{HashPool, PasswordHasher};
use crate::settings::Settings;
use crate::store::Store;
use crate::throttling::{MemoryStore, RedisStore, ThrottleStore};

/// Settings, store, cache and hashing pool, cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Restauth {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub cache: AuthCache,
    pub hashing: HashPool,
    pub jwt: JwtBackend,
    pub throttle: Arc<dyn ThrottleStore>,
    /// Login attempts of this process holding throttle slots while being checked.
    pub login_gate: crate::throttling::LoginGate,
}

impl Restauth {
    /// Builds the context over an opened store. Does not migrate: call
    /// [`Store::migrate`] (or `restauth migrate`) first.
    pub fn new(settings: Settings, store: Arc<dyn Store>) -> Result<Self, Error> {
        Restauth::with_throttle_store(settings, store, Arc::new(MemoryStore::new()))
    }

    /// Like [`Restauth::new`], counting throttles in `throttle` (e.g. a [`RedisStore`] shared
    /// by many processes).
    pub fn with_throttle_store(
        settings: Settings,
        store: Arc<dyn Store>,
        throttle: Arc<dyn ThrottleStore>,
    ) -> Result<Self, Error> {
        match &settings.secret_key {
            Some(k) if k.0.len() >= 32 => {}
            // Session hashes and JWT signatures are only as strong as this key.
            _ => {
                return Err(Error::Internal(
                    "secret_key: must be set, at least 32 characters".into(),
                ));
            }
        }
        // Also for settings built in code, and a key read from the generated key file.
        settings
            .validate_strength()
            .map_err(|e| Error::Internal(e.0))?;
        let hasher = PasswordHasher::new(settings.password.argon2)
            .map_err(|e| Error::Internal(format!("password.argon2: {e}")))?;
        let hashing = HashPool::new(
            hasher,
            settings.password.hashing_concurrency,
            Duration::from_secs(settings.password.hashing_queue_timeout.0),
        );
        let jwt = JwtBackend::new(
            &settings.simple_jwt,
            settings.secret_key.as_ref().map_or("", |k| k.0.as_str()),
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
        let cache = AuthCache::new(
            settings.cache.ttl.as_i64(),
            settings.cache.max_entries,
            store.change_stamp(),
        );
        Ok(Restauth {
            inner: Arc::new(Inner {
                settings,
                store,
                cache,
                hashing,
                jwt,
                throttle,
                login_gate: Default::default(),
            }),
        })
    }

    /// Opens the store named in the settings, migrates it, and builds the context.
    pub async fn open(settings: Settings) -> Result<Self, Error> {
        let store = crate::store::connect(&settings.database).await?;
        store.migrate().await?;
        let throttle: Option<Arc<dyn ThrottleStore>> = match &settings.throttle.redis_url {
            Some(url) => {
                Some(Arc::new(RedisStore::connect(&url.0).await.map_err(
                    |e| Error::Internal(format!("throttle.redis_url: {e}")),
                )?))
            }
            None => None,
        };
        let throttle = throttle.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        Restauth::with_throttle_store(settings, store, throttle)
    }

    pub fn throttle_store(&self) -> &Arc<dyn ThrottleStore> {
        &self.inner.throttle
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The JWT keys and rules of `[simple_jwt]`.
    pub fn jwt(&self) -> &JwtBackend {
        &self.inner.jwt
    }

    pub fn hashing(&self) -> &HashPool {
        &self.inner.hashing
    }

    pub(crate) fn cache(&self) -> &AuthCache {
        // Every read of the cache first honours changes announced by other processes.
        self.inner.cache.sync(self.inner.store.change_stamp());
        &self.inner.cache
    }

    /// Forgets cached users and tokens here and tells other processes to do the same.
    pub(crate) async fn invalidate(&self) -> Result<(), Error> {
        self.inner.cache.clear();
        self.inner.store.announce_change().await?;
        Ok(())
    }
}

/// Unix seconds now, from the one [`clock`](crate::clock).
pub fn now() -> i64 {
    crate::clock::now()
}
