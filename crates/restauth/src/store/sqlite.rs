//! The embedded default: one SQLite file in WAL mode.
//!
//! Reads go through a pool; writes through a single connection, so this process never fights
//! itself for SQLite's one writer lock (other processes, like the management commands, wait on
//! `busy_timeout`). Commits are durable (`synchronous=FULL`).
//!
//! The change signal is a small stamp file beside the database, rewritten by whoever revokes
//! something; a `stat` of it on the hot path costs no database query.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::migrate::{CREATE_TABLE, PROBE, SQLITE, pending};
use super::rows;
use super::{
    NewToken, NewUser, OutstandingToken, RotatedToken, Rotation, SessionRecord, Store, StoreError,
    TokenRecord, classify,
};
use crate::settings::DatabaseSettings;
use crate::user::User;

macro_rules! user_columns {
    () => {
        "id, username, email, first_name, last_name, password, is_active, is_staff, \
         is_superuser, date_joined, last_login, valid_after"
    };
}

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    stamp: PathBuf,
}

impl SqliteStore {
    pub async fn open(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Other(format!("database.url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let in_memory = settings.url.contains(":memory:") || settings.url.contains("mode=memory");
        if !in_memory {
            create_private(options.get_filename())?;
        }
        let acquire = Duration::from_secs(settings.acquire_timeout.0);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire)
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(acquire)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(classify)?;
        if !in_memory {
            restrict_side_files(options.get_filename());
        }
        let stamp = stamp_path(options.get_filename());
        Ok(SqliteStore {
            reader,
            writer,
            stamp,
        })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        // IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks with
        // another process's writer.
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)
    }
}

/// Creates a missing database file readable by its owner only, before SQLite creates it with
/// the process umask (usually world-readable). SQLite gives the `-wal` and `-shm` files the
/// mode of the database file.
fn create_private(db: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if let Ok(meta) = std::fs::metadata(db)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %db.display(),
                    "the database file is readable by other users; chmod 600 it"
                );
            }
            Ok(())
        }
        Err(e) => Err(StoreError::Other(format!(
            "database.url: cannot create {}: {e}",
            db.display()
        ))),
    }
}

/// The `-wal` and `-shm` files, 0600 whatever umask or older version created them.
fn restrict_side_files(db: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600));
    }
}

