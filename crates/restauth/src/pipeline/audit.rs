//! The audit log: security events, with fields named after the Elastic Common Schema (ECS).
//!
//! Each event is logged on the `restauth::audit` tracing target, stored in the `audit_event`
//! table (`[audit] store`, on by default) and appended to `[audit] file` as one JSON object a
//! line, when set. Storing and appending run on one spawned task, in order: a login does not
//! wait for its audit row, and a failing write is logged and counted, never answered to the
//! client.
//! Authenticating an already issued token or session is not an event (it is the hot path).
//!
//! A flood cannot push events out. A login refused by its throttles costs the client nothing,
//! so those refusals are coalesced: the first of a throttle key's window is an event at once,
//! the repeats are counted into one more event when the window ends (`throttled (and 1234 more
//! within 60 s)`), and when even those find the queue full they are dropped (logged and counted
//! in `restauth_audit_write_failures_total{sink="queue"}`). Every other event — successes,
//! checked credentials, staff actions, revocations — is never dropped: [`AuditLog::record`]
//! waits for room in its own queue, which the writer serves first. Text fields are bounded: a
//! user name past 150 characters and a user agent past 512 are cut and end with `…[cut]`.
//!
//! | field | meaning |
//! |---|---|
//! | `@timestamp` | when (RFC 3339, UTC, milliseconds) |
//! | `event.action` | [`LOGIN`], [`TOKEN_CREATED`], [`TOKEN_REVOKED`], [`PASSWORD_CHANGED`], [`USER_DEACTIVATED`], [`USER_ACTIVATED`], [`LOGOUT_ALL`], [`REFRESH_TOKEN_REUSE`], [`THROTTLE_LOCKOUT`], [`SESSION_REVOKED`], [`USER_CREATED`]; from the account endpoints also [`USER_DELETED`], [`EMAIL_CHANGED`], [`PASSWORD_RESET_REQUESTED`], [`PASSWORD_RESET`] |
//! | `event.outcome` | `success` or `failure` |
//! | `event.reason` | why: `bad_credentials`, `inactive`, `throttled` for a failed login; the scopes of a lock-out; how many tokens a revocation ended; for the staff API, the staff member who acted (`by <username> (id <id>)`) |
//! | `event.provider` | what emitted it: `token`, `jwt`, `session`, `basic` (the login paths), `accounts` (user management), `devices` (a user's own tokens and sessions), `admin` (the staff API), `cli` |
//! | `user.id`, `user.name` | the user concerned (the name as typed for an unknown user) |
//! | `source.ip` | the client (after `num_proxies`) |
//! | `user_agent.original` | the client's `User-Agent`, cut at 512 characters |
//!
//! A password or a credential never appears in an event.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::core::clock::now_ms;
use crate::core::error::Error;
use crate::core::metrics;
use crate::core::settings::AuditSettings;
use crate::core::user::{User, UserId};
use crate::pipeline::throttling::client_of;
use crate::store::{AuditQuery, AuditRecord, AuditStore};

/// A password checked at a login path, whether it was right or not (`reason` says why it failed).
pub const LOGIN: &str = "login";
/// An API token issued (DRF's obtain route, the command line, a staff member).
pub const TOKEN_CREATED: &str = "token_created";
/// A credential ended before its time: an API token deleted, a refresh token blacklisted.
pub const TOKEN_REVOKED: &str = "token_revoked";
/// A password changed by its owner, by staff or on the command line; its credentials end with it.
pub const PASSWORD_CHANGED: &str = "password_changed";
/// A user made inactive (Django's `is_active = False`): it cannot log in any more.
pub const USER_DEACTIVATED: &str = "user_deactivated";
/// An inactive user made active again.
pub const USER_ACTIVATED: &str = "user_activated";
/// Every token and session of a user ended at once, by its owner or by staff.
pub const LOGOUT_ALL: &str = "logout_all";
/// A rotated refresh token presented again outside the grace: its whole family is blacklisted.
pub const REFRESH_TOKEN_REUSE: &str = "refresh_token_reuse";
/// A login throttle's lock-out began; `reason` names its scopes.
pub const THROTTLE_LOCKOUT: &str = "throttle_lockout";
/// A session ended by its owner from the list of devices.
pub const SESSION_REVOKED: &str = "session_revoked";
/// A user created by a staff member over the staff API.
pub const USER_CREATED: &str = "user_created";
/// A permission granted to a user or a group (`restauth perms grant`).
pub const PERMISSION_GRANTED: &str = "permission_granted";
/// A permission revoked from a user or a group (`restauth perms revoke`).
pub const PERMISSION_REVOKED: &str = "permission_revoked";
/// A user added to a group (`restauth groups add`).
pub const GROUP_JOINED: &str = "group_joined";
/// A user removed from a group (`restauth groups remove`).
pub const GROUP_LEFT: &str = "group_left";
// Accounts over HTTP
/// A user deleted its own account (djoser's `DELETE /users/me/`).
pub const USER_DELETED: &str = "user_deleted";
/// A user changed its e-mail address.
pub const EMAIL_CHANGED: &str = "email_changed";
/// A password reset mail sent to a known, active user (an unknown address is no event).
pub const PASSWORD_RESET_REQUESTED: &str = "password_reset_requested";
/// A password set through a reset link.
pub const PASSWORD_RESET: &str = "password_reset";

