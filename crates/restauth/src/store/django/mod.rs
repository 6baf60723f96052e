//! A [`Store`] over a live Django project's own tables (`[database] schema_flavor = "django"`):
//! the user model's table, DRF's `authtoken_token`, `django_session` and simplejwt's
//! `token_blacklist_outstandingtoken` / `token_blacklist_blacklistedtoken`, read and written
//! the way Django, DRF and simplejwt do, so both stacks share one login.
//!
//! Django's tables are never created or altered here: `migrate` only checks they exist and
//! creates restauth's own `restauth_*` tables beside them (cut-offs, session use, rotation
//! families, login networks, audit). Where Django keeps a credential in plaintext (the token
//! key, the session key, the refresh token's text) this store keeps it too, because Django
//! reads it there; restauth's own rows hold only digests.
//!
//! Sessions are Django's: `session_data` is signed with `secret_key` (Django's `SECRET_KEY`)
//! under Django's session salt and names the user with `_auth_user_id`, `_auth_user_backend`
//! and `_auth_user_hash`. Django's table has no user column, so ending all of one user's
//! sessions reads every session's data (as nothing else can find them).

mod dialect;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use sqlx::{
    AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type,
};

pub(crate) use dialect::DjangoDialect;

use super::migrate::{CREATE_TABLE, pending};
use super::sql::{DbRow, Query, SqlStore, Tx};
use super::{
    AuditQuery, AuditRecord, DjangoImport, ImportOutcome, NewToken, NewUser, Origin,
    OutstandingToken, RotatedToken, Rotation, SessionDevice, SessionRecord, Store, StoreError,
    TokenDevice, TokenRecord, classify, key_digest,
};
use crate::core::settings::DatabaseSettings;
use crate::core::user::User;

/// Signs and reads `django_session.session_data` as Django's database session backend does.
/// Given to the store by the composition root (the store sits below `crate::django`, which
/// implements it).
pub trait SessionCodec: Send + Sync + 'static {
    /// The signed text of `value`, signed at `signed_at` (Unix seconds).
    fn sign(&self, value: &serde_json::Value, signed_at: u64) -> String;
    /// The value and signing time (Unix seconds) of `text`, if it carries a valid signature.
    fn unsign(&self, text: &str) -> Option<(serde_json::Value, i64)>;
}

/// The tables a Django project with DRF's tokens and simplejwt's blacklist has.
const DJANGO_TABLES: &[&str] = &[
    "authtoken_token",
    "django_session",
    "token_blacklist_outstandingtoken",
    "token_blacklist_blacklistedtoken",
];

/// Where restauth records its own migrations in this mode.
const MIGRATIONS_TABLE: &str = "restauth_django_migrations";

/// Statements that name the user table or convert Django's datetimes, rendered once for one
/// database and one user table (plain identifiers checked by the settings).
struct Statements {
    user_by_id: Arc<str>,
    user_by_name: Arc<str>,
    create_user: Arc<str>,
    set_password: Arc<str>,
    upgrade_password: Arc<str>,
    set_active: Arc<str>,
    set_last_login: Arc<str>,
    delete_user: Arc<str>,
    insert_token: Arc<str>,
    token_by_key: Arc<str>,
    user_token: Arc<str>,
    session_by_key: Arc<str>,
    insert_session: Arc<str>,
    expire_sessions: Arc<str>,
    insert_outstanding: Arc<str>,
    blacklist: Arc<str>,
    rotated: Arc<str>,
    revoke_family: Arc<str>,
    flush_blacklisted: Arc<str>,
    flush_families: Arc<str>,
    flush_outstanding: Arc<str>,
    login_network_seen: Arc<str>,
    non_ascii_usernames: Arc<str>,
}

