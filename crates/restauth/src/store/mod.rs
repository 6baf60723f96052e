//! Persistence behind one trait, so SQLite (the embedded default) and PostgreSQL are
//! interchangeable; callers never see SQL.
//!
//! One implementation serves both (`sql`): every statement is written once, and what each
//! database does its own way is a small `Dialect` (`sqlite`, `postgres`).
//!
//! Times are integer Unix seconds, ids integers, secrets only as digests.

// A build without either backend is the fuzz harness's only (it fuzzes parsers, not storage):
// the shared SQL code is then unused.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    allow(dead_code, unused_macros, unused_imports)
)]

use async_trait::async_trait;

use crate::core::user::User;

pub mod cache;
#[cfg(all(
    feature = "django-hashers",
    any(feature = "sqlite", feature = "postgres")
))]
pub mod django;
pub mod index;
mod metered;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

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
    /// Anything else: a bug or a corrupt database.
    #[error("store error: {0}")]
    Other(String),
}

/// What a lookup found: the row, if any.
pub type Found<T> = Result<Option<T>, StoreError>;

/// A user about to be created; `password` is already hashed.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: i64,
}

/// A stored API token. The key itself is never stored, only its SHA-256 digest (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub digest: String,
    pub user_id: i64,
    /// Unix milliseconds, compared with the user's `valid_after`.
    pub created: i64,
    pub last_used: Option<i64>,
    pub expires: Option<i64>,
}

/// A token about to be stored.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub digest: String,
    pub user_id: i64,
    /// Unix milliseconds.
    pub created: i64,
    pub expires: Option<i64>,
    /// Keep at most this many tokens for the user, evicting the oldest, in the same transaction.
    pub limit_per_user: Option<u32>,
}

/// A server-side session. The cookie's key is never stored, only its SHA-256 digest (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub digest: String,
    pub user_id: i64,
    /// Django's session auth hash of the user's password hash at login.
    pub auth_hash: String,
    /// Unix milliseconds, compared with the user's `valid_after`.
    pub created: i64,
    pub last_seen: i64,
    /// Absolute expiry (Unix seconds).
    pub expires: i64,
}

/// The credentials stored by digest, each with its own additions stamp and digest index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Token,
    Session,
}

/// A refresh token handed out, by `jti`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutstandingToken {
    pub jti: String,
    pub user_id: i64,
    /// The jti of the login's first refresh token; rotations keep it.
    pub family: String,
    /// The token's `iat` (Unix seconds).
    pub created_at: i64,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
}

/// A refresh token that has been rotated, and what it was rotated into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotatedToken {
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
    pub id: i64,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
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
pub fn password_fingerprint(hash: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(hash.as_bytes()))
}

/// A DRF token as an import brings it: the digest of its key.
#[derive(Clone, Debug)]
pub struct ImportedToken {
    pub digest: String,
    pub user_id: i64,
    /// Unix milliseconds.
    pub created: i64,
}

/// A simplejwt blacklist entry as an import brings it.
#[derive(Clone, Debug)]
pub struct ImportedBlacklisted {
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
    pub user_id: i64,
    /// Unix milliseconds: when it counts as issued, for the user's revocation cut-off.
    pub created: i64,
    /// Absolute expiry (Unix seconds), Django's `expire_date`.
    pub expires: i64,
}

/// Everything one `import-django` run writes, in one transaction.
#[derive(Clone, Debug, Default)]
pub struct DjangoImport {
    pub users: Vec<ImportedUser>,
    pub tokens: Vec<ImportedToken>,
    pub outstanding: Vec<OutstandingToken>,
    pub blacklisted: Vec<ImportedBlacklisted>,
    pub sessions: Vec<ImportedSession>,
    /// The instant of the run (Unix milliseconds).
    pub now_ms: i64,
}

/// What happened to the rows of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Why rows were left out, with how many each.
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Rows brought in with a remark (e.g. a password kept), with how many each.
    pub notes: std::collections::BTreeMap<String, u64>,
}

