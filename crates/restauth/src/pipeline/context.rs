//! [`Context`]: the shared state every authentication class, permission and route works with.

use std::sync::Arc;
use std::time::Duration;

use crate::core::error::Error;
use crate::core::settings::Settings;
use crate::password::{HashPool, PasswordHasher};
use crate::pipeline::authentication::{Authenticator, Registry};
use crate::pipeline::throttling::ThrottleStore;
use crate::store::cache::{AuthCache, Digest};
use crate::store::index::{DigestIndex, Presence};
use crate::store::{Credential, Store};

/// Settings, store, cache, hashing pool, throttle counters and the authentication classes by
/// name: what every feature draws on, and nothing that belongs to one. Cheap to clone (one
/// `Arc`). Built by [`Restauth`](crate::Restauth), which adds the features.
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub cache: AuthCache,
    /// The token digests that exist, so unknown keys cost no query.
    pub tokens: DigestIndex,
    /// The session digests that exist, so unknown `sessionid` cookies cost no query.
    pub sessions: DigestIndex,
    pub hashing: HashPool,
    pub throttle: Arc<dyn ThrottleStore>,
    /// Login attempts of this process holding throttle slots while being checked.
    pub login_gate: crate::pipeline::throttling::LoginGate,
    pub classes: Registry,
    /// Where security events go.
    pub audit: crate::pipeline::audit::AuditLog,
}

impl Inner {
    fn index(&self, kind: Credential) -> &DigestIndex {
        match kind {
            Credential::Token => &self.tokens,
            Credential::Session => &self.sessions,
        }
    }
}

impl Context {
    /// Checks the settings that keys depend on and builds the hashing pool and the cache.
    pub(crate) fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        throttle: Arc<dyn ThrottleStore>,
        classes: Registry,
    ) -> Result<Self, Error> {
        let django_schema =
            settings.database.schema_flavor == crate::core::settings::SchemaFlavor::Django;
        let hasher = if django_schema {
            django_hasher(&settings)?
        } else {
            PasswordHasher::new(settings.password.argon2)
                .map_err(|e| Error::Config(format!("password.argon2: {e}")))?
        };
        let hashing = HashPool::new(
            hasher,
            settings.password.hashing_concurrency,
            Duration::from_secs(settings.password.hashing_queue_timeout.0),
        );
        // Django changes rows without telling the cache: bound how long an entry is trusted.
        let ttl = if django_schema {
            settings
                .cache
                .ttl
                .as_i64()
                .min(settings.database.django_reread_after.as_i64())
        } else {
            settings.cache.ttl.as_i64()
        };
        let cache = AuthCache::new(ttl, settings.cache.max_entries, store.change_stamp());
        let audit = crate::pipeline::audit::AuditLog::open(&settings.audit)?;
        Ok(Context {
            inner: Arc::new(Inner {
                audit,
                settings,
                store,
                cache,
                tokens: DigestIndex::new(Credential::Token),
                sessions: DigestIndex::new(Credential::Session),
                hashing,
                throttle,
                login_gate: Default::default(),
                classes,
            }),
        })
    }

    /// A fresh instance of the authentication class registered under `name`.
    pub fn authenticator(&self, name: &str) -> Option<Arc<dyn Authenticator>> {
        self.inner.classes.build(name, self)
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

    /// Django's `SECRET_KEY`: the key of session auth hashes (checked present at start).
    pub(crate) fn secret_key(&self) -> &str {
        self.settings()
            .secret_key
            .as_ref()
            .map_or("", |s| s.0.as_str())
    }

    pub fn hashing(&self) -> &HashPool {
        &self.inner.hashing
    }

    pub(crate) fn cache(&self) -> &AuthCache {
        // Every read of the cache first honours changes announced by other processes.
        self.inner.cache.sync(self.inner.store.change_stamp());
        &self.inner.cache
    }

    /// Whether a token (or session) with this digest may exist. When the index is behind the
    /// store, one background refresh brings it up to date; meanwhile the answer is `Behind`
    /// (ask the store).
    pub(crate) fn presence(&self, kind: Credential, digest: &Digest) -> Presence {
        let index = self.inner.index(kind);
        let presence = index.presence(digest, self.inner.store.additions_stamp(kind));
        if presence == Presence::Behind && index.claim_refresh() {
            let ctx = self.clone();
            tokio::spawn(async move {
                let index = ctx.inner.index(kind);
                if let Err(e) = index.refresh_claimed(ctx.inner.store.as_ref()).await {
                    tracing::debug!(error = %e, ?kind, "could not refresh the digest index");
                }
            });
        }
        presence
    }

    /// Runs a store write in a task of its own, so that a client going away cannot stop it
    /// between its commit and the additions stamp a digest index waits for (see
    /// `store::index`). `what` names it in the error of a task that panicked.
    pub(crate) async fn store_detached<T, F>(
        &self,
        what: &str,
        write: impl FnOnce(Arc<dyn Store>) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        tokio::spawn(write(self.store().clone()))
            .await
            .map_err(|e| Error::Internal(format!("{what}: {e}")))
    }

    /// Forgets cached users and tokens here and tells other processes to do the same.
    pub(crate) async fn invalidate(&self) -> Result<(), Error> {
        self.inner.cache.clear();
        self.inner.store.announce_change().await?;
        Ok(())
    }
}

/// Django's default hasher, for a store over Django's tables.
fn django_hasher(settings: &Settings) -> Result<PasswordHasher, Error> {
    #[cfg(feature = "django-hashers")]
    return PasswordHasher::django_pbkdf2(
        settings.password.argon2,
        settings.password.pbkdf2_iterations,
    )
    .map_err(|e| Error::Config(format!("password.pbkdf2_iterations: {e}")));
    #[cfg(not(feature = "django-hashers"))]
    {
        let _ = settings;
        Err(Error::Config(
            "database.schema_flavor: \"django\" needs the \"django-hashers\" cargo feature".into(),
        ))
    }
}
