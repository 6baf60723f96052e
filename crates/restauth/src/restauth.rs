//! The composition root: [`Restauth`] opens the store, builds each part (the read cache, the
//! hashing pool, the audit log, the throttles, [`Users`] and [`Login`]) and each feature's
//! service from the parts it uses, and names the authentication classes — the built-in ones
//! and any an app registers. The only module that knows every feature's service; the routes,
//! which take a `&Restauth`, sit above it.

use std::sync::Arc;
use std::time::Duration;

use crate::admin::AdminService;
use crate::basic::BasicAuthentication;
use crate::core::error::Error;
use crate::core::settings::{AuthClass, SchemaFlavor, Settings};
use crate::devices::DevicesService;
use crate::jwt::{JwtAuthentication, JwtBackend, JwtService};
use crate::password::{HashPool, PasswordHasher};
use crate::pipeline::audit::AuditLog;
use crate::pipeline::authentication::{Authenticator, Classes, Registry};
use crate::pipeline::policy::Policy;
#[cfg(feature = "redis")]
use crate::pipeline::throttling::RedisStore;
use crate::pipeline::throttling::{MemoryStore, ThrottleStore, Throttles};
use crate::session::csrf::Csrf;
use crate::session::{SessionAuthentication, SessionService};
use crate::store::{ReadCache, Store};
use crate::token::{TokenAuthentication, TokenService};
use crate::users::{Login, Users, UsersParts};

/// restauth for one app: its settings, its store, and every part and service built over them.
/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Restauth {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Arc<Settings>,
    store: Arc<dyn Store>,
    throttles: Throttles,
    users: Users,
    login: Login,
    tokens: TokenService,
    sessions: SessionService,
    csrf: Csrf,
    jwt: JwtService,
    devices: DevicesService,
    admin: AdminService,
    #[cfg(feature = "email")]
    accounts: Option<crate::accounts::AccountsService>,
    classes: Registry<Restauth>,
}

impl Restauth {
    /// Opens the store named in the settings, migrates it, and builds everything.
    pub async fn open(settings: Settings) -> Result<Self, Error> {
        Restauth::builder(settings).open().await
    }

    /// Builds over an opened store. Does not migrate: call
    /// [`Database::migrate`](crate::store::Database::migrate) (or `restauth migrate`) first.
    pub fn new(settings: Settings, store: Arc<dyn Store>) -> Result<Self, Error> {
        Restauth::builder(settings).build(store)
    }

    /// Like [`Restauth::new`], counting throttles in `throttle` (e.g. a Redis store shared
    /// by many processes).
    pub fn with_throttle_store(
        settings: Settings,
        store: Arc<dyn Store>,
        throttle: Arc<dyn ThrottleStore>,
    ) -> Result<Self, Error> {
        Restauth::builder(settings)
            .throttle_store(throttle)
            .build(store)
    }

    /// Starts a [`Builder`], to register an app's own authentication classes.
    pub fn builder(mut settings: Settings) -> Builder {
        for warning in settings.upgrade() {
            tracing::warn!("{warning}");
        }
        Builder {
            settings,
            classes: Registry::default(),
            throttle: None,
        }
    }

    /// The settings everything was built from.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store: every concept's trait, and the database itself (migrate, probe, backup).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// A policy with the configured default authentication, permission and throttle classes,
    /// to narrow per route (DRF's view attributes).
    pub fn policy(&self) -> Policy {
        let classes: Arc<dyn Classes> = Arc::new(self.clone());
        Policy::new(
            classes,
            &self.inner.settings.rest_framework,
            self.inner.throttles.clone(),
        )
    }

    /// A fresh instance of the authentication class registered as `name`.
    pub fn authenticator(&self, name: &str) -> Option<Arc<dyn Authenticator>> {
        self.inner.classes.build(name, self)
    }

    /// The throttles of `[rest_framework]` (rates, counters, client addresses).
    pub fn throttles(&self) -> &Throttles {
        &self.inner.throttles
    }

    /// Accounts: look-ups, creation, password checks and changes, activation, revocation.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// The throttled password check of every login path.
    pub fn login(&self) -> &Login {
        &self.inner.login
    }

    /// Where security events go.
    pub fn audit(&self) -> &AuditLog {
        self.inner.users.audit()
    }

    /// DRF's tokens: issue, revoke, authenticate keys.
    pub fn tokens(&self) -> &TokenService {
        &self.inner.tokens
    }

    /// Django's sessions: log in, log out.
    pub fn sessions(&self) -> &SessionService {
        &self.inner.sessions
    }

    /// Django's CSRF check, for the views that take forms.
    pub fn csrf(&self) -> &Csrf {
        &self.inner.csrf
    }

