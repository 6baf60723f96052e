//! The composition root: [`Restauth`] opens the store, builds the shared [`Context`] and the
//! features' services, and names the authentication classes — the built-in ones and any an app
//! registers. The only module that knows every feature.

use std::ops::Deref;
use std::sync::Arc;

use crate::basic::BasicAuthentication;
use crate::core::error::Error;
use crate::core::settings::{AuthClass, Settings};
use crate::jwt::{JwtAuthentication, JwtBackend, JwtService};
use crate::pipeline::Context;
use crate::pipeline::authentication::{Authenticator, Registry};
#[cfg(feature = "redis")]
use crate::pipeline::throttling::RedisStore;
use crate::pipeline::throttling::{MemoryStore, ThrottleStore};
use crate::session::{SessionAuthentication, SessionService};
use crate::store::Store;
use crate::token::{TokenAuthentication, TokenService};

/// restauth for one app: the shared [`Context`] (settings, store, cache, hashing pool,
/// throttles) and the services of the token, session and JWT features. Cheap to clone.
///
/// Derefs to the [`Context`], so `restauth.policy()` and `restauth.settings()` read as before.
#[derive(Clone)]
pub struct Restauth {
    ctx: Context,
    tokens: TokenService,
    sessions: SessionService,
    jwt: JwtService,
}

impl Deref for Restauth {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.ctx
    }
}

impl Restauth {
    /// Opens the store named in the settings, migrates it, and builds everything.
    pub async fn open(settings: Settings) -> Result<Self, Error> {
        Restauth::builder(settings).open().await
    }

    /// Builds over an opened store. Does not migrate: call [`Store::migrate`] (or `restauth
    /// migrate`) first.
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
    pub fn builder(settings: Settings) -> Builder {
        Builder {
            settings,
            classes: Registry::default(),
            throttle: None,
        }
    }

    /// The shared parts every feature draws on.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// DRF's tokens: issue, revoke, authenticate keys.
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// Django's sessions: log in, log out.
    pub fn sessions(&self) -> &SessionService {
        &self.sessions
    }

    /// simplejwt's pairs: obtain, refresh, verify, blacklist.
    pub fn jwt(&self) -> &JwtService {
        &self.jwt
    }

    // Devices and staff

    /// A user's own tokens and sessions: list, revoke, log out everywhere.
    pub fn devices(&self) -> crate::devices::DevicesService {
        crate::devices::DevicesService::new(self.ctx.clone())
    }

    /// The staff API's operations on users.
    pub fn admin(&self) -> crate::admin::AdminService {
        crate::admin::AdminService::new(self.ctx.clone())
    }

    /// The OpenAPI description of the library's routes these settings enable: [`openapi()`]
    /// of [`settings`](Context::settings).
    #[cfg(feature = "openapi")]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi(self.settings())
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
    let mut doc = crate::token::openapi::document(settings, crate::token::openapi::PATH);
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
///     .authentication_class("api_key", |_ctx| ApiKey)
///     .open()
///     .await?;
/// # Ok(()) }
/// ```
pub struct Builder {
    settings: Settings,
    classes: Registry,
    throttle: Option<Arc<dyn ThrottleStore>>,
}

impl Builder {
    /// Registers an authentication class under `name`, so that settings and policies can
    /// list it as they list `"token"` (DRF's dotted class paths). `make` runs each time a
    /// policy is built, with the shared context (its store, cache, settings).
    pub fn authentication_class<A, F>(mut self, name: &str, make: F) -> Self
    where
        A: Authenticator,
        F: Fn(&Context) -> A + Send + Sync + 'static,
    {
        self.classes.register(
            name,
            Arc::new(move |ctx| Arc::new(make(ctx)) as Arc<dyn Authenticator>),
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
            Arc::new(crate::django::session::Codec {
                secret_key: self
                    .settings
                    .secret_key
                    .as_ref()
                    .map_or_else(String::new, |k| k.0.clone()),
            }),
        )
        .await;
        #[cfg(not(all(
            feature = "django-hashers",
            any(feature = "sqlite", feature = "postgres")
        )))]
        let store = crate::store::open(&self.settings.database).await;
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
        register_built_ins(&mut classes, &backend);
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
        let ctx = Context::new(settings, store, throttle, classes)?;
        Ok(Restauth {
            tokens: TokenService::new(ctx.clone()),
            sessions: SessionService::new(ctx.clone()),
            jwt: JwtService::new(ctx.clone(), backend),
            ctx,
        })
    }
}

/// The built-in classes, under the names settings use; an app's own class of the same name
/// wins (it was registered first and is kept).
fn register_built_ins(classes: &mut Registry, backend: &Arc<JwtBackend>) {
    let jwt_backend = backend.clone();
    let built_ins: [(AuthClass, crate::pipeline::authentication::ClassFactory); 4] = [
        (
            AuthClass::Session,
            Arc::new(|ctx| Arc::new(SessionAuthentication::new(SessionService::new(ctx.clone())))),
        ),
        (
            AuthClass::Basic,
            Arc::new(|ctx| Arc::new(BasicAuthentication::new(ctx.clone()))),
        ),
        (
            AuthClass::Token,
            Arc::new(|ctx| Arc::new(TokenAuthentication::new(TokenService::new(ctx.clone())))),
        ),
        (
            AuthClass::Jwt,
            Arc::new(move |ctx| {
                Arc::new(JwtAuthentication::new(JwtService::new(
                    ctx.clone(),
                    jwt_backend.clone(),
                )))
            }),
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