/// `event.outcome` of what was done.
pub const SUCCESS: &str = "success";
/// `event.outcome` of what was refused.
pub const FAILURE: &str = "failure";

/// Longest `User-Agent` kept: it is the client's text, and rows must stay small.
const USER_AGENT_MAX: usize = 512;
/// Longest user name kept (Django's `username` column): an unknown user's name is the client's.
const USER_NAME_MAX: usize = crate::core::user::USERNAME_MAX_LENGTH;
/// Longest client address kept (an IPv6 address with a zone fits).
const SOURCE_IP_MAX: usize = 64;
/// What ends a field that was cut.
const CUT: &str = "…[cut]";
/// Stored events are pruned at most this often while events are written.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// Where a request came from, for the events it causes. As an extractor it never refuses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Source {
    /// The client address, as the throttles see it.
    pub ip: String,
    /// The `User-Agent` header, cut short.
    pub user_agent: String,
}

impl Source {
    /// The source of a request with these parts.
    pub fn of(
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
        num_proxies: Option<usize>,
    ) -> Self {
        let ip = client_of(headers, extensions, num_proxies).unwrap_or_default();
        Source::with_client(ip, headers)
    }

    /// The source of a request whose client address is known already.
    pub fn with_client(ip: String, headers: &http::HeaderMap) -> Self {
        let user_agent = headers
            .get(http::header::USER_AGENT)
            .map(|v| bounded(&String::from_utf8_lossy(v.as_bytes()), USER_AGENT_MAX))
            .unwrap_or_default();
        Source { ip, user_agent }
    }

    /// The source of a command run by an administrator on the server itself.
    pub fn command_line() -> Self {
        Source::default()
    }

    /// What the store keeps of where a credential was issued.
    pub fn origin(&self) -> crate::store::Origin {
        crate::store::Origin {
            user_agent: self.user_agent.clone(),
            address: self.ip.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let num_proxies =
            crate::pipeline::policy::policy_of(&parts.extensions).and_then(|p| p.num_proxies());
        Ok(Source::of(&parts.headers, &parts.extensions, num_proxies))
    }
}

/// One security event, before it is stamped and written.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    /// `event.action`: one of this module's action names.
    pub action: &'static str,
    /// `event.outcome`: [`SUCCESS`] or [`FAILURE`].
    pub outcome: &'static str,
    /// `event.reason`: why, in a few words; empty when there is nothing to add.
    pub reason: String,
    /// `event.provider`: what emitted it (`token`, `jwt`, `session`, `admin`, `cli`, …).
    pub provider: &'static str,
    /// `user.id`, when the user is known.
    pub user_id: Option<UserId>,
    /// `user.name`: the user's, or the name as typed for an unknown user.
    pub user_name: String,
    /// Where the request came from.
    pub source: Source,
}

impl AuditEvent {
    /// An event about `user`.
    pub fn for_user(
        action: &'static str,
        outcome: &'static str,
        provider: &'static str,
        user: &User,
    ) -> Self {
        AuditEvent {
            action,
            outcome,
            reason: String::new(),
            provider,
            user_id: Some(user.id),
            user_name: user.username.clone(),
            source: Source::default(),
        }
    }

