//! PostgreSQL, for several server processes acting as one.
//!
//! Every process keeps its own pool. Writes that SQLite does in one transaction are one
//! transaction here too; a token insert locks its user's row first, so two concurrent logins of
//! one user cannot both keep `limit_per_user` tokens.
//!
//! The change signal is `LISTEN`/`NOTIFY` on one channel. A background task listens and bumps
//! a counter on every change announced for our schema;
//! [`Store::change_stamp`](super::Store::change_stamp) reads that counter without I/O. The listener's connection is proven alive by heartbeats (each process
//! notifies the channel every `HEARTBEAT`, 250 ms). When nothing has been heard for `LIVENESS` (750 ms) —
//! connection lost, network silently cut, database down — the stamp starts changing every
//! `ROLL` (100 ms), so caches stop serving anything older than that until the listener is back.
//! A cached entry is therefore never trusted more than `LIVENESS + ROLL` (< 1 s) after the last
//! moment this process could have learnt of a change.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::migrate::{DJANGO_POSTGRES, Migration, POSTGRES};
use super::sql::{Dialect, SqlStore};
use super::{StoreError, classify};
use crate::core::settings::DatabaseSettings;

/// The `NOTIFY` channel every restauth process listens on.
const CHANNEL: &str = "restauth_changes";
/// Payload of a heartbeat; any payload heard proves the listener's connection alive.
const BEAT: &str = "beat";
/// How often each process sends a heartbeat.
const HEARTBEAT: Duration = Duration::from_millis(250);
/// Silence after which the listener is presumed deaf and caches stop being trusted.
const LIVENESS: Duration = Duration::from_millis(750);
/// While deaf, the stamp changes this often, so no cache entry outlives it.
const ROLL: Duration = Duration::from_millis(100);
/// Silence after which the listener's connection is dropped and opened again.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// Test builds: the file named by this variable receives the count of changes this process
/// has heard, so a test waits for another process's change to arrive instead of sleeping.
#[cfg(feature = "test-clock")]
const CHANGES_FILE_VAR: &str = "RESTAUTH_TEST_CHANGES_FILE";

#[cfg(feature = "test-clock")]
fn changes_heard_for_tests(count: u64) {
    if let Some(path) = std::env::var_os(CHANGES_FILE_VAR) {
        // Written beside and renamed, so a reader never sees a half-written count.
        let mut part = std::path::PathBuf::from(&path);
        part.as_mut_os_string().push(".part");
        if std::fs::write(&part, count.to_string()).is_ok() {
            let _ = std::fs::rename(&part, &path);
        }
    }
}

/// What the listener task shares with the hot path.
struct Signal {
    epoch: Instant,
    /// Bumped on every change heard (or possibly missed).
    counter: AtomicU64,
    /// Milliseconds since `epoch` + 1 when something was last heard; 0 = never or deaf.
    heard: AtomicU64,
}

impl Signal {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn bump(&self) {
        let _count = self.counter.fetch_add(1, Ordering::AcqRel) + 1;
        #[cfg(feature = "test-clock")]
        changes_heard_for_tests(_count);
    }

    fn heard(&self) {
        self.heard
            .store(self.now_ms().saturating_add(1), Ordering::Release);
    }

    fn deafen(&self) {
        self.heard.store(0, Ordering::Release);
    }

    fn stamp(&self) -> u64 {
        let counter = self.counter.load(Ordering::Acquire);
        let heard = self.heard.load(Ordering::Acquire);
        let now = self.now_ms();
        let liveness = LIVENESS.as_millis() as u64;
        if heard == 0 || now.saturating_add(1).saturating_sub(heard) > liveness {
            // Deaf: a value that differs from every live stamp and moves every ROLL.
            (1 << 63) | (now / ROLL.as_millis() as u64)
        } else {
            counter & !(1 << 63)
        }
    }
}

pub(crate) type PostgresStore = SqlStore<PostgresDialect>;