fn stamp_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-stamp");
    PathBuf::from(name)
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(CREATE_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM restauth_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
        for m in pending(SQLITE, &applied) {
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            sqlx::query("INSERT INTO restauth_migrations (version, name, applied_at) VALUES (?, ?, unixepoch())")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // TRUNCATE copies every committed page into the database file and empties the WAL,
        // so the file alone holds all the data. Busy when another process is mid-read:
        // then the next checkpoint catches up.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.writer)
            .await
            .map_err(classify)?;
        if busy != 0 {
            return Err(StoreError::Unavailable(
                "checkpoint incomplete: the database is busy".into(),
            ));
        }
        Ok(())
    }

    async fn backup(&self, path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::OpenOptionsExt;
        // An empty file of our own, 0600, is what VACUUM INTO writes into; `create_new`
        // refuses to overwrite anything.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))?;
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Other(format!("{}: not UTF-8", path.display())))?;
        // One read transaction: a consistent copy while other connections keep writing.
        let copied = sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.writer)
            .await
            .map_err(classify)
            .and_then(|_| {
                std::fs::File::open(path)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| StoreError::Other(format!("{}: {e}", path.display())))
            });
        if copied.is_err() {
            let _ = std::fs::remove_file(path);
        }
        copied
    }

    fn change_stamp(&self) -> u64 {
        match std::fs::metadata(&self.stamp) {
            // A rewrite is a rename onto the path: a new inode and a new ctime each time.
            Ok(m) => m.ino() ^ (m.ctime_nsec() as u64) ^ ((m.ctime() as u64) << 30) ^ m.size(),
            Err(_) => 0,
        }
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        let stamp = self.stamp.clone();
        tokio::task::spawn_blocking(move || {
            let mut nonce = [0u8; 16];
            getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
            let tmp = stamp.with_extension("stamp-tmp");
            std::fs::write(&tmp, hex::encode(nonce)).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &stamp).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?
        .map_err(StoreError::Unavailable)
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        let row = sqlx::query(concat!(
            "INSERT INTO auth_user (username, email, first_name, last_name, password, is_active, \
             is_staff, is_superuser, date_joined) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
            user_columns!()
        ))
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(&user.password)
        .bind(user.is_active)
        .bind(user.is_staff)
        .bind(user.is_superuser)
        .bind(user.date_joined)
        .fetch_one(&self.writer)
        .await
        .map_err(classify)?;
        rows::user(&row).map_err(classify)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)?
        .map(|r| rows::user(&r))
        .transpose()
        .map_err(classify)
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM auth_user WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)?
        .map(|r| rows::user(&r))
        .transpose()
        .map_err(classify)
    }

    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query("UPDATE auth_user SET password = ?, valid_after = max(valid_after, coalesce(?, valid_after)) WHERE id = ?")
            .bind(hash)
            .bind(revoke_before)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
        if updated > 0 && revoke_before.is_some() {
            for sql in [
                "DELETE FROM authtoken_token WHERE user_id = ?",
                "DELETE FROM auth_session WHERE user_id = ?",
            ] {
                sqlx::query(sql)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(updated > 0)
    }

    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE auth_user SET password = ? WHERE id = ? AND password = ?")
            .bind(new_hash)
            .bind(user_id)
            .bind(old_hash)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE auth_user SET is_active = ? WHERE id = ?")
            .bind(active)
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE auth_user SET last_login = ? WHERE id = ?")
            .bind(at)
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE auth_user SET valid_after = max(valid_after, ?) WHERE id = ?")
                .bind(at)
                .bind(user_id)
                .execute(&self.writer)
                .await
                .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM auth_user WHERE id = ?")
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO authtoken_token (digest, user_id, created, expires) VALUES (?, ?, ?, ?) \
             RETURNING id, digest, user_id, created, last_used, expires",
        )
        .bind(&token.digest)
        .bind(token.user_id)
        .bind(token.created)
        .bind(token.expires)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        let record = rows::token(&row, "").map_err(classify)?;
        if let Some(limit) = token.limit_per_user {
            sqlx::query(
                "DELETE FROM authtoken_token WHERE user_id = ? AND id NOT IN \
                 (SELECT id FROM authtoken_token WHERE user_id = ? ORDER BY created DESC, id DESC LIMIT ?)",
            )
            .bind(token.user_id)
            .bind(token.user_id)
            .bind(i64::from(limit.max(1)))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(record)
    }

    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.id AS t_id, t.digest AS t_digest, t.user_id AS t_user_id, \
             t.created AS t_created, t.last_used AS t_last_used, t.expires AS t_expires, \
             u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, \
             u.is_staff, u.is_superuser, u.date_joined, u.last_login, u.valid_after \
             FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let token = rows::token(&r, "t_").map_err(classify)?;
                let user = rows::user(&r).map_err(classify)?;
                Ok(Some((token, user)))
            }
        }
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE authtoken_token SET last_used = ? WHERE id = ?")
            .bind(at)
            .bind(token_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM authtoken_token WHERE id = ?")
            .bind(token_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM authtoken_token WHERE user_id = ? AND id IS NOT coalesce(?, -1)",
        )
        .bind(user_id)
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(old) = replaces {
            sqlx::query("DELETE FROM auth_session WHERE digest = ?")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        sqlx::query(
            "INSERT INTO auth_session (digest, user_id, auth_hash, created, last_seen, expires) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.digest)
        .bind(session.user_id)
        .bind(&session.auth_hash)
        .bind(session.created)
        .bind(session.last_seen)
        .bind(session.expires)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let row = sqlx::query(
            "SELECT s.digest AS s_digest, s.user_id AS s_user_id, s.auth_hash AS s_auth_hash, \
             s.created AS s_created, s.last_seen AS s_last_seen, s.expires AS s_expires, \
             u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, \
             u.is_staff, u.is_superuser, u.date_joined, u.last_login, u.valid_after \
             FROM auth_session s JOIN auth_user u ON u.id = s.user_id WHERE s.digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)?;
        let Some(r) = row else {
            return Ok(None);
        };
        let session = rows::session(&r).map_err(classify)?;
        Ok(Some((session, rows::user(&r).map_err(classify)?)))
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE auth_session SET last_seen = max(last_seen, ?) WHERE digest = ?")
            .bind(at)
            .bind(digest)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM auth_session WHERE digest = ?")
            .bind(digest)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM auth_session WHERE user_id = ?")
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM auth_session WHERE expires <= ? OR last_seen < coalesce(?, last_seen)",
        )
        .bind(now)
        .bind(idle_before)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_blacklist_outstandingtoken (jti, user_id, family, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.jti)
        .bind(token.user_id)
        .bind(&token.family)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
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
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO token_blacklist_outstandingtoken (jti, user_id, family, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(&old.jti)
        .bind(old.user_id)
        .bind(&old.family)
        .bind(old.created_at)
        .bind(old.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        let claimed: Option<String> = sqlx::query_scalar(
            "UPDATE token_blacklist_outstandingtoken SET rotated_at = ?, successor = ? \
             WHERE jti = ? AND rotated_at IS NULL RETURNING family",
        )
        .bind(now_ms)
        .bind(&new.jti)
        .bind(&old.jti)
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let Some(family) = claimed else {
            let row = sqlx::query(rows::rotated_select!("?"))
                .bind(&old.jti)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
            let rotated = rows::rotated(&row).map_err(classify)?;
            tx.rollback().await.map_err(classify)?;
            return Ok(Rotation::Reused(rotated));
        };
        sqlx::query(
            "INSERT INTO token_blacklist_outstandingtoken (jti, user_id, family, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&new.jti)
        .bind(new.user_id)
        .bind(&family)
        .bind(new.created_at)
        .bind(new.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if blacklist_old {
            sqlx::query(
                "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
                 VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(&old.jti)
            .bind(now)
            .bind(old.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(Rotation::Rotated)
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
             VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(now)
        .bind(expires_at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM token_blacklist_blacklistedtoken WHERE jti = ?")
                .bind(jti)
                .fetch_optional(&self.reader)
                .await
                .map_err(classify)?;
        Ok(found.is_some())
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        let row = sqlx::query(rows::rotated_select!("?"))
            .bind(jti)
            .fetch_optional(&self.reader)
            .await
            .map_err(classify)?;
        row.map(|r| rows::rotated(&r)).transpose().map_err(classify)
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
             SELECT jti, ?, expires_at FROM token_blacklist_outstandingtoken WHERE family = ? \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(now)
        .bind(family)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected())
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut total = 0;
        for sql in [
            "DELETE FROM token_blacklist_blacklistedtoken WHERE expires_at <= ?",
            "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at <= ?",
        ] {
            total += sqlx::query(sql)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(total)
    }

    async fn probe(&self) -> Result<(), StoreError> {
        // A no-op UPDATE still writes a page to the WAL and commits, so a locked, read-only or
        // full database fails it; the subquery reads.
        let mut tx = self.begin_write().await?;
        sqlx::query(PROBE)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    async fn record_login_network(
        &self,
        user_id: i64,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO restauth_login_network (user_id, network, last_success) VALUES (?, ?, ?) \
             ON CONFLICT (user_id, network) \
             DO UPDATE SET last_success = max(last_success, excluded.last_success)",
        )
        .bind(user_id)
        .bind(network)
        .bind(at)
        .execute(&self.writer)
        .await
        .map_err(classify)?;
        Ok(())
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT n.last_success FROM restauth_login_network n \
             JOIN auth_user u ON u.id = n.user_id WHERE u.username = ? AND n.network = ?",
        )
        .bind(username)
        .bind(network)
        .fetch_optional(&self.reader)
        .await
        .map_err(classify)
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        // A name longer in bytes than in characters holds a non-ASCII character.
        sqlx::query_scalar(
            "SELECT username FROM auth_user \
             WHERE length(CAST(username AS BLOB)) <> length(username) ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(classify)
    }
}
