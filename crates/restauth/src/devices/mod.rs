//! Every device in view, as django-rest-knox keeps one token per device: a user lists their
//! tokens and sessions (when and where each was issued, when last used), revokes any one of
//! them, or logs out everywhere. JSON views under `/api/auth/` ([`router`]) and, with the
//! `html-login` feature, an HTML account page (`account_router`).
//!
//! A token is named by its row id; a session by an opaque id derived from its key's digest
//! with the secret key, so neither the key nor its digest ever leaves the server. Revocations
//! clear the caches and announce themselves to every process sharing the store, as the other
//! revoke paths do.

#[cfg(feature = "openapi")]
pub mod openapi;
#[cfg(feature = "html-login")]
mod page;
mod routes;

#[cfg(feature = "html-login")]
pub use page::ACCOUNT;
pub use routes::router;

use serde_json::{Value, json};

use crate::core::error::Error;
use crate::core::user::{AuthInfo, User};
use crate::pipeline::audit::{self, AuditEvent, Source, rfc3339_ms};
use crate::session::SessionService;
use crate::store::{Presented, SessionDevice, TokenDevice};
use crate::token::TokenService;
use crate::users::Users;

/// The `event.provider` of the events these views emit.
const PROVIDER: &str = "devices";

/// Lists and revokes a user's tokens and sessions.
#[derive(Clone)]
pub struct DevicesService {
    tokens: TokenService,
    sessions: SessionService,
}

/// A user's session as its owner sees it: an opaque id instead of the key.
#[derive(Clone, Debug)]
pub struct SessionView {
    /// The session's public id: a keyed hash of its digest, which the owner revokes it by.
    pub id: String,
    /// When and where it was started and last seen.
    pub device: SessionDevice,
}

impl DevicesService {
    /// The devices views over the token and session services.
    pub fn new(tokens: TokenService, sessions: SessionService) -> Self {
        DevicesService { tokens, sessions }
    }

    fn users(&self) -> &Users {
        self.tokens.users()
    }

    async fn invalidate(&self) -> Result<(), Error> {
        self.users().invalidate().await
    }

    /// The user's live tokens (not expired, not from before the user's last "log out
    /// everywhere", password change or deactivation), newest first.
    pub async fn tokens(&self, user: &User) -> Result<Vec<TokenDevice>, Error> {
        let now = crate::core::clock::now();
        Ok(self
            .tokens
            .store()
            .user_tokens(user.id)
            .await?
            .into_iter()
            .filter(|t| t.expires.is_none_or(|e| e > now) && user.issued_valid(t.created))
            .collect())
    }

    /// The user's live sessions (not expired, not idle too long, not from before the user's
    /// last "log out everywhere" or password change), newest first.
    pub async fn sessions(&self, user: &User) -> Result<Vec<SessionView>, Error> {
        let now = crate::core::clock::now();
        let idle = self.sessions.settings().idle_timeout.map(|t| t.as_i64());
        Ok(self
            .sessions
            .store()
            .user_sessions(user.id)
            .await?
            .into_iter()
            .filter(|s| {
                s.expires > now
                    && user.issued_valid(s.created)
                    && idle.is_none_or(|i| now - s.last_seen < i)
            })
            .map(|device| SessionView {
                id: self.session_id(&device.digest),
                device,
            })
            .collect())
    }

    /// The public id of the session whose key has this digest (hex): a keyed hash, so it
    /// tells nothing of the key or its digest and cannot be forged into another session's.
    pub fn session_id(&self, digest_hex: &str) -> String {
        let mac = crate::core::hmac::salted_hmac(
            "restauth.devices.session_id",
            digest_hex.as_bytes(),
            self.users().secret_key().as_bytes(),
        );
        hex::encode(&mac[..16])
    }

    /// Revokes the user's token `token_id`; `false` when the user has no such token.
    pub async fn revoke_token(
        &self,
        user: &User,
        token_id: i64,
        source: &Source,
    ) -> Result<bool, Error> {
        if !self
            .tokens
            .store()
            .delete_token_of(user.id, token_id)
            .await?
        {
            return Ok(false);
        }
        self.invalidate().await?;
        self.users()
            .audit()
            .record(
                AuditEvent::for_user(audit::TOKEN_REVOKED, audit::SUCCESS, PROVIDER, user)
                    .reason("1")
                    .source(source),
            )
            .await;
        tracing::info!(user_id = %user.id, token_id, "token revoked by its owner");
        Ok(true)
    }

    /// Ends the user's session of public id `id`; `false` when the user has no such session.
    pub async fn revoke_session(
        &self,
        user: &User,
        id: &str,
        source: &Source,
    ) -> Result<bool, Error> {
        let sessions = self.sessions.store().user_sessions(user.id).await?;
        let Some(session) = sessions.iter().find(|s| {
            let candidate = self.session_id(&s.digest);
            bool::from(subtle::ConstantTimeEq::ct_eq(
                candidate.as_bytes(),
                id.as_bytes(),
            ))
        }) else {
            return Ok(false);
        };
        let gone = self
            .sessions
            .store()
            .delete_session(Presented::by_digest(&session.digest))
            .await?;
        self.invalidate().await?;
        if gone {
            self.users()
                .audit()
                .record(
                    AuditEvent::for_user(audit::SESSION_REVOKED, audit::SUCCESS, PROVIDER, user)
                        .source(source),
                )
                .await;
            tracing::info!(user_id = %user.id, "session ended by its owner");
        }
        Ok(gone)
    }

    /// "Log out everywhere": every token, session and JWT of the user issued until now ends,
    /// the calling one included.
    pub async fn logout_everywhere(&self, user: &User, source: &Source) -> Result<(), Error> {
        self.users().revoke_all(user).await?;
        self.users()
            .audit()
            .record(
                AuditEvent::for_user(audit::LOGOUT_ALL, audit::SUCCESS, PROVIDER, user)
                    .source(source),
            )
            .await;
        tracing::info!(user_id = %user.id, "logged out everywhere");
        Ok(())
    }
}

/// An instant in Unix seconds as DRF renders a `DateTimeField` in UTC.
pub(crate) fn iso_seconds(secs: i64) -> String {
    rfc3339_ms(secs.saturating_mul(1000))
}

/// A token as the list shows it: never the key nor its digest.
pub(crate) fn token_json(token: &TokenDevice, auth: Option<&AuthInfo>) -> Value {
    let current = matches!(auth, Some(AuthInfo::Token { token_id }) if *token_id == token.id);
    json!({
        "id": token.id,
        "created": rfc3339_ms(token.created),
        "last_used": token.last_used.map(iso_seconds),
        "expiry": token.expires.map(iso_seconds),
        "user_agent": token.origin.user_agent,
        "address": token.origin.address,
        "current": current,
    })
}

/// Whether `session` is the one the request came with.
pub(crate) fn is_current_session(session: &SessionDevice, auth: Option<&AuthInfo>) -> bool {
    matches!(auth, Some(AuthInfo::Session { session_id }) if **session_id == *session.digest)
}

/// A session as the list shows it: its public id, never the key nor its digest.
pub(crate) fn session_json(session: &SessionView, auth: Option<&AuthInfo>) -> Value {
    let s = &session.device;
    json!({
        "id": session.id,
        "created": rfc3339_ms(s.created),
        "last_seen": iso_seconds(s.last_seen),
        "expiry": iso_seconds(s.expires),
        "user_agent": s.origin.user_agent,
        "address": s.origin.address,
        "current": is_current_session(s, auth),
    })
}
