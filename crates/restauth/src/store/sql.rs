//! The one SQL implementation of [`Store`], shared by every backend.
//!
//! Every statement is written once, with `$n` placeholders (PostgreSQL's, and numbered
//! parameters to SQLite too) and only functions both databases have (`CASE` rather than
//! `max`/`GREATEST`). What truly differs between databases — how a write transaction starts,
//! row locks, the migration lock, the change signal, the client-side deadline, backups — is a
//! [`Dialect`] hook; a new backend is one more `Dialect`.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use super::migrate::{CREATE_TABLE, Migration, PROBE, pending};
use super::{
    AuditQuery, AuditRecord, Credential, DjangoImport, Found, ImportOutcome, KeptCredential,
    NewToken, NewUser, Origin, OutstandingToken, RotatedToken, Rotation, SessionDevice,
    SessionRecord, Store, StoreError, TokenDevice, TokenRecord, UserPage, UserQuery, classify,
};
use crate::core::user::User;

/// What one database does differently; everything else is shared.
#[async_trait]
pub(crate) trait Dialect: Send + Sync + 'static {
    type DB: Database;
    /// The schema steps, in this database's DDL.
    const MIGRATIONS: &'static [Migration];
    /// Opens a write transaction.
    const BEGIN_WRITE: &'static str;
    /// Run first in the migration transaction so concurrent starts apply each step once
    /// (`None` when `BEGIN_WRITE` already serialises writers).
    const LOCK_MIGRATIONS: Option<&'static str>;
    /// Locks the user `$1` before a token insert that evicts old tokens, so concurrent inserts
    /// see each other (`None` when `BEGIN_WRITE` already serialises writers).
    const LOCK_USER: Option<&'static str>;
    /// Moves the generator of user ids past the largest id, after users were inserted with
    /// their own ids (`None` when inserting an id already does, as SQLite's AUTOINCREMENT).
    const SYNC_USER_IDS: Option<&'static str>;

    fn rows_affected(result: &<Self::DB as Database>::QueryResult) -> u64;

    /// A client-side bound on one operation, for a network that may swallow packets.
    fn deadline(&self) -> Option<Duration> {
        None
    }

    /// See [`Store::change_stamp`].
    fn change_stamp(&self) -> u64;
    /// See [`Store::announce_change`].
    async fn announce_change(&self) -> Result<(), StoreError>;

    /// See [`Store::additions_stamp`]; `None` where ids may commit out of order.
    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        let _ = kind;
        None
    }
    /// Moves [`Dialect::additions_stamp`]; called after a commit that stored credentials of
    /// `kind`.
    fn announce_additions(&self, kind: Credential) {
        let _ = kind;
    }

    /// [`USER_BY_ID`] answered on the calling thread; `None` where the database cannot
    /// answer without waiting. See [`Store::token_by_key_now`].
    fn user_by_id_now(&self, id: i64) -> Option<Found<User>> {
        let _ = id;
        None
    }
    /// [`TOKEN_BY_DIGEST`] answered on the calling thread, as [`Dialect::user_by_id_now`].
    fn token_by_digest_now(&self, digest: &str) -> Option<Found<(TokenRecord, User)>> {
        let _ = digest;
        None
    }
    /// [`SESSION_BY_DIGEST`] answered on the calling thread, as [`Dialect::user_by_id_now`].
    fn session_by_digest_now(&self, digest: &str) -> Option<Found<(SessionRecord, User)>> {
        let _ = digest;
        None
    }

    /// See [`Store::checkpoint`].
    async fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// See [`Store::backup`].
    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        Err(StoreError::Other(format!(
            "cannot back up this store into {}: use the database's own tools (PostgreSQL: pg_dump)",
            path.display()
        )))
    }
}

/// A [`Store`] over one SQL database.
pub(crate) struct SqlStore<D: Dialect> {
    /// Where reads go (SQLite: a read-only pool).
    pub(crate) reader: Pool<D::DB>,
    /// Where writes go (SQLite: a single connection).
    pub(crate) writer: Pool<D::DB>,
    pub(crate) dialect: D,
}

pub(crate) type Query<D> =
    sqlx::query::Query<'static, <D as Dialect>::DB, <<D as Dialect>::DB as Database>::Arguments>;
pub(crate) type DbRow<D> = <<D as Dialect>::DB as Database>::Row;
pub(crate) type Tx<D> = sqlx::Transaction<'static, <D as Dialect>::DB>;

macro_rules! user_columns {
    () => {
        "id, username, email, first_name, last_name, password, is_active, is_staff, \
         is_superuser, date_joined, last_login, valid_after"
    };
}

macro_rules! joined_user_columns {
    () => {
        "u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, \
         u.is_staff, u.is_superuser, u.date_joined, u.last_login, u.valid_after"
    };
}

/// The hot reads, shared by the awaited queries and SQLite's reads on the calling thread.
pub(crate) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM auth_user WHERE id = $1");
pub(crate) const TOKEN_BY_DIGEST: &str = concat!(
    "SELECT t.id AS t_id, t.digest AS t_digest, t.user_id AS t_user_id, \
     t.created AS t_created, t.last_used AS t_last_used, t.expires AS t_expires, ",
    joined_user_columns!(),
    " FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.digest = $1"
);
pub(crate) const SESSION_BY_DIGEST: &str = concat!(
    "SELECT s.digest AS s_digest, s.user_id AS s_user_id, s.auth_hash AS s_auth_hash, \
     s.created AS s_created, s.last_seen AS s_last_seen, s.expires AS s_expires, ",
    joined_user_columns!(),
    " FROM auth_session s JOIN auth_user u ON u.id = s.user_id WHERE s.digest = $1"
);