/// What PostgreSQL does its own way: the `LISTEN`/`NOTIFY` change signal and the deadline.
pub(crate) struct PostgresDialect {
    /// The request pool, for `NOTIFY`.
    pool: PgPool,
    signal: Arc<Signal>,
    /// The payload announcing a change for this schema (processes on other schemas ignore it).
    change_payload: String,
    /// Client-side bound on one operation, should the network swallow packets silently.
    deadline: Duration,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for PostgresDialect {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts only plain lower-case identifiers, so the name needs no quoting anywhere and can
/// safely be spliced into the one statement that cannot take it as a parameter.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
        && !name.starts_with("pg_")
}

impl PostgresStore {
    pub async fn open(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(&settings.url).map_err(|e| {
            StoreError::Other(format!(
                "database.url: {e} in {}",
                super::redact_url(&settings.url)
            ))
        })?;
        options = options.application_name("restauth");
        if let Some(schema) = &settings.schema {
            if !valid_schema(schema) {
                return Err(StoreError::Other(format!(
                    "database.schema: {schema:?} is not a plain lower-case identifier \
                     ([a-z_][a-z0-9_]*, at most 63 characters, not pg_*)"
                )));
            }
            // A startup parameter rather than a `SET` after connecting: it holds from the first
            // statement of every connection, listener included, and survives `RESET ALL`.
            options = options.options([("search_path", schema.as_str())]);
        }
        if settings.statement_timeout.0 > 0 {
            options = options.options([(
                "statement_timeout",
                format!("{}s", settings.statement_timeout.0),
            )]);
        }
        let acquire = Duration::from_secs(settings.acquire_timeout.0.max(1));
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(acquire)
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        if let Some(schema) = &settings.schema {
            create_schema(&pool, schema).await?;
        }
        // The listener and the heartbeat get their own two connections, so a saturated request
        // pool can neither delay the signal nor make it look dead.
        let signal_pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(acquire)
            .connect_lazy_with(options);
        let signal = Arc::new(Signal {
            epoch: Instant::now(),
            counter: AtomicU64::new(1),
            heard: AtomicU64::new(0),
        });
        let change_payload = format!("change:{}", settings.schema.as_deref().unwrap_or(""));
        let tasks = vec![
            tokio::spawn(listen(
                signal.clone(),
                signal_pool.clone(),
                change_payload.clone(),
            ))
            .abort_handle(),
            tokio::spawn(heartbeat(signal_pool)).abort_handle(),
        ];
        let dialect = PostgresDialect {
            pool: pool.clone(),
            signal,
            change_payload,
            deadline: acquire + Duration::from_secs(settings.statement_timeout.0.max(1)) * 2,
            tasks,
        };
        Ok(SqlStore::new(pool.clone(), pool, dialect))
    }
}

async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(pool)
            .await
            .map_err(classify)?;
    if exists {
        return Ok(());
    }
    // `valid_schema` admitted only [a-z0-9_], so the name cannot end the identifier or the
    // statement; DDL takes no bind parameters.
    let ddl = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    match sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(pool).await {
        Ok(_) => Ok(()),
        // Another process created it at the same moment.
        Err(e) => match classify(e) {
            StoreError::Conflict(_) => Ok(()),
            other => Err(other),
        },
    }
}

/// Listens for changes until the store is dropped, reconnecting with backoff.
async fn listen(signal: Arc<Signal>, pool: PgPool, change_payload: String) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match open_listener(&pool).await {
            Ok(mut listener) => {
                backoff = Duration::from_millis(50);
                // Changes announced while nobody listened are lost: assume there was one.
                signal.bump();
                signal.heard();
                loop {
                    match tokio::time::timeout(RECONNECT_AFTER, listener.try_recv()).await {
                        Ok(Ok(Some(n))) => {
                            signal.heard();
                            if n.payload() == change_payload {
                                signal.bump();
                            }
                        }
                        Ok(Ok(None)) => break,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "change listener failed");
                            break;
                        }
                        Err(_) => {
                            tracing::warn!("change listener heard nothing, reconnecting");
                            break;
                        }
                    }
                }
                signal.deafen();
                signal.bump();
            }
            Err(e) => {
                signal.deafen();
                tracing::debug!(error = %e, "change listener cannot connect");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

async fn open_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // We reconnect ourselves, so a lost connection is reported at once and counted as a miss.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Proves every listener's connection alive, ours included.
async fn heartbeat(pool: PgPool) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sent = tokio::time::timeout(
            HEARTBEAT * 2,
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(BEAT)
                .execute(&pool),
        )
        .await;
        if !matches!(sent, Ok(Ok(_))) {
            tracing::debug!("heartbeat not sent");
        }
    }
}

