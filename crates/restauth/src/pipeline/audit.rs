//! The audit log: security events, with fields named after the Elastic Common Schema (ECS).
//!
//! Each event is logged on the `restauth::audit` tracing target, stored in the `audit_event`
//! table (`[audit] store`, on by default) and appended to `[audit] file` as one JSON object a
//! line, when set. Storing and appending run on one spawned task, in order: a login does not
//! wait for its audit row, and a failing write is logged and counted, never answered to the
//! client.
//! Authenticating an already issued token or session is not an event (it is the hot path).
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
use crate::core::user::User;
use crate::pipeline::context::Context;
use crate::pipeline::throttling::client_of;
use crate::store::{AuditQuery, AuditRecord, Store};

pub const LOGIN: &str = "login";
pub const TOKEN_CREATED: &str = "token_created";
pub const TOKEN_REVOKED: &str = "token_revoked";
pub const PASSWORD_CHANGED: &str = "password_changed";
pub const USER_DEACTIVATED: &str = "user_deactivated";
pub const USER_ACTIVATED: &str = "user_activated";
pub const LOGOUT_ALL: &str = "logout_all";
pub const REFRESH_TOKEN_REUSE: &str = "refresh_token_reuse";
pub const THROTTLE_LOCKOUT: &str = "throttle_lockout";
/// A session ended by its owner from the list of devices.
pub const SESSION_REVOKED: &str = "session_revoked";
/// A user created by a staff member over the staff API.
pub const USER_CREATED: &str = "user_created";
// Accounts over HTTP
pub const USER_DELETED: &str = "user_deleted";
pub const EMAIL_CHANGED: &str = "email_changed";
pub const PASSWORD_RESET_REQUESTED: &str = "password_reset_requested";
pub const PASSWORD_RESET: &str = "password_reset";

pub const SUCCESS: &str = "success";
pub const FAILURE: &str = "failure";

/// Longest `User-Agent` kept: it is the client's text, and rows must stay small.
const USER_AGENT_MAX: usize = 512;
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
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(USER_AGENT_MAX)
                    .collect()
            })
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
        let num_proxies = crate::pipeline::policy::policy_of(&parts.extensions)
            .and_then(|p| p.context().settings().rest_framework.num_proxies);
        Ok(Source::of(&parts.headers, &parts.extensions, num_proxies))
    }
}

/// One security event, before it is stamped and written.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub action: &'static str,
    pub outcome: &'static str,
    pub reason: String,
    pub provider: &'static str,
    pub user_id: Option<i64>,
    pub user_name: String,
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

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    pub fn source(mut self, source: &Source) -> Self {
        self.source = source.clone();
        self
    }
}

/// The writers of one [`Context`]: the optional file, and the one task that writes, in
/// order, off the requests' path.
pub(crate) struct AuditLog {
    sink: Arc<Sink>,
    /// Started by the first event, on the runtime that emits it.
    writer: OnceLock<mpsc::Sender<Job>>,
}

/// What the writer task needs; never the [`Context`], which owns the channel's sender.
struct Sink {
    settings: AuditSettings,
    file: Option<Mutex<std::fs::File>>,
    last_prune: AtomicI64,
}

enum Job {
    Write(AuditRecord),
    Flush(oneshot::Sender<()>),
}

/// Events waiting for the writer at most; past it an event is logged and dropped rather than
/// holding a request (the tracing line is still there).
const QUEUE: usize = 4096;

impl AuditLog {
    /// Opens `[audit] file` (created mode 0600, appended to).
    pub(crate) fn open(settings: &AuditSettings) -> Result<Self, Error> {
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
            sink: Arc::new(Sink {
                settings: settings.clone(),
                file,
                last_prune: AtomicI64::new(0),
            }),
            writer: OnceLock::new(),
        })
    }

    fn writes(&self) -> bool {
        self.sink.settings.store || self.sink.file.is_some()
    }
}

impl Sink {
    async fn run(self: Arc<Self>, store: Arc<dyn Store>, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Write(record) => self.write(store.as_ref(), record).await,
                Job::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    async fn write(&self, store: &dyn Store, record: AuditRecord) {
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

impl Context {
    /// Records a security event: logs it at once, stores and appends it on a spawned task.
    /// Never fails and never waits for a write.
    pub fn audit(&self, event: AuditEvent) {
        let record = AuditRecord {
            at_ms: now_ms(),
            action: event.action.to_owned(),
            outcome: event.outcome.to_owned(),
            reason: event.reason,
            provider: event.provider.to_owned(),
            user_id: event.user_id,
            user_name: event.user_name,
            source_ip: event.source.ip,
            user_agent: event.source.user_agent,
        };
        tracing::event!(
            target: "restauth::audit",
            tracing::Level::INFO,
            user.id = record.user_id,
            event.action = %record.action,
            event.outcome = %record.outcome,
            event.reason = %record.reason,
            event.provider = %record.provider,
            user.name = %record.user_name,
            source.ip = %record.source_ip,
            user_agent.original = %record.user_agent,
            "audit event"
        );
        let log = &self.inner.audit;
        if !log.writes() {
            return;
        }
        let writer = log.writer.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(log.sink.clone().run(self.store().clone(), rx));
            tx
        });
        if writer.try_send(Job::Write(record)).is_err() {
            tracing::warn!("the audit queue is full: an event was not stored");
            metrics::audit_write_failed("queue");
        }
    }

    /// Waits until the events emitted so far are written (before a command exits, or at
    /// shutdown).
    pub async fn flush_audit(&self) {
        let Some(writer) = self.inner.audit.writer.get() else {
            return;
        };
        let (done, written) = oneshot::channel();
        if writer.send(Job::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// The stored events `query` selects, oldest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, Error> {
        Ok(self.store().audit_events(query).await?)
    }

    /// Deletes stored events past `[audit] retention_days`; how many went.
    pub async fn prune_audit(&self) -> Result<u64, Error> {
        let settings = &self.inner.audit.sink.settings;
        if settings.retention_days == 0 {
            return Ok(0);
        }
        let before = retention_cut_off(settings, now_ms());
        Ok(self.store().prune_audit(before).await?)
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
            user_id: Some(7),
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
