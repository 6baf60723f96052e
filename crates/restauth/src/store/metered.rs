//! [`Metered`]: a [`Store`] that times every operation of the store it wraps, as
//! `restauth_store_query_duration_seconds{operation}` (see [`crate::core::metrics`]). Apart from
//! the SQL, so the one implementation stays free of it; with metrics off each call costs one
//! atomic load more.

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    AuditQuery, AuditRecord, Credential, DjangoImport, Found, ImportOutcome, KeptCredential,
    NewToken, NewUser, Origin, OutstandingToken, RotatedToken, Rotation, SessionDevice,
    SessionRecord, Store, StoreError, TokenDevice, TokenRecord, UserPage, UserQuery,
};
use crate::core::metrics;
use crate::core::user::User;

/// Times each operation of `inner`. Every method of [`Store`] is forwarded, the ones with a
/// default body included, so the wrapped store's own versions run.
pub struct Metered {
    inner: Arc<dyn Store>,
}

impl Metered {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Metered { inner }
    }
}

#[async_trait]
impl Store for Metered {
    async fn migrate(&self) -> Result<(), StoreError> {
        metrics::store_operation("migrate", self.inner.migrate()).await
    }

    fn change_stamp(&self) -> u64 {
        self.inner.change_stamp()
    }

    async fn announce_change(&self) -> Result<(), StoreError> {
        metrics::store_operation("announce_change", self.inner.announce_change()).await
    }

    fn additions_stamp(&self, kind: Credential) -> Option<u64> {
        self.inner.additions_stamp(kind)
    }

    async fn digests_after(
        &self,
        kind: Credential,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let operation = match kind {
            Credential::Token => "token_digests_after",
            Credential::Session => "session_digests_after",
        };
        metrics::store_operation(operation, self.inner.digests_after(kind, after_id, limit)).await
    }

    fn token_by_key_now(&self, key: &str, digest: &str) -> Option<Found<(TokenRecord, User)>> {
        metrics::store_operation_now("token_by_digest", || {
            self.inner.token_by_key_now(key, digest)
        })
    }

    fn session_by_key_now(&self, key: &str, digest: &str) -> Option<Found<(SessionRecord, User)>> {
        metrics::store_operation_now("session_by_digest", || {
            self.inner.session_by_key_now(key, digest)
        })
    }