#[async_trait]
impl Dialect for PostgresDialect {
    type DB = Postgres;
    const MIGRATIONS: &'static [Migration] = POSTGRES;
    const DJANGO_MIGRATIONS: &'static [Migration] = DJANGO_POSTGRES;
    const BEGIN_WRITE: &'static str = "BEGIN";
    // Two processes starting together: the second waits here, then finds the steps applied.
    // The key is "restauth" in ASCII.
    const LOCK_MIGRATIONS: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(8243121636660049000)");
    // An identity column's sequence does not see ids inserted explicitly.
    const SYNC_USER_IDS: Option<&'static str> = Some(
        "SELECT setval(pg_get_serial_sequence('auth_user', 'id'), \
         (SELECT max(id) FROM auth_user))",
    );
    const TABLE_EXISTS: &'static str = "SELECT 1 WHERE to_regclass($1) IS NOT NULL";
    const COLUMNS: &'static str = "SELECT CAST(a.attname AS TEXT) FROM pg_attribute a \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped";
    const COLUMN_TYPE: &'static str = "SELECT format_type(a.atttypid, a.atttypmod) \
         FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2 \
         AND a.attnum > 0 AND NOT a.attisdropped";

    // Serialises one user's token inserts, as SQLite's single writer does, so the eviction
    // sees every other committed token of the user.
    fn lock_row(table: &str) -> Option<String> {
        Some(format!("SELECT 1 FROM {table} WHERE id = $1 FOR UPDATE"))
    }

    fn millis(column: &str) -> String {
        format!("CAST(FLOOR(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)")
    }

    fn datetime(millis: &str) -> String {
        format!("to_timestamp(CAST(({millis}) AS DOUBLE PRECISION) / 1000.0)")
    }

    /// The pool's acquire timeout and the server's `statement_timeout` normally answer first;
    /// this only catches a connection whose packets vanish without an error, so a request
    /// never hangs.
    fn deadline(&self) -> Option<Duration> {
        Some(self.deadline)
    }

    fn change_stamp(&self) -> u64 {
        self.signal.stamp()
    }

    fn triggers(&self, install: bool, user_table: &str, username: &str) -> Option<Vec<String>> {
        // Statement-level: one notification per statement however many rows it touches. Only
        // changes a cache could hide fire: new rows are never cached. The payload is the one
        // this schema's listeners wait for; it and the names are plain identifiers (checked
        // by the settings), so splicing them is safe.
        let payload = &self.change_payload;
        let tables = [
            (
                user_table.to_owned(),
                format!(
                    "UPDATE OF password, is_active, is_staff, is_superuser, {username} OR DELETE"
                ),
            ),
            (
                "authtoken_token".to_owned(),
                "UPDATE OR DELETE OR TRUNCATE".to_owned(),
            ),
            (
                "django_session".to_owned(),
                "UPDATE OR DELETE OR TRUNCATE".to_owned(),
            ),
        ];
        // Groups and permissions: a grant adds rows, so additions fire too. A user model
        // without them has no link tables: each is looked for first.
        let granting = "INSERT OR UPDATE OR DELETE OR TRUNCATE";
        let optional = [
            ("auth_permission".to_owned(), "UPDATE OR DELETE OR TRUNCATE"),
            ("auth_group_permissions".to_owned(), granting),
            (format!("{user_table}_groups"), granting),
            (format!("{user_table}_user_permissions"), granting),
        ];
        let mut statements: Vec<String> = tables
            .iter()
            .map(|(table, _)| format!("DROP TRIGGER IF EXISTS restauth_notify ON {table}"))
            .collect();
        statements.extend(optional.iter().map(|(table, events)| {
            let create = if install {
                format!(
                    "CREATE TRIGGER restauth_notify AFTER {events} ON {table} \
                     FOR EACH STATEMENT EXECUTE FUNCTION restauth_django_notify('{payload}');"
                )
            } else {
                String::new()
            };
            format!(
                "DO $do$ BEGIN IF to_regclass('{table}') IS NOT NULL THEN \
                 DROP TRIGGER IF EXISTS restauth_notify ON {table}; {create} END IF; END $do$"
            )
        }));
        if install {
            statements.insert(
                0,
                "CREATE OR REPLACE FUNCTION restauth_django_notify() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN \
                 PERFORM pg_notify('restauth_changes', TG_ARGV[0]); RETURN NULL; END $$"
                    .to_owned(),
            );
            statements.extend(tables.iter().map(|(table, events)| {
                format!(
                    "CREATE TRIGGER restauth_notify AFTER {events} ON {table} \
                     FOR EACH STATEMENT EXECUTE FUNCTION restauth_django_notify('{payload}')"
                )
            }));
        } else {
            statements.push("DROP FUNCTION IF EXISTS restauth_django_notify()".to_owned());
        }
        Some(statements)
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        // Our own caches need not wait for the round trip.
        self.signal.bump();
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&self.change_payload)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["restauth", "t_1", "_x"] {
            assert!(valid_schema(ok), "{ok}");
        }
        for bad in [
            "",
            "A",
            "1a",
            "a-b",
            "a;b",
            "a\"b",
            "pg_temp",
            &"a".repeat(64),
        ] {
            assert!(!valid_schema(bad), "{bad}");
        }
    }

    #[test]
    fn a_deaf_signal_rolls_and_a_live_one_follows_the_counter() {
        let s = Signal {
            epoch: Instant::now(),
            counter: AtomicU64::new(1),
            heard: AtomicU64::new(0),
        };
        let deaf = s.stamp();
        assert_ne!(deaf, 1);
        std::thread::sleep(ROLL + Duration::from_millis(10));
        assert_ne!(s.stamp(), deaf);
        s.heard();
        assert_eq!(s.stamp(), 1);
        s.bump();
        assert_eq!(s.stamp(), 2);
    }
}
