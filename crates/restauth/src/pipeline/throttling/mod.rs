//! DRF-compatible request throttling: rates, a sliding request log kept atomically in memory
//! or in Redis, DRF's 429 texts, and the client address used as the anonymous identity.
//!
//! The algorithm is DRF's (a per-key log of request times over a sliding window), but each hit
//! is one atomic step in the store, so concurrent requests cannot slip past the limit.

mod classes;
mod ident;
mod memory;

#[cfg(feature = "redis")]
mod redis;

pub use self::classes::{ClientIdent, NO_PEER_ADDRESS, Throttles, client_of};
pub(crate) use self::ident::{client_ident, login_network};
pub use self::memory::MemoryStore;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
pub use crate::core::settings::rate::{Rate, RateParseError, RateSetting};
pub use crate::core::settings::throttle::ThrottleClass;
pub(crate) use crate::core::settings::throttle::{ACCOUNT_SCOPES, LOGIN_SCOPES};
pub(crate) use crate::core::throttled::combine_waits;

/// The outcome of one throttle check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// The request passes and has been recorded.
    Allow,
    /// The request is throttled. `wait` is DRF's suggested wait in seconds, `None` when the
    /// log already holds more requests than the rate allows (the rate was lowered).
    Deny {
        /// DRF's suggested wait in seconds (see the variant).
        wait: Option<f64>,
    },
}

/// The store is unreachable or failed; the caller answers 503.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleError {
    /// The store could not answer (Redis unreachable, say).
    #[error("throttle store unavailable: {0}")]
    Unavailable(String),
}

/// A place to keep request logs, shared by all throttles of a server (or of several servers).
#[async_trait::async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Atomically: drop timestamps older than `now - duration` for `key`, deny if the count is
    /// `>= num_requests`, else record `now`. `now` is in seconds (see [`unix_time`]).
    async fn hit(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError>;

    /// Forgets a key (e.g. after a successful login).
    async fn reset(&self, key: &str) -> Result<(), ThrottleError>;

    /// What [`ThrottleStore::hit`] would decide now, without recording anything.
    async fn peek(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError>;

    /// Gives back one slot taken by an allowed [`ThrottleStore::hit`] at `at` (the same `now`
    /// it was given): removes one entry recorded at that time, if it is still there.
    ///
    /// Login protection hits before the password is checked, so a concurrent burst can never
    /// get more checks than the rate, and releases the slot when the attempt must not count
    /// (a success, or a check that never ran).
    async fn release(&self, key: &str, at: f64) -> Result<(), ThrottleError>;
}

/// The current time in seconds since the Unix epoch, the clock the stores expect.
pub fn unix_time() -> f64 {
    crate::core::clock::now_f64()
}

/// DRF's wait for a denied request, from the log left after expired entries were dropped:
/// `remaining / available`, or `None` when `available <= 0`.
fn drf_wait(rate: Rate, now: f64, count: usize, oldest: Option<f64>) -> Option<f64> {
    let duration = rate.duration_secs as f64;
    let remaining = oldest.map_or(duration, |oldest| duration - (now - oldest));
    // Signed arithmetic: a log longer than the rate (rate lowered) makes this negative.
    let available = i128::from(rate.num_requests) - count as i128 + 1;
    (available > 0).then(|| remaining / available as f64)
}

/// Rejects clocks that would make the window comparisons meaningless.
fn check_clock(now: f64) -> Result<(), ThrottleError> {
    if now.is_finite() {
        Ok(())
    } else {
        Err(ThrottleError::Unavailable(format!(
            "invalid clock value {now}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(n: u32, d: u64) -> Rate {
        Rate {
            num_requests: n,
            duration_secs: d,
        }
    }

    #[test]
    fn wait_follows_drf_formula() {
        // 2/min, both requests at t=0, third at t=0: the full minute.
        assert_eq!(drf_wait(rate(2, 60), 0.0, 2, Some(0.0)), Some(60.0));
        // 5/min, oldest 10 s ago: 50 s.
        assert_eq!(drf_wait(rate(5, 60), 1010.0, 5, Some(1000.0)), Some(50.0));
        // Empty log (a zero rate): the whole window.
        assert_eq!(drf_wait(rate(0, 60), 5.0, 0, None), Some(60.0));
        // Log longer than the rate allows: available <= 0.
        assert_eq!(drf_wait(rate(2, 60), 0.0, 3, Some(0.0)), None);
        assert_eq!(drf_wait(rate(2, 60), 0.0, 4, Some(0.0)), None);
    }

    #[test]
    fn rejects_non_finite_clock() {
        assert!(check_clock(f64::NAN).is_err());
        assert!(check_clock(f64::INFINITY).is_err());
        assert!(check_clock(1.5).is_ok());
    }

    #[test]
    fn unix_now_is_recent() {
        assert!(unix_time() > 1_700_000_000.0);
    }
}
