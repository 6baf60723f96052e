//! Typed settings, loaded once: defaults → `restauth.toml` → `RESTAUTH_*` environment variables.
//!
//! Section and key names are DRF's, simplejwt's and Django's setting names in lower case, so users
//! find them where they look for them (`[rest_framework] default_authentication_classes`, …).
//! Unknown keys are errors: a typo must stop the server, not be silently ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use self::password::{Argon2Params, PasswordValidation};
use self::rate::RateSetting;
use self::throttle::ThrottleClass;

pub mod accounts;
mod classes;
mod cors;
pub mod django;
pub mod jwt;
pub mod key_file;
pub mod password;
pub mod rate;
mod session;
pub mod throttle;
mod user;
mod values;
mod weak_secrets;

/// A struct's field names as its derived `Deserialize` declares them.
mod fields {
    use serde::Deserialize;
    use serde::de::{self, Visitor};

    #[derive(Debug)]
    struct Found(&'static [&'static str]);

    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field names found")
        }
    }

    impl std::error::Error for Found {}

    impl de::Error for Found {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Found(&[])
        }
    }

    /// A deserializer that stops at the struct and keeps the names serde hands it.
    struct Catch;

    impl<'de> de::Deserializer<'de> for Catch {
        type Error = Found;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    pub(super) fn of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
        match T::deserialize(Catch) {
            Err(Found(fields)) => fields,
            Ok(_) => &[],
        }
    }
}

pub use accounts::{AccountsSettings, EmailBackend, EmailSettings, SmtpTls};
pub use classes::{AuthClass, ClassName, PermissionClass};
pub use cors::CorsSettings;
pub use django::{DjangoSettings, SchemaFlavor};
pub use session::{CsrfSettings, SessionSettings};
pub use user::{LoginMethods, UserSettings};
pub use values::{SameSite, Seconds, Secret, UploadLimit};

/// Everything the library reads from configuration.
///
/// Each section refuses keys it does not know. At the top level, other keys are left to the
/// program that reads the file: a server keeps sections of its own beside these (the
/// `restauth` binary's `[server]`, `[log]`, …) and refuses what neither knows, with the list
/// [`Settings::keys`] gives.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Django's SECRET_KEY: the default JWT HMAC key and the key of session hashes.
    pub secret_key: Option<Secret>,
    /// `[database]`: where users and credentials are stored (`sqlite://restauth.db` by default).
    pub database: DatabaseSettings,
    /// `[rest_framework]`: DRF's `REST_FRAMEWORK` — default classes, throttle rates, proxies.
    pub rest_framework: RestFrameworkSettings,
    /// `[token]`: DRF's API tokens (`Authorization: Token <key>`).
    pub token: TokenSettings,
    /// `[password]`: Argon2id's cost, Django's password validators, the hashing pool.
    pub password: PasswordSettings,
    /// `[cache]`: the in-process cache of users and credentials.
    pub cache: CacheSettings,
    /// `[session]`: Django's `SESSION_*` settings — cookie, lifetime, idle timeout.
    pub session: SessionSettings,
    /// Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`: the largest form or JSON body the login views
    /// and the CSRF check read (413 above). A server usually refuses large bodies earlier
    /// (`ServeOptions::max_body_bytes`).
    pub data_upload_max_memory_size: UploadLimit,
    /// `[csrf]`: Django's `CSRF_*` settings for session-authenticated unsafe requests.
    pub csrf: CsrfSettings,
    /// `[cors]`: django-cors-headers' settings.
    pub cors: CorsSettings,
    /// `[simple_jwt]`: simplejwt's `SIMPLE_JWT` — lifetimes, keys, rotation and blacklist.
    pub simple_jwt: jwt::SimpleJwtSettings,
    /// `[throttle]`: where throttle counters live (this process, or Redis).
    pub throttle: ThrottleSettings,
    /// `[user]`: what Django's user model says of itself.
    pub user: UserSettings,
    /// `[forward_auth]`: `/auth/forward/`, which a reverse proxy asks before serving another
    /// application.
    pub forward_auth: ForwardAuthSettings,
    /// `[audit]`: where security events are kept.
    pub audit: AuditSettings,
    // Accounts over HTTP
    /// `[accounts]`: djoser's user endpoints (registration, password reset, …).
    pub accounts: AccountsSettings,
    /// `[email]`: the SMTP server the account mails go through.
    pub email: EmailSettings,
    /// `[django]`: a Django project's user model and sessions, for `[database] schema_flavor =
    /// "django"` (and what `import-django` reads).
    pub django: DjangoSettings,
}

