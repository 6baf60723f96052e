//! The storage contract, one trait per concept, and [`Store`], all of them over one database.

use async_trait::async_trait;

use super::{
    AuditQuery, AuditRecord, Credential, DjangoImport, EmailMatch, Found, ImportOutcome,
    NewSession, NewToken, NewUser, Presented, Refresh, Revocation, RotatedToken, Rotation,
    SessionDevice, SessionRecord, StoreError, TokenDevice, TokenRecord, UserPage, UserQuery,
    unsupported,
};
use crate::core::user::{CutOffCause, Permissions, User, UserId};

/// The whole storage contract, every part of it over one database: what a composition root
/// opens and holds, handing each part on as the narrower trait it needs. Every method is one
/// atomic operation.
pub trait Store:
    Database
    + UserStore
    + LoginNetworkStore
    + PasswordStore
    + TokenStore
    + SessionStore
    + JwtStore
    + AuditStore
    + ImportStore
    + PermissionStore
{
}

/// The database itself: its schema, the change signal caches follow, the digest index's
/// feed, the reads answered at once, and its upkeep.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Brings the schema up to date; safe to run at every start.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Cheap, synchronous fingerprint of the change signal: it differs after any
    /// [`Database::announce_change`], from this process or another one. Read on the hot path.
    fn change_stamp(&self) -> u64;

    /// Tells every process using this store that users or tokens changed in a way caches must
    /// not hide (revocation, deactivation, password change, deletion).
    async fn announce_change(&self) -> Result<(), StoreError>;

    /// Cheap, synchronous stamp of additions of `kind`: it differs after any token (or
    /// session) was stored — issued, imported, started — by this process or another one, and
    /// only after it is committed. `None` when the store cannot tell, which keeps the digest
    /// digest index off. Read on a cache miss.
    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        let _ = kind;
        None
    }

    /// The ids and digests of the tokens (or sessions) with an id above `after_id`, in id
    /// order, at most `limit`. For the digest index; only stores with an
    /// [`Database::additions_stamp`], whose ids are given in commit order, are asked.
    async fn digests_after(
        &self,
        kind: Credential,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let _ = (kind, after_id, limit);
        Ok(Vec::new())
    }

    /// The reads this store answers at once, on the calling thread, if it can: see
    /// [`AtOnce`]. `None` for a store that must always be awaited.
    fn at_once(&self) -> Option<&dyn AtOnce> {
        None
    }

    /// Readiness: proves the store can be read and written now, with one committed write that
    /// changes no data. Cheap, but a write: call it at most about once a second.
    async fn probe(&self) -> Result<(), StoreError>;

    /// Makes the database file complete on its own (SQLite: folds the write-ahead log into
    /// it), so copying the file copies all the data. Nothing to do for a database server.
    async fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Writes a consistent copy of the whole database to the new file `path` (mode 0600),
    /// while the store stays in use; never overwrites an existing file.
    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Other(format!(
            "cannot back up this store into {}: use the database's own tools (PostgreSQL: pg_dump)",
            path.display()
        )))
    }

    /// Closes the store's connections once their current work ends; later calls fail. For a
    /// process that is stopping, after its last request.
    async fn close(&self) {}

    /// Over Django's tables on PostgreSQL: adds (`true`) or removes (`false`) the triggers
    /// that `NOTIFY` restauth's change channel when Django changes a user, a token or a
    /// session, so caches learn of it at once. The only change ever made to Django's tables.
    async fn django_triggers(&self, install: bool) -> Result<(), StoreError> {
        let _ = install;
        Err(StoreError::Other(
            "Django triggers need schema_flavor = \"django\" on PostgreSQL".into(),
        ))
    }
}

