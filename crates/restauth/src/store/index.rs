//! The digests of the tokens (or sessions) that exist, by their first 8 bytes, so that a key
//! nobody holds is refused without a query: a client spraying random keys or `sessionid`
//! cookies then costs a hash and a lookup here, not a database round trip per request.
//!
//! The index never refuses a real key. It answers [`Presence::Absent`] only while it holds
//! every row up to the store's current [`Database::additions_stamp`], which every insert moves
//! after its commit, in this process or another (the management commands, other server
//! processes on the same SQLite file). When the stamp has moved, the index says
//! [`Presence::Behind`] and the caller queries as without it, while one background refresh
//! reads the rows added since (`id > ` the last id seen: ids are given in commit order by the
//! stores that have an additions stamp). Deleted rows stay in the index, where it says
//! [`Presence::Possible`] and the query refuses them, until the index has doubled since its
//! last full read: then the next refresh reads every row again (sessions come and go).
//!
//! Memory: 8 bytes per row (8 MB per million), at most twice the rows that exist, plus the few
//! added since the last merge.

use std::collections::HashSet;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Credential, Database, StoreError};
use crate::store::cache::Digest;

/// Rows read per query while loading.
#[cfg(not(test))]
const PAGE: u32 = 10_000;
#[cfg(test)]
const PAGE: u32 = 4;
/// Additions kept apart from the sorted prefixes until there are this many.
#[cfg(not(test))]
const MERGE_AT: usize = 4096;
#[cfg(test)]
const MERGE_AT: usize = 8;

/// What the index knows of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// No stored token has this digest: refuse without a query.
    Absent,
    /// A stored token may have it: ask the store.
    Possible,
    /// The index is behind the store: ask the store, and bring the index up to date.
    Behind,
    /// The index is off (the store has no additions stamp): ask the store.
    Unknown,
}

#[derive(Default)]
struct State {
    /// Sorted prefixes.
    sorted: Vec<u64>,
    /// Prefixes added since the last merge into `sorted`.
    recent: HashSet<u64>,
    /// The largest token id read.
    max_id: i64,
    /// The additions stamp up to which the index holds every row; `None` before the first load.
    complete_at: Option<u64>,
    /// How many prefixes the last full read found.
    read_in_full: usize,
}

impl State {
    fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether deleted rows may make up half of the index: time to read every row again.
    fn outgrown(&self) -> bool {
        self.len() > 2 * self.read_in_full.max(MERGE_AT)
    }
}

pub struct DigestIndex {
    kind: Credential,
    state: RwLock<State>,
    refreshing: AtomicBool,
}

fn prefix(digest: &Digest) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

fn prefix_of_hex(hex_digest: &str) -> Option<u64> {
    let mut first = [0u8; 8];
    hex::decode_to_slice(hex_digest.get(..16)?, &mut first).ok()?;
    Some(u64::from_be_bytes(first))
}

impl DigestIndex {
    /// An empty index of `kind`, behind the store until its first refresh.
    pub fn new(kind: Credential) -> Self {
        DigestIndex {
            kind,
            state: RwLock::default(),
            refreshing: AtomicBool::new(false),
        }
    }

    /// Whether a row with `digest` may exist, given the store's additions stamp now.
    pub fn presence(&self, digest: &Digest, stamp: Option<u64>) -> Presence {
        let Some(stamp) = stamp else {
            return Presence::Unknown;
        };
        let Ok(state) = self.state.read() else {
            return Presence::Unknown;
        };
        if state.complete_at != Some(stamp) {
            return Presence::Behind;
        }
        let p = prefix(digest);
        if state.sorted.binary_search(&p).is_ok() || state.recent.contains(&p) {
            Presence::Possible
        } else {
            Presence::Absent
        }
    }

    /// Reads the rows added since the last refresh, until the index is complete at the
    /// store's stamp. One refresh at a time: a call while another runs returns at once.
    #[cfg(test)]
    pub async fn refresh(&self, store: &dyn Database) -> Result<(), StoreError> {
        if !self.claim_refresh() {
            return Ok(());
        }
        self.refresh_claimed(store).await
    }

