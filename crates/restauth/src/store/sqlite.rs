//! The embedded default: one SQLite file in WAL mode.
//!
//! Reads go through a pool; writes through a single connection, so this process never fights
//! itself for SQLite's one writer lock (other processes, like the management commands, wait on
//! `busy_timeout`). Commits are durable (`synchronous=FULL`).
//!
//! The change signal is a counter in a small file beside the database (`<db>-changes`), mapped
//! into the memory of every process that opens the store: whoever revokes something (the
//! server, a management command) increments it atomically, and the hot path reads it with one
//! atomic load — no system call, no query, and seen by every other process at once.
//!
//! The reads of a cache miss (a token, a session, a user by id) are answered on the calling
//! thread by an [`AtOnceReader`]: a point read of a few microseconds, against tens for the same
//! query sent to a pooled connection's thread. It never waits: a busy file sends the read back
//! to the pool.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::migrate::{DJANGO_SQLITE, Migration, SQLITE};
use super::sql::statements::SessionStatements;
use super::sql::{Dialect, SqlStore, UserKey, session_from_row, token_from_row, user_from_row};
use super::{
    AtOnce, Credential, Found, Presented, SessionRecord, StoreError, TokenRecord, classify,
};
use crate::core::metrics;
use crate::core::settings::DatabaseSettings;
use crate::core::user::{User, UserId};

pub(crate) type SqliteStore = SqlStore<SqliteDialect>;

/// The counter file's size: the change counter, then the additions stamps of tokens and of
/// sessions. A shorter file, from before the later counters, is grown with zeros.
const COUNTER_BYTES: usize = 24;

/// What SQLite does its own way: the change counter, checkpoints and backups.
pub(crate) struct SqliteDialect {
    /// The writer pool's single connection, for `VACUUM INTO` and checkpoints.
    writer: SqlitePool,
    changes: ChangeCounter,
    /// `None` for an in-memory database, which only sqlx's connections can see.
    at_once: Option<AtOnceReader>,
}

/// Read-only connections used on the calling thread, one at a time each, with no busy
/// timeout: in WAL mode a reader waits only for a checkpoint or a recovery, and then the read
/// goes to the pool (`None`) instead of blocking the async runtime.
struct AtOnceReader {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

/// Idle connections kept; more run at once only while more threads read at once.
const AT_ONCE_READERS_KEPT: usize = 8;

impl AtOnceReader {
    fn open(&self) -> Option<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened = rusqlite::Connection::open_with_flags(&self.path, flags).and_then(|c| {
            c.busy_timeout(Duration::ZERO)?;
            Ok(c)
        });
        opened
            .inspect_err(|e| tracing::debug!(error = %e, "no reader on the calling thread"))
            .ok()
    }

    /// The row `sql` finds for `param`, mapped by `map`.
    fn read<T>(
        &self,
        sql: &str,
        param: impl rusqlite::ToSql,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Found<T>> {
        let idle = self.idle.lock().ok()?.pop();
        let conn = idle.or_else(|| self.open())?;
        let result = conn
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row([param], map))
            .optional();
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < AT_ONCE_READERS_KEPT
        {
            idle.push(conn);
        }
        match result {
            Ok(found) => Some(Ok(found)),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                None
            }
            Err(e) => Some(Err(StoreError::Other(e.to_string()))),
        }
    }
}

/// Three `u64`s shared by every process that maps the same file: the change signal, then the
/// stamps of token and session additions.
struct ChangeCounter {
    map: memmap2::MmapMut,
}

impl ChangeCounter {
    /// Maps the counter file beside `db` (created 0600), or anonymous memory for an in-memory
    /// database, which no other process can open anyway.
    fn open(db: Option<&Path>) -> Result<Self, StoreError> {
        let Some(db) = db else {
            let map = memmap2::MmapMut::map_anon(COUNTER_BYTES)
                .map_err(|e| StoreError::Other(format!("change counter: {e}")))?;
            return Ok(ChangeCounter { map });
        };
        use std::os::unix::fs::OpenOptionsExt;
        let mut name = db.as_os_str().to_owned();
        name.push("-changes");
        let path = Path::new(&name);
        let fail = |e: std::io::Error| {
            StoreError::Other(format!("database.url: cannot open {}: {e}", path.display()))
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
        let len = COUNTER_BYTES as u64;
        if file.metadata().map_err(fail)?.len() < len {
            // Growing with zeros is harmless if another process does it at the same time.
            file.set_len(len).map_err(fail)?;
        }
        // SAFETY: the file is ours (0600) and at least COUNTER_BYTES long; it is never
        // truncated, and every process reads and writes it only through the atomics below.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .len(COUNTER_BYTES)
                .map_mut(&file)
        }
        .map_err(fail)?;
        Ok(ChangeCounter { map })
    }

    fn cell(&self) -> &AtomicU64 {
        self.at(0)
    }

