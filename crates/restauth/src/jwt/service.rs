//! The stateful half of JWT: logins, refreshes, rotation with replay detection, blacklisting
//! and "log out everywhere". The pure half (keys, claims, validation) is [`super::JwtBackend`].

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Claims, JwtBackend, TokenError, TokenType, UserIdField};
use crate::core::clock::now;
use crate::core::clock::now_ms;
use crate::core::error::{Error, ErrorBody, ValidationErrors};
use crate::core::metrics;
use crate::core::settings::jwt::SimpleJwtSettings;
use crate::core::user::{User, UserId};
use crate::jwt::authentication::check_user;
use crate::pipeline::audit::{self, AuditEvent, AuditLog, Source};
use crate::store::{JwtStore, OutstandingToken, Refresh, RotatedToken, Rotation};
use crate::users::Users;

/// simplejwt's `{"detail": <message>, "code": "token_not_valid"}`.
pub fn token_not_valid(err: &TokenError) -> Error {
    Error::authentication_failed(ErrorBody::Json(err.detail_body()))
}

const NO_ACTIVE_ACCOUNT: &str = "No active account found for the given token.";

/// A pair for a fresh login.
pub struct Pair {
    /// The refresh token, which `/api/token/refresh/` takes.
    pub refresh: String,
    /// The access token, for `Authorization: Bearer`.
    pub access: String,
}

/// simplejwt's views as a service: obtain, refresh, verify, blacklist, over the [`JwtBackend`] keys.
#[derive(Clone)]
pub struct JwtService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn JwtStore>,
    users: Users,
    backend: Arc<JwtBackend>,
    settings: SimpleJwtSettings,
    audit: AuditLog,
}

impl JwtService {
    /// The JWT service over these parts; [`Restauth`](crate::Restauth) builds it.
    pub fn new(
        store: Arc<dyn JwtStore>,
        users: Users,
        backend: Arc<JwtBackend>,
        settings: SimpleJwtSettings,
    ) -> Self {
        let audit = users.audit().clone();
        JwtService {
            inner: Arc::new(Inner {
                store,
                users,
                backend,
                settings,
                audit,
            }),
        }
    }

    /// `[simple_jwt]`.
    pub fn settings(&self) -> &SimpleJwtSettings {
        &self.inner.settings
    }

    /// The accounts tokens name.
    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    /// The store of refresh tokens (outstanding, rotated, blacklisted).
    pub fn store(&self) -> &Arc<dyn JwtStore> {
        &self.inner.store
    }

    /// The JWT keys and rules of `[simple_jwt]`.
    pub fn jwt(&self) -> &JwtBackend {
        &self.inner.backend
    }

    /// The user a token's user-id claim names, without waiting: from the cache, or from a
    /// read the store answers at once (SQLite). `None` when the store must be awaited; `Some(None)`
    /// when no user has that id.
    pub fn user_by_claim_at_once(&self, claim: &str) -> Option<Option<Arc<User>>> {
        if self.inner.settings.user_id_field != UserIdField::Id {
            return None;
        }
        let id = UserId::parse(claim)?;
        self.inner.users.user_by_id_at_once(id)
    }

    /// The user a token's user-id claim names (`user_id_field` is `id` or `username`).
    pub async fn user_by_claim(&self, claim: &str) -> Result<Option<Arc<User>>, Error> {
        match self.inner.settings.user_id_field {
            UserIdField::Username => Ok(self
                .inner
                .users
                .user_by_username(claim)
                .await?
                .map(Arc::new)),
            // `str(user.pk)`: an integer's digits or a UUID (simplejwt before 5.5.1 wrote an
            // integer as a number, which the claims read as its digits).
            UserIdField::Id => match UserId::parse(claim) {
                Some(id) => self.inner.users.user_by_id(id).await,
                None => Ok(None),
            },
        }
    }

    fn user_claim(&self, user: &User) -> String {
        match self.inner.settings.user_id_field {
            UserIdField::Username => user.username.clone(),
            UserIdField::Id => user.id.to_string(),
        }
    }

