//! An in-process throttle store: per-key request logs behind sharded mutexes.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashlink::LinkedHashMap;

use super::{Decision, Rate, ThrottleError, ThrottleStore, check_clock, drf_wait};

/// Shards split the lock so unrelated keys rarely contend.
const SHARDS: usize = 16;
/// Default bound on the number of keys held, across all shards.
const DEFAULT_MAX_KEYS: usize = 100_000;
/// Default number of hits on a shard between two sweeps of its expired logs.
const DEFAULT_SWEEP_EVERY: u32 = 1024;

/// Throttle store for a single server process.
///
/// Each hit holds one shard's mutex for the whole check-and-record, so concurrent requests are
/// counted exactly. Memory is bounded: every shard drops expired logs every `sweep_every` hits,
/// and when a shard is full a new key first sweeps it, then evicts the least recently hit key.
///
/// No step scans a shard under its lock: each shard keeps its logs in the order they last
/// recorded a hit, so the least recently hit key is the first, and a sweep walks from the front
/// only while logs are expired (a live log with a long window ahead of expired ones shields them
/// until it expires or is evicted; the key bound holds regardless).
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    /// Randomly keyed, so clients cannot aim many keys at one shard.
    hasher: RandomState,
    max_keys_per_shard: usize,
    sweep_every: u32,
}

#[derive(Default)]
struct Shard {
    /// Least recently recorded first.
    logs: LinkedHashMap<String, Log>,
    hits_since_sweep: u32,
}

/// One key's request times, newest first, and the window they were recorded under.
struct Log {
    times: VecDeque<f64>,
    duration: f64,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_KEYS, DEFAULT_SWEEP_EVERY)
    }
}

impl MemoryStore {
    /// A store holding up to about 100 000 keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding about `max_keys` keys at most (rounded up to a multiple of the shard
    /// count), sweeping each shard every `sweep_every` hits.
    pub fn with_limits(max_keys: usize, sweep_every: u32) -> Self {
        Self::build(SHARDS, max_keys, sweep_every)
    }

    fn build(shards: usize, max_keys: usize, sweep_every: u32) -> Self {
        let shards = shards.max(1);
        MemoryStore {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            max_keys_per_shard: max_keys.div_ceil(shards).max(1),
            sweep_every: sweep_every.max(1),
        }
    }

    /// The number of keys currently held, expired or not.
    pub fn tracked_keys(&self) -> usize {
        self.shards.iter().map(|s| lock(s).logs.len()).sum()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        // The modulo keeps the index in range, so the indexing cannot panic.
        let index = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        lock(&self.shards[index])
    }

    fn hit_locked(&self, key: &str, rate: Rate, now: f64) -> Decision {
        let mut shard = self.shard(key);
        shard.count_hit(now, self.sweep_every);
        if let Some(log) = shard.logs.get_mut(key) {
            let decision = log.hit(rate, now);
            if decision == Decision::Allow {
                shard.logs.to_back(key);
            }
            return decision;
        }
        if rate.num_requests == 0 {
            // Nothing would ever be recorded, so no log is created for this key.
            return Decision::Deny {
                wait: drf_wait(rate, now, 0, None),
            };
        }
        shard.make_room(now, self.max_keys_per_shard);
        shard.logs.insert(key.to_owned(), Log::first(rate, now));
        Decision::Allow
    }
}

/// Locks a shard; a poisoned lock is still usable because every update leaves a valid log.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shard {
    fn count_hit(&mut self, now: f64, sweep_every: u32) {
        self.hits_since_sweep += 1;
        if self.hits_since_sweep >= sweep_every {
            self.hits_since_sweep = 0;
            self.sweep(now);
        }
    }

    /// Drops expired logs from the front, up to the first live one.
    fn sweep(&mut self, now: f64) {
        while self.logs.front().is_some_and(|(_, log)| log.expired(now)) {
            self.logs.pop_front();
        }
    }

    /// Frees a slot for a new key: expired logs go first, then the least recently hit one.
    fn make_room(&mut self, now: f64, max_keys: usize) {
        if self.logs.len() < max_keys {
            return;
        }
        self.sweep(now);
        while self.logs.len() >= max_keys && self.logs.pop_front().is_some() {}
    }
}