impl Statements {
    fn new<D: DjangoDialect>(table: &str, username: &str) -> Statements {
        let ms = D::millis;
        let at = D::datetime;
        let user_columns = format!(
            "CAST(u.id AS BIGINT) AS id, u.{username} AS username, u.email, u.first_name, \
             u.last_name, u.password, u.is_active, u.is_staff, u.is_superuser, \
             {} / 1000 AS date_joined, {} / 1000 AS last_login, \
             COALESCE(st.valid_after, 0) AS valid_after",
            ms("u.date_joined"),
            ms("u.last_login")
        );
        let from_users = format!("{table} u LEFT JOIN restauth_user_state st ON st.user_id = u.id");
        // A custom user model whose USERNAME_FIELD is `email` has one column for both.
        let (name_columns, name_values) = if username == "email" {
            ("email".to_owned(), "$3".to_owned())
        } else {
            (format!("{username}, email"), "$3, $6".to_owned())
        };
        let s = |text: String| -> Arc<str> { text.into() };
        Statements {
            user_by_id: s(format!(
                "SELECT {user_columns} FROM {from_users} WHERE u.id = $1"
            )),
            user_by_name: s(format!(
                "SELECT {user_columns} FROM {from_users} WHERE u.{username} = $1"
            )),
            create_user: s(format!(
                "INSERT INTO {table} (password, last_login, is_superuser, {name_columns}, \
                 first_name, last_name, is_staff, is_active, date_joined) \
                 VALUES ($1, NULL, $2, {name_values}, $4, $5, $7, $8, {}) \
                 RETURNING CAST(id AS BIGINT)",
                at("$9 * 1000")
            )),
            set_password: s(format!("UPDATE {table} SET password = $1 WHERE id = $2")),
            upgrade_password: s(format!(
                "UPDATE {table} SET password = $1 WHERE id = $2 AND password = $3"
            )),
            set_active: s(format!("UPDATE {table} SET is_active = $1 WHERE id = $2")),
            set_last_login: s(format!(
                "UPDATE {table} SET last_login = {} WHERE id = $2",
                at("$1 * 1000")
            )),
            delete_user: s(format!("DELETE FROM {table} WHERE id = $1")),
            insert_token: s(format!(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES ($1, {}, $3)",
                at("$2")
            )),
            token_by_key: s(format!(
                "SELECT t.key AS t_key, {} AS t_created, {user_columns} \
                 FROM authtoken_token t JOIN {table} u ON u.id = t.user_id \
                 LEFT JOIN restauth_user_state st ON st.user_id = u.id WHERE t.key = $1",
                ms("t.created")
            )),
            user_token: s(format!(
                "SELECT key, {} AS created FROM authtoken_token WHERE user_id = $1",
                ms("created")
            )),
            session_by_key: s(format!(
                "SELECT d.session_data, {} AS expire_ms, st.created, st.last_seen \
                 FROM django_session d \
                 LEFT JOIN restauth_session_state st ON st.digest = $2 \
                 WHERE d.session_key = $1",
                ms("d.expire_date")
            )),
            insert_session: s(format!(
                "INSERT INTO django_session (session_key, session_data, expire_date) \
                 VALUES ($1, $2, {})",
                at("$3 * 1000")
            )),
            expire_sessions: s(format!(
                "DELETE FROM django_session WHERE expire_date <= {}",
                at("$1 * 1000")
            )),
            insert_outstanding: s(format!(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (token, created_at, expires_at, user_id, jti) \
                 VALUES ($1, {}, {}, $4, $5) ON CONFLICT (jti) DO NOTHING",
                at("$2 * 1000"),
                at("$3 * 1000")
            )),
            blacklist: s(format!(
                "INSERT INTO token_blacklist_blacklistedtoken (blacklisted_at, token_id) \
                 SELECT {}, id FROM token_blacklist_outstandingtoken WHERE jti = $1 \
                 ON CONFLICT (token_id) DO NOTHING",
                at("$2 * 1000")
            )),
            rotated: s(format!(
                "SELECT f.family, f.rotated_at, s.jti AS s_jti, \
                 CAST(o.user_id AS BIGINT) AS s_user_id, s.family AS s_family, \
                 {} / 1000 AS s_created_at, {} / 1000 AS s_expires_at \
                 FROM restauth_refresh_family f \
                 LEFT JOIN restauth_refresh_family s ON s.jti = f.successor \
                 LEFT JOIN token_blacklist_outstandingtoken o ON o.jti = s.jti \
                 WHERE f.jti = $1 AND f.rotated_at IS NOT NULL",
                ms("o.created_at"),
                ms("o.expires_at")
            )),
            revoke_family: s(format!(
                "INSERT INTO token_blacklist_blacklistedtoken (blacklisted_at, token_id) \
                 SELECT {}, o.id FROM token_blacklist_outstandingtoken o \
                 JOIN restauth_refresh_family f ON f.jti = o.jti WHERE f.family = $2 \
                 ON CONFLICT (token_id) DO NOTHING",
                at("$1 * 1000")
            )),
            flush_blacklisted: s(format!(
                "DELETE FROM token_blacklist_blacklistedtoken WHERE token_id IN \
                 (SELECT id FROM token_blacklist_outstandingtoken WHERE expires_at <= {})",
                at("$1 * 1000")
            )),
            flush_families: s(format!(
                "DELETE FROM restauth_refresh_family WHERE jti IN \
                 (SELECT jti FROM token_blacklist_outstandingtoken WHERE expires_at <= {})",
                at("$1 * 1000")
            )),
            flush_outstanding: s(format!(
                "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at <= {}",
                at("$1 * 1000")
            )),
            login_network_seen: s(format!(
                "SELECT n.last_success FROM restauth_login_network n \
                 JOIN {table} u ON u.id = n.user_id WHERE u.{username} = $1 AND n.network = $2"
            )),
            non_ascii_usernames: s(format!(
                "SELECT {username} FROM {table} \
                 WHERE octet_length({username}) <> length({username}) ORDER BY id"
            )),
        }
    }
}