    /// Says why (`event.reason`).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Says where the request came from.
    pub fn source(mut self, source: &Source) -> Self {
        self.source = source.clone();
        self
    }
}

/// Where security events go: the log line at once, then the store and the optional file, in
/// order, on one task off the requests' path. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<LogInner>,
}

struct LogInner {
    sink: Arc<Sink>,
    store: Arc<dyn AuditStore>,
    /// Started by the first event, on the runtime that emits it.
    writer: OnceLock<Writer>,
}

/// The two queues of the writer task.
struct Writer {
    /// Events that are never dropped: a full queue holds the request that records one.
    kept: mpsc::Sender<Job>,
    /// Throttled refusals (first of a window, or a window's count): dropped when full.
    refusals: mpsc::Sender<AuditRecord>,
}

/// What the writer task needs; never the log, which owns the channels' senders.
struct Sink {
    settings: AuditSettings,
    file: Option<Mutex<std::fs::File>>,
    last_prune: AtomicI64,
    /// Throttled refusals being counted, by throttle key.
    repeats: Mutex<HashMap<String, Repeats>>,
}

/// The refusals of one throttle key within one window.
struct Repeats {
    /// The window's end (restauth's clock, ms).
    until_ms: i64,
    window_ms: i64,
    /// Refusals after the first, not written yet.
    count: u64,
    /// The window's first refusal, the model of its count's event.
    first: AuditRecord,
}

enum Job {
    Write(AuditRecord),
    Flush(oneshot::Sender<()>),
}

/// Never-dropped events waiting for the writer at most; past it, recording one waits.
const KEPT_QUEUE: usize = 1024;
/// Throttled refusals waiting for the writer at most; past it one is dropped (still logged).
const REFUSALS_QUEUE: usize = 4096;
/// Throttle keys whose refusals are counted at once at most; past it a refusal is written
/// as its own event (and may be dropped), so a spray of keys cannot grow memory.
const REPEATS_MAX: usize = 10_000;
/// How often the writer writes the counts of windows that ended.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl AuditLog {
    /// The log of `[audit]`, storing into `store`; opens `[audit] file` (created mode 0600,
    /// appended to).
    pub fn open(settings: &AuditSettings, store: Arc<dyn AuditStore>) -> Result<Self, Error> {
        let file = match &settings.file {
            None => None,
            Some(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let file = options.open(path).map_err(|e| {
                    Error::Config(format!("audit.file: cannot open {}: {e}", path.display()))
                })?;
                Some(Mutex::new(file))
            }
        };
        Ok(AuditLog {
            inner: Arc::new(LogInner {
                sink: Arc::new(Sink {
                    settings: settings.clone(),
                    file,
                    last_prune: AtomicI64::new(0),
                    repeats: Mutex::default(),
                }),
                store,
                writer: OnceLock::new(),
            }),
        })
    }

    fn writes(&self) -> bool {
        let sink = &self.inner.sink;
        sink.settings.store || sink.file.is_some()
    }
}