/// `[forward_auth]`: the authentication a reverse proxy (nginx `auth_request`, Traefik
/// `ForwardAuth`, Envoy `ext_authz`) asks for before it forwards a request to an application
/// restauth does not host.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardAuthSettings {
    /// Off by default: the route answers who holds a credential, for anyone who can reach it,
    /// and believes `X-Forwarded-*` headers, which only a proxy in front may set.
    pub enabled: bool,
    /// The classes that authenticate the original request; unset: the
    /// `[rest_framework] default_authentication_classes`. The first decides 401 or 403, as in DRF.
    pub authentication_classes: Option<Vec<ClassName>>,
    /// All must pass; `IsAuthenticated` by default.
    pub permission_classes: Vec<PermissionClass>,
    /// The response headers that name the user to the application behind the proxy.
    pub user_header: String,
    /// `forward_auth.user_id_header`: the response header with the user's id. Default
    /// `"X-Auth-User-Id"`.
    pub user_id_header: String,
    /// `forward_auth.is_staff_header`: the response header saying `true` or `false` for Django's
    /// `is_staff`. Default `"X-Auth-Is-Staff"`.
    pub is_staff_header: String,
    /// The one header the proxy states the original method in: `X-Forwarded-Method` (Traefik,
    /// and the nginx file of the docs) or `X-Original-Method` (nginx's own examples). A
    /// request carrying the other spelling is refused (400): a client could have sent it.
    pub method_header: String,
    /// The one header the proxy states the original path in: `X-Forwarded-Uri` or
    /// `X-Original-URI`; the other spelling is refused likewise.
    pub uri_header: String,
}

/// The two spellings proxies use for the original method, and for the original path.
pub(crate) const FORWARDED_METHOD_HEADERS: [&str; 2] = ["x-forwarded-method", "x-original-method"];
pub(crate) const FORWARDED_URI_HEADERS: [&str; 2] = ["x-forwarded-uri", "x-original-uri"];

impl Default for ForwardAuthSettings {
    fn default() -> Self {
        ForwardAuthSettings {
            enabled: false,
            authentication_classes: None,
            permission_classes: vec![PermissionClass::IsAuthenticated],
            user_header: "X-Auth-User".into(),
            user_id_header: "X-Auth-User-Id".into(),
            is_staff_header: "X-Auth-Is-Staff".into(),
            method_header: "X-Forwarded-Method".into(),
            uri_header: "X-Forwarded-Uri".into(),
        }
    }
}

impl ForwardAuthSettings {
    fn validate(&self, num_proxies: Option<usize>) -> Result<(), ConfigError> {
        for (key, name, spellings) in [
            (
                "forward_auth.method_header",
                &self.method_header,
                FORWARDED_METHOD_HEADERS,
            ),
            (
                "forward_auth.uri_header",
                &self.uri_header,
                FORWARDED_URI_HEADERS,
            ),
        ] {
            if !spellings.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Err(ConfigError(format!(
                    "{key}: \"{name}\" is not one of {} (the header your proxy sets)",
                    spellings.join(", ")
                )));
            }
        }
        for (key, name) in [
            ("forward_auth.user_header", &self.user_header),
            ("forward_auth.user_id_header", &self.user_id_header),
            ("forward_auth.is_staff_header", &self.is_staff_header),
        ] {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError(format!(
                    "{key}: {name:?} is not a valid header name"
                )));
            }
        }
        // The original method, host and URI come from headers only a proxy may set: without a
        // declared proxy nothing says they can be believed.
        if self.enabled && num_proxies.unwrap_or(0) == 0 {
            return Err(ConfigError(
                "forward_auth.enabled: needs rest_framework.num_proxies >= 1 (the proxy that \
                 asks /auth/forward/ sets the X-Forwarded-* headers it reads)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `[audit]`: security events (logins, token and password changes, replays, lock-outs) are
/// logged on the `restauth::audit` tracing target, stored in the `audit_event` table and,
/// with `file`, appended to a file as JSON lines.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Store events in the database (`audit_event`). Default on.
    pub store: bool,
    /// Stored events older than this many days are deleted (by `clearsessions`, and at most
    /// hourly while events are written). `0` keeps them forever. Default 90.
    pub retention_days: u32,
    /// Also append every event to this file, one JSON object a line (created mode 0600).
    pub file: Option<std::path::PathBuf>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            store: true,
            retention_days: 90,
            file: None,
        }
    }
}