/// Users: created, looked up, changed and deleted.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Stores a new user and returns it with its id; a taken username is a
    /// [`StoreError::Conflict`].
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with exactly this username (already normalised by the caller).
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The users whose e-mail is `email`, ignoring ASCII case (Django's `email__iexact`), in
    /// id order.
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let _ = email;
        Err(unsupported("look users up by e-mail"))
    }

    /// Whom a login by e-mail names: the users whose e-mail is `email`, ignoring ASCII case as
    /// [`users_by_email`](Self::users_by_email) does, told apart as none, one or several (at
    /// most two rows are read). Over Django's tables too: it reads the user model's e-mail
    /// column.
    async fn user_by_login_email(&self, email: &str) -> Result<EmailMatch, StoreError>;

    /// The users `query` selects, and how many match in all.
    async fn search_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        let _ = query;
        Err(unsupported("list users"))
    }

    /// Every username holding a character outside ASCII (the only ones Unicode normalisation
    /// can change), in id order.
    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError>;

    /// The administrative switch (staff, commands): sets `is_active`, and marks a deactivated
    /// user as deactivated by staff (an activation link cannot undo that); activating clears
    /// the mark.
    async fn set_active(&self, user_id: UserId, active: bool) -> Result<bool, StoreError>;

    /// Activates the user if inactive and not deactivated by staff; `false` if already active
    /// (a stale activation link), deactivated by staff, or unknown.
    async fn activate_user(&self, user_id: UserId) -> Result<bool, StoreError> {
        let _ = user_id;
        Err(unsupported("activate a user"))
    }

    /// Records a password login's instant (Unix seconds) as Django's `last_login`.
    async fn set_last_login(&self, user_id: UserId, at: i64) -> Result<(), StoreError>;

    /// Sets the user's e-mail; with `deactivate`, also makes the account inactive (it is
    /// activated again through the new address). `false` if there is no such user.
    async fn update_email(
        &self,
        user_id: UserId,
        email: &str,
        deactivate: bool,
    ) -> Result<bool, StoreError> {
        let _ = (user_id, email, deactivate);
        Err(unsupported("change an e-mail"))
    }

    /// Moves `valid_after` (Unix milliseconds: credentials issued at or before it are refused)
    /// forward, never back, to `at`, recording `cause` beside it when it moves.
    async fn set_valid_after(
        &self,
        user_id: UserId,
        at: i64,
        cause: CutOffCause,
    ) -> Result<bool, StoreError>;

    /// Deletes the user and, by cascade, everything they own.
    async fn delete_user(&self, user_id: UserId) -> Result<bool, StoreError>;
}

/// The networks each user last logged in from with a password, which the per-username
/// login throttle spares.
#[async_trait]
pub trait LoginNetworkStore: Send + Sync + 'static {
    /// Remembers that `user_id` logged in with a password from `network` at `at` (an IPv4
    /// address or an IPv6 /64); a later time replaces an earlier one.
    async fn record_login_network(
        &self,
        user_id: UserId,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError>;

    /// When the user named exactly `username` last logged in from `network`, if ever.
    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError>;
}

/// Password hashes, each change with what it ends.
#[async_trait]
pub trait PasswordStore: Send + Sync + 'static {
    /// Sets a new password hash. With a `revoke`, in the same transaction, also moves the
    /// user's `valid_after` to its cut-off and ends every API token and session of the user
    /// but the one it keeps, which is re-dated past the cut-off.
    async fn set_password(
        &self,
        user_id: UserId,
        hash: &str,
        revoke: Option<&Revocation>,
    ) -> Result<bool, StoreError>;

    /// Replaces `old_hash` by `new_hash` only if it is still the stored one (upgrade on login),
    /// and in the same transaction stamps the user's sessions carrying `old_auth_hash` with
    /// `new_auth_hash`: a rehash keeps the password, so it must not end the user's other
    /// sessions.
    async fn upgrade_password(
        &self,
        user_id: UserId,
        old_hash: &str,
        new_hash: &str,
        old_auth_hash: &str,
        new_auth_hash: &str,
    ) -> Result<bool, StoreError>;

    /// A password reset: replaces `old_hash` by `new_hash` only if it is still the stored
    /// one (so one link resets once, even under concurrent use), sets `last_login` (Unix
    /// seconds) as djoser does, and ends every credential issued up to `cut_off`.
    async fn reset_password(
        &self,
        user_id: UserId,
        old_hash: &str,
        new_hash: &str,
        cut_off: i64,
        last_login: i64,
    ) -> Result<bool, StoreError> {
        let _ = (user_id, old_hash, new_hash, cut_off, last_login);
        Err(unsupported("reset a password"))
    }
}

