//! Password hashing off the async workers, on a bounded number of blocking threads.
//!
//! Argon2id is deliberately slow and memory-hungry: running it on the runtime's workers would
//! stall every other request, and running unboundedly many would let a login flood exhaust
//! memory. A semaphore caps concurrent hashes; a request that cannot get a slot in time gets a 503.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{PasswordHasher, Verification};
use crate::core::error::Error;
use crate::core::metrics;

#[derive(Clone)]
pub struct HashPool {
    hasher: Arc<PasswordHasher>,
    slots: Arc<Semaphore>,
    queue_timeout: Duration,
}

impl HashPool {
    /// `concurrency` defaults to the number of cores.
    pub fn new(
        hasher: PasswordHasher,
        concurrency: Option<usize>,
        queue_timeout: Duration,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        HashPool {
            hasher: Arc::new(hasher),
            slots: Arc::new(Semaphore::new(concurrency.unwrap_or(cores).max(1))),
            queue_timeout,
        }
    }

    /// Runs `job` with the hasher on a blocking thread once a slot is free.
    pub async fn run<T, F>(&self, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
    {
        self.run_measured("other", job).await
    }

    /// [`HashPool::run`], measured as `operation` (the queue wait and the hashing time).
    async fn run_measured<T, F>(&self, operation: &'static str, job: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
    {
        let queued = metrics::start();
        let slot = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                tracing::warn!("password hashing queue is full");
                Error::Unavailable
            })?
            .map_err(|_| Error::Unavailable)?;
        metrics::hash_queue_wait(operation, queued);
        let hasher = self.hasher.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let started = metrics::start();
            let out = job(&hasher);
            metrics::hash_duration(operation, started);
            out
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run_measured("hash", move |h| h.hash(&password)).await
    }

    pub async fn verify(&self, encoded: String, password: String) -> Result<Verification, Error> {
        self.run_measured("verify", move |h| {
            note_password_check();
            h.verify(&encoded, &password)
        })
        .await
    }

    /// Spends the time of a real verification, for unknown users.
    pub async fn dummy_verify(&self, password: String) -> Result<(), Error> {
        self.run_measured("dummy_verify", move |h| {
            note_password_check();
            h.dummy_verify(&password)
        })
        .await
    }
}

/// Test builds log every password check, so HTTP tests can count the checks a burst got (the
/// statuses alone cannot tell a throttled check from a refused one).
#[cfg(feature = "test-clock")]
fn note_password_check() {
    tracing::info!(target: "restauth::password_check", "password checked");
}

#[cfg(not(feature = "test-clock"))]
#[inline(always)]
fn note_password_check() {}
