//! The one SQL implementation of the store, for every database and both schemas.
//!
//! Every statement is rendered once, from a map of the schema's tables and columns
//! ([`schema`]: restauth's own, or a Django project's), with `$n` placeholders (PostgreSQL's, and
//! numbered parameters to SQLite too) and only functions both databases have (`CASE` rather
//! than `max`/`GREATEST`). What truly differs between databases — how a write transaction
//! starts, row locks, the migration lock, the change signal, the client-side deadline, backups,
//! Django's datetimes — is a [`Dialect`] hook; a new backend is one more `Dialect`. Where
//! Django's semantics differ beyond its columns (signed session data, keys kept in plaintext,
//! one token per user, no cut-offs) an operation branches on the schema, in one place.
//!
//! One file per concept: `users` (users, login networks, passwords), `tokens`, `sessions`,
//! `jwt`, `audit`, `import`; the database itself here.

mod audit;
mod driver;
mod import;
mod jwt;
mod permissions;
pub(crate) mod schema;
mod sessions;
pub(crate) mod statements;
mod tokens;
mod users;

use std::borrow::Cow;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Pool};

pub(crate) use driver::{Arg, Bind, Driver, On, Query, Row, Tx, UserKey};
pub(crate) use schema::Schema;
use statements::{Sql, Statements};

use super::migrate::{Migration, pending};
use super::{
    AtOnce, Credential, Database, OutstandingToken, Presented, RotatedToken, SessionRecord, Store,
    StoreError, TokenRecord, classify, key_digest,
};
use crate::core::metrics;
use crate::core::user::{User, UserId};

/// What one database does differently; everything else is shared.
#[async_trait]
pub(crate) trait Dialect: Send + Sync + Sized + 'static {
    type DB: Driver;
    /// restauth's schema steps, in this database's DDL.
    const MIGRATIONS: &'static [Migration];
    /// The steps of restauth's own tables beside a Django project's.
    #[cfg_attr(not(feature = "django-hashers"), allow(dead_code))]
    const DJANGO_MIGRATIONS: &'static [Migration];
    /// Opens a write transaction.
    const BEGIN_WRITE: &'static str;
    /// Run first in the migration transaction so concurrent starts apply each step once
    /// (`None` when `BEGIN_WRITE` already serialises writers).
    const LOCK_MIGRATIONS: Option<&'static str>;
    /// Moves the generator of user ids past the largest id, after users were inserted with
    /// their own ids (`None` when inserting an id already does, as SQLite's AUTOINCREMENT).
    const SYNC_USER_IDS: Option<&'static str>;
    /// One row when the table `$1` exists, none otherwise.
    const TABLE_EXISTS: &'static str;
    /// The names of the columns of the table `$1`, one a row.
    const COLUMNS: &'static str;
    /// The catalogue's description of a table's columns (`catalog::SQLITE_COLUMNS`, …).
    #[cfg_attr(not(feature = "django-hashers"), allow(dead_code))]
    const CATALOG: &'static str;

    /// Locks the row of `table` whose id is `$1` for the rest of the transaction, so that
    /// concurrent writers of what hangs off it see each other (`None` when `BEGIN_WRITE`
    /// already serialises writers).
    fn lock_row(table: &str) -> Option<String>;
    /// The SQL of a Django datetime column as Unix milliseconds (NULL stays NULL).
    fn millis(column: &str) -> String;
    /// The SQL of a Django datetime value from an expression of Unix milliseconds.
    fn datetime(millis: &str) -> String;

    /// A client-side bound on one operation, for a network that may swallow packets.
    fn deadline(&self) -> Option<Duration> {
        None
    }

    /// See [`Database::change_stamp`].
    fn change_stamp(&self) -> u64;
    /// See [`Database::announce_change`].
    async fn announce_change(&self) -> Result<(), StoreError>;

    /// See [`Database::additions_stamp`]; `None` where ids may commit out of order.
    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        let _ = kind;
        None
    }
    /// Moves [`Dialect::additions_stamp`]; called after a commit that stored credentials of
    /// `kind`.
    fn announce_additions(&self, kind: Credential) {
        let _ = kind;
    }

    /// See [`Database::at_once`]: the hot reads on the calling thread, where this database can
    /// answer them without waiting.
    fn at_once(store: &SqlStore<Self>) -> Option<&dyn AtOnce> {
        let _ = store;
        None
    }

    /// See [`Database::checkpoint`].
    async fn checkpoint(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// See [`Database::backup`].
    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        Err(StoreError::Other(format!(
            "cannot back up this store into {}: use the database's own tools (PostgreSQL: pg_dump)",
            path.display()
        )))
    }

    /// The statements that add (`install`) or remove triggers announcing Django's changes of
    /// a user (in `user_table`, whose `watched` columns matter to a cached user), a token or a session; `None` where the
    /// database has no change channel to announce them on.
    fn triggers(&self, install: bool, user_table: &str, watched: &[&str]) -> Option<Vec<String>> {
        let _ = (install, user_table, watched);
        None
    }
}