    /// `POST /api/token/`: a refresh/access pair for an authenticated user, recorded as the
    /// first token of a new login family.
    pub async fn obtain_pair(&self, user: &User) -> Result<Pair, Error> {
        let now_ms = now_ms();
        let jwt = self.jwt();
        let refresh = jwt.issue_refresh(&self.user_claim(user), now_ms);
        self.inner
            .store
            .insert_outstanding(Refresh {
                token: &OutstandingToken {
                    jti: refresh.claims.jti.clone(),
                    user_id: user.id,
                    family: refresh.claims.jti.clone(),
                    created_at: refresh.claims.iat,
                    expires_at: refresh.claims.exp,
                },
                text: &refresh.token,
            })
            .await?;
        if self.inner.settings.update_last_login {
            self.inner
                .users
                .store()
                .set_last_login(user.id, now_ms.div_euclid(1000))
                .await?;
        }
        let access = jwt.access_for(&refresh.claims, now_ms);
        Ok(Pair {
            refresh: refresh.token,
            access: access.token,
        })
    }

    /// The active user a refresh token names, if the token outlives the user's cut-off.
    async fn refresh_user(&self, claims: &Claims) -> Result<Arc<User>, Error> {
        let user = match &claims.user_id {
            Some(c) => self.user_by_claim(c).await?,
            None => None,
        };
        let Some(user) = user.filter(|u| u.is_active) else {
            // simplejwt answers a deleted user with a 500; a client deserves this instead.
            return Err(Error::authentication_failed(NO_ACTIVE_ACCOUNT));
        };
        if !claims.issued_after(user.valid_after) {
            return Err(token_not_valid(&TokenError::Blacklisted));
        }
        Ok(user)
    }

    /// A spent refresh token came back: treat it as stolen and revoke its whole login family.
    async fn revoke_replayed(
        &self,
        family: &str,
        user_claim: Option<&str>,
        now: i64,
        source: &Source,
    ) -> Result<(), Error> {
        let revoked = self.inner.store.revoke_family(family, now).await?;
        metrics::jwt_refresh("replay");
        metrics::jwt_family_revoked();
        // The user the token names, when it still exists (its name makes the event findable).
        let user = match user_claim {
            Some(claim) => self.user_by_claim(claim).await.ok().flatten(),
            None => None,
        };
        let event = match &user {
            Some(u) => AuditEvent::for_user(audit::REFRESH_TOKEN_REUSE, audit::FAILURE, "jwt", u),
            None => AuditEvent {
                action: audit::REFRESH_TOKEN_REUSE,
                outcome: audit::FAILURE,
                reason: String::new(),
                provider: "jwt",
                user_id: user_claim.and_then(UserId::parse),
                user_name: String::new(),
                source: Source::default(),
            },
        };
        self.inner
            .audit
            .record(
                event
                    .reason(format!(
                        "login family revoked: {revoked} token(s) blacklisted"
                    ))
                    .source(source),
            )
            .await;
        tracing::warn!(
            user_id = user_claim.unwrap_or(""),
            revoked,
            "refresh token replayed; login family revoked"
        );
        Ok(())
    }

    /// A refresh token that was already rotated came back. Within the grace it gets the one
    /// successor its rotation recorded, signed again from the stored claims (so byte for byte
    /// the same token), and a fresh access token; after it, it is a replay and its family dies.
    async fn refresh_rotated(
        &self,
        claims: &Claims,
        rotated: RotatedToken,
        now_ms: i64,
        source: &Source,
    ) -> Result<Value, Error> {
        let in_grace = within_grace(
            now_ms,
            rotated.rotated_at,
            self.inner.settings.rotation_grace_seconds,
        );
        let successor = match rotated.successor {
            Some(s) if in_grace => s,
            _ => {
                self.revoke_replayed(
                    &rotated.family,
                    claims.user_id.as_deref(),
                    now_ms.div_euclid(1000),
                    source,
                )
                .await?;
                return Err(token_not_valid(&TokenError::Blacklisted));
            }
        };
        // The successor may have been blacklisted since (logout, or its family revoked).
        if self.inner.store.is_blacklisted(&successor.jti).await? {
            return Err(token_not_valid(&TokenError::Blacklisted));
        }
        let jwt = self.jwt();
        let again = jwt.remint_successor(
            claims,
            &successor.jti,
            successor.created_at,
            successor.expires_at,
        );
        // The same checks as for the token presented: the account and its cut-off.
        self.refresh_user(&again.claims).await?;
        metrics::jwt_refresh("grace");
        let access = jwt.access_for(&again.claims, now_ms);
        Ok(json!({ "access": access.token, "refresh": again.token }))
    }