/// A renamed key's old value, moved to its new home unless that was set too: `None` when the
/// old key was not given, else whether both were (the new one then stays).
fn moved<T: PartialEq>(old: Option<T>, new: &mut T, default: &T) -> Option<bool> {
    let old = old?;
    let both = new != default;
    if !both {
        *new = old;
    }
    Some(both)
}

/// Where throttle counters live.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// `redis://…`: counters shared by every server process; unset: in this process's memory.
    pub redis_url: Option<Secret>,
}

/// `[database]`: the store's URL and pool, and for `schema_flavor = "django"` how Django's
/// tables are named.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (created when missing) or `postgres://…`.
    pub url: String,
    /// Connections in the pool (per process; PostgreSQL's `max_connections` bounds the sum over
    /// all instances).
    pub max_connections: u32,
    /// How long a request waits for a connection (including opening one) before answering 503.
    /// One second by default, so an unreachable database answers 503 well within 2 s.
    pub acquire_timeout: Seconds,
    /// PostgreSQL: longest a statement may run on the server before it is cancelled (503).
    /// 0 disables the limit. Ignored by SQLite, whose writers wait at most 5 s for the lock.
    pub statement_timeout: Seconds,
    /// PostgreSQL: the schema restauth's tables live in (created when missing). Several
    /// deployments, or test runs, can share one database with a schema each. Default: the
    /// server's `search_path` (normally `public`).
    pub schema: Option<String>,
    /// `"restauth"` (default): restauth's own tables. `"django"`: a live Django project's
    /// tables, shared with Django (see the book's chapter "Beside a Django project").
    pub schema_flavor: SchemaFlavor,
    /// Deprecated: `[django] user_table`. Still read for one release
    /// ([`Settings::upgrade`] moves it there, with a warning).
    pub django_user_table: Option<String>,
    /// Deprecated: `[django] username_field`, moved by [`Settings::upgrade`].
    pub django_username_field: Option<String>,
    /// Deprecated: `[django] reread_after`, moved by [`Settings::upgrade`].
    pub django_reread_after: Option<Seconds>,
    /// Deprecated: `[django] authentication_backends`, moved by [`Settings::upgrade`].
    pub django_auth_backend: Option<String>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://restauth.db".into(),
            max_connections: 8,
            acquire_timeout: Seconds(1),
            statement_timeout: Seconds(5),
            schema: None,
            schema_flavor: SchemaFlavor::Restauth,
            django_user_table: None,
            django_username_field: None,
            django_reread_after: None,
            django_auth_backend: None,
        }
    }
}

/// `[rest_framework]`: DRF's `REST_FRAMEWORK` setting, with its key names in lower case.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestFrameworkSettings {
    /// DRF's `DEFAULT_AUTHENTICATION_CLASSES`: the classes a route without its own runs, in
    /// order (`"session"`, `"basic"`, `"token"`, `"jwt"`, or a name an app registers). Default: all
    /// four built-in ones, in that order.
    pub default_authentication_classes: Vec<ClassName>,
    /// DRF's `DEFAULT_PERMISSION_CLASSES`: all must pass on a route without its own. Default
    /// `["allow_any"]`, as DRF.
    pub default_permission_classes: Vec<PermissionClass>,
    /// `anon`, `user`, `scoped`; none by default, as DRF.
    pub default_throttle_classes: Vec<ThrottleClass>,
    /// Rates by scope (`"100/day"`, `"off"`). `login_user_ip` (10/min per username and
    /// client network), `login_user` (30/hour per username, sparing networks the user logged
    /// in from lately) and `login_ip` (30/min per client network) protect every password check
    /// unless set to `"off"`.
    pub default_throttle_rates: BTreeMap<String, RateSetting>,
    /// How many trusted proxies append to `X-Forwarded-For`; unset: the peer address is the
    /// client (a spoofed header changes nothing).
    pub num_proxies: Option<usize>,
    /// DRF's `PAGE_SIZE` for the paginated staff list of users; unset: 100.
    pub page_size: Option<u32>,
}