/// The store over one SQL database.
pub(crate) struct SqlStore<D: Dialect> {
    /// Where reads go (SQLite: a read-only pool).
    pub(crate) reader: Pool<D::DB>,
    /// Where writes go (SQLite: a single connection).
    pub(crate) writer: Pool<D::DB>,
    pub(crate) dialect: D,
    pub(crate) schema: Schema,
    pub(crate) sql: Statements,
    /// The statements of groups and permissions, once the tables were looked for (a Django
    /// user model may have none).
    pub(crate) permissions: tokio::sync::OnceCell<Option<permissions::PermissionSql>>,
}

/// The statement `sql`, to bind parameters to.
pub(crate) fn stmt<DB: Driver>(sql: &Sql) -> Query<DB> {
    sqlx::query(AssertSqlSafe(sql.clone()))
}

/// What a store over Django's tables needs that a caller gave only the digest of.
fn needs_key(what: &str) -> StoreError {
    StoreError::Other(format!(
        "{what}: Django's tables keep the key itself, so the store needs it (not only its digest)"
    ))
}

impl<D: Dialect> SqlStore<D> {
    /// A store over restauth's own schema.
    pub(crate) fn new(reader: Pool<D::DB>, writer: Pool<D::DB>, dialect: D) -> Self {
        let schema = Schema::restauth::<D>();
        SqlStore {
            reader,
            writer,
            dialect,
            sql: Statements::new::<D>(&schema),
            schema,
            permissions: tokio::sync::OnceCell::new(),
        }
    }

