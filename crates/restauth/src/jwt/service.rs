//! The stateful half of JWT: logins, refreshes, rotation with replay detection, blacklisting
//! and "log out everywhere". The pure half (keys, claims, validation) is [`super::JwtBackend`].

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Claims, TokenError, TokenType};
use crate::context::{Restauth, now};
use crate::error::{Error, ErrorBody, ValidationErrors};
use crate::store::{OutstandingToken, Rotation};
use crate::user::User;

/// simplejwt's `{"detail": <message>, "code": "token_not_valid"}`.
pub fn token_not_valid(err: &TokenError) -> Error {
    Error::authentication_failed(ErrorBody::Json(err.detail_body()))
}

const NO_ACTIVE_ACCOUNT: &str = "No active account found for the given token.";

/// A pair for a fresh login.
pub struct Pair {
    pub refresh: String,
    pub access: String,
}

impl Restauth {
    /// The user a token's user-id claim names, from the cache only.
    pub fn cached_user_by_claim(&self, claim: &str) -> Option<Arc<User>> {
        if self.settings().simple_jwt.user_id_field != "id" {
            return None;
        }
        let id: i64 = claim.parse().ok()?;
        self.cache().user(id, now())
    }

    /// The user a token's user-id claim names (`user_id_field` is `id` or `username`).
    pub async fn user_by_claim(&self, claim: &str) -> Result<Option<Arc<User>>, Error> {
        match self.settings().simple_jwt.user_id_field.as_str() {
            "username" => Ok(self.user_by_username(claim).await?.map(Arc::new)),
            _ => match claim.parse::<i64>() {
                Ok(id) => self.user_by_id(id).await,
                Err(_) => Ok(None),
            },
        }
    }

    fn user_claim(&self, user: &User) -> String {
        match self.settings().simple_jwt.user_id_field.as_str() {
            "username" => user.username.clone(),
            _ => user.id.to_string(),
        }
    }

    /// `POST /api/token/`: a refresh/access pair for an authenticated user, recorded as the
    /// first token of a new login family.
    pub async fn obtain_pair(&self, user: &User) -> Result<Pair, Error> {
        let now = now();
        let jwt = self.jwt();
        let refresh = jwt.issue_refresh(&self.user_claim(user), now);
        self.store()
            .insert_outstanding(&OutstandingToken {
                jti: refresh.claims.jti.clone(),
                user_id: user.id,
                family: refresh.claims.jti.clone(),
                created_at: refresh.claims.iat,
                expires_at: refresh.claims.exp,
            })
            .await?;
        if self.settings().simple_jwt.update_last_login {
            self.store().set_last_login(user.id, now).await?;
        }
        let access = jwt.access_for(&refresh.claims, now);
        Ok(Pair {
            refresh: refresh.token,
            access: access.token,
        })
    }

    /// Validates a refresh token and its user: signature, expiry, type, blacklist, account.
    async fn live_refresh(&self, token: &str, now: i64) -> Result<(Claims, Arc<User>), Error> {
        let claims = self
            .jwt()
            .decode(token, TokenType::Refresh, now)
            .map_err(|e| token_not_valid(&e))?;
        if self.store().is_blacklisted(&claims.jti).await? {
            // A rotated token is blacklisted by its rotation, so a replay arrives here rather
            // than at `rotate_refresh`: it must revoke the family all the same.
            if let Some(family) = self.store().rotated_family(&claims.jti).await? {
                self.revoke_replayed(&family, claims.user_id.as_deref(), now)
                    .await?;
            }
            return Err(token_not_valid(&TokenError::Blacklisted));
        }
        let user = match &claims.user_id {
            Some(c) => self.user_by_claim(c).await?,
            None => None,
        };
        let Some(user) = user.filter(|u| u.is_active) else {
            // simplejwt answers a deleted user with a 500; a client deserves this instead.
            return Err(Error::authentication_failed(NO_ACTIVE_ACCOUNT));
        };
        if claims.iat < user.valid_after {
            return Err(token_not_valid(&TokenError::Blacklisted));
        }
        Ok((claims, user))
    }

    /// A spent refresh token came back: treat it as stolen and revoke its whole login family.
    async fn revoke_replayed(
        &self,
        family: &str,
        user_claim: Option<&str>,
        now: i64,
    ) -> Result<(), Error> {
        let revoked = self.store().revoke_family(family, now).await?;
        tracing::warn!(
            user_id = user_claim.unwrap_or(""),
            revoked,
            "refresh token replayed; login family revoked"
        );
        Ok(())
    }

    /// `POST /api/token/refresh/`: `{"access"}`, or `{"access","refresh"}` with rotation.
    ///
    /// With rotation and blacklisting on, the old token is spent atomically: of concurrent
    /// refreshes exactly one wins, and a replay of a spent token revokes its whole family.
    pub async fn refresh(&self, token: &str) -> Result<Value, Error> {
        let now = now();
        let (claims, user) = self.live_refresh(token, now).await?;
        let settings = &self.settings().simple_jwt;
        let jwt = self.jwt();
        if !settings.rotate_refresh_tokens {
            let access = jwt.access_for(&claims, now);
            return Ok(json!({ "access": access.token }));
        }
        let new = jwt.rotate(&claims, now);
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
                .rotate_refresh(&old_row, &new_row, true, now)
                .await?;
            if let Rotation::Reused { family } = outcome {
                self.revoke_replayed(&family, claims.user_id.as_deref(), now)
                    .await?;
                return Err(token_not_valid(&TokenError::Blacklisted));
            }
        } else {
            self.store().insert_outstanding(&new_row).await?;
        }
        let access = jwt.access_for(&new.claims, now);
        Ok(json!({ "access": access.token, "refresh": new.token }))
    }

    /// `POST /api/token/verify/`: `{}` for a valid token of any type.
    pub async fn verify_token(&self, token: &str) -> Result<Value, Error> {
        let claims = self
            .jwt()
            .decode_any(token, now())
            .map_err(|e| token_not_valid(&e))?;
        if self.settings().simple_jwt.blacklist_after_rotation
            && self.store().is_blacklisted(&claims.jti).await?
        {
            // simplejwt's quirk, kept for its clients: a 400, not a 401.
            return Err(Error::Validation(ValidationErrors::non_field(
                "Token is blacklisted",
            )));
        }
        Ok(json!({}))
    }

    /// `POST /api/token/blacklist/`: refuses this refresh token from now on.
    pub async fn blacklist_refresh(&self, token: &str) -> Result<Value, Error> {
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
        Ok(json!({}))
    }

    /// `restauth flushexpiredtokens`.
    pub async fn flush_expired_tokens(&self) -> Result<u64, Error> {
        Ok(self.store().flush_expired_tokens(now()).await?)
    }
}