impl Sink {
    async fn run(
        self: Arc<Self>,
        store: Arc<dyn AuditStore>,
        mut kept: mpsc::Receiver<Job>,
        mut refusals: mpsc::Receiver<AuditRecord>,
    ) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // The events that must not be lost first, so a flood of refusals never delays
                // them behind thousands of its own.
                biased;
                job = kept.recv() => match job {
                    Some(Job::Write(record)) => self.write(store.as_ref(), record).await,
                    Some(Job::Flush(done)) => {
                        while let Ok(record) = refusals.try_recv() {
                            self.write(store.as_ref(), record).await;
                        }
                        for record in self.ended_windows(i64::MAX) {
                            self.write(store.as_ref(), record).await;
                        }
                        let _ = done.send(());
                    }
                    None => return,
                },
                Some(record) = refusals.recv() => self.write(store.as_ref(), record).await,
                _ = sweep.tick() => {
                    for record in self.ended_windows(now_ms()) {
                        self.write(store.as_ref(), record).await;
                    }
                }
            }
        }
    }

    /// Takes the windows that ended by `now_ms` and returns the event of each one's count.
    fn ended_windows(&self, now_ms: i64) -> Vec<AuditRecord> {
        let mut repeats = self.repeats.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ended = Vec::new();
        repeats.retain(|_, r| {
            if r.until_ms > now_ms {
                return true;
            }
            if r.count > 0 {
                ended.push(r.count_event(now_ms.min(r.until_ms)));
            }
            false
        });
        ended
    }

    async fn write(&self, store: &dyn AuditStore, record: AuditRecord) {
        if self.file.is_some() {
            self.append(&audit_json(&record).to_string());
        }
        if !self.settings.store {
            return;
        }
        if let Err(e) = store.insert_audit(&record).await {
            tracing::warn!(error = %e, action = %record.action, "could not store an audit event");
            metrics::audit_write_failed("store");
        }
        if let Some(before) = self.prune_due(record.at_ms)
            && let Err(e) = store.prune_audit(before).await
        {
            tracing::warn!(error = %e, "could not prune old audit events");
        }
    }

    fn append(&self, line: &str) {
        let Some(file) = &self.file else { return };
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        // One write per line, so a reader never sees half of one.
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if let Err(e) = file.write_all(&bytes) {
            tracing::warn!(error = %e, "could not append to the audit file");
            metrics::audit_write_failed("file");
        }
    }

    /// Whether this write should also delete events past the retention (at most hourly).
    fn prune_due(&self, now_ms: i64) -> Option<i64> {
        if self.settings.retention_days == 0 {
            return None;
        }
        let last = self.last_prune.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < PRUNE_EVERY_MS {
            return None;
        }
        self.last_prune.store(now_ms, Ordering::Relaxed);
        Some(retention_cut_off(&self.settings, now_ms))
    }
}

/// The instant before which stored events are past `retention_days`.
fn retention_cut_off(settings: &AuditSettings, now_ms: i64) -> i64 {
    now_ms.saturating_sub(i64::from(settings.retention_days).saturating_mul(86_400_000))
}

impl Repeats {
    /// A window of `window_ms` opened by `first`.
    fn new(first: &AuditRecord, window_ms: i64) -> Self {
        Repeats {
            until_ms: first.at_ms.saturating_add(window_ms),
            window_ms,
            count: 0,
            first: first.clone(),
        }
    }

    /// The event that stands for this window's refusals after its first.
    fn count_event(&self, at_ms: i64) -> AuditRecord {
        AuditRecord {
            at_ms,
            reason: format!(
                "{} (and {} more within {} s)",
                self.first.reason,
                self.count,
                self.window_ms / 1000
            ),
            ..self.first.clone()
        }
    }
}

impl AuditLog {
    /// Records a security event: logs it at once, stores and appends it on the writer task.
    /// Never fails and never drops the event: when the writer is that far behind, this waits
    /// for room.
    pub async fn record(&self, event: AuditEvent) {
        let record = stamped(event);
        logged(&record);
        let writer = self.writer();
        if !self.writes() {
            return;
        }
        if writer.kept.send(Job::Write(record)).await.is_err() {
            tracing::warn!("the audit writer has stopped: an event was not stored");
            metrics::audit_write_failed("queue");
        }
    }

    /// Records a login refused by the throttle `key` (its scopes and identity), whose window
    /// lasts `window_ms`: the first refusal of a window at once, the repeats as one event with
    /// their count when the window ends. Never waits: a refusal that finds the queue full is
    /// dropped (still counted in the window's event when it was a repeat).
    pub fn record_throttled(&self, event: AuditEvent, key: &str, window_ms: i64) {
        let record = stamped(event);
        let mut to_write = Vec::with_capacity(2);
        {
            let mut repeats = self
                .inner
                .sink
                .repeats
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let full = repeats.len() >= REPEATS_MAX;
            match repeats.get_mut(key) {
                Some(r) if r.until_ms > record.at_ms => {
                    r.count += 1;
                    return;
                }
                Some(r) => {
                    if r.count > 0 {
                        to_write.push(r.count_event(r.until_ms));
                    }
                    *r = Repeats::new(&record, window_ms);
                }
                None if !full => {
                    repeats.insert(key.to_owned(), Repeats::new(&record, window_ms));
                }
                None => {}
            }
        }
        to_write.push(record);
        let writer = self.writer();
        for record in to_write {
            logged(&record);
            if self.writes() && writer.refusals.try_send(record).is_err() {
                tracing::warn!("the audit queue is full: a throttled login was not stored");
                metrics::audit_write_failed("queue");
            }
        }
    }