/// A store over Django's tables, sharing one database with a running Django project.
pub(crate) struct DjangoStore<D: DjangoDialect> {
    /// restauth's SQL store over the same database: its pools, transactions and change signal.
    inner: SqlStore<D>,
    sql: Statements,
    user_table: String,
    username_field: String,
    /// Django's session signing (with `secret_key`, Django's `SECRET_KEY`).
    codec: Arc<dyn SessionCodec>,
    /// `_auth_user_backend` of the sessions restauth starts.
    backend: String,
}

fn stmt<D: DjangoDialect>(sql: &Arc<str>) -> Query<D> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

/// What a `session_data` value says about its login.
struct DjangoLogin {
    user_id: i64,
    auth_hash: String,
    /// When Django (or restauth) last signed it, Unix seconds.
    signed_at: i64,
}

#[cfg(feature = "sqlite")]
pub(crate) async fn open_sqlite(
    db: &DatabaseSettings,
    codec: Arc<dyn SessionCodec>,
) -> Result<Arc<dyn Store>, StoreError> {
    let inner = super::sqlite::SqliteStore::open(db).await?;
    Ok(super::metered(DjangoStore::new(inner, db, codec)))
}

#[cfg(feature = "postgres")]
pub(crate) async fn open_postgres(
    db: &DatabaseSettings,
    codec: Arc<dyn SessionCodec>,
) -> Result<Arc<dyn Store>, StoreError> {
    let inner = super::postgres::PostgresStore::open(db).await?;
    Ok(super::metered(DjangoStore::new(inner, db, codec)))
}

impl<D: DjangoDialect> DjangoStore<D> {
    fn new(inner: SqlStore<D>, db: &DatabaseSettings, codec: Arc<dyn SessionCodec>) -> Self {
        DjangoStore {
            inner,
            sql: Statements::new::<D>(&db.django_user_table, &db.django_username_field),
            user_table: db.django_user_table.clone(),
            username_field: db.django_username_field.clone(),
            codec,
            backend: db.django_auth_backend.clone(),
        }
    }
}

