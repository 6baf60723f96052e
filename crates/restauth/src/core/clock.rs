//! The one clock: every expiry, idle timeout, rate window and revocation cut-off reads it.
//!
//! In normal builds it is the system clock. With the `test-clock` cargo feature (debug builds
//! only, never in a release) the time is the system clock plus an offset that tests move
//! instead of sleeping: set in-process with `advance`, or — for a spawned server and the
//! management commands run beside it — read from the file named by `RESTAUTH_TEST_CLOCK_FILE`,
//! which holds the offset in milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(all(feature = "test-clock", not(debug_assertions)))]
compile_error!("the `test-clock` feature moves the clock on request; it is for test builds only");

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    real.saturating_add(offset_ms())
}

/// Whole seconds since the Unix epoch.
pub fn now() -> i64 {
    now_ms().div_euclid(1000)
}

/// Seconds since the Unix epoch as a float, the unit of the throttle logs.
pub(crate) fn now_f64() -> f64 {
    now_ms() as f64 / 1000.0
}

#[cfg(not(feature = "test-clock"))]
#[inline(always)]
fn offset_ms() -> i64 {
    0
}

#[cfg(feature = "test-clock")]
mod test_clock {
    use std::sync::atomic::{AtomicI64, Ordering};

    /// The variable naming the offset file a test writes for spawned processes.
    pub const FILE_VAR: &str = "RESTAUTH_TEST_CLOCK_FILE";

    static IN_PROCESS: AtomicI64 = AtomicI64::new(0);

    pub fn offset_ms() -> i64 {
        IN_PROCESS.load(Ordering::Relaxed) + from_file()
    }

    fn from_file() -> i64 {
        // Read on every call: the test moves the clock between requests, and a stale value
        // would make it sleep after all. Test builds only, so the cost does not matter.
        std::env::var_os(FILE_VAR)
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn advance(ms: i64) {
        IN_PROCESS.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(feature = "test-clock")]
pub use test_clock::FILE_VAR;
#[cfg(feature = "test-clock")]
use test_clock::offset_ms;

/// Moves this process's clock forward by `ms` milliseconds (test builds only).
#[cfg(feature = "test-clock")]
pub fn advance(ms: i64) {
    test_clock::advance(ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_recent_and_consistent() {
        let ms = now_ms();
        assert!(ms > 1_700_000_000_000);
        assert!((now() - ms / 1000).abs() <= 1);
        assert!((now_f64() - ms as f64 / 1000.0).abs() < 2.0);
    }
}