/// DRF's API tokens.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores a new token; with `limit_per_user`, evicts the user's oldest beyond it in the
    /// same transaction.
    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError>;

    /// The token presented and its user, in one query.
    async fn token_by_digest(
        &self,
        token: Presented<'_>,
    ) -> Result<Option<(TokenRecord, User)>, StoreError>;

    /// Records that the token authenticated a request at `at` (Unix seconds); the caller
    /// writes at most once a minute per token.
    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError>;

    /// Deletes one token (DRF's logout); `false` if it was already gone.
    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError>;

    /// Deletes all of a user's tokens but `keep`; returns how many went.
    async fn delete_user_tokens(
        &self,
        user_id: UserId,
        keep: Option<i64>,
    ) -> Result<u64, StoreError>;

    /// Deletes the token `token_id` only if it belongs to `user_id`; whether it did.
    async fn delete_token_of(&self, user_id: UserId, token_id: i64) -> Result<bool, StoreError> {
        let _ = (user_id, token_id);
        Err(unsupported("revoke a token by its owner"))
    }

    /// The user's tokens, newest first.
    async fn user_tokens(&self, user_id: UserId) -> Result<Vec<TokenDevice>, StoreError> {
        let _ = user_id;
        Err(unsupported("list tokens"))
    }

    /// DRF's one token per user: the user's token and its key, where the store keeps keys
    /// (then obtaining a token returns this one). `None` for stores that keep digests only.
    async fn user_token_key(
        &self,
        user_id: UserId,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        let _ = user_id;
        Ok(None)
    }
}

/// Django's server-side sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session and, in the same transaction, deletes the one it replaces
    /// (login cycles the key, so a fixated key dies).
    async fn insert_session(
        &self,
        session: &NewSession,
        replaces: Option<Presented<'_>>,
    ) -> Result<(), StoreError>;

    /// The session presented and its user.
    async fn session_by_digest(
        &self,
        session: Presented<'_>,
    ) -> Result<Option<(SessionRecord, User)>, StoreError>;

    /// Records that the session served a request at `at` (Unix seconds), for the idle timeout.
    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError>;

    /// Deletes one session (logout); `false` if it was already gone.
    async fn delete_session(&self, session: Presented<'_>) -> Result<bool, StoreError>;

    /// Deletes every session of the user; returns how many went.
    async fn delete_user_sessions(&self, user_id: UserId) -> Result<u64, StoreError>;

    /// Deletes sessions past `expires <= now` or idle since before `idle_before`.
    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError>;

    /// The user's sessions, newest first (expired ones included until they are cleared).
    async fn user_sessions(&self, user_id: UserId) -> Result<Vec<SessionDevice>, StoreError> {
        let _ = user_id;
        Err(unsupported("list sessions"))
    }
}

