//! Persistence behind one small trait per concept ([`UserStore`], [`TokenStore`],
//! [`SessionStore`], [`JwtStore`], …, and [`Database`] for the database itself), [`Store`]
//! their sum, so SQLite (the embedded default) and PostgreSQL are interchangeable; callers
//! never see SQL.
//!
//! One implementation serves both databases and both schemas (`sql`): every statement is
//! rendered once from a map of the schema's tables and columns — restauth's own, or a Django
//! project's (`schema_flavor = "django"`) — and what each database does its own way is a small
//! `Dialect` (`sqlite`, `postgres`).
//!
//! Times are integer Unix seconds, ids integers, secrets only as digests in restauth's own
//! tables.

// A build without either backend is the fuzz harness's only (it fuzzes parsers, not storage):
// the shared SQL code is then unused.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_macros, unused_imports)
)]

use crate::core::user::{User, UserId};

pub(crate) mod cache;
pub mod catalog;
pub mod django;
pub(crate) mod index;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod read_cache;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod traits;

pub use cache::Digest;
pub use read_cache::{ReadCache, detached};
pub use traits::{
    AtOnce, AuditStore, Change, Database, Holder, ImportStore, JwtStore, LoginNetworkStore,
    PasswordStore, PermissionStore, SessionStore, Store, TokenStore, UserStore,
};

#[cfg(feature = "postgres")]
use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
use sqlite::SqliteStore;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, is locked for too long or out of space: answer 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule refused the write (duplicate username, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// What this schema cannot do or keep (a flag the user model has no column for, an
    /// operation only restauth's own schema offers): answer 400, the reason as `detail`.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else: a bug or a corrupt database.
    #[error("store error: {0}")]
    Other(String),
}

/// Whom a login by e-mail names ([`UserStore::user_by_login_email`]).
#[derive(Clone, Debug)]
pub enum EmailMatch {
    /// No user has that e-mail.
    None,
    /// Exactly one user has it.
    One(Box<User>),
    /// Several users share it: a login by it names nobody.
    Several,
}

/// What a lookup found: the row, if any.
pub type Found<T> = Result<Option<T>, StoreError>;

/// A user about to be created; `password` is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Django's `username`: unique, the name a user logs in with.
    pub username: String,
    /// Django's `email`; may be empty, and is what a password reset is sent to.
    pub email: String,
    /// Django's `first_name`; may be empty.
    pub first_name: String,
    /// Django's `last_name`; may be empty.
    pub last_name: String,
    /// The password hash in Django's `<algorithm>$…` format, or an unusable `!…` one.
    pub password: String,
    /// Django's `is_active`: an inactive user cannot log in and its credentials are refused.
    pub is_active: bool,
    /// Django's `is_staff`: `IsAdminUser` lets staff in.
    pub is_staff: bool,
    /// Django's `is_superuser`.
    pub is_superuser: bool,
    /// Django's `date_joined`, Unix seconds.
    pub date_joined: i64,
}

/// A stored API token. restauth's own tables never keep the key itself, only its SHA-256
/// digest (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// The row's id: what a user's list of devices names the token by.
    pub id: i64,
    /// The SHA-256 digest (hex) of the key, which lookups go by.
    pub digest: String,
    /// The user the token authenticates as.
    pub user_id: UserId,
    /// Unix milliseconds, compared with the user's `valid_after`.
    pub created: i64,
    /// When it last authenticated a request (Unix seconds), recorded at most once a minute.
    pub last_used: Option<i64>,
    /// When it stops being accepted (Unix seconds); `None` never, as DRF's tokens.
    pub expires: Option<i64>,
}

/// A token about to be stored.
#[derive(Clone, Debug, Default)]
pub struct NewToken {
    /// The key itself, kept only where the schema keeps keys (DRF's own `authtoken_token`);
    /// restauth's schema stores `digest` alone.
    pub key: String,
    /// The SHA-256 digest (hex) of `key`, which restauth's schema keys the row by.
    pub digest: String,
    /// The user it authenticates as.
    pub user_id: UserId,
    /// Unix milliseconds.
    pub created: i64,
    /// When it stops being accepted (Unix seconds); `None` never.
    pub expires: Option<i64>,
    /// Keep at most this many tokens for the user, evicting the oldest, in the same transaction.
    pub limit_per_user: Option<u32>,
    /// Where it was issued.
    pub origin: Origin,
}