    fn additions(&self, kind: Credential) -> &AtomicU64 {
        match kind {
            Credential::Token => self.at(1),
            Credential::Session => self.at(2),
        }
    }

    fn at(&self, index: usize) -> &AtomicU64 {
        debug_assert!(index < COUNTER_BYTES / 8);
        // SAFETY: a mapping starts on a page boundary, so every 8-byte slot is aligned for a
        // u64; the map is COUNTER_BYTES long and lives as long as `self`. Other processes
        // change it, but only atomically, which is what `AtomicU64` expects of shared memory.
        unsafe { &*self.map.as_ptr().cast::<AtomicU64>().add(index) }
    }
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
        let changes = ChangeCounter::open((!in_memory).then(|| options.get_filename()))?;
        let at_once = (!in_memory).then(|| AtOnceReader {
            path: options.get_filename().to_owned(),
            idle: Default::default(),
        });
        let dialect = SqliteDialect {
            writer: writer.clone(),
            changes,
            at_once,
        };
        Ok(SqlStore::new(reader, writer, dialect))
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

#[async_trait]
impl Dialect for SqliteDialect {
    type DB = Sqlite;
    const MIGRATIONS: &'static [Migration] = SQLITE;
    const DJANGO_MIGRATIONS: &'static [Migration] = DJANGO_SQLITE;
    // IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks with
    // another process's writer; it also serialises migrations and token evictions.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_MIGRATIONS: Option<&'static str> = None;
    // AUTOINCREMENT remembers the largest id ever inserted, explicit ones included.
    const SYNC_USER_IDS: Option<&'static str> = None;
    const TABLE_EXISTS: &'static str =
        "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = $1";
    const CATALOG: &'static str = crate::store::catalog::SQLITE_COLUMNS;
    const COLUMNS: &'static str = "SELECT name FROM pragma_table_info($1)";

    fn lock_row(_table: &str) -> Option<String> {
        None
    }

    fn millis(column: &str) -> String {
        // Django writes `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC.
        format!("CAST(ROUND((julianday({column}) - 2440587.5) * 86400000.0) AS BIGINT)")
    }

    fn datetime(millis: &str) -> String {
        // `YYYY-MM-DD HH:MM:SS.SSS`, which Django's parse_datetime reads back.
        format!("strftime('%Y-%m-%d %H:%M:%f', ({millis}) / 1000.0, 'unixepoch')")
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
        self.changes.cell().load(Ordering::Acquire)
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        self.changes.cell().fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    // One writer at a time: AUTOINCREMENT ids are given in commit order, as the index needs.
    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        Some(self.changes.additions(kind).load(Ordering::Acquire))
    }

    fn announce_additions(&self, kind: Credential) {
        self.changes.additions(kind).fetch_add(1, Ordering::AcqRel);
    }

    fn at_once(store: &SqliteStore) -> Option<&dyn AtOnce> {
        store.dialect.at_once.as_ref()?;
        Some(store)
    }
}

/// A user's key as SQLite holds it: an integer, or the 32 hex digits of a UUID (Django's
/// `char(32)`).
impl rusqlite::ToSql for UserKey {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match &self.0 {
            UserId::Int(n) => rusqlite::types::ToSqlOutput::from(*n),
            UserId::Uuid(u) => rusqlite::types::ToSqlOutput::from(u.simple()),
        })
    }
}

impl rusqlite::types::FromSql for UserKey {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value {
            rusqlite::types::ValueRef::Integer(n) => Ok(UserKey(UserId::Int(n))),
            rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(UserId::parse)
                .map(UserKey)
                .ok_or(rusqlite::types::FromSqlError::InvalidType),
            _ => Err(rusqlite::types::FromSqlError::InvalidType),
        }
    }
}

// The awaited lookups' own statements and columns, read through rusqlite (restauth's schema:
// `Database::at_once` offers these only over it).
impl AtOnce for SqliteStore {
    fn user_by_id(&self, id: UserId) -> Option<Found<User>> {
        let read = |row: &rusqlite::Row<'_>| Ok(user_from_row!(row.get));
        let reader = self.dialect.at_once.as_ref()?;
        metrics::store_operation_at_once("user_by_id", || {
            reader.read(&self.sql.users.by_id, UserKey(id), read)
        })
    }

    fn token_by_digest(&self, token: Presented<'_>) -> Option<Found<(TokenRecord, User)>> {
        let read =
            |row: &rusqlite::Row<'_>| Ok((token_from_row!(row.get), user_from_row!(row.get)));
        let reader = self.dialect.at_once.as_ref()?;
        metrics::store_operation_at_once("token_by_digest", || {
            reader.read(&self.sql.tokens.by_name, token.digest, read)
        })
    }