    /// The writer task's queues, started on first use (also without a sink: it writes the
    /// log lines of ended windows).
    fn writer(&self) -> &Writer {
        let log = &self.inner;
        log.writer.get_or_init(|| {
            let (kept, kept_rx) = mpsc::channel(KEPT_QUEUE);
            let (refusals, refusals_rx) = mpsc::channel(REFUSALS_QUEUE);
            tokio::spawn(
                log.sink
                    .clone()
                    .run(log.store.clone(), kept_rx, refusals_rx),
            );
            Writer { kept, refusals }
        })
    }

    /// Waits until the events emitted so far are written (before a command exits, or at
    /// shutdown).
    pub async fn flush(&self) {
        let Some(writer) = self.inner.writer.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if writer.kept.send(Job::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// The stored events `query` selects, oldest first.
    pub async fn events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        Ok(self.inner.store.audit_events(query).await?)
    }

    /// Deletes stored events past `[audit] retention_days`; how many went.
    pub async fn prune(&self) -> Result<u64, Error> {
        let settings = &self.inner.sink.settings;
        if settings.retention_days == 0 {
            return Ok(0);
        }
        let before = retention_cut_off(settings, now_ms());
        Ok(self.inner.store.prune_audit(before).await?)
    }
}

/// The record of `event`, stamped now, its client-given text bounded.
fn stamped(event: AuditEvent) -> AuditRecord {
    AuditRecord {
        at_ms: now_ms(),
        action: event.action.to_owned(),
        outcome: event.outcome.to_owned(),
        reason: event.reason,
        provider: event.provider.to_owned(),
        user_id: event.user_id,
        user_name: bounded(&event.user_name, USER_NAME_MAX),
        source_ip: bounded(&event.source.ip, SOURCE_IP_MAX),
        user_agent: bounded(&event.source.user_agent, USER_AGENT_MAX),
    }
}

/// The event's line on the `restauth::audit` target, its `user.id` as `$id` gives it.
macro_rules! audit_line {
    ($record:ident, $($id:tt)+) => {
        tracing::event!(
            target: "restauth::audit",
            tracing::Level::INFO,
            user.id = $($id)+,
            event.action = %$record.action,
            event.outcome = %$record.outcome,
            event.reason = %$record.reason,
            event.provider = %$record.provider,
            user.name = %$record.user_name,
            source.ip = %$record.source_ip,
            user_agent.original = %$record.user_agent,
            "audit event"
        )
    };
}

/// The event's line on the `restauth::audit` target: an integer `user.id` as a number, a UUID
/// as its text.
fn logged(record: &AuditRecord) {
    match record.user_id {
        Some(UserId::Uuid(id)) => audit_line!(record, %id),
        other => audit_line!(record, other.and_then(|id| id.as_int())),
    }
}

/// `text` when it has at most `max` characters, else its first `max` and the cut marker.
fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}{CUT}", &text[..end]),
    }
}

/// The ECS document of a stored event (what the file sink and `restauth audit --json` print).
pub fn audit_json(r: &AuditRecord) -> Value {
    let mut doc = json!({
        "@timestamp": rfc3339_ms(r.at_ms),
        "event": {
            "action": r.action,
            "outcome": r.outcome,
            "provider": r.provider,
            "category": [category(&r.action)],
        },
    });
    let set = |doc: &mut Value, path: [&str; 2], value: Value| {
        doc[path[0]][path[1]] = value;
    };
    if !r.reason.is_empty() {
        set(&mut doc, ["event", "reason"], json!(r.reason));
    }
    if let Some(id) = r.user_id {
        // ECS's user.id is a keyword.
        set(&mut doc, ["user", "id"], json!(id.to_string()));
    }
    if !r.user_name.is_empty() {
        set(&mut doc, ["user", "name"], json!(r.user_name));
    }
    if !r.source_ip.is_empty() {
        set(&mut doc, ["source", "ip"], json!(r.source_ip));
    }
    if !r.user_agent.is_empty() {
        set(&mut doc, ["user_agent", "original"], json!(r.user_agent));
    }
    doc
}