/// A server-side session. restauth's own tables never keep the cookie's key, only its SHA-256
/// digest (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The SHA-256 digest (hex) of the cookie's session key, which restauth's schema keys the
    /// row by.
    pub digest: String,
    /// The logged-in user.
    pub user_id: UserId,
    /// Django's session auth hash of the user's password hash at login.
    pub auth_hash: String,
    /// Unix milliseconds, compared with the user's `valid_after`.
    pub created: i64,
    /// When it last served a request (Unix seconds), for the idle timeout.
    pub last_seen: i64,
    /// Absolute expiry (Unix seconds).
    pub expires: i64,
}

/// A session about to be stored.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The cookie's key, kept only where the schema keeps keys (Django's `django_session`);
    /// restauth's schema stores `record.digest` alone.
    pub key: String,
    /// The row itself.
    pub record: SessionRecord,
    /// Where it was started.
    pub origin: Origin,
}

/// A credential as it was presented: the digest (hex) of its key, which restauth's tables are
/// keyed by, and the key itself where the caller has it, which Django's tables are keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The key as the client sent it, when the caller has it.
    pub key: Option<&'a str>,
    /// The SHA-256 digest (hex) of the key.
    pub digest: &'a str,
}

impl<'a> Presented<'a> {
    /// A key presented by a client, with its digest.
    pub fn new(key: &'a str, digest: &'a str) -> Self {
        Presented {
            key: Some(key),
            digest,
        }
    }

    /// A credential the caller knows by digest only (one in a user's list of devices): a
    /// store over keys then finds it by reading every key.
    pub fn by_digest(digest: &'a str) -> Self {
        Presented { key: None, digest }
    }
}

/// The credentials stored by digest, each with its own additions stamp and digest index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// An API token (DRF's `authtoken_token`).
    Token,
    /// A server-side session (Django's `django_session`).
    Session,
}

/// A refresh token handed out, by `jti`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutstandingToken {
    /// The token's unique id claim (simplejwt's `jti`).
    pub jti: String,
    /// The user it was issued to.
    pub user_id: UserId,
    /// The jti of the login's first refresh token; rotations keep it.
    pub family: String,
    /// The token's `iat` (Unix seconds).
    pub created_at: i64,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
}

/// A refresh token to record: its row, and its text, which simplejwt's own table keeps
/// (restauth's schema keeps the jti alone).
#[derive(Clone, Copy, Debug)]
pub struct Refresh<'a> {
    /// Its row.
    pub token: &'a OutstandingToken,
    /// The encoded token, for the schemas that keep it.
    pub text: &'a str,
}

/// A refresh token that has been rotated, and what it was rotated into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotatedToken {
    /// The login's family: the first refresh token's jti.
    pub family: String,
    /// When it was rotated, Unix milliseconds.
    pub rotated_at: i64,
    /// The one successor it was given (`None` for rows rotated before successors were kept).
    pub successor: Option<OutstandingToken>,
}

/// What happened to a rotation attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The old token was live; the new one is recorded.
    Rotated,
    /// The old token had already been rotated: a replay, unless within the grace. Nothing was
    /// written; carries what the earlier rotation recorded.
    Reused(RotatedToken),
}

/// A Django user as `import-django` brings it: its id is kept, and `password` is the hash in
/// Django's format (verified by the Django hashers, upgraded to Argon2id at the next login).
#[derive(Clone, Debug)]
pub struct ImportedUser {
    /// The Django user's id, kept so that its tokens and sessions still point at it.
    pub id: i64,
    /// Django's `username`.
    pub username: String,
    /// Django's `email`.
    pub email: String,
    /// Django's `first_name`.
    pub first_name: String,
    /// Django's `last_name`.
    pub last_name: String,
    /// The hash in Django's format, as its `auth_user.password` holds it.
    pub password: String,
    /// Django's `is_active`.
    pub is_active: bool,
    /// Django's `is_staff`.
    pub is_staff: bool,
    /// Django's `is_superuser`.
    pub is_superuser: bool,
    /// Unix seconds.
    pub date_joined: i64,
    /// Unix seconds.
    pub last_login: Option<i64>,
}