    /// Runs the operation `name` (its statements all run within it), bounded by the
    /// dialect's deadline and timed as `restauth_store_query_duration_seconds{operation}`:
    /// every operation of the store is timed here, once, whichever schema it works on.
    pub(crate) async fn op<T>(
        &self,
        name: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let bounded = async {
            match self.dialect.deadline() {
                None => work.await,
                Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
                    Err(StoreError::Unavailable(
                        "database did not answer in time".into(),
                    ))
                }),
            }
        };
        metrics::store_operation(name, bounded).await
    }

    /// [`SqlStore::op`] without the deadline, for an operation as long as its input.
    pub(crate) async fn long_op<T>(
        &self,
        name: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        metrics::store_operation(name, work).await
    }

    pub(crate) async fn begin_write(&self) -> Result<Tx<D::DB>, StoreError> {
        self.writer
            .begin_with(D::BEGIN_WRITE)
            .await
            .map_err(classify)
    }

    /// One write; how many rows it touched.
    pub(crate) async fn exec(on: On<'_, D::DB>, q: Query<D::DB>) -> Result<u64, StoreError> {
        D::DB::execute(q, on).await.map_err(classify)
    }

    pub(crate) async fn row(
        on: On<'_, D::DB>,
        q: Query<D::DB>,
    ) -> Result<Option<Row<D::DB>>, StoreError> {
        let row = D::DB::fetch_optional(q, on).await.map_err(classify)?;
        Ok(row.map(Row))
    }

    pub(crate) async fn rows(
        on: On<'_, D::DB>,
        q: Query<D::DB>,
    ) -> Result<Vec<Row<D::DB>>, StoreError> {
        let rows = D::DB::fetch_all(q, on).await.map_err(classify)?;
        Ok(rows.into_iter().map(Row).collect())
    }

    /// One write statement on its own.
    pub(crate) async fn write(&self, q: Query<D::DB>) -> Result<u64, StoreError> {
        Self::exec(On::Pool(&self.writer), q).await
    }

    /// One statement in a transaction; how many rows it touched.
    pub(crate) async fn write_in(tx: &mut Tx<D::DB>, q: Query<D::DB>) -> Result<u64, StoreError> {
        Self::exec(On::Tx(tx), q).await
    }

    /// Each of `statements`, with the same parameters `bind` binds, in `tx`; how many rows
    /// each touched.
    pub(crate) async fn write_each_in(
        tx: &mut Tx<D::DB>,
        statements: &[Sql],
        bind: impl Fn(Query<D::DB>) -> Query<D::DB>,
    ) -> Result<Vec<u64>, StoreError> {
        let mut touched = Vec::with_capacity(statements.len());
        for sql in statements {
            touched.push(Self::write_in(tx, bind(stmt(sql))).await?);
        }
        Ok(touched)
    }

    /// [`SqlStore::write_each_in`] in a transaction of its own (none for a single statement).
    pub(crate) async fn write_each(
        &self,
        statements: &[Sql],
        bind: impl Fn(Query<D::DB>) -> Query<D::DB>,
    ) -> Result<Vec<u64>, StoreError> {
        if let [sql] = statements {
            return Ok(vec![self.write(bind(stmt(sql))).await?]);
        }
        let mut tx = self.begin_write().await?;
        let touched = Self::write_each_in(&mut tx, statements, bind).await?;
        tx.commit().await.map_err(classify)?;
        Ok(touched)
    }

    pub(crate) async fn read_row(&self, q: Query<D::DB>) -> Result<Option<Row<D::DB>>, StoreError> {
        Self::row(On::Pool(&self.reader), q).await
    }

    pub(crate) async fn read_rows(&self, q: Query<D::DB>) -> Result<Vec<Row<D::DB>>, StoreError> {
        Self::rows(On::Pool(&self.reader), q).await
    }

    /// A read through the writer, which sees what was just written.
    pub(crate) async fn read_written(
        &self,
        q: Query<D::DB>,
    ) -> Result<Option<Row<D::DB>>, StoreError> {
        Self::row(On::Pool(&self.writer), q).await
    }

    /// The key of a presented credential in a table that keeps keys (`keys` lists them): the
    /// one presented, or else the one whose digest was (every key is read); `None` if no row
    /// has it. An empty key where the table keeps digests.
    pub(crate) async fn key_of<'p>(
        on: On<'_, D::DB>,
        presented: Presented<'p>,
        keys: Option<&Sql>,
    ) -> Result<Option<Cow<'p, str>>, StoreError> {
        let Some(keys) = keys else {
            return Ok(Some(Cow::Borrowed("")));
        };
        if let Some(key) = presented.key {
            return Ok(Some(Cow::Borrowed(key)));
        }
        for row in Self::rows(on, stmt(keys)).await? {
            let key: String = row.get(0)?;
            if key_digest(&key) == presented.digest {
                return Ok(Some(Cow::Owned(key)));
            }
        }
        Ok(None)
    }

    pub(crate) fn user(row: &Row<D::DB>) -> Result<User, StoreError> {
        let mut user = user_from_row!(row.get);
        // A Django model's extra columns, selected as `x_<kind>_<column>` (`Users::select`).
        let mut extra = std::collections::BTreeMap::new();
        for alias in row.column_names() {
            if let Some((kind, column)) = schema::ExtraKind::from_alias(alias) {
                let text: Option<String> = row.get(alias)?;
                extra.insert(column.to_owned(), kind.value(text));
            }
        }
        user.extra = crate::core::user::ExtraColumns::new(extra);
        Ok(user)
    }

    /// A token from a row of the token lookup, its digest computed where the table keeps
    /// the key itself.
    pub(crate) fn token(&self, row: &Row<D::DB>) -> Result<TokenRecord, StoreError> {
        let mut token = token_from_row!(row.get);
        if self.schema.tokens.keeps_keys {
            token.digest = key_digest(&token.digest);
        }
        if self.schema.uuid_keys() {
            token.id = token_id_of(token.user_id);
        }
        Ok(token)
    }

    pub(crate) fn session(row: &Row<D::DB>) -> Result<SessionRecord, StoreError> {
        Ok(session_from_row!(row.get))
    }

    /// A rotated token from a row of the rotation lookup.
    pub(crate) fn rotated(row: &Row<D::DB>) -> Result<RotatedToken, StoreError> {
        let successor = match (
            row.get::<Option<String>>("s_jti")?,
            row.get::<Option<UserId>>("s_user_id")?,
        ) {
            (Some(jti), Some(user_id)) => Some(OutstandingToken {
                jti,
                user_id,
                family: row.get("s_family")?,
                created_at: row.get::<Option<i64>>("s_created_at")?.unwrap_or(0),
                expires_at: row.get("s_expires_at")?,
            }),
            _ => None,
        };
        Ok(RotatedToken {
            family: row.get("family")?,
            rotated_at: row.get("rotated_at")?,
            successor,
        })
    }

    /// Moves the stamp of `kind`'s additions, where every row is restauth's.
    pub(crate) fn added(&self, kind: Credential) {
        if self.schema.own() {
            self.dialect.announce_additions(kind);
        }
    }
}