    /// simplejwt's pairs: obtain, refresh, verify, blacklist.
    pub fn jwt(&self) -> &JwtService {
        &self.inner.jwt
    }

    /// A user's own tokens and sessions: list, revoke, log out everywhere.
    pub fn devices(&self) -> &DevicesService {
        &self.inner.devices
    }

    /// The staff API's operations on users.
    pub fn admin(&self) -> &AdminService {
        &self.inner.admin
    }

    /// djoser's account endpoints, when `[accounts]` enables them.
    #[cfg(feature = "email")]
    pub fn accounts(&self) -> Option<&crate::accounts::AccountsService> {
        self.inner.accounts.as_ref()
    }

    /// The OpenAPI description of the library's routes these settings enable: [`openapi()`]
    /// of [`settings`](Restauth::settings).
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi(self.settings())
    }
}

impl Classes for Restauth {
    fn authenticator(&self, name: &str) -> Option<Arc<dyn Authenticator>> {
        Restauth::authenticator(self, name)
    }

    fn load_permissions<'a>(
        &'a self,
        user: &'a crate::core::user::User,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(self.inner.users.load_permissions(user))
    }
}

/// The OpenAPI 3.1 description of every route of the library that `settings` enable, at the
/// paths its routers mount them: the token view (at `/api-token-auth/`), simplejwt's views and
/// the JWKS, the session views and (with `html-login`) the login pages at `[session]
/// login_url` and `logout_url`, the devices views and the account page, the staff API,
/// `/auth/forward/` when `[forward_auth] enabled`, and djoser's endpoints under `[accounts]
/// prefix` (with `email`).
///
/// Paths, field, cookie and header names follow the settings, as the routes do; it needs no
/// store, so it can be printed without one. An app that mounts only some routers, or the token
/// view elsewhere, merges the parts it mounts instead (`token::openapi::document(&settings,
/// path)`, `jwt::openapi::document(&settings)`, …); its own views can be described with
/// [`pipeline::openapi`](crate::pipeline::openapi). `OpenApi::merge` joins the operations of
/// a path and keeps the first schema or response of a name.
///
/// ```
/// use restauth::Settings;
///
/// let settings = Settings::default();
/// let doc = restauth::openapi(&settings);
/// assert!(doc.paths.paths["/api-token-auth/"].post.is_some());
/// // Served as any JSON, e.g. from an axum handler:
/// let json: String = doc.to_json().expect("a document serialises");
/// assert!(json.starts_with(r#"{"openapi":"3.1."#));
/// ```
#[cfg(feature = "openapi")]
pub fn openapi(settings: &Settings) -> utoipa::openapi::OpenApi {
    let mut doc = crate::token::openapi::document(settings);
    let parts = [
        crate::jwt::openapi::document(settings),
        crate::session::openapi::document(settings),
        crate::devices::openapi::document(settings),
        crate::admin::openapi::document(settings),
        crate::forward::openapi::document(settings),
        #[cfg(feature = "email")]
        crate::accounts::openapi::document(settings),
    ];
    for part in parts {
        doc.merge(part);
    }
    doc
}

/// Builds a [`Restauth`] with an app's own authentication classes beside the built-in ones.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use axum::body::Body;
/// # use http::Request;
/// # use restauth::{Restauth, Settings};
/// # use restauth::pipeline::authentication::{Authenticator, Outcome};
/// struct ApiKey;
/// impl Authenticator for ApiKey {
///     fn authenticate<'a>(&'a self, _request: &'a mut Request<Body>) -> Outcome<'a> {
///         Outcome::skip()
///     }
///     fn authenticate_header(&self) -> Option<http::HeaderValue> {
///         None
///     }
///     fn name(&self) -> &'static str {
///         "api_key"
///     }
/// }
/// # async fn run(mut settings: Settings) -> Result<(), restauth::Error> {
/// settings.rest_framework.default_authentication_classes = vec!["token".into(), "api_key".into()];
/// let restauth = Restauth::builder(settings)
///     .authentication_class("api_key", |_restauth| ApiKey)
///     .open()
///     .await?;
/// # Ok(()) }
/// ```
pub struct Builder {
    settings: Settings,
    classes: Registry<Restauth>,
    throttle: Option<Arc<dyn ThrottleStore>>,
}

impl Builder {
    /// Registers an authentication class under `name`, so that settings and policies can
    /// list it as they list `"token"` (DRF's dotted class paths). `make` runs each time a
    /// policy is built, given the built [`Restauth`]: a class keeps the parts it uses
    /// (`restauth.users().clone()`), not the whole.
    pub fn authentication_class<A, F>(mut self, name: &str, make: F) -> Self
    where
        A: Authenticator,
        F: Fn(&Restauth) -> A + Send + Sync + 'static,
    {
        self.classes.register(
            name,
            Arc::new(move |restauth| Arc::new(make(restauth)) as Arc<dyn Authenticator>),
        );
        self
    }