impl ImportCounts {
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    pub fn note(&mut self, remark: impl Into<String>) {
        *self.notes.entry(remark.into()).or_default() += 1;
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// What the store made of a [`DjangoImport`].
#[derive(Clone, Debug, Default)]
pub struct ImportOutcome {
    pub users: ImportCounts,
    pub tokens: ImportCounts,
    pub outstanding: ImportCounts,
    pub blacklisted: ImportCounts,
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
    pub action: String,
    pub outcome: String,
    pub reason: String,
    pub provider: String,
    pub user_id: Option<i64>,
    pub user_name: String,
    pub source_ip: String,
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
    Token { id: i64, created: i64 },
    /// This session stays, stamped with the new password's `auth_hash` and re-dated to
    /// `created` (Unix milliseconds, after the cut-off).
    Session {
        digest: String,
        auth_hash: String,
        created: i64,
    },
}

// Devices and staff

/// Where a credential was issued: the client's `User-Agent` and address, recorded beside it so
/// its owner can tell devices apart. Empty when not known (the command line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub user_agent: String,
    pub address: String,
}

/// One of a user's tokens as its owner may see it: never the key nor its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenDevice {
    pub id: i64,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix seconds.
    pub last_used: Option<i64>,
    /// Unix seconds.
    pub expires: Option<i64>,
    pub origin: Origin,
}

/// One of a user's sessions. `digest` stays on the server: it names the session to the store
/// and tells the calling one apart, and is never shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDevice {
    pub digest: String,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix seconds.
    pub last_seen: i64,
    /// Unix seconds.
    pub expires: i64,
    pub origin: Origin,
}

/// Which users to list, in id order: those whose username or e-mail contains every term
/// (case-insensitively, as DRF's `SearchFilter`), `limit` of them after `offset`.
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    pub terms: Vec<String>,
    pub offset: u64,
    pub limit: u64,
}

/// A page of users and how many match in all.
#[derive(Clone, Debug, Default)]
pub struct UserPage {
    pub count: u64,
    pub users: Vec<User>,
}

/// What a store without the devices and staff operations answers.
fn unsupported(what: &str) -> StoreError {
    StoreError::Other(format!("this store cannot {what}"))
}