impl Log {
    fn first(rate: Rate, now: f64) -> Self {
        Log {
            times: VecDeque::from([now]),
            duration: rate.duration_secs as f64,
        }
    }

    /// DRF's step: drop times at or before `now - duration`, deny when full, else record.
    fn hit(&mut self, rate: Rate, now: f64) -> Decision {
        self.duration = rate.duration_secs as f64;
        let cutoff = now - self.duration;
        while self.times.back().is_some_and(|&t| t <= cutoff) {
            self.times.pop_back();
        }
        let limit = usize::try_from(rate.num_requests).unwrap_or(usize::MAX);
        if self.times.len() >= limit {
            let wait = drf_wait(rate, now, self.times.len(), self.times.back().copied());
            return Decision::Deny { wait };
        }
        self.times.push_front(now);
        Decision::Allow
    }

    /// [`Log::hit`] without recording.
    fn peek(&mut self, rate: Rate, now: f64) -> Decision {
        let cutoff = now - rate.duration_secs as f64;
        while self.times.back().is_some_and(|&t| t <= cutoff) {
            self.times.pop_back();
        }
        let limit = usize::try_from(rate.num_requests).unwrap_or(usize::MAX);
        if self.times.len() >= limit {
            let wait = drf_wait(rate, now, self.times.len(), self.times.back().copied());
            return Decision::Deny { wait };
        }
        Decision::Allow
    }

    /// Removes one entry recorded at `at`, the newest such, if any.
    fn release(&mut self, at: f64) {
        if let Some(i) = self.times.iter().position(|&t| t == at) {
            self.times.remove(i);
        }
    }

    /// True once every recorded time has left the window (or nothing is recorded).
    fn expired(&self, now: f64) -> bool {
        self.times
            .front()
            .is_none_or(|&newest| newest <= now - self.duration)
    }
}