    fn user_by_id_now(&self, id: i64) -> Option<Found<User>> {
        metrics::store_operation_now("user_by_id", || self.inner.user_by_id_now(id))
    }

    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        metrics::store_operation("create_user", self.inner.create_user(user)).await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        metrics::store_operation("user_by_id", self.inner.user_by_id(id)).await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        metrics::store_operation("user_by_username", self.inner.user_by_username(username)).await
    }

    async fn set_password(
        &self,
        user_id: i64,
        hash: &str,
        revoke_before: Option<i64>,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "set_password",
            self.inner.set_password(user_id, hash, revoke_before),
        )
        .await
    }

    async fn upgrade_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        old_auth_hash: &str,
        new_auth_hash: &str,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "upgrade_password",
            self.inner
                .upgrade_password(user_id, old_hash, new_hash, old_auth_hash, new_auth_hash),
        )
        .await
    }

    async fn import_django(
        &self,
        batch: &DjangoImport,
        session_auth_hash: &(dyn for<'a> Fn(&'a str) -> String + Send + Sync),
        dry_run: bool,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ImportOutcome, StoreError> {
        metrics::store_operation(
            "import_django",
            self.inner
                .import_django(batch, session_auth_hash, dry_run, progress),
        )
        .await
    }

    async fn set_active(&self, user_id: i64, active: bool) -> Result<bool, StoreError> {
        metrics::store_operation("set_active", self.inner.set_active(user_id, active)).await
    }

    async fn set_last_login(&self, user_id: i64, at: i64) -> Result<(), StoreError> {
        metrics::store_operation("set_last_login", self.inner.set_last_login(user_id, at)).await
    }

    async fn set_valid_after(&self, user_id: i64, at: i64) -> Result<bool, StoreError> {
        metrics::store_operation("set_valid_after", self.inner.set_valid_after(user_id, at)).await
    }

    async fn delete_user(&self, user_id: i64) -> Result<bool, StoreError> {
        metrics::store_operation("delete_user", self.inner.delete_user(user_id)).await
    }

    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError> {
        metrics::store_operation("insert_token", self.inner.insert_token(token)).await
    }

    async fn token_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        metrics::store_operation("token_by_digest", self.inner.token_by_digest(digest)).await
    }

    async fn touch_token(&self, token_id: i64, at: i64) -> Result<(), StoreError> {
        metrics::store_operation("touch_token", self.inner.touch_token(token_id, at)).await
    }

    async fn delete_token(&self, token_id: i64) -> Result<bool, StoreError> {
        metrics::store_operation("delete_token", self.inner.delete_token(token_id)).await
    }

    async fn delete_user_tokens(&self, user_id: i64, keep: Option<i64>) -> Result<u64, StoreError> {
        metrics::store_operation(
            "delete_user_tokens",
            self.inner.delete_user_tokens(user_id, keep),
        )
        .await
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
    ) -> Result<(), StoreError> {
        metrics::store_operation(
            "insert_session",
            self.inner.insert_session(session, replaces),
        )
        .await
    }

    async fn session_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        metrics::store_operation("session_by_digest", self.inner.session_by_digest(digest)).await
    }

    async fn touch_session(&self, digest: &str, at: i64) -> Result<(), StoreError> {
        metrics::store_operation("touch_session", self.inner.touch_session(digest, at)).await
    }

    async fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        metrics::store_operation("delete_session", self.inner.delete_session(digest)).await
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        metrics::store_operation(
            "delete_user_sessions",
            self.inner.delete_user_sessions(user_id),
        )
        .await
    }

    async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_before: Option<i64>,
    ) -> Result<u64, StoreError> {
        metrics::store_operation(
            "delete_expired_sessions",
            self.inner.delete_expired_sessions(now, idle_before),
        )
        .await
    }

    async fn insert_outstanding(&self, token: &OutstandingToken) -> Result<(), StoreError> {
        metrics::store_operation("insert_outstanding", self.inner.insert_outstanding(token)).await
    }

    async fn rotate_refresh(
        &self,
        old: &OutstandingToken,
        new: &OutstandingToken,
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        metrics::store_operation(
            "rotate_refresh",
            self.inner.rotate_refresh(old, new, blacklist_old, now_ms),
        )
        .await
    }

    async fn blacklist_jti(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "blacklist_jti",
            self.inner.blacklist_jti(jti, expires_at, now),
        )
        .await
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool, StoreError> {
        metrics::store_operation("is_blacklisted", self.inner.is_blacklisted(jti)).await
    }

    async fn rotation(&self, jti: &str) -> Result<Option<RotatedToken>, StoreError> {
        metrics::store_operation("rotation", self.inner.rotation(jti)).await
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<u64, StoreError> {
        metrics::store_operation("revoke_family", self.inner.revoke_family(family, now)).await
    }

    async fn flush_expired_tokens(&self, now: i64) -> Result<u64, StoreError> {
        metrics::store_operation("flush_expired_tokens", self.inner.flush_expired_tokens(now)).await
    }

    // ---- the plaintext-key block (Django's schema) ----

    async fn token_by_key(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(TokenRecord, User)>, StoreError> {
        metrics::store_operation("token_by_digest", self.inner.token_by_key(key, digest)).await
    }

    async fn insert_token_keyed(
        &self,
        token: &NewToken,
        key: &str,
        origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        metrics::store_operation(
            "insert_token",
            self.inner.insert_token_keyed(token, key, origin),
        )
        .await
    }

    async fn user_token_key(
        &self,
        user_id: i64,
    ) -> Result<Option<(TokenRecord, String)>, StoreError> {
        metrics::store_operation("user_token_key", self.inner.user_token_key(user_id)).await
    }

    async fn session_by_key(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<(SessionRecord, User)>, StoreError> {
        metrics::store_operation("session_by_digest", self.inner.session_by_key(key, digest)).await
    }

    async fn insert_session_keyed(
        &self,
        session: &SessionRecord,
        key: &str,
        replaces: Option<&str>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        metrics::store_operation(
            "insert_session",
            self.inner
                .insert_session_keyed(session, key, replaces, origin),
        )
        .await
    }

    async fn delete_session_key(&self, key: &str, digest: &str) -> Result<bool, StoreError> {
        metrics::store_operation("delete_session", self.inner.delete_session_key(key, digest)).await
    }

    async fn insert_outstanding_raw(
        &self,
        token: &OutstandingToken,
        raw: &str,
    ) -> Result<(), StoreError> {
        metrics::store_operation(
            "insert_outstanding",
            self.inner.insert_outstanding_raw(token, raw),
        )
        .await
    }

    async fn rotate_refresh_raw(
        &self,
        old: (&OutstandingToken, &str),
        new: (&OutstandingToken, &str),
        blacklist_old: bool,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        metrics::store_operation(
            "rotate_refresh",
            self.inner
                .rotate_refresh_raw(old, new, blacklist_old, now_ms),
        )
        .await
    }

    async fn django_triggers(&self, install: bool) -> Result<(), StoreError> {
        metrics::store_operation("django_triggers", self.inner.django_triggers(install)).await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        metrics::store_operation("checkpoint", self.inner.checkpoint()).await
    }

    async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        metrics::store_operation("backup", self.inner.backup(path)).await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        metrics::store_operation("probe", self.inner.probe()).await
    }

    async fn record_login_network(
        &self,
        user_id: i64,
        network: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        metrics::store_operation(
            "record_login_network",
            self.inner.record_login_network(user_id, network, at),
        )
        .await
    }

    async fn login_network_seen(
        &self,
        username: &str,
        network: &str,
    ) -> Result<Option<i64>, StoreError> {
        metrics::store_operation(
            "login_network_seen",
            self.inner.login_network_seen(username, network),
        )
        .await
    }

    async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError> {
        metrics::store_operation("insert_audit", self.inner.insert_audit(event)).await
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        metrics::store_operation("audit_events", self.inner.audit_events(query)).await
    }

    async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        metrics::store_operation("prune_audit", self.inner.prune_audit(before_ms)).await
    }

    async fn non_ascii_usernames(&self) -> Result<Vec<String>, StoreError> {
        metrics::store_operation("non_ascii_usernames", self.inner.non_ascii_usernames()).await
    }

    // Accounts over HTTP
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>, StoreError> {
        metrics::store_operation("users_by_email", self.inner.users_by_email(email)).await
    }

    async fn update_email(
        &self,
        user_id: i64,
        email: &str,
        deactivate: bool,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "update_email",
            self.inner.update_email(user_id, email, deactivate),
        )
        .await
    }

    async fn change_password_keeping(
        &self,
        user_id: i64,
        hash: &str,
        cut_off: i64,
        keep: &KeptCredential,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "change_password_keeping",
            self.inner
                .change_password_keeping(user_id, hash, cut_off, keep),
        )
        .await
    }

    async fn reset_password(
        &self,
        user_id: i64,
        old_hash: &str,
        new_hash: &str,
        cut_off: i64,
        last_login: i64,
    ) -> Result<bool, StoreError> {
        metrics::store_operation(
            "reset_password",
            self.inner
                .reset_password(user_id, old_hash, new_hash, cut_off, last_login),
        )
        .await
    }

    async fn activate_user(&self, user_id: i64) -> Result<bool, StoreError> {
        metrics::store_operation("activate_user", self.inner.activate_user(user_id)).await
    }

    // Devices and staff

    async fn insert_token_from(
        &self,
        token: &NewToken,
        origin: &Origin,
    ) -> Result<TokenRecord, StoreError> {
        metrics::store_operation("insert_token", self.inner.insert_token_from(token, origin)).await
    }

    async fn insert_session_from(
        &self,
        session: &SessionRecord,
        replaces: Option<&str>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        metrics::store_operation(
            "insert_session",
            self.inner.insert_session_from(session, replaces, origin),
        )
        .await
    }

    async fn user_tokens(&self, user_id: i64) -> Result<Vec<TokenDevice>, StoreError> {
        metrics::store_operation("user_tokens", self.inner.user_tokens(user_id)).await
    }

    async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionDevice>, StoreError> {
        metrics::store_operation("user_sessions", self.inner.user_sessions(user_id)).await
    }

    async fn delete_token_of(&self, user_id: i64, token_id: i64) -> Result<bool, StoreError> {
        metrics::store_operation(
            "delete_token_of",
            self.inner.delete_token_of(user_id, token_id),
        )
        .await
    }

    async fn search_users(&self, query: &UserQuery) -> Result<UserPage, StoreError> {
        metrics::store_operation("search_users", self.inner.search_users(query)).await
    }
}