/// The id of DRF's one token of a user, which its table names by the user's key: the integer
/// itself, or for a UUID a positive number made of its first 63 bits (what a user's list of
/// devices shows; any operation on it names the user too).
pub(crate) fn token_id_of(user_id: UserId) -> i64 {
    match user_id {
        UserId::Int(n) => n,
        UserId::Uuid(u) => {
            let mut first = [0u8; 8];
            first.copy_from_slice(&u.0[..8]);
            (i64::from_be_bytes(first) & i64::MAX).max(1)
        }
    }
}

/// A [`User`] from a row of the user columns, through the row's fallible getter by column
/// name (`row.get` of the store's rows, or of rusqlite's): one list of columns for both.
macro_rules! user_from_row {
    ($row:ident . $get:ident) => {
        User {
            id: {
                let key: $crate::store::sql::UserKey = $row.$get("id")?;
                key.0
            },
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
            cut_off_cause: {
                let code: i64 = $row.$get("cut_off_cause")?;
                $crate::core::user::CutOffCause::from_code(code)
            },
            deactivated_by_admin: $row.$get("deactivated_by_admin")?,
            permissions: Default::default(),
            extra: Default::default(),
        }
    };
}
pub(crate) use user_from_row;

/// A [`TokenRecord`] from a row of the token lookup, as [`user_from_row!`]; `digest` holds what
/// names the token in its table.
macro_rules! token_from_row {
    ($row:ident . $get:ident) => {
        TokenRecord {
            id: $row.$get("t_id")?,
            digest: $row.$get("t_name")?,
            user_id: {
                let key: $crate::store::sql::UserKey = $row.$get("t_user_id")?;
                key.0
            },
            created: $row.$get("t_created")?,
            last_used: $row.$get("t_last_used")?,
            expires: $row.$get("t_expires")?,
        }
    };
}
pub(crate) use token_from_row;

