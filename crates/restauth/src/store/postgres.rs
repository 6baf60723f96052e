//! PostgreSQL, for several server processes acting as one.
//!
//! Every process keeps its own pool. Writes that SQLite does in one transaction are one
//! transaction here too; a token insert locks its user's row first, so two concurrent logins of
//! one user cannot both keep `limit_per_user` tokens.
//!
//! The change signal is `LISTEN`/`NOTIFY` on one channel. A background task listens and bumps
//! a counter on every change announced for our schema; [`Store::change_stamp`] reads that
//! counter without I/O. The listener's connection is proven alive by heartbeats (each process
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
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Transaction};

use super::migrate::{CREATE_TABLE, POSTGRES, PROBE, pending};
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
/// Key of the advisory lock that serialises migrations across processes.
const MIGRATION_LOCK: i64 = 0x7265_7374_6175_7468; // "restauth"

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
        self.counter.fetch_add(1, Ordering::AcqRel);
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

pub struct PostgresStore {
    pool: PgPool,
    signal: Arc<Signal>,
    /// The payload announcing a change for this schema (processes on other schemas ignore it).
    change_payload: String,
    /// Client-side bound on one operation, should the network swallow packets silently.
    deadline: Duration,
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for PostgresStore {
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
        Ok(PostgresStore {
            pool,
            signal,
            change_payload,
            deadline: acquire + Duration::from_secs(settings.statement_timeout.0.max(1)) * 2,
            tasks,
        })
    }

    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(classify)
    }

    /// Runs one operation under the client-side deadline. The pool's acquire timeout and the
    /// server's `statement_timeout` normally answer first; this only catches a connection whose
    /// packets vanish without an error, so a request never hangs.
    async fn bounded<T>(
        &self,
        op: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.deadline, op)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "database did not answer in time".into(),
                ))
            })
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