impl RestFrameworkSettings {
    /// The page size in use: `page_size`, or 100 when unset.
    pub fn page_size(&self) -> u32 {
        self.page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

/// The page size when `[rest_framework] page_size` is unset.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page served, whatever `page_size` says: one page is one read of the store.
pub const MAX_PAGE_SIZE: u32 = 10_000;

impl Default for RestFrameworkSettings {
    fn default() -> Self {
        RestFrameworkSettings {
            default_authentication_classes: AuthClass::ALL.map(ClassName::from).to_vec(),
            default_permission_classes: vec![PermissionClass::AllowAny],
            default_throttle_classes: Vec::new(),
            default_throttle_rates: BTreeMap::new(),
            num_proxies: None,
            page_size: None,
        }
    }
}

/// Default of `[token] limit_per_user`.
pub const DEFAULT_TOKEN_LIMIT_PER_USER: u32 = 50;

/// `[token]`: DRF's `TokenAuthentication` and its obtain route.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// The scheme word of `Authorization: Token <key>` (matched case-insensitively).
    pub keyword: String,
    /// Lifetime of a token; none by default, as DRF.
    pub ttl: Option<Seconds>,
    /// Most tokens a user may hold; the oldest is revoked when a new one passes the limit.
    /// 50 by default, so a client that logs in at every start cannot grow its user's tokens
    /// without end (DRF's own `authtoken` keeps one per user).
    pub limit_per_user: Option<u32>,
    /// Where DRF's `obtain_auth_token` view is mounted (`/api-token-auth/`, where DRF's
    /// documentation puts it).
    pub obtain_url: String,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            keyword: "Token".into(),
            ttl: None,
            limit_per_user: Some(DEFAULT_TOKEN_LIMIT_PER_USER),
            obtain_url: "/api-token-auth/".into(),
        }
    }
}

/// `[password]`: how passwords are hashed and which ones are accepted.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// `[password.argon2]`: the Argon2id cost of new hashes. Default OWASP's m=19 MiB, t=2, p=1.
    pub argon2: Argon2Params,
    /// Over a Django project's tables: the PBKDF2 iterations of its PBKDF2 hashers, for a
    /// project whose hasher subclass changes them. Default: those of `[django] version`.
    pub pbkdf2_iterations: Option<u32>,
    /// `[password.validation]`: Django's `AUTH_PASSWORD_VALIDATORS` (minimum length 8, common
    /// passwords, all-numeric, similarity to the user 0.7 by default).
    pub validation: PasswordValidation,
    /// Password hashes computed at once; more wait (bounded memory: argon2 memory × this).
    pub hashing_concurrency: Option<usize>,
    /// How long a request waits for a hashing slot before answering 503.
    pub hashing_queue_timeout: Seconds,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        PasswordSettings {
            argon2: Argon2Params::default(),
            pbkdf2_iterations: None,
            validation: PasswordValidation::default(),
            hashing_concurrency: None,
            hashing_queue_timeout: Seconds(10),
        }
    }
}

/// `[cache]`: the in-process read cache that answers the hot path without the database.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// How long a token or user stays in the in-process cache without being re-read.
    pub ttl: Seconds,
    /// Entries per map; the cache is emptied when it would grow past this.
    pub max_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Seconds(30),
            max_entries: 100_000,
        }
    }
}