/// simplejwt's records of refresh tokens: outstanding, rotated (with their login family) and
/// blacklisted.
#[async_trait]
pub trait JwtStore: Send + Sync + 'static {
    /// Records a refresh token handed out at login.
    async fn insert_outstanding(&self, token: Refresh<'_>) -> Result<(), StoreError>;

    /// In one transaction: marks `old` rotated at `now_ms` into `new` if it was not already
    /// (recording it first if it was never seen), records `new` in the same family, and
    /// blacklists `old` when asked. Of concurrent rotations of one token exactly one gets
    /// [`Rotation::Rotated`]; the others get the winner's record, so one token has exactly one
    /// successor, across processes too.
    async fn rotate_refresh(
        &self,
        old: Refresh<'_>,
        new: Refresh<'_>,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError>;

    /// Blacklists a jti; `false` if it already was.
    async fn blacklist_jti(&self, jti: &str, expires_at: i64, now: i64)
    -> Result<bool, StoreError>;

    /// Whether the jti is on the blacklist (simplejwt's `BlacklistedToken`).
    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError>;

    /// The rotation of `jti` if that refresh token has already been rotated (so presenting it
    /// again is a replay, or a late twin within the grace); `None` if it never was or is unknown.
    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError>;

    /// Blacklists every token of a login family; returns how many were added.
    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError>;

    /// Deletes outstanding and blacklisted rows of tokens expired by `now`.
    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError>;
}

/// Who a permission is granted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder<'a> {
    /// A user, by id.
    User(UserId),
    /// A group, by name.
    Group(&'a str),
}

/// What a grant, a revocation or a change of membership did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Done now.
    Done,
    /// Nothing to do: already so.
    Unchanged,
    /// No permission of that name.
    NoSuchPermission,
    /// No group of that name.
    NoSuchGroup,
}

/// Django's groups and permissions (`auth_group`, `auth_permission` and the tables that link
/// them to users and to each other). A user model without groups and permissions (one without
/// Django's `PermissionsMixin`) has none: its users hold nothing, and changes are refused.
#[async_trait]
pub trait PermissionStore: Send + Sync + 'static {
    /// The user's groups, and the permissions granted to the user and to their groups.
    async fn user_permissions(&self, user_id: UserId) -> Result<Permissions, StoreError> {
        let _ = user_id;
        Ok(Permissions::default())
    }

    /// Creates the permission `codename` of `app_label`, called `name`; `false` if it
    /// already exists.
    async fn create_permission(
        &self,
        app_label: &str,
        codename: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let _ = (app_label, codename, name);
        Err(unsupported("create a permission"))
    }

    /// Creates a group; `false` if one of that name exists.
    async fn create_group(&self, name: &str) -> Result<bool, StoreError> {
        let _ = name;
        Err(unsupported("create a group"))
    }

    /// Grants (`grant`) or revokes the permission `app_label.codename` of `holder`.
    async fn set_permission(
        &self,
        holder: Holder<'_>,
        app_label: &str,
        codename: &str,
        grant: bool,
    ) -> Result<Change, StoreError> {
        let _ = (holder, app_label, codename, grant);
        Err(unsupported("grant a permission"))
    }

    /// Adds the user to the group (`member`) or takes them out of it.
    async fn set_membership(
        &self,
        user_id: UserId,
        group: &str,
        member: bool,
    ) -> Result<Change, StoreError> {
        let _ = (user_id, group, member);
        Err(unsupported("change a group's members"))
    }

    /// The active staff users who are no superusers, as (id, username), in id order.
    async fn staff_users(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        Err(unsupported("list staff users"))
    }
}

/// The stored audit events.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends one audit event.
    async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError>;

    /// The audit events `query` selects, oldest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Deletes audit events older than `before_ms`; returns how many went.
    async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// `restauth import-django`.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
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
}

/// The reads of a cache miss, answered on the calling thread. The embedded SQLite file
/// answers a point read in microseconds, less than handing the query to a connection's thread
/// and waking the task again costs, so a cache miss there need not wait at all. Each read is
/// the awaited one of the same name, or `None` when the store cannot answer without waiting
/// (the file busy): then the caller awaits that one.
pub trait AtOnce: Send + Sync {
    /// [`UserStore::user_by_id`], at once.
    fn user_by_id(&self, id: UserId) -> Option<Found<User>>;
    /// [`TokenStore::token_by_digest`], at once.
    fn token_by_digest(&self, token: Presented<'_>) -> Option<Found<(TokenRecord, User)>>;
    /// [`SessionStore::session_by_digest`], at once.
    fn session_by_digest(&self, session: Presented<'_>) -> Option<Found<(SessionRecord, User)>>;
}