    /// Claims the one refresh; `false` when another runs. Claim before spawning a refresh, so
    /// that misses while the index is behind do not each spawn a task.
    pub fn claim_refresh(&self) -> bool {
        !self.refreshing.swap(true, Ordering::AcqRel)
    }

    /// The refresh of a successful [`DigestIndex::claim_refresh`]; releases the claim.
    pub async fn refresh_claimed(&self, store: &dyn Database) -> Result<(), StoreError> {
        let result = self.catch_up(store).await;
        self.refreshing.store(false, Ordering::Release);
        result
    }

    async fn catch_up(&self, store: &dyn Database) -> Result<(), StoreError> {
        // The stamp is read before the rows: a row committed before the read is in them; one
        // committed after moves the stamp again, and the loop goes round once more.
        while let Some(stamp) = store.additions_stamp(self.kind) {
            // Every row is read at the first load, and again once ended rows may fill half of
            // the index; otherwise only the rows added since.
            let Ok((in_full, max_id)) = self
                .state
                .read()
                .map(|s| (s.complete_at.is_none() || s.outgrown(), s.max_id))
            else {
                return Ok(());
            };
            let mut after = if in_full { 0 } else { max_id };
            let mut fresh = Vec::new();
            loop {
                let rows = store.digests_after(self.kind, after, PAGE).await?;
                for (id, digest) in &rows {
                    fresh.extend(prefix_of_hex(digest));
                    after = after.max(*id);
                }
                if rows.len() < PAGE as usize {
                    break;
                }
            }
            let Ok(mut state) = self.state.write() else {
                return Ok(());
            };
            if in_full {
                // Answers went on from the old state meanwhile, which holds every row this
                // one does: a superset is never wrong, only slower.
                *state = State::default();
            }
            state.max_id = state.max_id.max(after);
            if state.recent.len() + fresh.len() < MERGE_AT {
                state.recent.extend(fresh);
            } else {
                // One sort per refresh, not one per addition: a first load of a million
                // rows sorts once.
                let recent = std::mem::take(&mut state.recent);
                state.sorted.extend(fresh);
                state.sorted.extend(recent);
                state.sorted.sort_unstable();
                state.sorted.dedup();
                state.sorted.shrink_to_fit();
            }
            if in_full {
                state.read_in_full = state.len();
            }
            state.complete_at = Some(stamp);
            drop(state);
            if store.additions_stamp(self.kind) == Some(stamp) {
                break;
            }
        }
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.read().map_or(0, |s| s.len())
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use super::*;
    use crate::core::settings::DatabaseSettings;
    use crate::store::Store;
    use crate::store::{NewSession, NewToken, NewUser, Presented, SessionRecord};

    async fn store(dir: &std::path::Path) -> std::sync::Arc<dyn Store> {
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", dir.join("restauth.db").display()),
            ..DatabaseSettings::default()
        };
        let store = crate::store::connect(&settings).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    fn digest_of(n: u32) -> Digest {
        use sha2::{Digest as _, Sha256};
        Sha256::digest(n.to_be_bytes()).into()
    }

    async fn add(store: &dyn Store, user_id: crate::core::user_id::UserId, n: u32) {
        store
            .insert_token(&NewToken {
                digest: hex::encode(digest_of(n)),
                user_id,
                created: 0,
                expires: None,
                limit_per_user: None,
                ..NewToken::default()
            })
            .await
            .unwrap();
    }

    async fn user(store: &dyn Store) -> crate::core::user_id::UserId {
        store
            .create_user(&NewUser {
                username: "alice".into(),
                email: String::new(),
                first_name: String::new(),
                last_name: String::new(),
                password: "!".into(),
                is_active: true,
                is_staff: false,
                is_superuser: false,
                date_joined: 0,
            })
            .await
            .unwrap()
            .id
    }

    #[tokio::test]
    async fn unknown_digests_are_absent_once_loaded_and_new_ones_never_are() {
        let dir = tempfile::tempdir().unwrap();
        let server = store(dir.path()).await;
        let alice = user(server.as_ref()).await;
        for n in 0..10 {
            add(server.as_ref(), alice, n).await;
        }
        let index = DigestIndex::new(Credential::Token);
        // Before the first load it knows nothing.
        assert_eq!(
            index.presence(&digest_of(99), server.additions_stamp(Credential::Token)),
            Presence::Behind
        );
        assert_eq!(index.presence(&digest_of(99), None), Presence::Unknown);
        index.refresh(server.as_ref()).await.unwrap();
        assert_eq!(index.len(), 10);
        assert_eq!(
            index.presence(&digest_of(3), server.additions_stamp(Credential::Token)),
            Presence::Possible
        );
        assert_eq!(
            index.presence(&digest_of(99), server.additions_stamp(Credential::Token)),
            Presence::Absent
        );

        // A token stored by another opener of the file (a management command): the very next
        // lookup is no longer sure, before any refresh.
        let command = store(dir.path()).await;
        add(command.as_ref(), alice, 99).await;
        assert_eq!(
            index.presence(&digest_of(99), server.additions_stamp(Credential::Token)),
            Presence::Behind
        );
        index.refresh(server.as_ref()).await.unwrap();
        assert_eq!(
            index.presence(&digest_of(99), server.additions_stamp(Credential::Token)),
            Presence::Possible
        );
        assert_eq!(
            index.presence(&digest_of(100), server.additions_stamp(Credential::Token)),
            Presence::Absent
        );
    }

    #[tokio::test]
    async fn loads_in_pages_and_merges() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let alice = user(s.as_ref()).await;
        let n = MERGE_AT as u32 * 2 + PAGE + 1;
        for i in 0..n {
            add(s.as_ref(), alice, i).await;
        }
        let index = DigestIndex::new(Credential::Token);
        index.refresh(s.as_ref()).await.unwrap();
        assert_eq!(index.len(), n as usize);
        for i in (0..n).step_by(97) {
            assert_eq!(
                index.presence(&digest_of(i), s.additions_stamp(Credential::Token)),
                Presence::Possible
            );
        }
    }