/// A configuration problem, with the key it concerns in its text.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// The top-level keys these settings read (sections and plain keys), as serde derives
    /// them, for a program that refuses unknown keys in a file it shares with the library.
    pub fn keys() -> &'static [&'static str] {
        static KEYS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
        KEYS.get_or_init(fields::of::<Settings>)
    }

    /// Moves the keys a release renamed to their new home (`[database] django_user_table` to
    /// `[django] user_table`, …) and says, once per key, what to write instead. A new key that
    /// is set wins over its old name. Idempotent; [`Restauth::builder`](crate::Restauth::builder)
    /// calls it.
    pub fn upgrade(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let defaults = DjangoSettings::default();
        let (db, dj) = (&mut self.database, &mut self.django);
        let mut warn = |old: &str, new: &str, both: bool| {
            warnings.push(format!(
                "database.{old} is deprecated and will be removed in the next release: write \
                 `{new}` in a [django] section instead{}",
                if both {
                    " (both are set: the [django] value is used)"
                } else {
                    ""
                }
            ));
        };
        if let Some(both) = moved(
            db.django_user_table.take(),
            &mut dj.user_table,
            &defaults.user_table,
        ) {
            warn("django_user_table", "user_table", both);
        }
        if let Some(both) = moved(
            db.django_username_field.take(),
            &mut dj.username_field,
            &defaults.username_field,
        ) {
            warn("django_username_field", "username_field", both);
        }
        if let Some(both) = moved(
            db.django_reread_after.take(),
            &mut dj.reread_after,
            &defaults.reread_after,
        ) {
            warn("django_reread_after", "reread_after", both);
        }
        if let Some(both) = moved(
            db.django_auth_backend.take().map(|b| vec![b]),
            &mut dj.authentication_backends,
            &defaults.authentication_backends,
        ) {
            warn(
                "django_auth_backend",
                "authentication_backends = [...]",
                both,
            );
        }
        warnings
    }

    /// Django's `USERNAME_FIELD`: `[django] username_field` over a Django project's tables,
    /// `[user] username_field` in restauth's own schema.
    pub fn username_field(&self) -> &str {
        match self.database.schema_flavor {
            SchemaFlavor::Django => &self.django.username_field,
            SchemaFlavor::Restauth => &self.user.username_field,
        }
    }

    /// Whether djoser's account endpoints are served: `[accounts] enabled`, and restauth's own
    /// schema (over Django's tables the Django project serves them itself).
    pub fn serves_accounts(&self) -> bool {
        self.accounts.enabled && self.database.schema_flavor == SchemaFlavor::Restauth
    }

    /// Checks that values fit together; the server calls it after loading.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .rest_framework
            .default_authentication_classes
            .is_empty()
        {
            tracing::warn!("rest_framework.default_authentication_classes is empty");
        }
        self.cors.validate()?;
        self.forward_auth
            .validate(self.rest_framework.num_proxies)?;
        // Devices and staff
        if self.rest_framework.page_size == Some(0) {
            return Err(ConfigError(
                "rest_framework.page_size: must be at least 1 (leave it unset for 100)".into(),
            ));
        }
        let field = &self.user.username_field;
        let plain = field.starts_with(|c: char| c.is_ascii_lowercase())
            && field
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain || field == "password" {
            return Err(ConfigError(format!(
                "user.username_field: {field:?} is not a field name ([a-z][a-z0-9_]*, not \
                 password)"
            )));
        }
        // USERNAME_FIELD as the logins see it: over Django's tables, the model's.
        let mut user = self.user.clone();
        user.username_field = self.username_field().to_owned();
        user.validate()?;
        let field = &user.username_field;
        if let Some(login_field) = &self.accounts.login_field
            && login_field != field
            && login_field != "email"
        {
            return Err(ConfigError(format!(
                "accounts.login_field: {login_field:?} is neither user.username_field ({field:?}) \
                 nor \"email\""
            )));
        }
        if self.token.keyword.is_empty() || self.token.keyword.contains(char::is_whitespace) {
            return Err(ConfigError(
                "token.keyword: must be one word without spaces".into(),
            ));
        }
        for key in self.rest_framework.default_throttle_rates.keys() {
            if key.starts_with("login_")
                && !throttle::LOGIN_SCOPES.iter().any(|(scope, _)| scope == key)
            {
                let known: Vec<&str> = throttle::LOGIN_SCOPES
                    .iter()
                    .map(|(scope, _)| *scope)
                    .collect();
                return Err(ConfigError(format!(
                    "rest_framework.default_throttle_rates.{key}: not a login scope (those are {}); \
                     a login_ rate that is never read would leave logins at the default",
                    known.join(", ")
                )));
            }
        }
        for class in &self.rest_framework.default_throttle_classes {
            let scope = match class {
                ThrottleClass::Anon => "anon",
                ThrottleClass::User => "user",
                ThrottleClass::Scoped => continue,
            };
            if !self
                .rest_framework
                .default_throttle_rates
                .contains_key(scope)
            {
                return Err(ConfigError(format!(
                    "rest_framework.default_throttle_rates: no rate for the \"{scope}\" scope of default_throttle_classes"
                )));
            }
        }
        for (key, url) in [
            ("session.login_url", &self.session.login_url),
            ("token.obtain_url", &self.token.obtain_url),
            ("session.logout_url", &self.session.logout_url),
        ] {
            check_route_path(key, url)?;
        }
        if route_path(&self.session.login_url) == route_path(&self.session.logout_url) {
            return Err(ConfigError(
                "session.logout_url: must differ from session.login_url".into(),
            ));
        }
        if self.database.schema_flavor == SchemaFlavor::Django {
            self.django.validate()?;
        }
        if self.database.schema_flavor == SchemaFlavor::Django
            && self.password.pbkdf2_iterations.is_some_and(|n| n < 100_000)
        {
            return Err(ConfigError(
                "password.pbkdf2_iterations: at least 100000 (Django's default is 1000000)".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "database.max_connections: must be at least 1".into(),
            ));
        }
        // Accounts over HTTP
        self.accounts.validate()?;
        self.email.validate()?;
        if self.serves_accounts() && self.email.host.is_some() && self.accounts.domain.is_none() {
            return Err(ConfigError(
                "accounts.domain: must be set when [email] host is set, e.g. domain = \
                 \"app.example.com\": the reset and activation links mailed to users name the \
                 site, and without it they would name whatever host a request says"
                    .into(),
            ));
        }
        self.validate_strength()
    }

    /// Refuses settings that would quietly weaken the server: Argon2 below OWASP's floor,
    /// timeouts of zero (no bound at all, or every request failing at once) and known HMAC keys.
    pub(crate) fn validate_strength(&self) -> Result<(), ConfigError> {
        check_argon2_floor(&self.password.argon2)?;
        // Negative values never parse into `Seconds`; zero is the one left to refuse.
        // (`database.statement_timeout = 0` keeps meaning "no limit".)
        for (key, value) in [
            ("database.acquire_timeout", self.database.acquire_timeout),
            (
                "password.hashing_queue_timeout",
                self.password.hashing_queue_timeout,
            ),
        ] {
            if value.0 == 0 {
                return Err(ConfigError(format!(
                    "{key}: must be at least 1 second (0 would leave no bound or fail every request)"
                )));
            }
        }
        if let Some(key) = &self.secret_key {
            check_hmac_key("secret_key", &key.0)?;
        }
        if self.simple_jwt.algorithm.is_hmac()
            && let Some(key) = &self.simple_jwt.signing_key
        {
            check_hmac_key("simple_jwt.signing_key", key)?;
        }
        Ok(())
    }
}