/// A [`SessionRecord`] from a row of the session lookup, as [`user_from_row!`].
macro_rules! session_from_row {
    ($row:ident . $get:ident) => {
        SessionRecord {
            digest: $row.$get("s_digest")?,
            user_id: {
                let key: $crate::store::sql::UserKey = $row.$get("s_user_id")?;
                key.0
            },
            auth_hash: $row.$get("s_auth_hash")?,
            created: $row.$get("s_created")?,
            last_seen: $row.$get("s_last_seen")?,
            expires: $row.$get("s_expires")?,
        }
    };
}
pub(crate) use session_from_row;

#[async_trait]
impl<D: Dialect> Database for SqlStore<D> {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.op("migrate", async {
            let mut missing = Vec::new();
            for table in &self.schema.required {
                let exists = sqlx::query(D::TABLE_EXISTS).arg(table.as_str());
                if self.read_row(exists).await?.is_none() {
                    missing.push(table.as_str());
                }
            }
            if !missing.is_empty() {
                return Err(StoreError::Other(format!(
                    "schema_flavor = \"django\": Django's tables {} are missing from this \
                     database; run Django's `python manage.py migrate` first (with \
                     rest_framework.authtoken and rest_framework_simplejwt.token_blacklist \
                     installed)",
                    missing.join(", ")
                )));
            }
            let mut tx = self.begin_write().await?;
            if let Some(lock) = D::LOCK_MIGRATIONS {
                Self::write_in(&mut tx, sqlx::query(lock)).await?;
            }
            D::DB::script(self.sql.create_migrations.to_string(), &mut tx)
                .await
                .map_err(classify)?;
            let applied = Self::rows(On::Tx(&mut tx), stmt(&self.sql.applied_migrations))
                .await?
                .iter()
                .map(|r| r.get::<i64>(0))
                .collect::<Result<Vec<_>, _>>()?;
            for m in pending(self.schema.steps, &applied) {
                D::DB::script(m.sql.to_owned(), &mut tx)
                    .await
                    .map_err(classify)?;
                let q = stmt(&self.sql.record_migration)
                    .arg(m.version)
                    .arg(m.name)
                    .arg(crate::core::clock::now());
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
        self.op("announce_change", self.dialect.announce_change())
            .await
    }

    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        // Over Django's tables Django adds rows too, without moving it.
        if !self.schema.own() {
            return None;
        }
        self.dialect.additions_stamp(kind)
    }

    async fn digests_after(
        &self,
        kind: Credential,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let (name, sql) = match kind {
            Credential::Token => ("token_digests_after", &self.sql.token_digests),
            Credential::Session => ("session_digests_after", &self.sql.session_digests),
        };
        let Some(sql) = sql else {
            return Ok(Vec::new());
        };
        self.op(name, async {
            let q = stmt(sql).arg(after_id).arg(i64::from(limit));
            self.read_rows(q)
                .await?
                .iter()
                .map(|r| Ok((r.get(0)?, r.get(1)?)))
                .collect()
        })
        .await
    }

    fn at_once(&self) -> Option<&dyn AtOnce> {
        // The reads at once are restauth's own lookups.
        if !self.schema.own() {
            return None;
        }
        D::at_once(self)
    }

    async fn probe(&self) -> Result<(), StoreError> {
        // A no-op UPDATE still writes (a WAL page, a row version) and commits, so a locked,
        // read-only or full database fails it; the subquery reads.
        self.op("probe", async {
            let mut tx = self.begin_write().await?;
            Self::write_in(&mut tx, stmt(&self.sql.probe)).await?;
            tx.commit().await.map_err(classify)
        })
        .await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        self.op("checkpoint", self.dialect.checkpoint()).await
    }

    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        self.op("backup", self.dialect.backup(path)).await
    }