    /// `POST /api/token/refresh/`: `{"access"}`, or `{"access","refresh"}` with rotation.
    ///
    /// With rotation and blacklisting on, the old token is spent atomically and gets exactly one
    /// successor; refreshes of it within `rotation_grace_seconds` all receive that successor,
    /// and a later one is a replay that revokes the whole family.
    pub async fn refresh(&self, token: &str) -> Result<Value, Error> {
        self.refresh_from(token, &Source::default()).await
    }

    /// [`JwtService::refresh`] for a request from `source`, which a detected replay names in
    /// the audit log.
    pub async fn refresh_from(&self, token: &str, source: &Source) -> Result<Value, Error> {
        let now_ms = now_ms();
        let now = now_ms.div_euclid(1000);
        let claims = self
            .jwt()
            .decode(token, TokenType::Refresh, now)
            .map_err(|e| token_not_valid(&e))?;
        if self.inner.store.is_blacklisted(&claims.jti).await? {
            // A rotated token is blacklisted by its rotation, so a late twin or a replay
            // arrives here rather than at `rotate_refresh`.
            return match self.inner.store.rotation(&claims.jti).await? {
                Some(rotated) => self.refresh_rotated(&claims, rotated, now_ms, source).await,
                None => {
                    metrics::jwt_refresh("blacklisted");
                    Err(token_not_valid(&TokenError::Blacklisted))
                }
            };
        }
        let user = self.refresh_user(&claims).await?;
        let settings = &self.inner.settings;
        let jwt = self.jwt();
        if !settings.rotate_refresh_tokens {
            metrics::jwt_refresh("not_rotated");
            let access = jwt.access_for(&claims, now_ms);
            return Ok(json!({ "access": access.token }));
        }
        let new = jwt.rotate(&claims, now_ms);
        let old_row = OutstandingToken {
            jti: claims.jti.clone(),
            user_id: user.id,
            family: claims.jti.clone(),
            created_at: claims.iat,
            expires_at: claims.exp,
        };
        let new_row = OutstandingToken {
            jti: new.claims.jti.clone(),
            user_id: user.id,
            family: claims.jti.clone(),
            created_at: new.claims.iat,
            expires_at: new.claims.exp,
        };
        if settings.blacklist_after_rotation {
            let outcome = self
                .store()
                .rotate_refresh(
                    Refresh {
                        token: &old_row,
                        text: token,
                    },
                    Refresh {
                        token: &new_row,
                        text: &new.token,
                    },
                    true,
                    now_ms,
                )
                .await?;
            if let Rotation::Reused(rotated) = outcome {
                return self.refresh_rotated(&claims, rotated, now_ms, source).await;
            }
        } else {
            self.inner
                .store
                .insert_outstanding(Refresh {
                    token: &new_row,
                    text: &new.token,
                })
                .await?;
        }
        metrics::jwt_refresh("rotated");
        let access = jwt.access_for(&new.claims, now_ms);
        Ok(json!({ "access": access.token, "refresh": new.token }))
    }