/// The storage contract. Every method is one atomic operation.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Brings the schema up to date; safe to run at every start.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Cheap, synchronous fingerprint of the change signal: it differs after any
    /// [`Store::announce_change`], from this process or another one. Read on the hot path.
    fn change_stamp(&self) -> u64;

    /// Tells every process using this store that users or tokens changed in a way caches must
    /// not hide (revocation, deactivation, password change, deletion).
    async fn announce_change(&self) -> Result<(), StoreError>;

    /// Cheap, synchronous stamp of additions of `kind`: it differs after any token (or
    /// session) was stored — issued, imported, started — by this process or another one, and
    /// only after it is committed. `None` when the store cannot tell, which keeps the digest
    /// index of [`index`] off. Read on a cache miss.
    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        let _ = kind;
        None
    }

    /// The ids and digests of the tokens (or sessions) with an id above `after_id`, in id
    /// order, at most `limit`. For the digest index; only stores with an
    /// [`Store::additions_stamp`], whose ids are given in commit order, are asked.
    async fn digests_after(
        &self,
        kind: Credential,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let _ = (kind, after_id, limit);
        Ok(Vec::new())
    }

    // ---- Reads answered at once, on the calling thread ----
    // The embedded SQLite file answers a point read in microseconds, less than handing the
    // query to a connection's thread and waking the task again costs; so a cache miss there
    // need not wait at all. These return `None` when the store cannot answer without waiting
    // (another store; the file busy): then the caller awaits the query of the same name.

    /// [`Store::token_by_key`], at once where the store can.
    fn token_by_key_now(&self, key: &str, digest: &str) -> Option<Found<(TokenRecord, User)>> {
        let _ = (key, digest);
        None
    }
    /// [`Store::session_by_key`], at once where the store can.
    fn session_by_key_now(&self, key: &str, digest: &str) -> Option<Found<(SessionRecord, User)>> {
        let _ = (key, digest);
        None
    }
    /// [`Store::user_by_id`], at once where the store can.
    fn user_by_id_now(&self, id: i64) -> Option<Found<User>> {
        let _ = id;
        None
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Sets a new password hash. With `revoke_before = Some(t)` (Unix milliseconds), also moves
    /// the user's `valid_after` to `t` and deletes their API tokens, in one transaction.
    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Replaces `old_hash` by `new_hash` only if it is still the stored one (upgrade on login),
    /// and in the same transaction stamps the user's sessions carrying `old_auth_hash` with
    /// `new_auth_hash`: a rehash keeps the password, so it must not end the user's other
    /// sessions.
    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        old_auth_hash: &str,
        new_auth_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Brings a Django project's rows in, in one transaction (see [`DjangoImport`]): users
    /// with their ids (an id or username held by a different restauth user is a conflict,
    /// and then nothing is written), token digests, simplejwt records and sessions, each
    /// session stamped with `session_auth_hash(stored password hash)`. What an earlier run
    /// imported is updated from Django where Django changed it, never duplicated, and never
    /// brought back once restauth ended it. With `dry_run`, everything is done and then rolled
    /// back, so the outcome says what a real run would change. `progress` is called with the
    /// number of rows handled so far.
    async fn import_django(
        &self,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        dry_run: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError>;
    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError>;
    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError>;
    /// Moves `valid_after` (Unix milliseconds: credentials issued at or before it are refused)
    /// forward, never back, to `at`.
    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError>;
    /// Deletes the user and, by cascade, everything they own.
    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError>;

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError>;
    /// The token with this digest and its user, in one query.
    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError>;
    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError>;
    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError>;
    /// Deletes all of a user's tokens but `keep`; returns how many went.
    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError>;

    /// Stores a new session and, in the same transaction, deletes the one it replaces
    /// (login cycles the key, so a fixated key dies).
    async fn insert_session(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
    ) -> Result<(), StoreError>;
    /// The session with this digest and its user, in one query.
    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError>;
    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError>;
    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError>;
    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError>;
    /// Deletes sessions past `expires <= now` or idle since before `idle_before`.
    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError>;

    /// Records a refresh token handed out at login.
    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError>;
    /// In one transaction: marks `old` rotated at `now_ms` into `new` if it was not already
    /// (recording it first if it was never seen), records `new` in the same family, and
    /// blacklists `old` when asked. Of concurrent rotations of one token exactly one gets
    /// [`Rotation::Rotated`]; the others get the winner's record, so one token has exactly one
    /// successor, across processes too.
    async fn rotate_refresh(
        &self,
        old: &OutstandingToken,
        new: &OutstandingToken,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError>;
    /// Blacklists a jti; `false` if it already was.
    async fn blacklist_jti(&self, jti: &str, expires_at: i64, now: i64)
    -> Result<bool, StoreError>;
    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError>;
    /// The rotation of `jti` if that refresh token has already been rotated (so presenting it
    /// again is a replay, or a late twin within the grace); `None` if it never was or is unknown.
    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError>;
    /// Blacklists every token of a login family; returns how many were added.
    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError>;
    /// Deletes outstanding and blacklisted rows of tokens expired by `now`.
    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError>;

    // ---- Tables that keep keys in plaintext (Django's schema, `schema_flavor = "django"`) ----
    // Django's `authtoken_token.key`, `django_session.session_key` and simplejwt's
    // `token_blacklist_outstandingtoken.token` hold the credentials themselves, so a store over
    // them cannot find or write a row from a digest alone: these variants take the key beside
    // its digest. Every other store ignores the key and keeps only the digest.

    /// [`Store::token_by_digest`], given the presented key too.
    async fn token_by_key(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let _ = key;
        self.token_by_digest(digest).await
    }
    /// [`Store::insert_token_from`], given the new key too.
    async fn insert_token_keyed(
        &self,
        token: &NewToken,
        key: &str,
        origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        let _ = key;
        self.insert_token_from(token, origin).await
    }
    /// DRF's one token per user: the user's token and its key, where the store keeps keys
    /// (then obtaining a token returns this one). `None` for stores that keep digests only.
    async fn user_token_key(
        &self,
        user_id: i64,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        let _ = user_id;
        Ok(None)
    }
    /// [`Store::session_by_digest`], given the cookie's key too.
    async fn session_by_key(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let _ = key;
        self.session_by_digest(digest).await
    }
    /// [`Store::insert_session_from`], given the new key and the replaced one (keys, not
    /// digests).
    async fn insert_session_keyed(
        &self,
        session: &SessionRecord,
        key: &str,
        replaces: Option<&str>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let _ = key;
        let replaces = replaces.map(key_digest);
        self.insert_session_from(session, replaces.as_deref(), origin)
            .await
    }
    /// [`Store::delete_session`], given the cookie's key too.
    async fn delete_session_key(&self, key: &str, digest: &str) -> Result<bool, StoreError> {
        let _ = key;
        self.delete_session(digest).await
    }
    /// [`Store::insert_outstanding`], given the refresh token's text too.
    async fn insert_outstanding_raw(
        &self,
        token: &OutstandingToken,
        raw: &str,
    ) -> Result<(), StoreError> {
        let _ = raw;
        self.insert_outstanding(token).await
    }
    /// [`Store::rotate_refresh`], given both refresh tokens' text too.
    async fn rotate_refresh_raw(
        &self,
        old: (&OutstandingToken, &str),
        new: (&OutstandingToken, &str),
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        self.rotate_refresh(old.0, new.0, blacklist_old, now_ms)
            .await
    }
    /// Over Django's tables on PostgreSQL: adds (`true`) or removes (`false`) the triggers
    /// that `NOTIFY` restauth's change channel when Django changes a user, a token or a
    /// session, so caches learn of it at once. The only change ever made to Django's tables.
    async fn django_triggers(&self, install: bool) -> Result<(), StoreError> {
        let _ = install;
        Err(StoreError::Other(
            "Django triggers need schema_flavor = \"django\" on PostgreSQL".into(),
        ))
    }
    // ---- end of the plaintext-key block ----

    /// Makes the database file complete on its own (SQLite: folds the write-ahead log into
    /// it), so copying the file copies all the data. Nothing to do for a database server.
    async fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Closes the store's connections once their current work ends; later calls fail. For a
    /// process that is stopping, after its last request.
    async fn close(&self) {}

    /// Writes a consistent copy of the whole database to the new file `path` (mode 0600),
    /// while the store stays in use; never overwrites an existing file.
    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Other(format!(
            "cannot back up this store into {}: use the database's own tools (PostgreSQL: pg_dump)",
            path.display()
        )))
    }

    /// Readiness: proves the store can be read and written now, with one committed write that
    /// changes no data. Cheap, but a write: call it at most about once a second.
    async fn probe(&self) -> Result<(), StoreError>;

    /// Remembers that `user_id` logged in with a password from `network` at `at` (an IPv4
    /// address or an IPv6 /64); a later time replaces an earlier one.
    async fn record_login_network(
        &self,
        user_id: i64,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError>;
    /// When the user named exactly `username` last logged in from `network`, if ever.
    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError>;
    /// Appends one audit event.
    async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError>;
    /// The audit events `query` selects, oldest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
    /// Deletes audit events older than `before_ms`; returns how many went.
    async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError>;
    /// Every username holding a character outside ASCII (the only ones Unicode normalisation
    /// can change), in id order.
    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError>;

    // Accounts over HTTP (stores without them, as the one over Django's tables, answer that
    // they cannot: the server does not serve djoser's endpoints over them)
    /// The users whose e-mail is `email`, ignoring ASCII case (Django's `email__iexact`), in
    /// id order.
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let _ = email;
        Err(unsupported("look users up by e-mail"))
    }
    /// Sets the user's e-mail; with `deactivate`, also makes the account inactive (it is
    /// activated again through the new address). `false` if there is no such user.
    async fn update_email(
        &self,
        user_id: i64,
        email: &str,
        deactivate: bool,
    ) -> Result<bool, StoreError> {
        let _ = (user_id, email, deactivate);
        Err(unsupported("change an e-mail"))
    }
    /// In one transaction: sets the password hash, moves `valid_after` to `cut_off`, and ends
    /// every API token and session of the user but the one `keep` names, which is re-dated
    /// past the cut-off.
    async fn change_password_keeping(
        &self,
        user_id: i64,
        hash: &str,
        cut_off: i64,
        keep: &KeptCredential,
    ) -> Result<bool, StoreError> {
        let _ = (user_id, hash, cut_off, keep);
        Err(unsupported("change a password keeping one credential"))
    }
    /// A password reset: replaces `old_hash` by `new_hash` only if it is still the stored
    /// one (so one link resets once, even under concurrent use), sets `last_login` (Unix
    /// seconds) as djoser does, and ends every credential issued up to `cut_off`.
    async fn reset_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        cut_off: i64,
        last_login: i64,
    ) -> Result<bool, StoreError> {
        let _ = (user_id, old_hash, new_hash, cut_off, last_login);
        Err(unsupported("reset a password"))
    }
    /// Activates the user if inactive; `false` if already active (a stale activation link)
    /// or unknown.
    async fn activate_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let _ = user_id;
        Err(unsupported("activate a user"))
    }

    // Devices and staff

    /// [`Store::insert_token`], recording where the token was issued.
    async fn insert_token_from(
        &self,
        token: &NewToken,
        origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        let _ = origin;
        self.insert_token(token).await
    }
    /// [`Store::insert_session`], recording where the session was started.
    async fn insert_session_from(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let _ = origin;
        self.insert_session(session, replaces).await
    }
    /// The user's tokens, newest first.
    async fn user_tokens(&self, user_id: i64) -> Result<Vec<TokenDevice>, StoreError> {
        let _ = user_id;
        Err(unsupported("list tokens"))
    }
    /// The user's sessions, newest first (expired ones included until they are cleared).
    async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionDevice>, StoreError> {
        let _ = user_id;
        Err(unsupported("list sessions"))
    }
    /// Deletes the token `token_id` only if it belongs to `user_id`; whether it did.
    async fn delete_token_of(&self, user_id: i64, token_id: i64) -> Result<bool, StoreError> {
        let _ = (user_id, token_id);
        Err(unsupported("revoke a token by its owner"))
    }
    /// The users `query` selects, and how many match in all.
    async fn search_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        let _ = query;
        Err(unsupported("list users"))
    }
}