    async fn close(&self) {
        // Writer last: closing SQLite's final connection folds the write-ahead log in.
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn django_triggers(&self, install: bool) -> Result<(), StoreError> {
        if self.schema.own() {
            return Err(StoreError::Other(
                "Django triggers need schema_flavor = \"django\" on PostgreSQL".into(),
            ));
        }
        let users = &self.schema.users;
        // The columns whose change a cached user must not outlive, where the model has them.
        let mut watched: Vec<&str> = Vec::new();
        for c in [
            &users.password,
            &users.is_active,
            &users.is_staff,
            &users.is_superuser,
            &users.username,
        ] {
            if c.exists() && !watched.contains(&c.name.as_str()) {
                watched.push(&c.name);
            }
        }
        let Some(statements) = self.dialect.triggers(install, &users.table, &watched) else {
            return Err(StoreError::Other(
                "Django triggers need PostgreSQL (its NOTIFY); on SQLite restauth re-reads \
                 Django's rows after database.django_reread_after"
                    .into(),
            ));
        };
        self.op("django_triggers", async {
            let mut tx = self.begin_write().await?;
            for sql in statements {
                D::DB::script(sql, &mut tx).await.map_err(classify)?;
            }
            tx.commit().await.map_err(classify)
        })
        .await
    }
}

impl<D: Dialect> Store for SqlStore<D> {}

// Only the Django schema puts the store over other tables.
#[cfg(feature = "django-hashers")]
impl<D: Dialect> SqlStore<D> {
    /// The same database, with the tables of `schema`.
    pub(crate) fn over(self, schema: schema::Schema) -> Self {
        SqlStore {
            sql: statements::Statements::new::<D>(&schema),
            schema,
            permissions: tokio::sync::OnceCell::new(),
            ..self
        }
    }

    /// The same database, with a Django project's tables: the user model's as the database's
    /// catalogue describes `django.user_table`, its sessions read and written through
    /// `sessions`. A table restauth cannot map is refused here, naming the setting to fix.
    pub(crate) async fn over_django(
        self,
        django: &crate::core::settings::DjangoSettings,
        sessions: crate::store::django::DjangoSessions,
    ) -> Result<Self, StoreError> {
        let columns = self.catalog(&django.user_table).await?;
        let model = crate::store::catalog::UserModel::map(columns, django)
            .and_then(|model| model.check_defaults().map(|()| model))
            .map_err(StoreError::Other)?;
        let users = schema::Users::django(&model);
        let mut schema = schema::Schema::django::<D>(users, sessions);
        schema.key_users_by(match model.key_type {
            crate::store::catalog::KeyType::Integer => crate::core::user_id::UserIdKind::Int,
            crate::store::catalog::KeyType::Uuid => crate::core::user_id::UserIdKind::Uuid,
        });
        Ok(self.over(schema))
    }
}

impl<D: Dialect> SqlStore<D> {
    /// The columns of `table` as the database's catalogue describes them (none: no such
    /// table).
    #[cfg_attr(not(feature = "django-hashers"), allow(dead_code))]
    pub(crate) async fn catalog(
        &self,
        table: &str,
    ) -> Result<Vec<crate::store::catalog::TableColumn>, StoreError> {
        let rows = self.read_rows(sqlx::query(D::CATALOG).arg(table)).await?;
        rows.iter()
            .map(|r| {
                Ok(crate::store::catalog::TableColumn {
                    name: r.get(0)?,
                    sql_type: r.get::<String>(1)?.to_lowercase(),
                    not_null: r.get(2)?,
                    has_default: r.get(3)?,
                    primary_key: r.get(4)?,
                    unique: r.get::<bool>(4)? || r.get::<bool>(5)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row, SqliteConnection};

    /// The shared statements rely on SQLite binding `$n` by number, reused `$1` included, and
    /// leaving a parameter no statement names unbound.
    #[tokio::test]
    async fn sqlite_binds_dollar_placeholders_by_number() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let row = sqlx::query("SELECT $2, $1, $1 + 1")
            .bind(10_i64)
            .bind("b")
            .bind(7_i64)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "b");
        assert_eq!(row.get::<i64, _>(1), 10);
        assert_eq!(row.get::<i64, _>(2), 11);
    }
}