/// A [`User`] from a row of [`user_columns!`] or [`joined_user_columns!`], through the row's
/// fallible getter by column name (`row.try_get` for sqlx, `row.get` for rusqlite): one list of
/// columns for both.
macro_rules! user_from_row {
    ($row:ident . $get:ident) => {
        User {
            id: $row.$get("id")?,
            username: $row.$get("username")?,
            email: $row.$get("email")?,
            first_name: $row.$get("first_name")?,
            last_name: $row.$get("last_name")?,
            password: $row.$get("password")?,
            is_active: $row.$get("is_active")?,
            is_staff: $row.$get("is_staff")?,
            is_superuser: $row.$get("is_superuser")?,
            date_joined: $row.$get("date_joined")?,
            last_login: $row.$get("last_login")?,
            valid_after: $row.$get("valid_after")?,
        }
    };
}
pub(crate) use user_from_row;

/// The columns of a token row, as [`TOKEN_BY_DIGEST`] names them (static names: they are read
/// on every token cache miss).
pub(crate) const JOINED_TOKEN_COLUMNS: [&str; 6] = [
    "t_id",
    "t_digest",
    "t_user_id",
    "t_created",
    "t_last_used",
    "t_expires",
];
const TOKEN_COLUMNS: [&str; 6] = ["id", "digest", "user_id", "created", "last_used", "expires"];

/// A [`TokenRecord`] from a row with the columns `$names` (one of the lists above), as
/// [`user_from_row!`].
macro_rules! token_from_row {
    ($row:ident . $get:ident, $names:expr) => {{
        let [id, digest, user_id, created, last_used, expires] = $names;
        TokenRecord {
            id: $row.$get(id)?,
            digest: $row.$get(digest)?,
            user_id: $row.$get(user_id)?,
            created: $row.$get(created)?,
            last_used: $row.$get(last_used)?,
            expires: $row.$get(expires)?,
        }
    }};
}
pub(crate) use token_from_row;

/// A [`SessionRecord`] from a row of [`SESSION_BY_DIGEST`], as [`user_from_row!`].
macro_rules! session_from_row {
    ($row:ident . $get:ident) => {
        SessionRecord {
            digest: $row.$get("s_digest")?,
            user_id: $row.$get("s_user_id")?,
            auth_hash: $row.$get("s_auth_hash")?,
            created: $row.$get("s_created")?,
            last_seen: $row.$get("s_last_seen")?,
            expires: $row.$get("s_expires")?,
        }
    };
}
pub(crate) use session_from_row;

const INSERT_OUTSTANDING: &str = "INSERT INTO token_blacklist_outstandingtoken \
     (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
const BLACKLIST: &str = "INSERT INTO token_blacklist_blacklistedtoken \
     (jti, blacklisted_at, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING";

/// What [`SqlStore::rotated`] reads: the rotated outstanding token `$1` and, joined on its
/// `successor`, the successor's row.
const ROTATED: &str = "SELECT o.family, o.rotated_at, s.jti AS s_jti, \
    s.user_id AS s_user_id, s.family AS s_family, s.created_at AS s_created_at, \
    s.expires_at AS s_expires_at FROM token_blacklist_outstandingtoken o \
    LEFT JOIN token_blacklist_outstandingtoken s ON s.jti = o.successor \
    WHERE o.jti = $1 AND o.rotated_at IS NOT NULL";

