//! A throttle store in Redis, shared by several server processes.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Script};

use super::{Decision, Rate, ThrottleError, ThrottleStore, check_clock, drf_wait};

/// Bound on each store call (connect, hit, reset), so a stalled Redis yields a 503 quickly.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// One hit, atomic because Redis runs a script without interleaving other commands.
///
/// KEYS[1]: the request log, a list of times newest first (the caller's `now` strings, kept
/// verbatim so no precision is lost in Lua). ARGV: now, window seconds, request limit, and
/// "1" to record an allowed request ("0" only looks).
/// Returns {allowed (0/1), count, oldest time or ''}.
const HIT_SCRIPT: &str = r"
local key = KEYS[1]
local cutoff = tonumber(ARGV[1]) - tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local oldest = redis.call('LINDEX', key, -1)
while oldest and tonumber(oldest) <= cutoff do
  redis.call('RPOP', key)
  oldest = redis.call('LINDEX', key, -1)
end
local count = redis.call('LLEN', key)
if count >= limit then
  return {0, count, oldest or ''}
end
if ARGV[4] == '0' then
  return {1, count, ''}
end
redis.call('LPUSH', key, ARGV[1])
redis.call('EXPIRE', key, ARGV[2])
return {1, count + 1, ''}
";

/// Throttle store in Redis: every server using the same Redis counts together.
///
/// Each hit is one `EVALSHA` of a small script (loaded again automatically after a Redis
/// restart or `SCRIPT FLUSH`); keys expire after the rate's window. The connection manager
/// reconnects by itself, and every call is bounded by a timeout, after which it reports
/// [`ThrottleError::Unavailable`].
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    script: Script,
    timeout: Duration,
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`, `rediss://…` if the redis
    /// crate is built with TLS), failing if Redis does not answer within one second.
    pub async fn connect(url: &str) -> Result<Self, ThrottleError> {
        Self::connect_with_timeout(url, DEFAULT_TIMEOUT).await
    }

    /// As [`RedisStore::connect`], with `timeout` bounding the connection and every later call.
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, ThrottleError> {
        let client = Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let conn = bounded(timeout, ConnectionManager::new_with_config(client, config)).await?;
        Ok(RedisStore {
            conn,
            script: Script::new(HIT_SCRIPT),
            timeout,
        })
    }
}