impl ImportedUser {
    /// Tells whether the Django row changed since the last import: the digest of the password
    /// hash and the digest of every other imported field, as `<password>:<fields>` (hex). The
    /// hash itself is never kept twice.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let fields = format!(
            "{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}",
            self.username,
            self.email,
            self.first_name,
            self.last_name,
            self.is_active,
            self.is_staff,
            self.is_superuser,
            self.date_joined
        );
        format!(
            "{}:{}",
            password_fingerprint(&self.password),
            hex::encode(Sha256::digest(fields.as_bytes()))
        )
    }
}

/// The digest an import record keeps of a password hash.
pub(crate) fn password_fingerprint(hash: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(hash.as_bytes()))
}

/// A DRF token as an import brings it: the digest of its key.
#[derive(Clone, Debug)]
pub struct ImportedToken {
    /// SHA-256 (hex) of DRF's key, which stays valid as a token.
    pub digest: String,
    /// The user (by the id kept from Django).
    pub user_id: i64,
    /// Unix milliseconds.
    pub created: i64,
}

/// A simplejwt blacklist entry as an import brings it.
#[derive(Clone, Debug)]
pub struct ImportedBlacklisted {
    /// The blacklisted refresh token's jti.
    pub jti: String,
    /// Unix seconds.
    pub blacklisted_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A logged-in Django session whose signature and auth hash were verified.
#[derive(Clone, Debug)]
pub struct ImportedSession {
    /// SHA-256 (hex) of the session key, which stays the cookie's value.
    pub digest: String,
    /// The logged-in user (by the id kept from Django).
    pub user_id: i64,
    /// Unix milliseconds: when it counts as issued, for the user's revocation cut-off.
    pub created: i64,
    /// Absolute expiry (Unix seconds), Django's `expire_date`.
    pub expires: i64,
}

/// Everything one `import-django` run writes, in one transaction.
#[derive(Clone, Debug, Default)]
pub struct DjangoImport {
    /// Django's `auth_user` rows.
    pub users: Vec<ImportedUser>,
    /// DRF's `authtoken_token` rows.
    pub tokens: Vec<ImportedToken>,
    /// simplejwt's `token_blacklist_outstandingtoken` rows.
    pub outstanding: Vec<OutstandingToken>,
    /// simplejwt's `token_blacklist_blacklistedtoken` rows.
    pub blacklisted: Vec<ImportedBlacklisted>,
    /// Django's logged-in `django_session` rows.
    pub sessions: Vec<ImportedSession>,
    /// The instant of the run (Unix milliseconds).
    pub now_ms: i64,
}

/// What happened to the rows of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Rows new to restauth.
    pub imported: u64,
    /// Rows restauth had, changed in Django since the last import.
    pub updated: u64,
    /// Rows restauth had, unchanged since the last import.
    pub unchanged: u64,
    /// Why rows were left out, with how many each.
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Rows brought in with a remark (e.g. a password kept), with how many each.
    pub notes: std::collections::BTreeMap<String, u64>,
}

impl ImportCounts {
    /// Counts a row left out for `reason`.
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    /// Counts a row brought in with `remark`.
    pub fn note(&mut self, remark: impl Into<String>) {
        *self.notes.entry(remark.into()).or_default() += 1;
    }

    /// How many rows were left out, whatever the reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// What the store made of a [`DjangoImport`].
#[derive(Clone, Debug, Default)]
pub struct ImportOutcome {
    /// What became of Django's users.
    pub users: ImportCounts,
    /// What became of DRF's tokens.
    pub tokens: ImportCounts,
    /// What became of simplejwt's outstanding refresh tokens.
    pub outstanding: ImportCounts,
    /// What became of simplejwt's blacklist.
    pub blacklisted: ImportCounts,
    /// What became of Django's sessions.
    pub sessions: ImportCounts,
    /// Django users whose id or username belongs to a different restauth user. When any, the
    /// transaction was rolled back and nothing was written.
    pub conflicts: Vec<String>,
    /// Whether the transaction was committed (false for a dry run or on conflicts).
    pub committed: bool,
}

/// A stored security event (see `pipeline::audit`); an empty text field means "not known".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// What was attempted, e.g. `login` or `token_refresh` (the audit log's action names).
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Why it failed, e.g. `bad_credentials` or `throttled`.
    pub reason: String,
    /// The authentication class or route that handled it, e.g. `token`, `jwt`, `session`.
    pub provider: String,
    /// The user's id, when one was identified.
    pub user_id: Option<UserId>,
    /// The username given or identified.
    pub user_name: String,
    /// The client's address (after the trusted-proxy rules).
    pub source_ip: String,
    /// The client's `User-Agent`.
    pub user_agent: String,
}