    /// Counts throttles in `throttle` instead of `[throttle] redis_url` or this process.
    pub fn throttle_store(mut self, throttle: Arc<dyn ThrottleStore>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Opens and migrates the store named in the settings, then builds. Without a
    /// `secret_key`, reads or creates `restauth.secret_key` beside an SQLite database; on
    /// PostgreSQL the key must be configured (every instance must share it).
    pub async fn open(mut self) -> Result<Restauth, Error> {
        crate::core::settings::key_file::ensure_secret_key(&mut self.settings)
            .map_err(|e| Error::Config(e.0))?;
        let url = self.settings.database.url.clone();
        #[cfg(all(
            feature = "django-hashers",
            any(feature = "sqlite", feature = "postgres")
        ))]
        let store = crate::store::open(
            &self.settings.database,
            &self.settings.django,
            Arc::new(crate::django::session::Codec {
                secret_key: self
                    .settings
                    .secret_key
                    .as_ref()
                    .map_or_else(String::new, |k| k.0.clone()),
                fallbacks: self.settings.django.fallback_keys(),
            }),
        )
        .await;
        #[cfg(not(all(
            feature = "django-hashers",
            any(feature = "sqlite", feature = "postgres")
        )))]
        let store = crate::store::open(&self.settings.database, &self.settings.django).await;
        let store = store.map_err(|e| database_error(&url, e))?;
        store.migrate().await.map_err(|e| database_error(&url, e))?;
        if self.throttle.is_none()
            && let Some(redis) = &self.settings.throttle.redis_url
        {
            #[cfg(feature = "redis")]
            {
                let counters = RedisStore::connect(&redis.0)
                    .await
                    .map_err(|e| Error::Config(format!("throttle.redis_url: {e}")))?;
                self.throttle = Some(Arc::new(counters));
            }
            #[cfg(not(feature = "redis"))]
            {
                let _ = redis;
                return Err(Error::Config(
                    "throttle.redis_url: this build of restauth has no Redis support (enable \
                     the \"redis\" cargo feature)"
                        .into(),
                ));
            }
        }
        self.build(store)
    }

    /// Builds over an opened (and migrated) store.
    pub fn build(self, store: Arc<dyn Store>) -> Result<Restauth, Error> {
        let Builder {
            settings,
            mut classes,
            throttle,
        } = self;
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
        let backend = Arc::new(
            JwtBackend::new(
                &settings.simple_jwt,
                settings.secret_key.as_ref().map_or("", |k| k.0.as_str()),
            )
            .map_err(|e| Error::Config(e.to_string()))?,
        );
        register_built_ins(&mut classes);
        let configured = [
            (
                "rest_framework.default_authentication_classes",
                Some(&settings.rest_framework.default_authentication_classes),
            ),
            (
                "forward_auth.authentication_classes",
                settings.forward_auth.authentication_classes.as_ref(),
            ),
        ];
        for (key, names) in configured {
            for name in names.into_iter().flatten() {
                if !classes.contains(name.as_str()) {
                    let known: Vec<&str> = classes.names().collect();
                    return Err(Error::Config(format!(
                        "{key}: no authentication class is registered as \"{}\" (known: {})",
                        name.as_str(),
                        known.join(", ")
                    )));
                }
            }
        }
        let throttle = throttle.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        assemble(settings, store, throttle, backend, classes)
    }
}

