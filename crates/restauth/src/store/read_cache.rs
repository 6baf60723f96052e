//! [`ReadCache`]: what the hot path reads before the store, and what keeps it honest — the
//! in-process cache of users, tokens, sessions and verified JWTs, the digest indexes that
//! answer unknown keys without a query, and the store's change signal, by which a revocation
//! in any process empties every cache within its bound.

use std::future::Future;
use std::sync::Arc;

use super::cache::{AuthCache, Digest};
use super::index::{DigestIndex, Presence};
use super::{Credential, Database, StoreError};

/// The cache, the digest indexes and the store's change signal, shared by every service that
/// reads credentials. Cheap to clone.
#[derive(Clone)]
pub struct ReadCache {
    inner: Arc<Inner>,
}

struct Inner {
    cache: AuthCache,
    /// The token digests that exist, so unknown keys cost no query.
    tokens: DigestIndex,
    /// The session digests that exist, so unknown `sessionid` cookies cost no query.
    sessions: DigestIndex,
    database: Arc<dyn Database>,
}

impl ReadCache {
    /// A cache whose entries live `ttl` seconds (at most `max_entries` of each kind), kept in
    /// step with `database`'s change signal.
    pub fn new(database: Arc<dyn Database>, ttl: i64, max_entries: usize) -> Self {
        ReadCache {
            inner: Arc::new(Inner {
                cache: AuthCache::new(ttl, max_entries, database.change_stamp()),
                tokens: DigestIndex::new(Credential::Token),
                sessions: DigestIndex::new(Credential::Session),
                database,
            }),
        }
    }

    /// The cache, after it has honoured every change announced since the last read, by this
    /// process or another one.
    pub fn get(&self) -> &AuthCache {
        self.inner.cache.sync(self.inner.database.change_stamp());
        &self.inner.cache
    }

    /// The store the cache reads for, and whose change signal it follows.
    pub fn database(&self) -> &Arc<dyn Database> {
        &self.inner.database
    }

    fn index(&self, kind: Credential) -> &DigestIndex {
        match kind {
            Credential::Token => &self.inner.tokens,
            Credential::Session => &self.inner.sessions,
        }
    }

    /// Whether a token (or session) with this digest may exist. When the index is behind the
    /// store, one background refresh brings it up to date; meanwhile the answer is `Behind`
    /// (ask the store).
    pub fn presence(&self, kind: Credential, digest: &Digest) -> Presence {
        let index = self.index(kind);
        let presence = index.presence(digest, self.inner.database.additions_stamp(kind));
        if presence == Presence::Behind && index.claim_refresh() {
            let this = self.clone();
            tokio::spawn(async move {
                let index = this.index(kind);
                if let Err(e) = index.refresh_claimed(this.inner.database.as_ref()).await {
                    tracing::debug!(error = %e, ?kind, "could not refresh the digest index");
                }
            });
        }
        presence
    }

    /// Forgets cached users and credentials here and tells other processes to do the same.
    pub async fn invalidate(&self) -> Result<(), StoreError> {
        self.inner.cache.clear();
        self.inner.database.announce_change().await
    }
}

/// Runs a store write in a task of its own, so that a client going away cannot stop it between
/// its commit and the additions stamp a digest index waits for (see `store::index`). `what`
/// names it in the error of a task that panicked.
pub async fn detached<T, F>(what: &str, write: F) -> Result<T, StoreError>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(write)
        .await
        .map_err(|e| StoreError::Other(format!("{what}: {e}")))
}