    fn session_by_digest(&self, session: Presented<'_>) -> Option<Found<(SessionRecord, User)>> {
        let SessionStatements::Rows { by_digest, .. } = &self.sql.sessions else {
            return None;
        };
        let read =
            |row: &rusqlite::Row<'_>| Ok((session_from_row!(row.get), user_from_row!(row.get)));
        let reader = self.dialect.at_once.as_ref()?;
        metrics::store_operation_at_once("session_by_digest", || {
            reader.read(by_digest, session.digest, read)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Database, SessionStore, TokenStore, UserStore};

    /// A database file in `dir`.
    fn settings_in(dir: &Path) -> DatabaseSettings {
        DatabaseSettings {
            url: format!("sqlite://{}", dir.join("restauth.db").display()),
            ..DatabaseSettings::default()
        }
    }

    /// Two opens of one file stand for two processes: each maps the counter file on its own.
    #[tokio::test]
    async fn a_change_announced_by_one_opener_is_seen_by_another_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let server = SqliteStore::open(&settings).await.unwrap();
        let command = SqliteStore::open(&settings).await.unwrap();
        let before = server.change_stamp();
        command.announce_change().await.unwrap();
        assert_ne!(server.change_stamp(), before);
        assert_eq!(server.change_stamp(), command.change_stamp());
        let mode = std::fs::metadata(dir.path().join("restauth.db-changes"))
            .unwrap()
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    /// A cache miss on SQLite is answered on the calling thread: the same rows as the awaited
    /// queries, for every lookup a request makes; an in-memory database sends it to the pool.
    #[tokio::test]
    async fn reads_at_once_find_what_the_awaited_queries_find() {
        use crate::store::{NewSession, NewToken, NewUser, Presented};
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let store = SqliteStore::open(&settings).await.unwrap();
        store.migrate().await.unwrap();
        let user = store
            .create_user(&NewUser {
                username: "alice".into(),
                email: "alice@example.com".into(),
                first_name: "Alice".into(),
                last_name: String::new(),
                password: "!".into(),
                is_active: true,
                is_staff: true,
                is_superuser: false,
                date_joined: 7,
            })
            .await
            .unwrap();
        store
            .insert_token(&NewToken {
                digest: "d1".into(),
                user_id: user.id,
                created: 5,
                expires: Some(9),
                limit_per_user: None,
                ..NewToken::default()
            })
            .await
            .unwrap();
        let session = SessionRecord {
            digest: "s1".into(),
            user_id: user.id,
            auth_hash: "h".into(),
            created: 3,
            last_seen: 4,
            expires: 10,
        };
        let stored = NewSession {
            key: String::new(),
            record: session.clone(),
            origin: Default::default(),
        };
        store.insert_session(&stored, None).await.unwrap();

        fn now<T>(found: Option<Found<T>>) -> Option<T> {
            found.expect("answered at once").unwrap()
        }
        let at_once = store.at_once().expect("a file is read at once");
        let token = now(at_once.token_by_digest(Presented::by_digest("d1")));
        assert_eq!(
            token,
            TokenStore::token_by_digest(&store, Presented::by_digest("d1"))
                .await
                .unwrap()
        );
        assert_eq!(
            token.map(|(t, u)| (t.expires, u.email)),
            Some((Some(9), user.email.clone()))
        );
        assert_eq!(
            now(at_once.token_by_digest(Presented::by_digest("d2"))),
            None
        );
        let found = now(at_once.session_by_digest(Presented::by_digest("s1")));
        assert_eq!(
            found,
            SessionStore::session_by_digest(&store, Presented::by_digest("s1"))
                .await
                .unwrap()
        );
        assert_eq!(found.map(|(s, _)| s), Some(session));
        assert_eq!(now(at_once.user_by_id(user.id)), Some(user.clone()));
        assert_eq!(
            now(at_once.user_by_id(UserId::Int(user.id.as_int().unwrap() + 1))),
            None
        );

        let memory = SqliteStore::open(&DatabaseSettings {
            url: "sqlite::memory:".into(),
            ..DatabaseSettings::default()
        })
        .await
        .unwrap();
        assert!(memory.at_once().is_none());
    }

    /// A file another connection holds exclusively is not waited for on the calling thread:
    /// the read goes back to the pool (which waits on `busy_timeout`), and once the file is
    /// free the next read is answered at once again.
    #[test]
    fn a_busy_file_sends_the_read_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("restauth.db");
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY); \
                 INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let reader = AtOnceReader {
            path,
            idle: Default::default(),
        };
        let read = || {
            reader.read("SELECT id FROM t WHERE id = $1", 1, |row| {
                row.get::<_, i64>(0)
            })
        };

        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .unwrap();
        let started = std::time::Instant::now();
        assert!(read().is_none());
        assert!(started.elapsed() < Duration::from_secs(1), "it waited");
        holder.execute_batch("COMMIT;").unwrap();
        drop(holder);
        // The same connection, kept: nothing of the busy read stuck to it.
        assert_eq!(reader.idle.lock().unwrap().len(), 1);
        assert!(matches!(read(), Some(Ok(Some(1)))));
    }
}