/// ECS's `event.category` of an action.
fn category(action: &str) -> &'static str {
    match action {
        LOGIN | LOGOUT_ALL | REFRESH_TOKEN_REUSE | THROTTLE_LOCKOUT => "authentication",
        _ => "iam",
    }
}

/// `2026-01-02T03:04:05.678Z` for Unix milliseconds.
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_log(dir: &std::path::Path) -> AuditLog {
        let settings = crate::core::settings::DatabaseSettings {
            url: format!("sqlite://{}", dir.join("restauth.db").display()),
            ..Default::default()
        };
        let store = crate::store::connect(&settings).await.unwrap();
        store.migrate().await.unwrap();
        AuditLog::open(&AuditSettings::default(), store).unwrap()
    }

    fn refusal(n: usize) -> AuditEvent {
        AuditEvent {
            action: LOGIN,
            outcome: FAILURE,
            reason: "throttled".into(),
            provider: "token",
            user_id: None,
            user_name: format!("spray{n}"),
            source: Source::default(),
        }
    }

    /// On one thread the writer cannot run while refusals are recorded, so the refusals'
    /// queue overflows; the successes recorded in between are all stored all the same.
    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_of_refusals_drops_refusals_never_successes() {
        let dir = tempfile::tempdir().unwrap();
        let log = sqlite_log(dir.path()).await;
        for n in 0..2 * REFUSALS_QUEUE {
            // A key each, so none is counted into another: the worst case for the queue.
            log.record_throttled(refusal(n), &format!("key{n}"), 60_000);
            if n % 1000 == 0 {
                log.record(AuditEvent {
                    outcome: SUCCESS,
                    reason: String::new(),
                    user_id: Some(UserId::Int(7)),
                    ..refusal(n)
                })
                .await;
            }
        }
        log.flush().await;
        let stored = log.events(&AuditQuery::default()).await.unwrap();
        let successes = stored.iter().filter(|e| e.outcome == SUCCESS).count();
        assert_eq!(successes, (2 * REFUSALS_QUEUE).div_ceil(1000));
        let refusals = stored.len() - successes;
        assert!(refusals < 2 * REFUSALS_QUEUE, "{refusals} refusals stored");
        assert!(refusals >= REFUSALS_QUEUE, "{refusals} refusals stored");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn repeats_of_one_key_are_one_event_and_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = sqlite_log(dir.path()).await;
        for _ in 0..500 {
            log.record_throttled(refusal(0), "login_user_ip:spray0", 60_000);
        }
        log.flush().await;
        let reasons: Vec<String> = log
            .events(&AuditQuery::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.reason)
            .collect();
        assert_eq!(
            reasons,
            ["throttled", "throttled (and 499 more within 60 s)"]
        );
    }

    #[test]
    fn client_text_is_cut_with_a_marker() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "abc…[cut]");
        assert_eq!(bounded("ééé", 2), "éé…[cut]");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_ms(1_798_761_599_999), "2026-12-31T23:59:59.999Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn documents_carry_ecs_fields_and_leave_out_empty_ones() {
        let doc = audit_json(&AuditRecord {
            at_ms: 0,
            action: LOGIN.into(),
            outcome: FAILURE.into(),
            reason: "bad_credentials".into(),
            provider: "token".into(),
            user_id: Some(UserId::Int(7)),
            user_name: "alice".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: String::new(),
        });
        assert_eq!(doc["event"]["action"], "login");
        assert_eq!(doc["event"]["outcome"], "failure");
        assert_eq!(doc["event"]["reason"], "bad_credentials");
        assert_eq!(doc["event"]["category"][0], "authentication");
        assert_eq!(doc["user"]["id"], "7");
        assert_eq!(doc["user"]["name"], "alice");
        assert_eq!(doc["source"]["ip"], "127.0.0.1");
        assert!(doc.get("user_agent").is_none());
    }
}