#[async_trait::async_trait]
impl ThrottleStore for RedisStore {
    async fn hit(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError> {
        self.run(key, rate, now, true).await
    }

    async fn peek(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError> {
        self.run(key, rate, now, false).await
    }

    async fn release(&self, key: &str, at: f64) -> Result<(), ThrottleError> {
        check_clock(at)?;
        // The log holds the caller's `now` strings verbatim, so the same formatting finds the
        // entry; LREM is atomic on its own.
        let mut conn = self.conn.clone();
        let lrem = ::redis::cmd("LREM")
            .arg(key)
            .arg(1)
            .arg(at.to_string())
            .clone();
        bounded(self.timeout, lrem.query_async::<i64>(&mut conn)).await?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), ThrottleError> {
        let mut conn = self.conn.clone();
        let del = ::redis::cmd("DEL").arg(key).clone();
        bounded(self.timeout, del.query_async::<()>(&mut conn)).await
    }
}

impl RedisStore {
    /// One run of the script; `record` false only looks.
    async fn run(
        &self,
        key: &str,
        rate: Rate,
        now: f64,
        record: bool,
    ) -> Result<Decision, ThrottleError> {
        check_clock(now)?;
        let mut conn = self.conn.clone();
        let mut call = self.script.prepare_invoke();
        // `Display` of an f64 is its shortest exact form, never an exponent: Lua reads it back.
        call.key(key)
            .arg(now.to_string())
            .arg(rate.duration_secs)
            .arg(rate.num_requests)
            .arg(if record { "1" } else { "0" });
        let (allowed, count, oldest): (i64, i64, String) =
            bounded(self.timeout, call.invoke_async(&mut conn)).await?;
        if allowed == 1 {
            return Ok(Decision::Allow);
        }
        let count = usize::try_from(count).unwrap_or(0);
        let wait = drf_wait(rate, now, count, oldest.parse().ok());
        Ok(Decision::Deny { wait })
    }
}

/// Runs a Redis call under `timeout`, mapping both failure kinds to `Unavailable`.
async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, ThrottleError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(unavailable),
        Err(_) => Err(ThrottleError::Unavailable(format!(
            "redis did not answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// Redis errors name the failure, not the URL, so the message holds no password.
fn unavailable(err: RedisError) -> ThrottleError {
    ThrottleError::Unavailable(format!("redis: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::throttled::throttled_response_parts;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    const URL_VAR: &str = "RESTAUTH_TEST_REDIS_URL";

    /// The test Redis, or `None` (with a note) when the variable is unset.
    async fn store(test: &str) -> Option<RedisStore> {
        let Ok(url) = std::env::var(URL_VAR) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {URL_VAR} is not set, and CI=true provides every service");
            }
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{test}: skipped, {URL_VAR} is not set");
            return None;
        };
        Some(RedisStore::connect(&url).await.unwrap())
    }

    /// A key prefix no other test or run uses.
    fn unique(test: &str) -> String {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        format!("throttle_test_{test}_{}_{nanos}_{seq}", std::process::id())
    }

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    async fn hit(store: &RedisStore, key: &str, r: &str, now: f64) -> Decision {
        store.hit(key, rate(r), now).await.unwrap()
    }

    #[tokio::test]
    async fn sliding_window_with_explicit_clock() {
        let Some(store) = store("sliding_window").await else {
            return;
        };
        let key = unique("sliding");
        for i in 0..5 {
            let now = 1000.25 + f64::from(i);
            assert_eq!(hit(&store, &key, "5/min", now).await, Decision::Allow);
        }
        assert_eq!(
            hit(&store, &key, "5/min", 1030.25).await,
            Decision::Deny { wait: Some(30.0) }
        );
        assert_eq!(
            hit(&store, &key, "5/min", 1059.75).await,
            Decision::Deny { wait: Some(0.5) }
        );
        assert_eq!(hit(&store, &key, "5/min", 1060.25).await, Decision::Allow);
        assert_eq!(
            hit(&store, &key, "5/min", 1060.25).await,
            Decision::Deny { wait: Some(1.0) }
        );
        for _ in 0..5 {
            assert_eq!(hit(&store, &key, "5/min", 1120.25).await, Decision::Allow);
        }
        store.reset(&key).await.unwrap();
    }

    #[tokio::test]
    async fn keeps_full_clock_precision() {
        let Some(store) = store("precision").await else {
            return;
        };
        let key = unique("precision");
        let t0 = 1_767_225_600.123_456_7;
        assert_eq!(hit(&store, &key, "1/min", t0).await, Decision::Allow);
        let now = t0 + 12.5;
        assert_eq!(
            hit(&store, &key, "1/min", now).await,
            Decision::Deny {
                wait: Some(60.0 - (now - t0))
            }
        );
        store.reset(&key).await.unwrap();
    }

    #[tokio::test]
    async fn drf_observed_429s() {
        let Some(store) = store("drf_observed_429s").await else {
            return;
        };
        let cases = [
            (
                "2/min",
                2,
                "Request was throttled. Expected available in 60 seconds.",
                60,
            ),
            (
                "1/hour",
                1,
                "Request was throttled. Expected available in 3600 seconds.",
                3600,
            ),
            (
                "3/sec",
                3,
                "Request was throttled. Expected available in 1 second.",
                1,
            ),
        ];
        for (r, allowed, detail, retry_after) in cases {
            let key = unique("observed");
            for _ in 0..allowed {
                assert_eq!(hit(&store, &key, r, 50.0).await, Decision::Allow, "{r}");
            }
            let Decision::Deny { wait } = hit(&store, &key, r, 50.0).await else {
                panic!("{r}: request {} was allowed", allowed + 1);
            };
            assert_eq!(
                throttled_response_parts(wait),
                (detail.to_owned(), Some(retry_after)),
                "{r}"
            );
            store.reset(&key).await.unwrap();
        }
    }

    #[tokio::test]
    async fn lowered_and_zero_rates() {
        let Some(store) = store("lowered_and_zero_rates").await else {
            return;
        };
        let key = unique("lowered");
        for _ in 0..4 {
            assert_eq!(hit(&store, &key, "5/min", 0.0).await, Decision::Allow);
        }
        assert_eq!(
            hit(&store, &key, "2/min", 1.0).await,
            Decision::Deny { wait: None }
        );
        let empty = unique("zero");
        assert_eq!(
            hit(&store, &empty, "0/min", 0.0).await,
            Decision::Deny { wait: Some(60.0) }
        );
        store.reset(&key).await.unwrap();
    }

    #[tokio::test]
    async fn reset_forgets_and_keys_expire_with_the_window() {
        let Some(store) = store("reset_and_ttl").await else {
            return;
        };
        let key = unique("reset");
        assert_eq!(hit(&store, &key, "1/hour", 5.0).await, Decision::Allow);
        let mut conn = store.conn.clone();
        let ttl: i64 = ::redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
        assert!(matches!(
            hit(&store, &key, "1/hour", 6.0).await,
            Decision::Deny { .. }
        ));
        store.reset(&key).await.unwrap();
        assert_eq!(hit(&store, &key, "1/hour", 7.0).await, Decision::Allow);
        store.reset(&key).await.unwrap();
    }

    #[tokio::test]
    async fn release_gives_back_one_slot() {
        let Some(store) = store("release").await else {
            return;
        };
        let key = unique("release");
        let t = 1_767_225_600.125;
        assert_eq!(hit(&store, &key, "2/min", t).await, Decision::Allow);
        assert_eq!(hit(&store, &key, "2/min", t).await, Decision::Allow);
        assert!(matches!(
            hit(&store, &key, "2/min", t + 1.0).await,
            Decision::Deny { .. }
        ));
        store.release(&key, t).await.unwrap();
        assert_eq!(hit(&store, &key, "2/min", t + 2.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, &key, "2/min", t + 2.0).await,
            Decision::Deny { .. }
        ));
        store.release(&key, t + 50.0).await.unwrap();
        assert!(matches!(
            hit(&store, &key, "2/min", t + 3.0).await,
            Decision::Deny { .. }
        ));
        store.reset(&key).await.unwrap();
    }

    #[tokio::test]
    async fn reloads_the_script_after_a_flush() {
        let Some(store) = store("script_flush").await else {
            return;
        };
        let key = unique("flush");
        assert_eq!(hit(&store, &key, "2/min", 0.0).await, Decision::Allow);
        let mut conn = store.conn.clone();
        let () = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(hit(&store, &key, "2/min", 0.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, &key, "2/min", 0.0).await,
            Decision::Deny { .. }
        ));
        store.reset(&key).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hits_from_two_connections_count_together() {
        let Some(first) = store("concurrent").await else {
            return;
        };
        let Some(second) = store("concurrent").await else {
            return;
        };
        let stores = [Arc::new(first), Arc::new(second)];
        for round in 0..5 {
            let key = Arc::new(unique("concurrent"));
            let barrier = Arc::new(tokio::sync::Barrier::new(50));
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let store = stores[i % 2].clone();
                    let (key, barrier) = (key.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.hit(&key, rate("5/min"), 10.0).await.unwrap()
                    })
                })
                .collect();
            let mut allowed = 0;
            for task in tasks {
                if task.await.unwrap() == Decision::Allow {
                    allowed += 1;
                }
            }
            assert_eq!(allowed, 5, "round {round}");
            stores[0].reset(&key).await.unwrap();
        }
    }

    #[tokio::test]
    async fn unreachable_redis_is_unavailable() {
        // Nothing listens on port 1; the refusal must come back as Unavailable, not hang.
        let started = std::time::Instant::now();
        let result = RedisStore::connect("redis://127.0.0.1:1/").await;
        assert!(matches!(result, Err(ThrottleError::Unavailable(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn bad_url_is_unavailable_without_echoing_the_password() {
        let Err(ThrottleError::Unavailable(msg)) =
            RedisStore::connect("nosuch://:hunter2@host/").await
        else {
            panic!("a bad URL connected");
        };
        assert!(!msg.contains("hunter2"), "{msg}");
    }
}
