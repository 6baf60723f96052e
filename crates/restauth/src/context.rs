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
                return Err(Error::Config(
                    "secret_key: must be set, at least 32 characters".into(),
                ));
            }
        }
        // Also for settings built in code, and a key read from the generated key file.
        settings
            .validate_strength()
            .map_err(|e| Error::Config(e.0))?;
        let hasher = PasswordHasher::new(settings.password.argon2)
            .map_err(|e| Error::Config(format!("password.argon2: {e}")))?;
        let hashing = HashPool::new(
            hasher,
            settings.password.hashing_concurrency,
            Duration::from_secs(settings.password.hashing_queue_timeout.0),
        );
        let jwt = JwtBackend::new(
            &settings.simple_jwt,
            settings.secret_key.as_ref().map_or("", |k| k.0.as_str()),
        )
        .map_err(|e| Error::Config(e.to_string()))?;
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
        let url = &settings.database.url;
        let store = crate::store::connect(&settings.database)
            .await
            .map_err(|e| database_error(url, e))?;
        store.migrate().await.map_err(|e| database_error(url, e))?;
        let throttle: Option<Arc<dyn ThrottleStore>> = match &settings.throttle.redis_url {
            Some(url) => {
                Some(Arc::new(RedisStore::connect(&url.0).await.map_err(
                    |e| Error::Config(format!("throttle.redis_url: {e}")),
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

/// A store that fails to open says which setting to look at: the host when it cannot be
/// reached, the URL (without its password) when it refuses.
fn database_error(url: &str, e: crate::store::StoreError) -> Error {
    use crate::store::{StoreError, redact_url};
    match e {
        StoreError::Unavailable(reason) => Error::Config(format!(
            "database.url: cannot reach the database at {} ({reason}); check that it runs and \
             accepts connections there",
            database_host(url)
        )),
        StoreError::Other(reason) | StoreError::Conflict(reason) if url.starts_with("postgres") => {
            Error::Config(format!("database.url ({}): {reason}", redact_url(url)))
        }
        other => Error::Internal(other.to_string()),
    }
}

/// `host:port` of a database URL (the file path for SQLite), never its credentials.
fn database_host(url: &str) -> String {
    let Some((_, rest)) = url.split_once("://") else {
        return url.split('?').next().unwrap_or(url).to_owned();
    };
    if url.starts_with("sqlite:") {
        return rest.split('?').next().unwrap_or(rest).to_owned();
    }
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        "localhost (the default when database.url names no host)".to_owned()
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod database_error_tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn names_the_host_and_never_the_password() {
        assert_eq!(
            database_host("postgres://app:hunter2@db.example.com:5433/app?sslmode=require"),
            "db.example.com:5433"
        );
        assert_eq!(database_host("postgresql://db/app"), "db");
        assert!(database_host("postgres:///app").starts_with("localhost"));
        let unreachable = database_error(
            "postgres://app:hunter2@db.example.com/app",
            StoreError::Unavailable("pool timed out".into()),
        )
        .to_string();
        assert!(unreachable.starts_with("database.url: "), "{unreachable}");
        assert!(unreachable.contains("db.example.com"), "{unreachable}");
        assert!(!unreachable.contains("hunter2"), "{unreachable}");
        let refused = database_error(
            "postgres://app:hunter2@db/app",
            StoreError::Other(r#"role "app" does not exist"#.into()),
        )
        .to_string();
        assert!(refused.contains("postgres://app:***@db/app"), "{refused}");
        assert!(
            refused.contains(r#"role "app" does not exist"#),
            "{refused}"
        );
        assert!(!refused.contains("internal error"), "{refused}");
    }

    #[tokio::test]
    async fn settings_that_cannot_work_are_not_internal_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.database.url = format!("sqlite://{}", dir.path().join("t.db").display());
        let Err(e) = Restauth::open(settings).await else {
            panic!("opened without a secret key");
        };
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().starts_with("secret_key: "), "{e}");
    }
}
