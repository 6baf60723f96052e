//! Prometheus-style series, emitted through the `metrics` facade.
//!
//! The library only emits; an application that wants the numbers installs a recorder (the
//! `restauth` server installs `metrics-exporter-prometheus` when `[metrics] bind` is set) and
//! calls [`enable`]. Until then every function here returns after one relaxed atomic load: no
//! label is built, no clock is read, so an app without metrics pays nothing measurable.
//!
//! | series | type | labels |
//! |---|---|---|
//! | `restauth_http_requests_total` | counter | `method`, `route` (the route template, `unmatched` for none), `status` |
//! | `restauth_authentications_total` | counter | `class` (`token`, `session`, `jwt`, `basic`, an app's own), `result` (`success`, `failure`) |
//! | `restauth_login_failures_total` | counter | `provider` (`token`, `jwt`, `session`, `basic`), `reason` (`bad_credentials`, `inactive`, `throttled`) |
//! | `restauth_throttled_requests_total` | counter | `scope` (`anon`, `user`, a route's scope, `login_user_ip`, `login_user`, `login_ip`) |
//! | `restauth_password_hash_queue_wait_seconds` | histogram | `operation` (`hash`, `verify`, `dummy_verify`) |
//! | `restauth_password_hash_duration_seconds` | histogram | `operation` |
//! | `restauth_cache_lookups_total` | counter | `cache` (`token`, `session`, `user`, `jwt`), `result` (`hit`, `miss`) |
//! | `restauth_store_query_duration_seconds` | histogram | `operation` (the store method: `token_by_digest`, `insert_token`, …) |
//! | `restauth_jwt_refreshes_total` | counter | `result` (`rotated`, `grace`, `replay`, `not_rotated`) |
//! | `restauth_jwt_family_revocations_total` | counter | — |
//! | `restauth_audit_write_failures_total` | counter | `sink` (`store`, `file`, `queue`: dropped, the writer being behind) |

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

/// Counter of answered requests, by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "restauth_http_requests_total";
/// Counter of authentications, by `class` and `result`.
pub const AUTHENTICATIONS: &str = "restauth_authentications_total";
/// Counter of refused logins, by `provider` and `reason`.
pub const LOGIN_FAILURES: &str = "restauth_login_failures_total";
/// Counter of throttled requests, by `scope`.
pub const THROTTLED: &str = "restauth_throttled_requests_total";
/// Histogram of the wait for a hashing slot, by `operation`.
pub const HASH_QUEUE_WAIT: &str = "restauth_password_hash_queue_wait_seconds";
/// Histogram of one password hash or check, by `operation`.
pub const HASH_DURATION: &str = "restauth_password_hash_duration_seconds";
/// Counter of read-cache lookups, by `cache` and `result`.
pub const CACHE_LOOKUPS: &str = "restauth_cache_lookups_total";
/// Histogram of store calls, by `operation` (the store method).
pub const STORE_QUERY: &str = "restauth_store_query_duration_seconds";
/// Counter of refresh-token refreshes, by `result`.
pub const JWT_REFRESHES: &str = "restauth_jwt_refreshes_total";
/// Counter of refresh-token families blacklisted on a replay.
pub const JWT_FAMILY_REVOCATIONS: &str = "restauth_jwt_family_revocations_total";
/// Counter of audit events that could not be written, by `sink`.
pub const AUDIT_WRITE_FAILURES: &str = "restauth_audit_write_failures_total";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Starts emitting. Call once the recorder is installed (`metrics::set_global_recorder`): the
/// handles of the hottest series are taken from it at their first use and kept.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether series are emitted (see [`enable`]).
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// One answered HTTP request. `route` is a route template, never a raw path: raw paths would
/// make one series per id and let clients grow the exporter's memory without bound.
///
/// The counter of each (route, method, status) is looked up in the recorder once, then found
/// by the address of the route's text, which axum keeps for the router's lifetime (the text
/// is compared too, so a router built anew at the same address gets its own series).
pub(crate) fn http_request(method: &http::Method, route: &str, status: http::StatusCode) {
    if !enabled() {
        return;
    }
    type Key = (usize, usize, &'static str, u16);
    /// The route's text (to confirm a hit) and its counter.
    type Handle = (Box<str>, metrics::Counter);
    static COUNTERS: OnceLock<RwLock<HashMap<Key, Handle>>> = OnceLock::new();
    let method = method_label(method);
    let key: Key = (
        route.as_ptr() as usize,
        route.len(),
        method,
        status.as_u16(),
    );
    let counters = COUNTERS.get_or_init(Default::default);
    if let Ok(map) = counters.read()
        && let Some((text, counter)) = map.get(&key)
        && **text == *route
    {
        counter.increment(1);
        return;
    }
    let counter = metrics::counter!(
        HTTP_REQUESTS,
        "method" => method,
        "route" => route.to_owned(),
        "status" => status_label(status),
    );
    counter.increment(1);
    if let Ok(mut map) = counters.write()
        && map.len() < MAX_CACHED_HANDLES
    {
        map.insert(key, (route.into(), counter));
    }
}

/// Handles kept for [`http_request`] at most (routes × methods × statuses).
const MAX_CACHED_HANDLES: usize = 4096;

/// Known methods as static labels; anything else under one label, so clients cannot create
/// series.
fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: http::StatusCode) -> metrics::SharedString {
    match status.as_u16() {
        200 => "200".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        429 => "429".into(),
        n => n.to_string().into(),
    }
}