// The bounds say what the shared code needs of a sqlx driver, as in `sql.rs`.
impl<D: DjangoDialect> DjangoStore<D>
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
    fn user(row: &DbRow<D>) -> Result<User, StoreError> {
        let user = || -> Result<User, sqlx::Error> {
            Ok(User {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                email: row.try_get("email")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                password: row.try_get("password")?,
                is_active: row.try_get("is_active")?,
                is_staff: row.try_get("is_staff")?,
                is_superuser: row.try_get("is_superuser")?,
                date_joined: row.try_get("date_joined")?,
                last_login: row.try_get("last_login")?,
                valid_after: row.try_get("valid_after")?,
            })
        };
        user().map_err(classify)
    }

    /// Django's token as restauth's record: one token per user, so the user's id is the
    /// token's id; DRF's tokens neither expire nor record their use.
    fn token_record(key: &str, user_id: i64, created: i64) -> TokenRecord {
        TokenRecord {
            id: user_id,
            digest: key_digest(key),
            user_id,
            created,
            last_used: None,
            expires: None,
        }
    }

    /// The login a `session_data` value carries, if signed with our key and logged in.
    fn login(&self, data: &str) -> Option<DjangoLogin> {
        let (value, signed_at) = self.codec.unsign(data)?;
        let object = value.as_object()?;
        let user_id = match object.get("_auth_user_id")? {
            serde_json::Value::String(s) => s.parse().ok()?,
            serde_json::Value::Number(n) => n.as_i64()?,
            _ => return None,
        };
        let auth_hash = object.get("_auth_user_hash")?.as_str()?.to_owned();
        Some(DjangoLogin {
            user_id,
            auth_hash,
            signed_at,
        })
    }

    /// Every `django_session` key whose data logs in `user_id`. Django's table has no user
    /// column: this reads them all.
    async fn user_session_keys(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let rows = self
            .inner
            .read_rows(sqlx::query(
                "SELECT session_key, session_data FROM django_session",
            ))
            .await?;
        let mut keys = Vec::new();
        for row in rows {
            let key: String = row.try_get(0).map_err(classify)?;
            let data: String = row.try_get(1).map_err(classify)?;
            if self.login(&data).is_some_and(|l| l.user_id == user_id) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// The key of `table`'s row whose key digests to `digest`, for the callers that hold
    /// only a digest. Reads every key.
    async fn key_of_digest(
        &self,
        sql: &'static str,
        digest: &str,
    ) -> Result<Option<String>, StoreError> {
        let rows = self.inner.read_rows(sqlx::query(sql)).await?;
        for row in rows {
            let key: String = row.try_get(0).map_err(classify)?;
            if key_digest(&key) == digest {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    async fn delete_sessions_in(tx: &mut Tx<D>, keys: &[String]) -> Result<u64, StoreError> {
        let mut n = 0;
        for key in keys {
            let q =
                sqlx::query("DELETE FROM django_session WHERE session_key = $1").bind(key.as_str());
            n += SqlStore::<D>::write_in(tx, q).await?;
            let digest = key_digest(key);
            let q = sqlx::query("DELETE FROM restauth_session_state WHERE digest = $1")
                .bind(digest.as_str());
            SqlStore::<D>::write_in(tx, q).await?;
        }
        Ok(n)
    }

    /// Ends every session of the user, on both stacks.
    async fn end_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let keys = self.user_session_keys(user_id).await?;
        if keys.is_empty() {
            return Ok(0);
        }
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                let n = Self::delete_sessions_in(&mut tx, &keys).await?;
                tx.commit().await.map_err(classify)?;
                Ok(n)
            })
            .await
    }

    async fn raise_valid_after(tx: &mut Tx<D>, user_id: i64, at: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO restauth_user_state (user_id, valid_after) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET valid_after = CASE \
             WHEN excluded.valid_after > restauth_user_state.valid_after \
             THEN excluded.valid_after ELSE restauth_user_state.valid_after END",
        )
        .bind(user_id)
        .bind(at);
        SqlStore::<D>::write_in(tx, q).await.map(|_| ())
    }

    async fn record_outstanding(
        &self,
        tx: &mut Tx<D>,
        t: &OutstandingToken,
        raw: &str,
        family: &str,
    ) -> Result<(), StoreError> {
        let q = stmt::<D>(&self.sql.insert_outstanding)
            .bind(raw)
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.user_id)
            .bind(t.jti.as_str());
        SqlStore::<D>::write_in(tx, q).await?;
        let q = sqlx::query(
            "INSERT INTO restauth_refresh_family (jti, family) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(t.jti.as_str())
        .bind(family);
        SqlStore::<D>::write_in(tx, q).await.map(|_| ())
    }

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
                    created_at: row.try_get::<Option<i64>, _>("s_created_at")?.unwrap_or(0),
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
}

fn needs_key(what: &str) -> StoreError {
    StoreError::Other(format!(
        "{what}: Django's tables keep the key itself, so the store needs it (not only its digest)"
    ))
}