#[async_trait::async_trait]
impl ThrottleStore for MemoryStore {
    async fn hit(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError> {
        check_clock(now)?;
        Ok(self.hit_locked(key, rate, now))
    }

    async fn reset(&self, key: &str) -> Result<(), ThrottleError> {
        self.shard(key).logs.remove(key);
        Ok(())
    }

    async fn release(&self, key: &str, at: f64) -> Result<(), ThrottleError> {
        let mut shard = self.shard(key);
        if let Some(log) = shard.logs.get_mut(key) {
            log.release(at);
            if log.times.is_empty() {
                shard.logs.remove(key);
            }
        }
        Ok(())
    }

    async fn peek(&self, key: &str, rate: Rate, now: f64) -> Result<Decision, ThrottleError> {
        check_clock(now)?;
        let mut shard = self.shard(key);
        Ok(match shard.logs.get_mut(key) {
            Some(log) => log.peek(rate, now),
            None if rate.num_requests == 0 => Decision::Deny {
                wait: drf_wait(rate, now, 0, None),
            },
            None => Decision::Allow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::throttled::throttled_response_parts;
    use std::sync::Arc;

    fn rate(s: &str) -> Rate {
        s.parse().unwrap()
    }

    async fn hit(store: &MemoryStore, key: &str, r: &str, now: f64) -> Decision {
        store.hit(key, rate(r), now).await.unwrap()
    }

    #[tokio::test]
    async fn sliding_window_with_explicit_clock() {
        let store = MemoryStore::new();
        for i in 0..5 {
            assert_eq!(
                hit(&store, "k", "5/min", 1000.0 + f64::from(i)).await,
                Decision::Allow
            );
        }
        // The oldest request (t=1000) leaves the window at t=1060.
        assert_eq!(
            hit(&store, "k", "5/min", 1030.0).await,
            Decision::Deny { wait: Some(30.0) }
        );
        assert_eq!(
            hit(&store, "k", "5/min", 1059.5).await,
            Decision::Deny { wait: Some(0.5) }
        );
        assert_eq!(hit(&store, "k", "5/min", 1060.0).await, Decision::Allow);
        // Now t=1001 is the oldest; the log is full again.
        assert_eq!(
            hit(&store, "k", "5/min", 1060.0).await,
            Decision::Deny { wait: Some(1.0) }
        );
        // A full window later everything has expired.
        for _ in 0..5 {
            assert_eq!(hit(&store, "k", "5/min", 1120.0).await, Decision::Allow);
        }
    }

    #[tokio::test]
    async fn drf_observed_429s() {
        let store = MemoryStore::new();
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
            let key = format!("throttle_test_{r}");
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
        }
    }

    #[tokio::test]
    async fn denied_requests_are_not_recorded() {
        let store = MemoryStore::new();
        assert_eq!(hit(&store, "k", "1/min", 0.0).await, Decision::Allow);
        for t in [10.0, 20.0, 59.0] {
            assert!(matches!(
                hit(&store, "k", "1/min", t).await,
                Decision::Deny { .. }
            ));
        }
        assert_eq!(hit(&store, "k", "1/min", 60.0).await, Decision::Allow);
    }

    #[tokio::test]
    async fn keys_are_independent_and_reset_forgets() {
        let store = MemoryStore::new();
        assert_eq!(hit(&store, "a", "1/min", 0.0).await, Decision::Allow);
        assert_eq!(hit(&store, "b", "1/min", 0.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, "a", "1/min", 1.0).await,
            Decision::Deny { .. }
        ));
        store.reset("a").await.unwrap();
        assert_eq!(hit(&store, "a", "1/min", 2.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, "b", "1/min", 2.0).await,
            Decision::Deny { .. }
        ));
        store.reset("never-seen").await.unwrap();
    }

    #[tokio::test]
    async fn lowered_rate_gives_no_wait() {
        let store = MemoryStore::new();
        for _ in 0..4 {
            assert_eq!(hit(&store, "k", "5/min", 0.0).await, Decision::Allow);
        }
        assert_eq!(
            hit(&store, "k", "2/min", 1.0).await,
            Decision::Deny { wait: None }
        );
    }

    #[tokio::test]
    async fn zero_rate_denies_without_storing() {
        let store = MemoryStore::new();
        assert_eq!(
            hit(&store, "k", "0/min", 0.0).await,
            Decision::Deny { wait: Some(60.0) }
        );
        assert_eq!(store.tracked_keys(), 0);
    }

    #[tokio::test]
    async fn rejects_a_non_finite_clock() {
        let store = MemoryStore::new();
        let err = store.hit("k", rate("1/s"), f64::NAN).await.unwrap_err();
        assert!(matches!(err, ThrottleError::Unavailable(_)));
    }

    #[tokio::test]
    async fn periodic_sweep_drops_expired_logs() {
        let store = MemoryStore::build(1, 1000, 10);
        for i in 0..5 {
            hit(&store, &format!("old{i}"), "1/s", 0.0).await;
        }
        hit(&store, "live", "1/hour", 0.0).await;
        assert_eq!(store.tracked_keys(), 6);
        // Hits 7..=10 on one key; the tenth sweeps at t=100.
        for _ in 0..4 {
            hit(&store, "live", "1/hour", 100.0).await;
        }
        assert_eq!(store.tracked_keys(), 1);
        assert!(matches!(
            hit(&store, "live", "1/hour", 101.0).await,
            Decision::Deny { .. }
        ));
    }

    #[tokio::test]
    async fn full_store_drops_expired_logs_before_live_ones() {
        let store = MemoryStore::build(1, 3, u32::MAX);
        hit(&store, "short", "1/s", 0.0).await;
        hit(&store, "b", "1/hour", 1.0).await;
        hit(&store, "c", "1/hour", 2.0).await;
        hit(&store, "d", "1/hour", 5.0).await;
        assert_eq!(store.tracked_keys(), 3);
        assert!(matches!(
            hit(&store, "b", "1/hour", 6.0).await,
            Decision::Deny { .. }
        ));
        assert!(matches!(
            hit(&store, "c", "1/hour", 6.0).await,
            Decision::Deny { .. }
        ));
    }

    #[tokio::test]
    async fn full_store_evicts_the_least_recently_hit_key() {
        let store = MemoryStore::build(1, 3, u32::MAX);
        hit(&store, "a", "1/hour", 0.0).await;
        hit(&store, "b", "1/hour", 1.0).await;
        hit(&store, "c", "1/hour", 2.0).await;
        for i in 0..100 {
            hit(&store, &format!("flood{i}"), "1/hour", 3.0).await;
            assert!(store.tracked_keys() <= 3);
        }
        // "a" was evicted first, so it starts afresh.
        assert_eq!(hit(&store, "a", "1/hour", 4.0).await, Decision::Allow);
    }

    #[tokio::test]
    async fn a_recorded_hit_moves_a_key_behind_the_others() {
        let store = MemoryStore::build(1, 3, u32::MAX);
        hit(&store, "a", "5/hour", 0.0).await;
        hit(&store, "b", "5/hour", 1.0).await;
        hit(&store, "c", "5/hour", 2.0).await;
        hit(&store, "a", "5/hour", 3.0).await;
        // "b" is now the least recently hit, so the new key evicts it and "a" keeps its log.
        hit(&store, "d", "5/hour", 4.0).await;
        assert_eq!(store.tracked_keys(), 3);
        for _ in 0..3 {
            assert_eq!(hit(&store, "a", "5/hour", 5.0).await, Decision::Allow);
        }
        assert!(matches!(
            hit(&store, "a", "5/hour", 5.0).await,
            Decision::Deny { .. }
        ));
        for _ in 0..5 {
            assert_eq!(hit(&store, "b", "5/hour", 5.0).await, Decision::Allow);
        }
    }

    #[tokio::test]
    async fn default_store_is_bounded() {
        let store = MemoryStore::with_limits(64, 8);
        for i in 0..10_000 {
            hit(&store, &format!("k{i}"), "1/hour", f64::from(i)).await;
        }
        assert!(store.tracked_keys() <= 64, "{}", store.tracked_keys());
    }

    #[tokio::test]
    async fn release_gives_back_one_slot() {
        let store = MemoryStore::new();
        assert_eq!(hit(&store, "k", "2/min", 5.0).await, Decision::Allow);
        assert_eq!(hit(&store, "k", "2/min", 5.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, "k", "2/min", 6.0).await,
            Decision::Deny { .. }
        ));
        // Two slots taken at the same instant: giving one back frees exactly one.
        store.release("k", 5.0).await.unwrap();
        assert_eq!(hit(&store, "k", "2/min", 7.0).await, Decision::Allow);
        assert!(matches!(
            hit(&store, "k", "2/min", 7.0).await,
            Decision::Deny { .. }
        ));
        // Nothing recorded at that time, or no such key: nothing changes.
        store.release("k", 99.0).await.unwrap();
        store.release("never-seen", 1.0).await.unwrap();
        assert!(matches!(
            hit(&store, "k", "2/min", 8.0).await,
            Decision::Deny { .. }
        ));
        // An emptied log is dropped.
        store.release("k", 5.0).await.unwrap();
        store.release("k", 7.0).await.unwrap();
        assert_eq!(store.tracked_keys(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hits_never_exceed_the_rate() {
        for round in 0..20 {
            let store = Arc::new(MemoryStore::new());
            let barrier = Arc::new(tokio::sync::Barrier::new(50));
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let (store, barrier) = (store.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.hit("shared", rate("5/min"), 10.0).await.unwrap()
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
        }
    }
}