/// Which stored audit events to read: all by default, oldest first.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only events of this exact username.
    pub user_name: Option<String>,
    /// Only events at or after this instant (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// At most this many, the newest of them.
    pub limit: Option<u32>,
}

/// The credential a password change over HTTP keeps alive: the one that made the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeptCredential {
    /// None: every token and session of the user ends.
    Nothing,
    /// This API token stays, re-dated to `created` (Unix milliseconds, after the cut-off).
    Token {
        /// The token's row id.
        id: i64,
        /// The new issue instant (Unix milliseconds), after the cut-off.
        created: i64,
    },
    /// This session stays, stamped with the new password's `auth_hash` and re-dated to
    /// `created` (Unix milliseconds, after the cut-off).
    Session {
        /// The session's digest, which names it to the store.
        digest: String,
        /// Django's session auth hash of the new password, so the session survives the change.
        auth_hash: String,
        /// The new issue instant (Unix milliseconds), after the cut-off.
        created: i64,
    },
}

/// What a new password ends besides the old one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The user's `valid_after` moves to this instant (Unix milliseconds): every credential
    /// issued up to it is refused, and the user's API tokens and sessions are deleted...
    pub cut_off: i64,
    /// ...but this one, which stays, re-dated past the cut-off.
    pub keep: KeptCredential,
}

impl Revocation {
    /// Every credential issued up to `cut_off` ends.
    pub fn all(cut_off: i64) -> Self {
        Revocation {
            cut_off,
            keep: KeptCredential::Nothing,
        }
    }
}

// Devices and staff

/// Where a credential was issued: the client's `User-Agent` and address, recorded beside it so
/// its owner can tell devices apart. Empty when not known (the command line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The client's `User-Agent` header, cut at 512 characters.
    pub user_agent: String,
    /// The client's address, after the trusted-proxy rules.
    pub address: String,
}

/// One of a user's tokens as its owner may see it: never the key nor its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenDevice {
    /// The row's id, which the owner revokes it by; never the key.
    pub id: i64,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix seconds.
    pub last_used: Option<i64>,
    /// Unix seconds.
    pub expires: Option<i64>,
    /// Where it was issued.
    pub origin: Origin,
}

/// One of a user's sessions. `digest` stays on the server: it names the session to the store
/// and tells the calling one apart, and is never shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDevice {
    /// The session's digest; stays on the server.
    pub digest: String,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix seconds.
    pub last_seen: i64,
    /// Unix seconds.
    pub expires: i64,
    /// Where it was started.
    pub origin: Origin,
}

/// Which users to list, in id order: those whose username or e-mail contains every term
/// (case-insensitively, as DRF's `SearchFilter`), `limit` of them after `offset`.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// Terms that must all occur in the username or the e-mail (DRF's `?search=`).
    pub terms: Vec<String>,
    /// How many matching users to skip.
    pub offset: u64,
    /// How many to return at most.
    pub limit: u64,
}

/// A page of users and how many match in all.
#[derive(Clone, Debug, Default)]
pub struct UserPage {
    /// How many users match in all (DRF's `count`).
    pub count: u64,
    /// This page's users.
    pub users: Vec<User>,
}

/// What a store without the devices and staff operations answers.
fn unsupported(what: &str) -> StoreError {
    StoreError::Unsupported(format!("this store cannot {what}"))
}

/// The SHA-256 digest (hex) a key is stored and looked up by.
pub(crate) fn key_digest(key: &str) -> String {
    use sha2::{Digest as _, Sha256};
    digest_hex(&Sha256::digest(key.as_bytes()).into())
}

/// The hex text a digest is stored by, two digits per byte from a table: `hex::encode` builds
/// its `String` a `char` at a time (about 2,000 instructions), its `encode_to_slice` a nibble
/// at a time (about 900 with the copy), and session requests name their session by it.
pub(crate) fn digest_hex(digest: &cache::Digest) -> String {
    let mut buf = [0u8; 64];
    for (pair, &byte) in buf.chunks_exact_mut(2).zip(digest) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
    // Hex digits are ASCII.
    String::from_utf8(buf.to_vec()).unwrap_or_default()
}

/// The two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    pairs
};