/// The SHA-256 digest (hex) a key is stored and looked up by.
pub fn key_digest(key: &str) -> String {
    use sha2::{Digest as _, Sha256};
    digest_hex(&Sha256::digest(key.as_bytes()).into())
}

/// The hex text a digest is stored by, two digits per byte from a table: `hex::encode` builds
/// its `String` a `char` at a time (about 2,000 instructions), its `encode_to_slice` a nibble
/// at a time (about 900 with the copy), and session requests name their session by it.
pub fn digest_hex(digest: &cache::Digest) -> String {
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
        return Ok(metered(SqliteStore::open(settings).await?));
        #[cfg(not(feature = "sqlite"))]
        return Err(missing_feature("sqlite"));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(metered(PostgresStore::open(settings).await?));
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
    codec: std::sync::Arc<dyn django::SessionCodec>,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if settings.schema_flavor != crate::core::settings::SchemaFlavor::Django {
        return connect(settings).await;
    }
    let url = settings.url.as_str();
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return django::open_sqlite(settings, codec).await;
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return django::open_postgres(settings, codec).await;
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
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if settings.schema_flavor == crate::core::settings::SchemaFlavor::Django {
        return Err(missing_feature("django-hashers"));
    }
    connect(settings).await
}

/// The store, timed per operation.
#[allow(dead_code)] // without any backend compiled in
fn metered(store: impl Store) -> std::sync::Arc<dyn Store> {
    std::sync::Arc::new(metered::Metered::new(std::sync::Arc::new(store)))
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