async fn migrate_in(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    // Two processes starting together: the second waits here, then finds the steps applied.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM restauth_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for m in pending(POSTGRES, &applied) {
        sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO restauth_migrations (version, name, applied_at) \
             VALUES ($1, $2, extract(epoch FROM now())::bigint)",
        )
        .bind(m.version)
        .bind(m.name)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.bounded(async {
            let mut tx = self.begin().await?;
            migrate_in(&mut tx).await.map_err(classify)?;
            tx.commit().await.map_err(classify)
        })
        .await
    }

    fn change_stamp(&self) -> u64 {
        self.signal.stamp()
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        // Our own caches need not wait for the round trip.
        self.signal.bump();
        self.bounded(async {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&self.change_payload)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        self.bounded(async {
            let row = sqlx::query(concat!(
                "INSERT INTO auth_user (username, email, first_name, last_name, password, \
                 is_active, is_staff, is_superuser, date_joined) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
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
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
            rows::user(&row).map_err(classify)
        })
        .await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.bounded(async {
            sqlx::query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM auth_user WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?
            .map(|r| rows::user(&r))
            .transpose()
            .map_err(classify)
        })
        .await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.bounded(async {
            sqlx::query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM auth_user WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?
            .map(|r| rows::user(&r))
            .transpose()
            .map_err(classify)
        })
        .await
    }

    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let mut tx = self.begin().await?;
            let updated = sqlx::query(
                "UPDATE auth_user SET password = $1, \
                 valid_after = GREATEST(valid_after, COALESCE($2, valid_after)) WHERE id = $3",
            )
            .bind(hash)
            .bind(revoke_before)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if updated > 0 && revoke_before.is_some() {
                for sql in [
                    "DELETE FROM authtoken_token WHERE user_id = $1",
                    "DELETE FROM auth_session WHERE user_id = $1",
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
        })
        .await
    }

    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let done =
                sqlx::query("UPDATE auth_user SET password = $1 WHERE id = $2 AND password = $3")
                    .bind(new_hash)
                    .bind(user_id)
                    .bind(old_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query("UPDATE auth_user SET is_active = $1 WHERE id = $2")
                .bind(active)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query("UPDATE auth_user SET last_login = $1 WHERE id = $2")
                .bind(at)
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query(
                "UPDATE auth_user SET valid_after = GREATEST(valid_after, $1) WHERE id = $2",
            )
            .bind(at)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query("DELETE FROM auth_user WHERE id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        self.bounded(async {
            let mut tx = self.begin().await?;
            if token.limit_per_user.is_some() {
                // Serialises this user's token inserts, as SQLite's single writer does, so the
                // eviction below sees every other committed token of the user.
                sqlx::query("SELECT 1 FROM auth_user WHERE id = $1 FOR UPDATE")
                    .bind(token.user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            let row = sqlx::query(
                "INSERT INTO authtoken_token (digest, user_id, created, expires) \
                 VALUES ($1, $2, $3, $4) \
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
                    "DELETE FROM authtoken_token WHERE user_id = $1 AND id NOT IN \
                     (SELECT id FROM authtoken_token WHERE user_id = $1 \
                      ORDER BY created DESC, id DESC LIMIT $2)",
                )
                .bind(token.user_id)
                .bind(i64::from(limit.max(1)))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            }
            tx.commit().await.map_err(classify)?;
            Ok(record)
        })
        .await
    }

    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        self.bounded(async {
            let row = sqlx::query(
                "SELECT t.id AS t_id, t.digest AS t_digest, t.user_id AS t_user_id, \
                 t.created AS t_created, t.last_used AS t_last_used, t.expires AS t_expires, \
                 u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, \
                 u.is_staff, u.is_superuser, u.date_joined, u.last_login, u.valid_after \
                 FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.digest = $1",
            )
            .bind(digest)
            .fetch_optional(&self.pool)
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
        })
        .await
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query("UPDATE authtoken_token SET last_used = $1 WHERE id = $2")
                .bind(at)
                .bind(token_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query("DELETE FROM authtoken_token WHERE id = $1")
                .bind(token_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        self.bounded(async {
            let done = sqlx::query(
                "DELETE FROM authtoken_token WHERE user_id = $1 \
                 AND ($2::BIGINT IS NULL OR id <> $2)",
            )
            .bind(user_id)
            .bind(keep)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        self.bounded(async {
            let mut tx = self.begin().await?;
            if let Some(old) = replaces {
                sqlx::query("DELETE FROM auth_session WHERE digest = $1")
                    .bind(old)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            sqlx::query(
                "INSERT INTO auth_session (digest, user_id, auth_hash, created, last_seen, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
        })
        .await
    }

    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        self.bounded(async {
            let row = sqlx::query(
                "SELECT s.digest AS s_digest, s.user_id AS s_user_id, s.auth_hash AS s_auth_hash, \
                 s.created AS s_created, s.last_seen AS s_last_seen, s.expires AS s_expires, \
                 u.id, u.username, u.email, u.first_name, u.last_name, u.password, u.is_active, \
                 u.is_staff, u.is_superuser, u.date_joined, u.last_login, u.valid_after \
                 FROM auth_session s JOIN auth_user u ON u.id = s.user_id WHERE s.digest = $1",
            )
            .bind(digest)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
            let Some(r) = row else {
                return Ok(None);
            };
            let session = rows::session(&r).map_err(classify)?;
            Ok(Some((session, rows::user(&r).map_err(classify)?)))
        })
        .await
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query(
                "UPDATE auth_session SET last_seen = GREATEST(last_seen, $1) WHERE digest = $2",
            )
            .bind(at)
            .bind(digest)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query("DELETE FROM auth_session WHERE digest = $1")
                .bind(digest)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        self.bounded(async {
            let done = sqlx::query("DELETE FROM auth_session WHERE user_id = $1")
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        self.bounded(async {
            let done = sqlx::query(
                "DELETE FROM auth_session WHERE expires <= $1 OR last_seen < COALESCE($2, last_seen)",
            )
            .bind(now)
            .bind(idle_before)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&token.jti)
            .bind(token.user_id)
            .bind(&token.family)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(())
        })
        .await
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
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(&old.jti)
            .bind(old.user_id)
            .bind(&old.family)
            .bind(old.created_at)
            .bind(old.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            // The row lock taken by this UPDATE serialises concurrent rotations of one token
            // across every server process: the losers see rotated_at set and get no row.
            // The losers then read the winner's successor: READ COMMITTED gives each statement
            // a fresh snapshot, taken after the winner committed.
            let claimed: Option<String> = sqlx::query_scalar(
                "UPDATE token_blacklist_outstandingtoken SET rotated_at = $1, successor = $2 \
                 WHERE jti = $3 AND rotated_at IS NULL RETURNING family",
            )
            .bind(now_ms)
            .bind(&new.jti)
            .bind(&old.jti)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let Some(family) = claimed else {
                let row = sqlx::query(rows::rotated_select!("$1"))
                    .bind(&old.jti)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(classify)?;
                let rotated = rows::rotated(&row).map_err(classify)?;
                tx.rollback().await.map_err(classify)?;
                return Ok(Rotation::Reused(rotated));
            };
            sqlx::query(
                "INSERT INTO token_blacklist_outstandingtoken \
                 (jti, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
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
                     VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
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
        })
        .await
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.bounded(async {
            let done = sqlx::query(
                "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        self.bounded(async {
            let found: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM token_blacklist_blacklistedtoken WHERE jti = $1")
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(classify)?;
            Ok(found.is_some())
        })
        .await
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        self.bounded(async {
            let row = sqlx::query(rows::rotated_select!("$1"))
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
            row.map(|r| rows::rotated(&r)).transpose().map_err(classify)
        })
        .await
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        self.bounded(async {
            let done = sqlx::query(
                "INSERT INTO token_blacklist_blacklistedtoken (jti, blacklisted_at, expires_at) \
                 SELECT jti, $1, expires_at FROM token_blacklist_outstandingtoken WHERE family = $2 \
                 ON CONFLICT (jti) DO NOTHING",
            )
            .bind(now)
            .bind(family)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        self.bounded(async {
            let mut tx = self.begin().await?;
            let mut total = 0;
            for sql in [
                "DELETE FROM token_blacklist_blacklistedtoken WHERE expires_at <= $1",
                "DELETE FROM token_blacklist_outstandingtoken WHERE expires_at <= $1",
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
        })
        .await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        // A no-op UPDATE still writes a row version and commits, so a read-only or full
        // database fails it; the subquery reads.
        self.bounded(async {
            sqlx::query(PROBE)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn record_login_network(
        &self,
        user_id: i64,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.bounded(async {
            sqlx::query(
                "INSERT INTO restauth_login_network (user_id, network, last_success) \
                 VALUES ($1, $2, $3) ON CONFLICT (user_id, network) DO UPDATE SET \
                 last_success = GREATEST(restauth_login_network.last_success, EXCLUDED.last_success)",
            )
            .bind(user_id)
            .bind(network)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.bounded(async {
            sqlx::query_scalar(
                "SELECT n.last_success FROM restauth_login_network n \
                 JOIN auth_user u ON u.id = n.user_id WHERE u.username = $1 AND n.network = $2",
            )
            .bind(username)
            .bind(network)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)
        })
        .await
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        self.bounded(async {
            // A name longer in bytes than in characters holds a non-ASCII character.
            sqlx::query_scalar(
                "SELECT username FROM auth_user \
                 WHERE octet_length(username) <> char_length(username) ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(classify)
        })
        .await
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