/// The route a page URL setting is mounted at: trailing slashes are the server's
/// normalisation to undo (`/api-auth/login/` is routed as `/api-auth/login`).
pub(crate) fn route_path(url: &str) -> &str {
    match url.trim_end_matches('/') {
        "" => "/",
        path => path,
    }
}

/// A path of this server that a route can be mounted at: absolute, with no query, fragment or
/// route pattern in it.
fn check_route_path(key: &str, url: &str) -> Result<(), ConfigError> {
    let fits = url.starts_with('/')
        && !url.starts_with("//")
        && !url.chars().any(|c| {
            matches!(c, '?' | '#' | '{' | '}' | '*' | ':') || c.is_whitespace() || c.is_control()
        });
    if fits {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{key}: {url:?} must be a path on this server, such as \"/api-auth/login/\""
        )))
    }
}

/// OWASP's Argon2id table (Password Storage Cheat Sheet): memory (KiB) and passes that give
/// equal defence. Fewer passes need more memory.
const ARGON2_FLOOR: &[(u32, u32)] = &[
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Refuses Argon2 parameters weaker than every row of OWASP's Argon2id table (19 MiB with two
/// passes, or 46 MiB/1, 12 MiB/3, 9 MiB/4, 7 MiB/5).
pub(crate) fn check_argon2_floor(p: &Argon2Params) -> Result<(), ConfigError> {
    let strong_enough = ARGON2_FLOOR
        .iter()
        .any(|&(memory, passes)| p.memory_kib >= memory && p.iterations >= passes);
    if strong_enough {
        return Ok(());
    }
    Err(ConfigError(format!(
        "password.argon2: memory_kib = {} with iterations = {} is below OWASP's Argon2id floor \
         (memory_kib >= 19456 with iterations >= 2, or 47104/1, 12288/3, 9216/4, 7168/5)",
        p.memory_kib, p.iterations
    )))
}

/// Refuses an HMAC key that is published somewhere as a default or example, or Django's
/// development key. The key itself never appears in the message.
pub(crate) fn check_hmac_key(setting: &str, key: &str) -> Result<(), ConfigError> {
    match weak_secrets::weakness(key) {
        Some(why) => Err(ConfigError(format!(
            "{setting}: refused because {why}; generate a new one, e.g. `openssl rand -hex 32`"
        ))),
        None => Ok(()),
    }
}

/// The shortest `secret_key` accepted.
pub const MIN_SECRET_KEY_LEN: usize = 32;

#[cfg(test)]
mod tests;
