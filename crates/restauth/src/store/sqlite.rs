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
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};

use super::migrate::{Migration, SQLITE};
use super::sql::{Dialect, SqlStore};
use super::{StoreError, classify};
use crate::settings::DatabaseSettings;

pub(crate) type SqliteStore = SqlStore<SqliteDialect>;

/// What SQLite does its own way: the stamp file, checkpoints and backups.
pub(crate) struct SqliteDialect {
    /// The writer pool's single connection, for `VACUUM INTO` and checkpoints.
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
        Ok(SqlStore {
            reader,
            writer: writer.clone(),
            dialect: SqliteDialect { writer, stamp },
        })
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
impl Dialect for SqliteDialect {
    type DB = Sqlite;
    const MIGRATIONS: &'static [Migration] = SQLITE;
    // IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks with
    // another process's writer; it also serialises migrations and token evictions.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_MIGRATIONS: Option<&'static str> = None;
    const LOCK_USER: Option<&'static str> = None;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
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
            let tmp = stamp.with_extension("stamp-tmp");
            std::fs::write(&tmp, crate::random::hex::<16>()).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &stamp).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| StoreError::Other(e.to_string()))?
        .map_err(StoreError::Unavailable)
    }
}