#[async_trait]
impl<D: DjangoDialect> Store for DjangoStore<D>
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
        let mut missing = Vec::new();
        for table in std::iter::once(self.user_table.as_str()).chain(DJANGO_TABLES.iter().copied())
        {
            let found = self
                .inner
                .read_row(sqlx::query(D::TABLE_EXISTS).bind(table))
                .await?;
            if found.is_none() {
                missing.push(table);
            }
        }
        if !missing.is_empty() {
            return Err(StoreError::Other(format!(
                "schema_flavor = \"django\": Django's tables {} are missing from this database; \
                 run Django's `python manage.py migrate` first (with rest_framework.authtoken and \
                 rest_framework_simplejwt.token_blacklist installed)",
                missing.join(", ")
            )));
        }
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                if let Some(lock) = D::LOCK_MIGRATIONS {
                    SqlStore::<D>::write_in(&mut tx, sqlx::query(lock)).await?;
                }
                let create = CREATE_TABLE.replace("restauth_migrations", MIGRATIONS_TABLE);
                sqlx::raw_sql(AssertSqlSafe(create))
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                let applied = sqlx::query("SELECT version FROM restauth_django_migrations")
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(classify)?
                    .iter()
                    .map(|r| r.try_get::<i64, _>(0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(classify)?;
                for m in pending(D::STATE_MIGRATIONS, &applied) {
                    sqlx::raw_sql(m.sql)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    let q = sqlx::query(
                        "INSERT INTO restauth_django_migrations (version, name, applied_at) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(m.version)
                    .bind(m.name)
                    .bind(crate::core::clock::now());
                    SqlStore::<D>::write_in(&mut tx, q).await?;
                }
                tx.commit().await.map_err(classify)
            })
            .await
    }

    fn change_stamp(&self) -> u64 {
        self.inner.change_stamp()
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        self.inner.announce_change().await
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let q = stmt::<D>(&self.sql.create_user)
            .bind(user.password.as_str())
            .bind(user.is_superuser)
            .bind(user.username.as_str())
            .bind(user.first_name.as_str())
            .bind(user.last_name.as_str())
            .bind(user.email.as_str())
            .bind(user.is_staff)
            .bind(user.is_active)
            .bind(user.date_joined);
        let row = self
            .inner
            .bounded(async { q.fetch_one(&self.inner.writer).await.map_err(classify) })
            .await?;
        let id: i64 = row.try_get(0).map_err(classify)?;
        // Read back through the writer: the new row must be seen at once.
        let row = self
            .inner
            .bounded(async {
                stmt::<D>(&self.sql.user_by_id)
                    .bind(id)
                    .fetch_one(&self.inner.writer)
                    .await
                    .map_err(classify)
            })
            .await?;
        Self::user(&row)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = self
            .inner
            .read_row(stmt::<D>(&self.sql.user_by_id).bind(id))
            .await?;
        row.map(|r| Self::user(&r)).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .inner
            .read_row(stmt::<D>(&self.sql.user_by_name).bind(username))
            .await?;
        row.map(|r| Self::user(&r)).transpose()
    }

    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        let updated = self
            .inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                let q = stmt::<D>(&self.sql.set_password).bind(hash).bind(user_id);
                let updated = SqlStore::<D>::write_in(&mut tx, q).await? > 0;
                if updated && let Some(at) = revoke_before {
                    Self::raise_valid_after(&mut tx, user_id, at).await?;
                    let q =
                        sqlx::query("DELETE FROM authtoken_token WHERE user_id = $1").bind(user_id);
                    SqlStore::<D>::write_in(&mut tx, q).await?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(updated)
            })
            .await?;
        if updated && revoke_before.is_some() {
            // The new hash already ends them (Django's session auth hash); this deletes them.
            self.end_user_sessions(user_id).await?;
        }
        Ok(updated)
    }

    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        _old_auth_hash: &str,
        _new_auth_hash: &str,
    ) -> Result<bool, StoreError> {
        // As Django's own upgrade on login: the session auth hash changes with the hash, so
        // the user's other sessions end on both stacks.
        let q = stmt::<D>(&self.sql.upgrade_password)
            .bind(new_hash)
            .bind(user_id)
            .bind(old_hash);
        Ok(self.inner.write(q).await? > 0)
    }

    async fn import_django(
        &self,
        _batch: &DjangoImport,
        _session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        _dry_run: bool,
        _progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        Err(StoreError::Other(
            "import-django: with schema_flavor = \"django\" restauth already works on Django's \
             own tables; there is nothing to import"
                .into(),
        ))
    }

    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError> {
        let q = stmt::<D>(&self.sql.set_active).bind(active).bind(user_id);
        Ok(self.inner.write(q).await? > 0)
    }

    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError> {
        let q = stmt::<D>(&self.sql.set_last_login).bind(at).bind(user_id);
        self.inner.write(q).await.map(|_| ())
    }

    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError> {
        let exists = self.user_by_id(user_id).await?.is_some();
        if !exists {
            return Ok(false);
        }
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                Self::raise_valid_after(&mut tx, user_id, at).await?;
                // Django knows no cut-off: what it would still accept goes too.
                let q = sqlx::query("DELETE FROM authtoken_token WHERE user_id = $1").bind(user_id);
                SqlStore::<D>::write_in(&mut tx, q).await?;
                tx.commit().await.map_err(classify)
            })
            .await?;
        self.end_user_sessions(user_id).await?;
        Ok(true)
    }

    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        self.end_user_sessions(user_id).await?;
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                for sql in [
                    "DELETE FROM authtoken_token WHERE user_id = $1",
                    "UPDATE token_blacklist_outstandingtoken SET user_id = NULL WHERE user_id = $1",
                    "DELETE FROM restauth_user_state WHERE user_id = $1",
                    "DELETE FROM restauth_login_network WHERE user_id = $1",
                ] {
                    SqlStore::<D>::write_in(&mut tx, sqlx::query(sql).bind(user_id)).await?;
                }
                let gone = SqlStore::<D>::write_in(
                    &mut tx,
                    stmt::<D>(&self.sql.delete_user).bind(user_id),
                )
                .await?;
                tx.commit().await.map_err(classify)?;
                Ok(gone > 0)
            })
            .await
    }

    async fn insert_token(&self, _token: &NewToken) -> Result<TokenRecord, StoreError> {
        Err(needs_key("insert_token"))
    }

    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        match self
            .key_of_digest("SELECT key FROM authtoken_token", digest)
            .await?
        {
            Some(key) => self.token_by_key(&key, digest).await,
            None => Ok(None),
        }
    }

    async fn touch_token(&self, _token_id: i64, _at: i64) -> Result<(), StoreError> {
        // DRF's table records no use.
        Ok(())
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        // One token per user: its id is its user's.
        let q = sqlx::query("DELETE FROM authtoken_token WHERE user_id = $1").bind(token_id);
        Ok(self.inner.write(q).await? > 0)
    }

    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        let q = sqlx::query(
            "DELETE FROM authtoken_token WHERE user_id = $1 AND user_id <> COALESCE($2, -1)",
        )
        .bind(user_id)
        .bind(keep);
        self.inner.write(q).await
    }

    async fn insert_session(
        &self,
        _session: &SessionRecord,
        _replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        Err(needs_key("insert_session"))
    }

    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        match self
            .key_of_digest("SELECT session_key FROM django_session", digest)
            .await?
        {
            Some(key) => self.session_by_key(&key, digest).await,
            None => Ok(None),
        }
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        let q = sqlx::query(
            "INSERT INTO restauth_session_state (digest, created, last_seen) VALUES ($1, NULL, $2) \
             ON CONFLICT (digest) DO UPDATE SET last_seen = CASE \
             WHEN excluded.last_seen > restauth_session_state.last_seen \
             THEN excluded.last_seen ELSE restauth_session_state.last_seen END",
        )
        .bind(digest)
        .bind(at);
        self.inner.write(q).await.map(|_| ())
    }

    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        match self
            .key_of_digest("SELECT session_key FROM django_session", digest)
            .await?
        {
            Some(key) => self.delete_session_key(&key, digest).await,
            None => Ok(false),
        }
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        self.end_user_sessions(user_id).await
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        _idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        // Django's `clearsessions`; restauth's notes of sessions gone since go with them.
        let n = self
            .inner
            .write(stmt::<D>(&self.sql.expire_sessions).bind(now))
            .await?;
        let live: std::collections::HashSet<String> = self
            .inner
            .read_rows(sqlx::query("SELECT session_key FROM django_session"))
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0).map(|k| key_digest(&k)))
            .collect::<Result<_, _>>()
            .map_err(classify)?;
        let noted = self
            .inner
            .read_rows(sqlx::query("SELECT digest FROM restauth_session_state"))
            .await?;
        for row in noted {
            let digest: String = row.try_get(0).map_err(classify)?;
            if !live.contains(&digest) {
                let q = sqlx::query("DELETE FROM restauth_session_state WHERE digest = $1")
                    .bind(digest.as_str());
                self.inner.write(q).await?;
            }
        }
        Ok(n)
    }

    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        self.insert_outstanding_raw(token, "").await
    }

    async fn rotate_refresh(
        &self,
        old: &OutstandingToken,
        new: &OutstandingToken,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        self.rotate_refresh_raw((old, ""), (new, ""), blacklist_old, now_ms)
            .await
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                // simplejwt records a token it never saw before blacklisting it.
                let q = stmt::<D>(&self.sql.insert_outstanding)
                    .bind("")
                    .bind(now)
                    .bind(expires_at)
                    .bind(None::<i64>)
                    .bind(jti);
                SqlStore::<D>::write_in(&mut tx, q).await?;
                let q = stmt::<D>(&self.sql.blacklist).bind(jti).bind(now);
                let added = SqlStore::<D>::write_in(&mut tx, q).await? > 0;
                tx.commit().await.map_err(classify)?;
                Ok(added)
            })
            .await
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM token_blacklist_blacklistedtoken b \
                   JOIN token_blacklist_outstandingtoken o ON o.id = b.token_id WHERE o.jti = $1";
        Ok(self
            .inner
            .read_row(sqlx::query(sql).bind(jti))
            .await?
            .is_some())
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        let row = self
            .inner
            .read_row(stmt::<D>(&self.sql.rotated).bind(jti))
            .await?;
        row.map(|r| Self::rotated(&r)).transpose()
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        let q = stmt::<D>(&self.sql.revoke_family).bind(now).bind(family);
        self.inner.write(q).await
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                let mut total = 0;
                for sql in [
                    &self.sql.flush_blacklisted,
                    &self.sql.flush_families,
                    &self.sql.flush_outstanding,
                ] {
                    total += SqlStore::<D>::write_in(&mut tx, stmt::<D>(sql).bind(now)).await?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(total)
            })
            .await
    }

    // ---- the plaintext-key block ----

    async fn token_by_key(
        &self,
        key: &str,
        _digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let Some(r) = self
            .inner
            .read_row(stmt::<D>(&self.sql.token_by_key).bind(key))
            .await?
        else {
            return Ok(None);
        };
        let user = Self::user(&r)?;
        let stored: String = r.try_get("t_key").map_err(classify)?;
        let created: i64 = r.try_get("t_created").map_err(classify)?;
        Ok(Some((Self::token_record(&stored, user.id, created), user)))
    }

    async fn insert_token_keyed(
        &self,
        token: &NewToken,
        key: &str,
        // Django's table has no place for where a token was issued.
        _origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        let q = stmt::<D>(&self.sql.insert_token)
            .bind(key)
            .bind(token.created)
            .bind(token.user_id);
        self.inner.write(q).await?;
        Ok(Self::token_record(key, token.user_id, token.created))
    }

    async fn user_token_key(
        &self,
        user_id: i64,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        // Through the writer: a token just made by a concurrent obtain must be seen.
        let row = self
            .inner
            .bounded(async {
                stmt::<D>(&self.sql.user_token)
                    .bind(user_id)
                    .fetch_optional(&self.inner.writer)
                    .await
                    .map_err(classify)
            })
            .await?;
        let Some(r) = row else { return Ok(None) };
        let key: String = r.try_get("key").map_err(classify)?;
        let created: i64 = r.try_get("created").map_err(classify)?;
        Ok(Some((Self::token_record(&key, user_id, created), key)))
    }

    async fn session_by_key(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let Some(r) = self
            .inner
            .read_row(stmt::<D>(&self.sql.session_by_key).bind(key).bind(digest))
            .await?
        else {
            return Ok(None);
        };
        let data: String = r.try_get("session_data").map_err(classify)?;
        let expire_ms: i64 = r.try_get("expire_ms").map_err(classify)?;
        let created: Option<i64> = r.try_get("created").map_err(classify)?;
        let last_seen: Option<i64> = r.try_get("last_seen").map_err(classify)?;
        // Unsigned by our key, or anonymous: not a login (Django reads it as an empty session).
        let Some(login) = self.login(&data) else {
            return Ok(None);
        };
        let Some(user) = self.user_by_id(login.user_id).await? else {
            return Ok(None);
        };
        let record = SessionRecord {
            digest: digest.to_owned(),
            user_id: user.id,
            auth_hash: login.auth_hash,
            // A session Django started counts from when Django last wrote it.
            created: created.unwrap_or(login.signed_at.saturating_mul(1000)),
            // Django has no idle limit: restauth's counts from its own first sight of it.
            last_seen: last_seen.unwrap_or_else(crate::core::clock::now),
            expires: expire_ms.div_euclid(1000),
        };
        Ok(Some((record, user)))
    }

    async fn insert_session_keyed(
        &self,
        session: &SessionRecord,
        key: &str,
        replaces: Option<&str>,
        // Django's table has no place for where a session was started.
        _origin: &Origin,
    ) -> Result<(), StoreError> {
        // What Django's login() stores, signed as Django's database session backend signs it.
        let data = self.codec.sign(
            &json!({
                "_auth_user_id": session.user_id.to_string(),
                "_auth_user_backend": self.backend,
                "_auth_user_hash": session.auth_hash,
            }),
            u64::try_from(session.created.div_euclid(1000)).unwrap_or(0),
        );
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                if let Some(old) = replaces {
                    Self::delete_sessions_in(&mut tx, &[old.to_owned()]).await?;
                }
                let q = stmt::<D>(&self.sql.insert_session)
                    .bind(key)
                    .bind(data.as_str())
                    .bind(session.expires);
                SqlStore::<D>::write_in(&mut tx, q).await?;
                let q = sqlx::query(
                    "INSERT INTO restauth_session_state (digest, created, last_seen) \
                     VALUES ($1, $2, $3) ON CONFLICT (digest) DO UPDATE \
                     SET created = excluded.created, last_seen = excluded.last_seen",
                )
                .bind(session.digest.as_str())
                .bind(session.created)
                .bind(session.last_seen);
                SqlStore::<D>::write_in(&mut tx, q).await?;
                tx.commit().await.map_err(classify)
            })
            .await
    }

    async fn delete_session_key(&self, key: &str, _digest: &str) -> Result<bool, StoreError> {
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                let n = Self::delete_sessions_in(&mut tx, &[key.to_owned()]).await?;
                tx.commit().await.map_err(classify)?;
                Ok(n > 0)
            })
            .await
    }

    async fn insert_outstanding_raw(
        &self,
        token: &OutstandingToken,
        raw: &str,
    ) -> Result<(), StoreError> {
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                self.record_outstanding(&mut tx, token, raw, &token.family)
                    .await?;
                tx.commit().await.map_err(classify)
            })
            .await
    }

    async fn rotate_refresh_raw(
        &self,
        old: (&OutstandingToken, &str),
        new: (&OutstandingToken, &str),
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let now = now_ms.div_euclid(1000);
        let ((old, old_raw), (new, new_raw)) = (old, new);
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                self.record_outstanding(&mut tx, old, old_raw, &old.family)
                    .await?;
                // Concurrent rotations serialise on this UPDATE, as in the restauth schema.
                let claimed = sqlx::query(
                    "UPDATE restauth_refresh_family SET rotated_at = $1, successor = $2 \
                     WHERE jti = $3 AND rotated_at IS NULL RETURNING family",
                )
                .bind(now_ms)
                .bind(new.jti.as_str())
                .bind(old.jti.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
                let Some(claimed) = claimed else {
                    let row = stmt::<D>(&self.sql.rotated)
                        .bind(old.jti.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(classify)?;
                    let rotated = Self::rotated(&row)?;
                    tx.rollback().await.map_err(classify)?;
                    return Ok(Rotation::Reused(rotated));
                };
                let family: String = claimed.try_get(0).map_err(classify)?;
                self.record_outstanding(&mut tx, new, new_raw, &family)
                    .await?;
                if blacklist_old {
                    let q = stmt::<D>(&self.sql.blacklist)
                        .bind(old.jti.as_str())
                        .bind(now);
                    SqlStore::<D>::write_in(&mut tx, q).await?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(Rotation::Rotated)
            })
            .await
    }

    async fn django_triggers(&self, install: bool) -> Result<(), StoreError> {
        let Some(statements) =
            self.inner
                .dialect
                .triggers(install, &self.user_table, &self.username_field)
        else {
            return Err(StoreError::Other(
                "Django triggers need PostgreSQL (its NOTIFY); on SQLite restauth re-reads \
                 Django's rows after database.django_reread_after"
                    .into(),
            ));
        };
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                for sql in statements {
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)
            })
            .await
    }

    // ---- the rest of the contract ----

    async fn checkpoint(&self) -> Result<(), StoreError> {
        self.inner.checkpoint().await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        self.inner.backup(path).await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.inner
            .bounded(async {
                let mut tx = self.inner.begin_write().await?;
                let q = sqlx::query(
                    "UPDATE restauth_django_migrations SET applied_at = applied_at \
                     WHERE version = (SELECT max(version) FROM restauth_django_migrations)",
                );
                SqlStore::<D>::write_in(&mut tx, q).await?;
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
        self.inner.write(q).await.map(|_| ())
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = self
            .inner
            .read_row(
                stmt::<D>(&self.sql.login_network_seen)
                    .bind(username)
                    .bind(network),
            )
            .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(classify)
    }

    async fn insert_audit(&self, e: &AuditRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO restauth_audit_event (at_ms, action, outcome, reason, provider, \
                   user_id, user_name, source_ip, user_agent) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
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
        self.inner.write(q).await.map(|_| ())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = "SELECT at_ms, action, outcome, reason, provider, user_id, user_name, \
                   source_ip, user_agent FROM restauth_audit_event \
                   WHERE ($1 = '' OR user_name = $1) AND at_ms >= $2 \
                   ORDER BY at_ms DESC, id DESC LIMIT $3";
        let q = sqlx::query(sql)
            .bind(query.user_name.as_deref().unwrap_or(""))
            .bind(query.since_ms.unwrap_or(i64::MIN))
            .bind(query.limit.map_or(i64::MAX, i64::from));
        let rows = self.inner.read_rows(q).await?;
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
        let q = sqlx::query("DELETE FROM restauth_audit_event WHERE at_ms < $1").bind(before_ms);
        self.inner.write(q).await
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .inner
            .read_rows(stmt::<D>(&self.sql.non_ascii_usernames))
            .await?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(classify)
    }

    // Devices: DRF's one token per user, whose id is its user's; Django's tables keep no
    // user agent or address.

    async fn user_tokens(&self, user_id: i64) -> Result<Vec<TokenDevice>, StoreError> {
        Ok(self
            .user_token_key(user_id)
            .await?
            .map(|(t, _)| TokenDevice {
                id: t.id,
                created: t.created,
                last_used: t.last_used,
                expires: t.expires,
                origin: Origin::default(),
            })
            .into_iter()
            .collect())
    }

    async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionDevice>, StoreError> {
        let mut sessions = Vec::new();
        for key in self.user_session_keys(user_id).await? {
            let digest = key_digest(&key);
            if let Some((record, _)) = self.session_by_key(&key, &digest).await? {
                sessions.push(SessionDevice {
                    digest,
                    created: record.created,
                    last_seen: record.last_seen,
                    expires: record.expires,
                    origin: Origin::default(),
                });
            }
        }
        sessions.sort_by(|a, b| b.created.cmp(&a.created).then(a.digest.cmp(&b.digest)));
        Ok(sessions)
    }

    async fn delete_token_of(&self, user_id: i64, token_id: i64) -> Result<bool, StoreError> {
        if token_id != user_id {
            return Ok(false);
        }
        Ok(self.delete_user_tokens(user_id, None).await? > 0)
    }
}