// The bounds below say what the shared code needs of a sqlx driver: executors, and decoding and
// encoding of the column types the schema uses. Both sqlx drivers meet them.
impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'a> i64: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> Option<i64>: Encode<'a, D::DB>,
    for<'a> bool: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> String: Decode<'a, D::DB> + Type<D::DB>,
    for<'a> &'a str: Encode<'a, D::DB> + Type<D::DB> + ColumnIndex<DbRow<D>>,
    usize: ColumnIndex<DbRow<D>>,
{
    fn outstanding(sql: &'static str, t: &OutstandingToken, family: &str) -> Query<D> {
        sqlx::query(sql)
            .bind(t.jti.as_str())
            .bind(t.user_id)
            .bind(family)
            .bind(t.created_at)
            .bind(t.expires_at)
    }

    fn user(row: &DbRow<D>) -> Result<User, StoreError> {
        let user = || -> Result<User, sqlx::Error> { Ok(user_from_row!(row.try_get)) };
        user().map_err(classify)
    }

    /// A token from columns named with `prefix` (`t_id`, `t_digest`, … or unprefixed).
    fn token(row: &DbRow<D>, prefix: &str) -> Result<TokenRecord, StoreError> {
        let names = if prefix == "t_" {
            JOINED_TOKEN_COLUMNS
        } else {
            TOKEN_COLUMNS
        };
        let token =
            || -> Result<TokenRecord, sqlx::Error> { Ok(token_from_row!(row.try_get, names)) };
        token().map_err(classify)
    }

    /// A session from columns aliased `s_digest`, `s_user_id`, ….
    fn session(row: &DbRow<D>) -> Result<SessionRecord, StoreError> {
        let session =
            || -> Result<SessionRecord, sqlx::Error> { Ok(session_from_row!(row.try_get)) };
        session().map_err(classify)
    }

    /// A rotated token from a row of [`ROTATED`].
    fn rotated(row: &DbRow<D>) -> Result<RotatedToken, StoreError> {
        let rotated = || -> Result<RotatedToken, sqlx::Error> {
            let successor = match (
                row.try_get::<Option<String>, _>("s_jti")?,
                row.try_get::<Option<i64>, _>("s_user_id")?,
            ) {
                (Some(jti), Some(user_id)) => Some(OutstandingToken {
                    jti,
                    user_id,
                    family: row.try_get("s_family")?,
                    created_at: row.try_get("s_created_at")?,
                    expires_at: row.try_get("s_expires_at")?,
                }),
                _ => None,
            };
            Ok(RotatedToken {
                family: row.try_get("family")?,
                rotated_at: row.try_get("rotated_at")?,
                successor,
            })
        };
        rotated().map_err(classify)
    }

    /// Runs `op` under the dialect's deadline, if any.
    pub(crate) async fn bounded<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.dialect.deadline() {
            None => op.await,
            Some(limit) => tokio::time::timeout(limit, op).await.unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "database did not answer in time".into(),
                ))
            }),
        }
    }

    pub(crate) async fn begin_write(&self) -> Result<Tx<D>, StoreError> {
        self.writer
            .begin_with(D::BEGIN_WRITE)
            .await
            .map_err(classify)
    }

    /// One write statement on its own; how many rows it touched.
    pub(crate) async fn write(&self, q: Query<D>) -> Result<u64, StoreError> {
        self.bounded(async {
            let done = q.execute(&self.writer).await.map_err(classify)?;
            Ok(D::rows_affected(&done))
        })
        .await
    }

    /// One statement in a transaction; how many rows it touched.
    pub(crate) async fn write_in(tx: &mut Tx<D>, q: Query<D>) -> Result<u64, StoreError> {
        let done = q.execute(&mut **tx).await.map_err(classify)?;
        Ok(D::rows_affected(&done))
    }

    pub(crate) async fn read_row(&self, q: Query<D>) -> Result<Option<DbRow<D>>, StoreError> {
        self.bounded(async { q.fetch_optional(&self.reader).await.map_err(classify) })
            .await
    }

    pub(crate) async fn read_rows(&self, q: Query<D>) -> Result<Vec<DbRow<D>>, StoreError> {
        self.bounded(async { q.fetch_all(&self.reader).await.map_err(classify) })
            .await
    }
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'a> i64: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> Option<i64>: Encode<'a, D::DB>,
    for<'a> bool: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> String: Decode<'a, D::DB> + Type<D::DB>,
    for<'a> &'a str: Encode<'a, D::DB> + Type<D::DB> + ColumnIndex<DbRow<D>>,
    usize: ColumnIndex<DbRow<D>>,
{
    async fn migrate(&self) -> Result<(), StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            if let Some(lock) = D::LOCK_MIGRATIONS {
                Self::write_in(&mut tx, sqlx::query(lock)).await?;
            }
            Self::write_in(&mut tx, sqlx::query(CREATE_TABLE)).await?;
            let applied = sqlx::query("SELECT version FROM restauth_migrations")
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(classify)?;
            for m in pending(D::MIGRATIONS, &applied) {
                sqlx::raw_sql(m.sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                let record = "INSERT INTO restauth_migrations (version, name, applied_at) \
                              VALUES ($1, $2, $3)";
                let q = sqlx::query(record)
                    .bind(m.version)
                    .bind(m.name)
                    .bind(crate::core::clock::now());
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)
        })
        .await
    }

    fn change_stamp(&self) -> u64 {
        self.dialect.change_stamp()
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        self.bounded(self.dialect.announce_change()).await
    }

    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        self.dialect.additions_stamp(kind)
    }

    async fn digests_after(
        &self,
        kind: Credential,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = match kind {
            Credential::Token => {
                "SELECT id, digest FROM authtoken_token WHERE id > $1 ORDER BY id LIMIT $2"
            }
            Credential::Session => {
                "SELECT id, digest FROM auth_session WHERE id > $1 ORDER BY id LIMIT $2"
            }
        };
        let rows = self
            .read_rows(sqlx::query(sql).bind(after_id).bind(i64::from(limit)))
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    fn token_by_key_now(&self, _key: &str, digest: &str) -> Option<Found<(TokenRecord, User)>> {
        self.dialect.token_by_digest_now(digest)
    }

    fn session_by_key_now(&self, _key: &str, digest: &str) -> Option<Found<(SessionRecord, User)>> {
        self.dialect.session_by_digest_now(digest)
    }

    fn user_by_id_now(&self, id: i64) -> Option<Found<User>> {
        self.dialect.user_by_id_now(id)
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let q = sqlx::query(concat!(
            "INSERT INTO auth_user (username, email, first_name, last_name, password, is_active, \
             is_staff, is_superuser, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING ",
            user_columns!()
        ))
        .bind(user.username.as_str())
        .bind(user.email.as_str())
        .bind(user.first_name.as_str())
        .bind(user.last_name.as_str())
        .bind(user.password.as_str())
        .bind(user.is_active)
        .bind(user.is_staff)
        .bind(user.is_superuser)
        .bind(user.date_joined);
        let row = self
            .bounded(async { q.fetch_one(&self.writer).await.map_err(classify) })
            .await?;
        Self::user(&row)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = self.read_row(sqlx::query(USER_BY_ID).bind(id)).await?;
        row.map(|r| Self::user(&r)).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE username = $1"
        );
        let row = self.read_row(sqlx::query(sql).bind(username)).await?;
        row.map(|r| Self::user(&r)).transpose()
    }

    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            // A NULL `$2` compares as unknown, so `valid_after` stays.
            let q = sqlx::query(
                "UPDATE auth_user SET password = $1, \
                 valid_after = CASE WHEN $2 > valid_after THEN $2 ELSE valid_after END \
                 WHERE id = $3",
            )
            .bind(hash)
            .bind(revoke_before)
            .bind(user_id);
            let updated = Self::write_in(&mut tx, q).await?;
            if updated > 0 && revoke_before.is_some() {
                for sql in [
                    "DELETE FROM authtoken_token WHERE user_id = $1",
                    "DELETE FROM auth_session WHERE user_id = $1",
                ] {
                    Self::write_in(&mut tx, sqlx::query(sql).bind(user_id)).await?;
                }
            }
            tx.commit().await.map_err(classify)?;
            Ok(updated > 0)
        })
        .await
    }

    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        old_auth_hash: &str,
        new_auth_hash: &str,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            let sql = "UPDATE auth_user SET password = $1 WHERE id = $2 AND password = $3";
            let q = sqlx::query(sql).bind(new_hash).bind(user_id).bind(old_hash);
            let upgraded = Self::write_in(&mut tx, q).await? > 0;
            if upgraded {
                let sql = "UPDATE auth_session SET auth_hash = $1 \
                           WHERE user_id = $2 AND auth_hash = $3";
                let q = sqlx::query(sql)
                    .bind(new_auth_hash)
                    .bind(user_id)
                    .bind(old_auth_hash);
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(upgraded)
        })
        .await
    }

    async fn import_django(
        &self,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        dry_run: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        // No deadline: a large import is one long transaction; each statement still has the
        // database's own timeout.
        let mut tx = self.begin_write().await?;
        let outcome = Self::import_rows(&mut tx, batch, session_auth_hash, progress).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        if dry_run || !outcome.conflicts.is_empty() {
            tx.rollback().await.map_err(classify)?;
            return Ok(outcome);
        }
        tx.commit().await.map_err(classify)?;
        self.dialect.announce_additions(Credential::Token);
        self.dialect.announce_additions(Credential::Session);
        Ok(ImportOutcome {
            committed: true,
            ..outcome
        })
    }

    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_user SET is_active = $1 WHERE id = $2";
        Ok(self
            .write(sqlx::query(sql).bind(active).bind(user_id))
            .await?
            > 0)
    }

    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError> {
        let sql = "UPDATE auth_user SET last_login = $1 WHERE id = $2";
        self.write(sqlx::query(sql).bind(at).bind(user_id)).await?;
        Ok(())
    }

    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_user \
                   SET valid_after = CASE WHEN $1 > valid_after THEN $1 ELSE valid_after END \
                   WHERE id = $2";
        Ok(self.write(sqlx::query(sql).bind(at).bind(user_id)).await? > 0)
    }

    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM auth_user WHERE id = $1";
        Ok(self.write(sqlx::query(sql).bind(user_id)).await? > 0)
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        self.insert_token_from(token, &Origin::default()).await
    }

    async fn insert_token_from(
        &self,
        token: &NewToken,
        origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            if let (Some(lock), Some(_)) = (D::LOCK_USER, token.limit_per_user) {
                Self::write_in(&mut tx, sqlx::query(lock).bind(token.user_id)).await?;
            }
            let row = sqlx::query(
                "INSERT INTO authtoken_token \
                 (digest, user_id, created, expires, user_agent, address) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, digest, user_id, created, last_used, expires",
            )
            .bind(token.digest.as_str())
            .bind(token.user_id)
            .bind(token.created)
            .bind(token.expires)
            .bind(origin.user_agent.as_str())
            .bind(origin.address.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
            let record = Self::token(&row, "")?;
            if let Some(limit) = token.limit_per_user {
                let q = sqlx::query(
                    "DELETE FROM authtoken_token WHERE user_id = $1 AND id NOT IN \
                     (SELECT id FROM authtoken_token WHERE user_id = $1 \
                      ORDER BY created DESC, id DESC LIMIT $2)",
                )
                .bind(token.user_id)
                .bind(i64::from(limit.max(1)));
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)?;
            self.dialect.announce_additions(Credential::Token);
            Ok(record)
        })
        .await
    }

    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let Some(r) = self
            .read_row(sqlx::query(TOKEN_BY_DIGEST).bind(digest))
            .await?
        else {
            return Ok(None);
        };
        let token = Self::token(&r, "t_")?;
        Ok(Some((token, Self::user(&r)?)))
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError> {
        let sql = "UPDATE authtoken_token SET last_used = $1 WHERE id = $2";
        self.write(sqlx::query(sql).bind(at).bind(token_id)).await?;
        Ok(())
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM authtoken_token WHERE id = $1";
        Ok(self.write(sqlx::query(sql).bind(token_id)).await? > 0)
    }

    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        // Ids are positive, so -1 keeps nothing.
        let sql = "DELETE FROM authtoken_token WHERE user_id = $1 AND id <> COALESCE($2, -1)";
        self.write(sqlx::query(sql).bind(user_id).bind(keep)).await
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.insert_session_from(session, replaces, &Origin::default())
            .await
    }

    async fn insert_session_from(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            if let Some(old) = replaces {
                let sql = "DELETE FROM auth_session WHERE digest = $1";
                Self::write_in(&mut tx, sqlx::query(sql).bind(old)).await?;
            }
            let q = sqlx::query(
                "INSERT INTO auth_session \
                 (digest, user_id, auth_hash, created, last_seen, expires, user_agent, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(session.digest.as_str())
            .bind(session.user_id)
            .bind(session.auth_hash.as_str())
            .bind(session.created)
            .bind(session.last_seen)
            .bind(session.expires)
            .bind(origin.user_agent.as_str())
            .bind(origin.address.as_str());
            Self::write_in(&mut tx, q).await?;
            tx.commit().await.map_err(classify)?;
            self.dialect.announce_additions(Credential::Session);
            Ok(())
        })
        .await
    }

    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let Some(r) = self
            .read_row(sqlx::query(SESSION_BY_DIGEST).bind(digest))
            .await?
        else {
            return Ok(None);
        };
        let session = Self::session(&r)?;
        Ok(Some((session, Self::user(&r)?)))
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        let sql = "UPDATE auth_session \
                   SET last_seen = CASE WHEN $1 > last_seen THEN $1 ELSE last_seen END \
                   WHERE digest = $2";
        self.write(sqlx::query(sql).bind(at).bind(digest)).await?;
        Ok(())
    }

    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM auth_session WHERE digest = $1";
        Ok(self.write(sqlx::query(sql).bind(digest)).await? > 0)
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM auth_session WHERE user_id = $1";
        self.write(sqlx::query(sql).bind(user_id)).await
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM auth_session \
                   WHERE expires <= $1 OR last_seen < COALESCE($2, last_seen)";
        self.write(sqlx::query(sql).bind(now).bind(idle_before))
            .await
    }

    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        self.write(Self::outstanding(INSERT_OUTSTANDING, token, &token.family))
            .await?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        old: &OutstandingToken,
        new: &OutstandingToken,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let now = now_ms.div_euclid(1000);
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            let record_old = concat!(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) ",
                "ON CONFLICT (jti) DO NOTHING"
            );
            Self::write_in(&mut tx, Self::outstanding(record_old, old, &old.family)).await?;
            // Concurrent rotations of one token serialise on this UPDATE (SQLite: the one
            // writer; PostgreSQL: the row lock): the losers see rotated_at set and get no row,
            // then read the winner's successor (READ COMMITTED gives each statement a fresh
            // snapshot, taken after the winner committed).
            let claimed = sqlx::query(
                "UPDATE token_blacklist_outstandingtoken SET rotated_at = $1, successor = $2 \
                 WHERE jti = $3 AND rotated_at IS NULL RETURNING family",
            )
            .bind(now_ms)
            .bind(new.jti.as_str())
            .bind(old.jti.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let Some(claimed) = claimed else {
                let row = sqlx::query(ROTATED)
                    .bind(old.jti.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(classify)?;
                let rotated = Self::rotated(&row)?;
                tx.rollback().await.map_err(classify)?;
                return Ok(Rotation::Reused(rotated));
            };
            let family: String = claimed.try_get(0).map_err(classify)?;
            Self::write_in(&mut tx, Self::outstanding(INSERT_OUTSTANDING, new, &family)).await?;
            if blacklist_old {
                let q = sqlx::query(BLACKLIST)
                    .bind(old.jti.as_str())
                    .bind(now)
                    .bind(old.expires_at);
                Self::write_in(&mut tx, q).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(Rotation::Rotated)
        })
        .await
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let q = sqlx::query(BLACKLIST).bind(jti).bind(now).bind(expires_at);
        Ok(self.write(q).await? > 0)
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM token_blacklist_blacklistedtoken WHERE jti = $1";
        Ok(self.read_row(sqlx::query(sql).bind(jti)).await?.is_some())
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        let row = self.read_row(sqlx::query(ROTATED).bind(jti)).await?;
        row.map(|r| Self::rotated(&r)).transpose()
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        let sql = "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
                   SELECT jti, $1, expires_at FROM token_blacklist_outstandingtoken \
                   WHERE family = $2 ON CONFLICT (jti) DO NOTHING";
        self.write(sqlx::query(sql).bind(now).bind(family)).await
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            let mut total = 0;
            for sql in [
                "DELETE FROM token_blacklist_blacklistedtoken WHERE expires_at <= $1",
                "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at <= $1",
            ] {
                total += Self::write_in(&mut tx, sqlx::query(sql).bind(now)).await?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(total)
        })
        .await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        self.dialect.checkpoint().await
    }

    async fn close(&self) {
        // Writer last: closing SQLite's final connection folds the write-ahead log in.
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        self.dialect.backup(path).await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        // A no-op UPDATE still writes (a WAL page, a row version) and commits, so a locked,
        // read-only or full database fails it; the subquery reads.
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            Self::write_in(&mut tx, sqlx::query(PROBE)).await?;
            tx.commit().await.map_err(classify)
        })
        .await
    }

    async fn record_login_network(
        &self,
        user_id: i64,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO restauth_login_network (user_id, network, last_success) \
                   VALUES ($1, $2, $3) ON CONFLICT (user_id, network) DO UPDATE SET last_success = \
                   CASE WHEN excluded.last_success > restauth_login_network.last_success \
                   THEN excluded.last_success ELSE restauth_login_network.last_success END";
        let q = sqlx::query(sql).bind(user_id).bind(network).bind(at);
        self.write(q).await?;
        Ok(())
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT n.last_success FROM restauth_login_network n \
                   JOIN auth_user u ON u.id = n.user_id WHERE u.username = $1 AND n.network = $2";
        let row = self
            .read_row(sqlx::query(sql).bind(username).bind(network))
            .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(classify)
    }

    async fn insert_audit(&self, e: &AuditRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO audit_event (at_ms, action, outcome, reason, provider, user_id, \
                   user_name, source_ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let q = sqlx::query(sql)
            .bind(e.at_ms)
            .bind(e.action.as_str())
            .bind(e.outcome.as_str())
            .bind(e.reason.as_str())
            .bind(e.provider.as_str())
            .bind(e.user_id)
            .bind(e.user_name.as_str())
            .bind(e.source_ip.as_str())
            .bind(e.user_agent.as_str());
        self.write(q).await.map(|_| ())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        // The newest `limit` rows, then turned oldest first. An empty `$1` selects every user.
        let sql = "SELECT at_ms, action, outcome, reason, provider, user_id, user_name, \
                   source_ip, user_agent FROM audit_event \
                   WHERE ($1 = '' OR user_name = $1) AND at_ms >= $2 \
                   ORDER BY at_ms DESC, id DESC LIMIT $3";
        let q = sqlx::query(sql)
            .bind(query.user_name.as_deref().unwrap_or(""))
            .bind(query.since_ms.unwrap_or(i64::MIN))
            .bind(query.limit.map_or(i64::MAX, i64::from));
        let rows = self.read_rows(q).await?;
        let mut events = rows
            .iter()
            .map(|r| -> Result<AuditRecord, sqlx::Error> {
                Ok(AuditRecord {
                    at_ms: r.try_get("at_ms")?,
                    action: r.try_get("action")?,
                    outcome: r.try_get("outcome")?,
                    reason: r.try_get("reason")?,
                    provider: r.try_get("provider")?,
                    user_id: r.try_get("user_id")?,
                    user_name: r.try_get("user_name")?,
                    source_ip: r.try_get("source_ip")?,
                    user_agent: r.try_get("user_agent")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(classify)?;
        events.reverse();
        Ok(events)
    }

    async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        let q = sqlx::query("DELETE FROM audit_event WHERE at_ms < $1").bind(before_ms);
        self.write(q).await
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        // A name longer in bytes than in characters holds a non-ASCII character.
        let sql = "SELECT username FROM auth_user \
                   WHERE octet_length(username) <> length(username) ORDER BY id";
        let rows = self.read_rows(sqlx::query(sql)).await?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    // Accounts over HTTP
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE lower(email) = lower($1) AND email <> '' ORDER BY id"
        );
        let rows = self.read_rows(sqlx::query(sql).bind(email)).await?;
        rows.iter().map(Self::user).collect()
    }

    async fn update_email(
        &self,
        user_id: i64,
        email: &str,
        deactivate: bool,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_user SET email = $1, \
                   is_active = CASE WHEN $2 THEN $3 ELSE is_active END WHERE id = $4";
        let q = sqlx::query(sql)
            .bind(email)
            .bind(deactivate)
            .bind(false)
            .bind(user_id);
        Ok(self.write(q).await? > 0)
    }

    async fn change_password_keeping(
        &self,
        user_id: i64,
        hash: &str,
        cut_off: i64,
        keep: &KeptCredential,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            let q = sqlx::query(
                "UPDATE auth_user SET password = $1, \
                 valid_after = CASE WHEN $2 > valid_after THEN $2 ELSE valid_after END \
                 WHERE id = $3",
            )
            .bind(hash)
            .bind(cut_off)
            .bind(user_id);
            let updated = Self::write_in(&mut tx, q).await? > 0;
            if updated {
                let (token, session) = match keep {
                    KeptCredential::Nothing => (-1, String::new()),
                    KeptCredential::Token { id, .. } => (*id, String::new()),
                    KeptCredential::Session { digest, .. } => (-1, digest.clone()),
                };
                let q = sqlx::query("DELETE FROM authtoken_token WHERE user_id = $1 AND id <> $2")
                    .bind(user_id)
                    .bind(token);
                Self::write_in(&mut tx, q).await?;
                let q = sqlx::query("DELETE FROM auth_session WHERE user_id = $1 AND digest <> $2")
                    .bind(user_id)
                    .bind(session.as_str());
                Self::write_in(&mut tx, q).await?;
                match keep {
                    KeptCredential::Nothing => {}
                    KeptCredential::Token { id, created } => {
                        let q = sqlx::query(
                            "UPDATE authtoken_token SET created = $1 WHERE id = $2 AND user_id = $3",
                        )
                        .bind(*created)
                        .bind(*id)
                        .bind(user_id);
                        Self::write_in(&mut tx, q).await?;
                    }
                    KeptCredential::Session {
                        digest,
                        auth_hash,
                        created,
                    } => {
                        let q = sqlx::query(
                            "UPDATE auth_session SET auth_hash = $1, created = $2 \
                             WHERE digest = $3 AND user_id = $4",
                        )
                        .bind(auth_hash.as_str())
                        .bind(*created)
                        .bind(digest.as_str())
                        .bind(user_id);
                        Self::write_in(&mut tx, q).await?;
                    }
                }
            }
            tx.commit().await.map_err(classify)?;
            Ok(updated)
        })
        .await
    }

    async fn reset_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        cut_off: i64,
        last_login: i64,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let mut tx = self.begin_write().await?;
            let q = sqlx::query(
                "UPDATE auth_user SET password = $1, last_login = $2, \
                 valid_after = CASE WHEN $3 > valid_after THEN $3 ELSE valid_after END \
                 WHERE id = $4 AND password = $5",
            )
            .bind(new_hash)
            .bind(last_login)
            .bind(cut_off)
            .bind(user_id)
            .bind(old_hash);
            let updated = Self::write_in(&mut tx, q).await? > 0;
            if updated {
                for sql in [
                    "DELETE FROM authtoken_token WHERE user_id = $1",
                    "DELETE FROM auth_session WHERE user_id = $1",
                ] {
                    Self::write_in(&mut tx, sqlx::query(sql).bind(user_id)).await?;
                }
            }
            tx.commit().await.map_err(classify)?;
            Ok(updated)
        })
        .await
    }

    async fn activate_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_user SET is_active = $1 WHERE id = $2 AND is_active = $3";
        let q = sqlx::query(sql).bind(true).bind(user_id).bind(false);
        Ok(self.write(q).await? > 0)
    }

    // Devices and staff

    async fn user_tokens(&self, user_id: i64) -> Result<Vec<TokenDevice>, StoreError> {
        let sql = "SELECT id, created, last_used, expires, user_agent, address \
                   FROM authtoken_token WHERE user_id = $1 ORDER BY created DESC, id DESC";
        let rows = self.read_rows(sqlx::query(sql).bind(user_id)).await?;
        rows.iter()
            .map(|r| {
                Ok(TokenDevice {
                    id: r.try_get("id")?,
                    created: r.try_get("created")?,
                    last_used: r.try_get("last_used")?,
                    expires: r.try_get("expires")?,
                    origin: Origin {
                        user_agent: r.try_get("user_agent")?,
                        address: r.try_get("address")?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionDevice>, StoreError> {
        let sql = "SELECT digest, created, last_seen, expires, user_agent, address \
                   FROM auth_session WHERE user_id = $1 ORDER BY created DESC, digest";
        let rows = self.read_rows(sqlx::query(sql).bind(user_id)).await?;
        rows.iter()
            .map(|r| {
                Ok(SessionDevice {
                    digest: r.try_get("digest")?,
                    created: r.try_get("created")?,
                    last_seen: r.try_get("last_seen")?,
                    expires: r.try_get("expires")?,
                    origin: Origin {
                        user_agent: r.try_get("user_agent")?,
                        address: r.try_get("address")?,
                    },
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    async fn delete_token_of(&self, user_id: i64, token_id: i64) -> Result<bool, StoreError> {
        let sql = "DELETE FROM authtoken_token WHERE id = $1 AND user_id = $2";
        Ok(self
            .write(sqlx::query(sql).bind(token_id).bind(user_id))
            .await?
            > 0)
    }

    async fn search_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        // Each term is one placeholder, used twice; only placeholders are formatted into the
        // statement, never the terms.
        let mut filter = String::new();
        for n in 1..=query.terms.len() {
            filter.push_str(if n == 1 { " WHERE " } else { " AND " });
            filter.push_str(&format!(
                "(LOWER(username) LIKE LOWER(${n}) ESCAPE '\\' \
                 OR LOWER(email) LIKE LOWER(${n}) ESCAPE '\\')"
            ));
        }
        let patterns: Vec<String> = query.terms.iter().map(|t| like_contains(t)).collect();
        let count_sql = format!("SELECT COUNT(*) FROM auth_user{filter}");
        let page_sql = format!(
            "SELECT {} FROM auth_user{filter} ORDER BY id LIMIT ${} OFFSET ${}",
            user_columns!(),
            patterns.len() + 1,
            patterns.len() + 2
        );
        let mut count_q = sqlx::query(sqlx::AssertSqlSafe(count_sql));
        let mut page_q = sqlx::query(sqlx::AssertSqlSafe(page_sql));
        for p in &patterns {
            count_q = count_q.bind(p.as_str());
            page_q = page_q.bind(p.as_str());
        }
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        let page_q = page_q.bind(limit).bind(offset);
        let count: i64 = match self.read_row(count_q).await? {
            Some(r) => r.try_get(0).map_err(classify)?,
            None => 0,
        };
        let users = self
            .read_rows(page_q)
            .await?
            .iter()
            .map(Self::user)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UserPage {
            count: u64::try_from(count).unwrap_or(0),
            users,
        })
    }
}

/// A user as the import finds it in restauth.
struct Existing {
    id: i64,
    username: String,
    password: String,
}

// The Django import: one long write transaction, row by row, so that every decision sees
// what the rows before it wrote.
impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    for<'a> i64: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> Option<i64>: Encode<'a, D::DB>,
    for<'a> bool: Encode<'a, D::DB> + Decode<'a, D::DB> + Type<D::DB>,
    for<'a> String: Decode<'a, D::DB> + Type<D::DB>,
    for<'a> &'a str: Encode<'a, D::DB> + Type<D::DB> + ColumnIndex<DbRow<D>>,
    usize: ColumnIndex<DbRow<D>>,
{
    async fn existing_user(
        tx: &mut Tx<D>,
        sql: &'static str,
        q: impl FnOnce(Query<D>) -> Query<D>,
    ) -> Result<Option<Existing>, StoreError> {
        let row = q(sqlx::query(sql))
            .fetch_optional(&mut **tx)
            .await
            .map_err(classify)?;
        row.map(|r| -> Result<Existing, sqlx::Error> {
            Ok(Existing {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                password: r.try_get("password")?,
            })
        })
        .transpose()
        .map_err(classify)
    }

    async fn import_record(
        tx: &mut Tx<D>,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let sql = "SELECT fingerprint FROM restauth_django_import \
                   WHERE kind = $1 AND source_key = $2";
        let row = sqlx::query(sql)
            .bind(kind)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(classify)?;
        row.map(|r| r.try_get(0)).transpose().map_err(classify)
    }

    async fn record_import(
        tx: &mut Tx<D>,
        kind: &str,
        key: &str,
        fingerprint: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO restauth_django_import (kind, source_key, fingerprint, imported_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (kind, source_key) DO UPDATE \
                   SET fingerprint = excluded.fingerprint, imported_at = excluded.imported_at";
        let q = sqlx::query(sql)
            .bind(kind)
            .bind(key)
            .bind(fingerprint)
            .bind(at);
        Self::write_in(tx, q).await.map(|_| ())
    }

    async fn exists(tx: &mut Tx<D>, q: Query<D>) -> Result<bool, StoreError> {
        Ok(q.fetch_optional(&mut **tx)
            .await
            .map_err(classify)?
            .is_some())
    }

    async fn import_rows(
        tx: &mut Tx<D>,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        const BY_ID: &str = "SELECT id, username, password FROM auth_user WHERE id = $1";
        const BY_NAME: &str = "SELECT id, username, password FROM auth_user WHERE username = $1";
        let now_ms = batch.now_ms;
        let now = now_ms.div_euclid(1000);
        let mut out = ImportOutcome::default();
        let mut done = 0u64;
        let mut tick = || {
            done += 1;
            progress(done);
        };
        // The restauth users the rest may refer to: imported now or by an earlier run.
        let mut present: std::collections::HashMap<i64, String> = Default::default();
        let mut inserted_ids = false;

        for u in &batch.users {
            tick();
            let key = u.id.to_string();
            let fingerprint = u.fingerprint();
            let by_id = Self::existing_user(tx, BY_ID, |q| q.bind(u.id)).await?;
            let by_name = Self::existing_user(tx, BY_NAME, |q| q.bind(u.username.as_str())).await?;
            let name_taken = by_name.as_ref().filter(|e| e.id != u.id);
            let Some(record) = Self::import_record(tx, "user", &key).await? else {
                if let Some(e) = &by_id {
                    out.conflicts.push(format!(
                        "Django user {} ({:?}): id {} belongs to the restauth user {:?}",
                        u.id, u.username, u.id, e.username
                    ));
                    continue;
                }
                if let Some(e) = name_taken {
                    out.conflicts.push(format!(
                        "Django user {} ({:?}): the username belongs to the restauth user \
                         with id {}",
                        u.id, u.username, e.id
                    ));
                    continue;
                }
                let q = sqlx::query(
                    "INSERT INTO auth_user (id, username, email, first_name, last_name, \
                     password, is_active, is_staff, is_superuser, date_joined, last_login) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(u.id)
                .bind(u.username.as_str())
                .bind(u.email.as_str())
                .bind(u.first_name.as_str())
                .bind(u.last_name.as_str())
                .bind(u.password.as_str())
                .bind(u.is_active)
                .bind(u.is_staff)
                .bind(u.is_superuser)
                .bind(u.date_joined)
                .bind(u.last_login);
                Self::write_in(tx, q).await?;
                Self::record_import(tx, "user", &key, &fingerprint, now_ms).await?;
                inserted_ids = true;
                present.insert(u.id, u.password.clone());
                out.users.imported += 1;
                continue;
            };
            // Imported before.
            let Some(current) = by_id else {
                out.users
                    .skip("deleted on restauth since an earlier import");
                continue;
            };
            if record == fingerprint {
                present.insert(u.id, current.password);
                out.users.unchanged += 1;
                continue;
            }
            if let Some(e) = name_taken {
                out.conflicts.push(format!(
                    "Django user {} renamed to {:?}: that username belongs to the restauth \
                     user with id {}",
                    u.id, u.username, e.id
                ));
                continue;
            }
            let (old_password_fp, _) = record.split_once(':').unwrap_or((record.as_str(), ""));
            let django_password_changed =
                old_password_fp != super::password_fingerprint(&u.password);
            let restauth_kept_it =
                super::password_fingerprint(&current.password) == old_password_fp;
            let password = if django_password_changed && restauth_kept_it {
                u.password.clone()
            } else {
                if django_password_changed {
                    out.users
                        .note("password changed on Django and on restauth: restauth's kept");
                }
                current.password.clone()
            };
            let q = sqlx::query(
                "UPDATE auth_user SET username = $1, email = $2, first_name = $3, \
                 last_name = $4, password = $5, is_active = $6, is_staff = $7, \
                 is_superuser = $8, date_joined = $9 WHERE id = $10",
            )
            .bind(u.username.as_str())
            .bind(u.email.as_str())
            .bind(u.first_name.as_str())
            .bind(u.last_name.as_str())
            .bind(password.as_str())
            .bind(u.is_active)
            .bind(u.is_staff)
            .bind(u.is_superuser)
            .bind(u.date_joined)
            .bind(u.id);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "user", &key, &fingerprint, now_ms).await?;
            present.insert(u.id, password);
            out.users.updated += 1;
        }
        if !out.conflicts.is_empty() {
            return Ok(out);
        }
        if inserted_ids && let Some(sync) = D::SYNC_USER_IDS {
            sqlx::query(sync)
                .fetch_optional(&mut **tx)
                .await
                .map_err(classify)?;
        }

        for t in &batch.tokens {
            tick();
            if !present.contains_key(&t.user_id) {
                out.tokens.skip("its user was not imported");
                continue;
            }
            let row = sqlx::query("SELECT user_id FROM authtoken_token WHERE digest = $1")
                .bind(t.digest.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(classify)?;
            if let Some(row) = row {
                let owner: i64 = row.try_get(0).map_err(classify)?;
                if owner == t.user_id {
                    out.tokens.unchanged += 1;
                } else {
                    out.tokens.skip("the key belongs to another restauth user");
                }
                continue;
            }
            if Self::import_record(tx, "token", &t.digest).await?.is_some() {
                out.tokens
                    .skip("revoked on restauth since an earlier import");
                continue;
            }
            let q = sqlx::query(
                "INSERT INTO authtoken_token (digest, user_id, created) VALUES ($1, $2, $3)",
            )
            .bind(t.digest.as_str())
            .bind(t.user_id)
            .bind(t.created);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "token", &t.digest, "", now_ms).await?;
            out.tokens.imported += 1;
        }

        for o in &batch.outstanding {
            tick();
            if !present.contains_key(&o.user_id) {
                out.outstanding.skip("its user was not imported");
                continue;
            }
            let q = sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(o.jti.as_str())
            .bind(o.user_id)
            .bind(o.family.as_str())
            .bind(o.created_at)
            .bind(o.expires_at);
            if Self::write_in(tx, q).await? > 0 {
                out.outstanding.imported += 1;
            } else {
                out.outstanding.unchanged += 1;
            }
        }

        for b in &batch.blacklisted {
            tick();
            let q = sqlx::query(BLACKLIST)
                .bind(b.jti.as_str())
                .bind(b.blacklisted_at)
                .bind(b.expires_at);
            if Self::write_in(tx, q).await? > 0 {
                out.blacklisted.imported += 1;
            } else {
                out.blacklisted.unchanged += 1;
            }
        }

        for s in &batch.sessions {
            tick();
            let Some(password) = present.get(&s.user_id) else {
                out.sessions.skip("its user was not imported");
                continue;
            };
            let live =
                sqlx::query("SELECT 1 FROM auth_session WHERE digest = $1").bind(s.digest.as_str());
            if Self::exists(tx, live).await? {
                out.sessions.unchanged += 1;
                continue;
            }
            if Self::import_record(tx, "session", &s.digest)
                .await?
                .is_some()
            {
                out.sessions
                    .skip("ended on restauth since an earlier import");
                continue;
            }
            let auth_hash = session_auth_hash(password);
            let q = sqlx::query(
                "INSERT INTO auth_session (digest, user_id, auth_hash, created, last_seen, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(s.digest.as_str())
            .bind(s.user_id)
            .bind(auth_hash.as_str())
            .bind(s.created)
            .bind(now)
            .bind(s.expires);
            Self::write_in(tx, q).await?;
            Self::record_import(tx, "session", &s.digest, "", now_ms).await?;
            out.sessions.imported += 1;
        }
        Ok(out)
    }
}

/// A `LIKE` pattern (escape `\\`) matching text that contains `term` literally.
fn like_contains(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row, SqliteConnection};

    /// The shared statements rely on SQLite binding `$n` by number, reused `$1` included.
    #[tokio::test]
    async fn sqlite_binds_dollar_placeholders_by_number() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let row = sqlx::query("SELECT $2, $1, $1 + 1")
            .bind(10_i64)
            .bind("b")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "b");
        assert_eq!(row.get::<i64, _>(1), 10);
        assert_eq!(row.get::<i64, _>(2), 11);
    }
}