/// Each part from the settings and the store, each service from the parts it uses.
fn assemble(
    settings: Settings,
    store: Arc<dyn Store>,
    throttle: Arc<dyn ThrottleStore>,
    backend: Arc<JwtBackend>,
    classes: Registry<Restauth>,
) -> Result<Restauth, Error> {
    let settings = Arc::new(settings);
    let django_schema = settings.database.schema_flavor == SchemaFlavor::Django;
    let hasher = if django_schema {
        django_hasher(&settings)?
    } else {
        PasswordHasher::new(settings.password.argon2)
            .map_err(|e| Error::Config(format!("password.argon2: {e}")))?
    };
    let patience = Duration::from_secs(settings.password.hashing_queue_timeout.0);
    let hashing = HashPool::new(hasher, settings.password.hashing_concurrency, patience);
    // Django changes rows without telling the cache: bound how long an entry is trusted.
    let ttl = if django_schema {
        settings
            .cache
            .ttl
            .as_i64()
            .min(settings.django.reread_after.as_i64())
    } else {
        settings.cache.ttl.as_i64()
    };
    let cache = ReadCache::new(store.clone(), ttl, settings.cache.max_entries);
    let audit = AuditLog::open(&settings.audit, store.clone())?;
    let secret_key: Arc<str> = settings
        .secret_key
        .as_ref()
        .map_or("", |k| k.0.as_str())
        .into();
    // USERNAME_FIELD: over a Django project's tables, its model's.
    let mut user = settings.user.clone();
    user.username_field = settings.username_field().to_owned();
    let users = Users::new(UsersParts {
        users: store.clone(),
        passwords: store.clone(),
        tokens: store.clone(),
        sessions: store.clone(),
        permissions: store.clone(),
        cache: cache.clone(),
        hashing,
        password: settings.password.clone(),
        user,
        secret_key,
        // Django's SECRET_KEY_FALLBACKS, over its tables only.
        secret_key_fallbacks: if django_schema {
            settings.django.fallback_keys().into()
        } else {
            Arc::from([])
        },
        audit,
    });
    let throttles = Throttles::new(&settings.rest_framework, throttle);
    let login = Login::new(users.clone(), throttles.clone(), store.clone(), patience);
    let tokens = TokenService::new(
        store.clone(),
        cache.clone(),
        users.clone(),
        settings.token.clone(),
    );
    let csrf = Csrf::new(
        settings.csrf.clone(),
        settings.data_upload_max_memory_size.0,
    );
    let sessions = SessionService::new(
        store.clone(),
        cache.clone(),
        users.clone(),
        settings.session.clone(),
        csrf.clone(),
    );
    let jwt = JwtService::new(
        store.clone(),
        users.clone(),
        backend,
        settings.simple_jwt.clone(),
    );
    let devices = DevicesService::new(tokens.clone(), sessions.clone());
    let admin = AdminService::new(
        users.clone(),
        settings.rest_framework.page_size(),
        settings.csrf.trust_forwarded_proto,
    );
    #[cfg(feature = "email")]
    let accounts = if settings.serves_accounts() {
        Some(
            crate::accounts::AccountsService::new(
                login.clone(),
                tokens.clone(),
                sessions.clone(),
                csrf.clone(),
                settings.clone(),
            )
            .map_err(Error::Config)?,
        )
    } else {
        None
    };
    Ok(Restauth {
        inner: Arc::new(Inner {
            settings,
            store,
            throttles,
            users,
            login,
            tokens,
            sessions,
            csrf,
            jwt,
            devices,
            admin,
            #[cfg(feature = "email")]
            accounts,
            classes,
        }),
    })
}

/// Django's default hasher, for a store over Django's tables.
fn django_hasher(settings: &Settings) -> Result<PasswordHasher, Error> {
    #[cfg(feature = "django-hashers")]
    return PasswordHasher::django(
        settings.password.argon2,
        &settings.django.password_hashers,
        &settings.django.version,
        settings.password.pbkdf2_iterations,
    )
    .map_err(|e| Error::Config(e.to_string()));
    #[cfg(not(feature = "django-hashers"))]
    {
        let _ = settings;
        Err(Error::Config(
            "database.schema_flavor: \"django\" needs the \"django-hashers\" cargo feature".into(),
        ))
    }
}

/// The built-in classes, under the names settings use; an app's own class of the same name
/// wins (it was registered first and is kept).
fn register_built_ins(classes: &mut Registry<Restauth>) {
    let built_ins: [(
        AuthClass,
        crate::pipeline::authentication::ClassFactory<Restauth>,
    ); 4] = [
        (
            AuthClass::Session,
            Arc::new(|r: &Restauth| {
                Arc::new(SessionAuthentication::new(
                    r.sessions().clone(),
                    r.csrf().clone(),
                ))
            }),
        ),
        (
            AuthClass::Basic,
            Arc::new(|r: &Restauth| Arc::new(BasicAuthentication::new(r.login().clone()))),
        ),
        (
            AuthClass::Token,
            Arc::new(|r: &Restauth| Arc::new(TokenAuthentication::new(r.tokens().clone()))),
        ),
        (
            AuthClass::Jwt,
            Arc::new(|r: &Restauth| Arc::new(JwtAuthentication::new(r.jwt().clone()))),
        ),
    ];
    for (class, factory) in built_ins {
        if !classes.contains(class.as_str()) {
            classes.register(class.as_str(), factory);
        }
    }
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
        settings.secret_key = Some(crate::core::settings::Secret("too short".into()));
        let Err(e) = Restauth::open(settings.clone()).await else {
            panic!("opened with a short secret key");
        };
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().starts_with("secret_key: "), "{e}");
        // Without one, the key file beside the database provides it, as for the server.
        settings.secret_key = None;
        Restauth::open(settings)
            .await
            .expect("opens with the generated key");
        assert!(dir.path().join("restauth.secret_key").is_file());
    }
}