    /// `POST /api/token/verify/`: `{}` for a valid token of any type.
    ///
    /// Beyond simplejwt's checks it applies restauth's own revocation, the user's cut-off
    /// (log out everywhere, password change, deactivation): a refresh token cut off answers as a
    /// blacklisted one, an access token as the protected routes answer it.
    pub async fn verify_token(&self, token: &str) -> Result<Value, Error> {
        let claims = self
            .jwt()
            .decode_any(token, now())
            .map_err(|e| token_not_valid(&e))?;
        // simplejwt's quirk, kept for its clients: a 400, not a 401.
        let blacklisted = || Error::Validation(ValidationErrors::non_field("Token is blacklisted"));
        if self.inner.settings.blacklist_after_rotation
            && self.inner.store.is_blacklisted(&claims.jti).await?
        {
            return Err(blacklisted());
        }
        let user = match &claims.user_id {
            Some(c) => self.user_by_claim(c).await?,
            None => None,
        };
        if let Some(user) = user
            && !user.issued_valid(claims.issued_at_ms())
        {
            if claims.token_type == TokenType::Refresh.as_str() {
                return Err(blacklisted());
            }
            return Err(check_user(self, &claims, Some(user))
                .err()
                .unwrap_or_else(|| {
                    Error::Internal("cut-off token passed the user checks".into())
                }));
        }
        Ok(json!({}))
    }

    /// `POST /api/token/blacklist/`: refuses this refresh token from now on.
    pub async fn blacklist_refresh(&self, token: &str) -> Result<Value, Error> {
        self.blacklist_refresh_from(token, &Source::default()).await
    }

    /// [`JwtService::blacklist_refresh`] for a request from `source`: the revocation is a
    /// `token_revoked` event of the token's user in the audit log.
    pub async fn blacklist_refresh_from(
        &self,
        token: &str,
        source: &Source,
    ) -> Result<Value, Error> {
        let now = now();
        let claims = self
            .jwt()
            .decode(token, TokenType::Refresh, now)
            .map_err(|e| token_not_valid(&e))?;
        if !self
            .store()
            .blacklist_jti(&claims.jti, claims.exp, now)
            .await?
        {
            return Err(token_not_valid(&TokenError::Blacklisted));
        }
        // A rare, explicit revocation: worth the lookup of whose token it was.
        if let Some(claim) = &claims.user_id
            && let Ok(Some(user)) = self.user_by_claim(claim).await
        {
            self.inner
                .audit
                .record(
                    AuditEvent::for_user(audit::TOKEN_REVOKED, audit::SUCCESS, "jwt", &user)
                        .reason("refresh token blacklisted")
                        .source(source),
                )
                .await;
        }
        Ok(json!({}))
    }

    /// `restauth flushexpiredtokens`.
    pub async fn flush_expired_tokens(&self) -> Result<u64, Error> {
        Ok(self.inner.store.flush_expired_tokens(now()).await?)
    }
}

/// Whether a refresh at `now_ms` of a token rotated at `rotated_at` is within the grace.
fn within_grace(now_ms: i64, rotated_at: i64, grace_seconds: u64) -> bool {
    let grace_ms = i64::try_from(grace_seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    // A concurrent refresh may have read the clock before the rotation it lost to, so the
    // elapsed time can be negative: that is within any grace, but there is none at 0.
    grace_ms > 0 && now_ms.saturating_sub(rotated_at) < grace_ms
}

#[cfg(test)]
mod tests {
    use super::within_grace;

    #[test]
    fn grace_window() {
        let rotated = 1_000_000;
        assert!(within_grace(rotated, rotated, 5));
        assert!(within_grace(rotated + 4_999, rotated, 5));
        assert!(!within_grace(rotated + 5_000, rotated, 5));
        // A loser that read the clock before the winner rotated.
        assert!(within_grace(rotated - 3, rotated, 5));
        // A huge setting saturates instead of overflowing.
        assert!(within_grace(rotated + 1, rotated, u64::MAX));
    }

    #[test]
    fn no_grace_is_strict_even_for_a_loser_whose_clock_read_came_first() {
        let rotated = 1_000_000;
        assert!(!within_grace(rotated, rotated, 0));
        assert!(!within_grace(rotated - 3, rotated, 0));
    }
}
