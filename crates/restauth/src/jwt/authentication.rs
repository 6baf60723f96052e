//! simplejwt's `JWTAuthentication`: `Authorization: Bearer <access token>`.
//!
//! Verifying a token is pure computation; the user comes from the cache, so the hot path does
//! no I/O. Error bodies are simplejwt's (`detail`, `code`, `messages`).

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderValue, Request};
use serde_json::json;

use super::JwtService;
use crate::core::clock::now;
use crate::core::error::{Error, ErrorBody};
use crate::core::user::{AuthInfo, CutOffCause, Identity, User};
use crate::jwt::authorization::raw_token;
use crate::jwt::{Claims, TokenType, token_not_valid_body};
use crate::pipeline::authentication::scheme_and_rest;
use crate::pipeline::authentication::{Authentication, Authenticator, Outcome, authorization};

/// simplejwt's `JWTAuthentication`: `Authorization: Bearer <access token>` (the scheme words
/// of `simple_jwt.auth_header_types`), checked against the keys, the blacklist and the user's
/// revocation cut-off.
pub struct JwtAuthentication {
    service: JwtService,
    challenge: HeaderValue,
}

impl JwtAuthentication {
    /// The class over the JWT service, whose first header type names the challenge.
    pub fn new(service: JwtService) -> Self {
        let challenge = service.jwt().challenge();
        JwtAuthentication { service, challenge }
    }
}

fn failed(detail: &str, code: &str) -> Error {
    Error::authentication_failed(ErrorBody::Json(json!({ "detail": detail, "code": code })))
}

/// simplejwt's `get_user` checks on a user found (or not) for the token's claim.
pub(crate) fn check_user(
    service: &JwtService,
    claims: &Claims,
    user: Option<Arc<User>>,
) -> Result<Arc<User>, Error> {
    let Some(user) = user else {
        return Err(failed("User not found", "user_not_found"));
    };
    if service.settings().check_user_is_active && !user.is_active {
        return Err(failed("User is inactive", "user_inactive"));
    }
    if !claims.issued_after(user.valid_after) {
        // simplejwt's own words for each cause: its password check for a new password, its
        // refused blacklisted token for a logout everywhere (or a deactivation since undone).
        return Err(match user.cut_off_cause {
            CutOffCause::PasswordChanged => {
                failed("The user's password has been changed.", "password_changed")
            }
            CutOffCause::LoggedOutEverywhere | CutOffCause::Deactivated => {
                failed("Token is blacklisted", "token_not_valid")
            }
        });
    }
    Ok(user)
}

impl JwtAuthentication {
    fn identity(&self, claims: &Claims, user: Option<Arc<User>>) -> Authentication {
        let user = check_user(&self.service, claims, user)?;
        Ok(Some(Identity::authenticated(
            user,
            AuthInfo::Jwt {
                jti: claims.jti.clone(),
            },
        )))
    }
}

impl Authenticator for JwtAuthentication {
    fn authenticate<'a>(&'a self, request: &'a mut Request<Body>) -> Outcome<'a> {
        let Some(value) = authorization(request.headers()) else {
            return Outcome::skip();
        };
        let jwt = self.service.jwt();
        let now = now();
        // A token verified before is not verified again: same bytes, same signature check; only
        // the clock moved, so expiry is checked anew. It is looked up before the header is
        // parsed: a verified token holds no whitespace, so a header whose rest is one is the
        // two words the parse would find.
        let cache = self.service.users().cache().get();
        let leeway = i64::try_from(self.service.settings().leeway).unwrap_or(0);
        let cached = scheme_and_rest(&value)
            .filter(|(scheme, _)| jwt.header_types().iter().any(|t| t.as_bytes() == *scheme))
            .and_then(|(_, token)| cache.verified_jwt::<Claims>(token, now))
            .filter(|c| c.exp > now.saturating_sub(leeway));
        let claims = match cached {
            Some(c) => c,
            None => {
                let token = match raw_token(&value, jwt.header_types()) {
                    Ok(None) => return Outcome::skip(),
                    Ok(Some(t)) => t,
                    Err(bad) => {
                        return Outcome::Ready(Err(Error::authentication_failed(ErrorBody::Json(
                            bad.body(),
                        ))));
                    }
                };
                // Not UTF-8: `Token is invalid`, as simplejwt answers.
                let text = std::str::from_utf8(token).unwrap_or("");
                match jwt.decode(text, TokenType::Access, now) {
                    Ok(c) => {
                        let c = Arc::new(c);
                        cache.put_verified_jwt(token, c.clone(), now);
                        c
                    }
                    Err(e) => {
                        return Outcome::Ready(Err(Error::authentication_failed(ErrorBody::Json(
                            token_not_valid_body(&e, "AccessToken", "access"),
                        ))));
                    }
                }
            }
        };
        let Some(user_ref) = claims.user_id.as_deref() else {
            return Outcome::Ready(Err(failed(
                "Token contained no recognizable user identification",
                "token_not_valid",
            )));
        };
        if let Some(cached) = self.service.user_by_claim_at_once(user_ref) {
            return Outcome::Ready(self.identity(&claims, cached));
        }
        Outcome::Pending(Box::pin(async move {
            let user_ref = claims.user_id.as_deref().unwrap_or_default();
            let user = self.service.user_by_claim(user_ref).await?;
            self.identity(&claims, user)
        }))
    }

    fn authenticate_header(&self) -> Option<HeaderValue> {
        Some(self.challenge.clone())
    }

    /// Without an `Authorization` header a request is never this scheme's.
    fn credentials_header(&self) -> Option<http::HeaderName> {
        Some(http::header::AUTHORIZATION)
    }

    /// Before its future runs it only reads the request, the caches and the store.
    fn retry_safe(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "jwt"
    }
}