/// An authentication class decided: it found a user (`true`) or refused the credentials.
pub(crate) fn authentication(class: &'static str, success: bool) {
    if !enabled() {
        return;
    }
    const CLASSES: [&str; 4] = ["token", "session", "jwt", "basic"];
    static COUNTERS: OnceLock<[[metrics::Counter; 2]; 4]> = OnceLock::new();
    let result = if success { "success" } else { "failure" };
    // The built-in classes' handles are looked up once; an app's own class each time.
    let Some(i) = CLASSES.iter().position(|c| *c == class) else {
        metrics::counter!(AUTHENTICATIONS, "class" => class, "result" => result).increment(1);
        return;
    };
    let counters = COUNTERS.get_or_init(|| {
        CLASSES.map(|c| {
            ["success", "failure"]
                .map(|r| metrics::counter!(AUTHENTICATIONS, "class" => c, "result" => r))
        })
    });
    counters[i][usize::from(!success)].increment(1);
}

/// A password login that did not let the user in.
pub(crate) fn login_failure(provider: &'static str, reason: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(LOGIN_FAILURES, "provider" => provider, "reason" => reason).increment(1);
}

/// A request refused with 429 by `scope`.
pub(crate) fn throttled(scope: &str) {
    if !enabled() {
        return;
    }
    metrics::counter!(THROTTLED, "scope" => scope.to_owned()).increment(1);
}

/// How long a password job waited for a hashing slot.
pub(crate) fn hash_queue_wait(operation: &'static str, since: Option<Instant>) {
    if let Some(start) = since {
        metrics::histogram!(HASH_QUEUE_WAIT, "operation" => operation)
            .record(start.elapsed().as_secs_f64());
    }
}

/// How long a password job ran on its blocking thread.
pub(crate) fn hash_duration(operation: &'static str, since: Option<Instant>) {
    if let Some(start) = since {
        metrics::histogram!(HASH_DURATION, "operation" => operation)
            .record(start.elapsed().as_secs_f64());
    }
}

/// The instant to measure from, when emitting.
#[inline]
pub(crate) fn start() -> Option<Instant> {
    enabled().then(Instant::now)
}

/// A lookup in the in-process cache.
#[inline]
pub(crate) fn cache_lookup(cache: &'static str, hit: bool) {
    if !enabled() {
        return;
    }
    const CACHES: [&str; 4] = ["token", "session", "user", "jwt"];
    static COUNTERS: OnceLock<[[metrics::Counter; 2]; 4]> = OnceLock::new();
    // On every authenticated request: the handles are looked up once.
    let counters = COUNTERS.get_or_init(|| {
        CACHES.map(|c| {
            ["hit", "miss"].map(|r| metrics::counter!(CACHE_LOOKUPS, "cache" => c, "result" => r))
        })
    });
    match CACHES.iter().position(|c| *c == cache) {
        Some(i) => counters[i][usize::from(!hit)].increment(1),
        None => {
            let result = if hit { "hit" } else { "miss" };
            metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result).increment(1);
        }
    }
}

/// Runs one store operation, recording how long it took.
pub(crate) async fn store_operation<T>(operation: &'static str, op: impl Future<Output = T>) -> T {
    let Some(start) = start() else {
        return op.await;
    };
    let out = op.await;
    metrics::histogram!(STORE_QUERY, "operation" => operation)
        .record(start.elapsed().as_secs_f64());
    out
}

/// [`store_operation`] for a read answered on the calling thread; one that could not be
/// answered (`None`) is not recorded, as its awaited query will be.
pub(crate) fn store_operation_at_once<T>(
    operation: &'static str,
    op: impl FnOnce() -> Option<T>,
) -> Option<T> {
    let Some(start) = start() else {
        return op();
    };
    let out = op()?;
    metrics::histogram!(STORE_QUERY, "operation" => operation)
        .record(start.elapsed().as_secs_f64());
    Some(out)
}

/// A refresh token was presented to the refresh endpoint.
pub(crate) fn jwt_refresh(result: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(JWT_REFRESHES, "result" => result).increment(1);
}

/// A replayed refresh token's login family was revoked.
pub(crate) fn jwt_family_revoked() {
    if !enabled() {
        return;
    }
    metrics::counter!(JWT_FAMILY_REVOCATIONS).increment(1);
}

/// An audit event could not be written to `sink`.
pub(crate) fn audit_write_failed(sink: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(AUDIT_WRITE_FAILURES, "sink" => sink).increment(1);
}