    async fn start_session(store: &dyn Store, user_id: crate::core::user_id::UserId, n: u32) {
        let session = NewSession {
            key: String::new(),
            record: SessionRecord {
                digest: hex::encode(digest_of(n)),
                user_id,
                auth_hash: String::new(),
                created: 0,
                last_seen: 0,
                expires: i64::MAX,
            },
            origin: Default::default(),
        };
        store.insert_session(&session, None).await.unwrap();
    }

    #[tokio::test]
    async fn sessions_have_their_own_stamp_and_ended_ones_are_dropped_by_a_full_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path()).await;
        let alice = user(s.as_ref()).await;
        let stamp = || s.additions_stamp(Credential::Session);
        let index = DigestIndex::new(Credential::Session);
        for n in 0..MERGE_AT as u32 {
            start_session(s.as_ref(), alice, n).await;
        }
        index.refresh(s.as_ref()).await.unwrap();
        assert_eq!(index.presence(&digest_of(0), stamp()), Presence::Possible);
        assert_eq!(index.presence(&digest_of(999), stamp()), Presence::Absent);

        // A token moves the token stamp only.
        let before = stamp();
        add(s.as_ref(), alice, 999).await;
        assert_eq!(stamp(), before);
        assert_eq!(index.presence(&digest_of(999), stamp()), Presence::Absent);

        // Sessions come and go: the ended ones stay until the index has doubled since its
        // full read, and the refresh after that reads only the live ones.
        let mut next = MERGE_AT as u32;
        while index.len() <= 2 * MERGE_AT {
            s.delete_session(Presented::by_digest(&hex::encode(digest_of(
                next - MERGE_AT as u32,
            ))))
            .await
            .unwrap();
            start_session(s.as_ref(), alice, next).await;
            assert_eq!(index.presence(&digest_of(next), stamp()), Presence::Behind);
            index.refresh(s.as_ref()).await.unwrap();
            assert_eq!(
                index.presence(&digest_of(next), stamp()),
                Presence::Possible
            );
            next += 1;
        }
        start_session(s.as_ref(), alice, next).await;
        index.refresh(s.as_ref()).await.unwrap();
        assert_eq!(index.len(), MERGE_AT + 1);
        for live in next - MERGE_AT as u32..=next {
            assert_eq!(
                index.presence(&digest_of(live), stamp()),
                Presence::Possible
            );
        }
        assert_eq!(index.presence(&digest_of(0), stamp()), Presence::Absent);
    }
}