/// Opens the store named by `url`: `sqlite://…` or `postgres://…` (`postgresql://…`).
pub async fn connect(
    settings: &crate::core::settings::DatabaseSettings,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let url = settings.url.as_str();
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok(std::sync::Arc::new(SqliteStore::open(settings).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(missing_feature("sqlite"));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(std::sync::Arc::new(PostgresStore::open(settings).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(missing_feature("postgres"));
    }
    {
        Err(StoreError::Other(format!(
            "database.url: unsupported scheme in {:?} (use sqlite:// or postgres://)",
            redact_url(url)
        )))
    }
}

/// Opens the store the settings name: [`connect`] for restauth's own schema, or the store over
/// a Django project's tables for `schema_flavor = "django"`, which reads and writes Django's
/// signed session data with `codec`.
#[cfg(all(
    feature = "django-hashers",
    any(feature = "sqlite", feature = "postgres")
))]
pub async fn open(
    settings: &crate::core::settings::DatabaseSettings,
    django: &crate::core::settings::DjangoSettings,
    codec: std::sync::Arc<dyn django::SessionCodec>,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if settings.schema_flavor != crate::core::settings::SchemaFlavor::Django {
        return connect(settings).await;
    }
    let url = settings.url.as_str();
    let sessions = django::DjangoSessions {
        codec,
        backends: django.authentication_backends.clone(),
    };
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(settings).await?;
        return Ok(std::sync::Arc::new(
            store.over_django(django, sessions).await?,
        ));
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::open(settings).await?;
        return Ok(std::sync::Arc::new(
            store.over_django(django, sessions).await?,
        ));
    }
    Err(StoreError::Other(format!(
        "database.url: unsupported scheme in {:?} for schema_flavor = \"django\" (use \
         sqlite:// or postgres://)",
        redact_url(url)
    )))
}

/// [`connect`], in a build that cannot work on Django's tables.
#[cfg(not(all(
    feature = "django-hashers",
    any(feature = "sqlite", feature = "postgres")
)))]
pub async fn open(
    settings: &crate::core::settings::DatabaseSettings,
    _django: &crate::core::settings::DjangoSettings,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if settings.schema_flavor == crate::core::settings::SchemaFlavor::Django {
        return Err(missing_feature("django-hashers"));
    }
    connect(settings).await
}

/// A URL whose backend this build left out.
#[allow(dead_code)] // with every backend compiled in
fn missing_feature(feature: &str) -> StoreError {
    StoreError::Other(format!(
        "database.url: this build of restauth has no {feature} store (enable the \"{feature}\" \
         cargo feature)"
    ))
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Maps a sqlx error to the store's categories.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Database(db) => {
            // SQLite BUSY/LOCKED/FULL/IOERR and PostgreSQL connection exceptions (08), statement
            // timeout / cancel (57014), admin shutdown (57P), insufficient resources (53) and
            // serialization failure / deadlock (40001, 40P01) are conditions that pass; the
            // rest are bugs.
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let transient = matches!(
                code.as_str(),
                "5" | "6" | "13" | "10" | "517" | "261" | "57014" | "40001" | "40P01"
            ) || code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53");
            if transient {
                StoreError::Unavailable(db.message().to_owned())
            } else {
                StoreError::Other(db.message().to_owned())
            }
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

// A store failure becomes a 503 (the store cannot answer) or a logged 500.
impl From<StoreError> for crate::core::error::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                crate::core::error::Error::Unavailable
            }
            // Not a failure: the request asks what the schema cannot hold.
            StoreError::Unsupported(reason) => crate::core::error::Error::Parse(reason),
            other => crate::core::error::Error::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digest_hex_is_hex_encode() {
        use sha2::Digest as _;
        let mut digest = [0u8; 32];
        for (i, b) in digest.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37) ^ 0xa5;
        }
        assert_eq!(super::digest_hex(&digest), hex::encode(digest));
        // Every byte value, in eight digests.
        for k in 0..8u8 {
            let every: [u8; 32] = std::array::from_fn(|i| k * 32 + i as u8);
            assert_eq!(super::digest_hex(&every), hex::encode(every));
        }
        assert_eq!(
            super::key_digest("abc"),
            hex::encode(sha2::Sha256::digest(b"abc"))
        );
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            super::redact_url("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(super::redact_url("sqlite://a.db"), "sqlite://a.db");
    }
}
