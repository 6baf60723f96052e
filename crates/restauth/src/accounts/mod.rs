//! djoser's account endpoints (`[accounts]`, under `/auth/` by default): the current user,
//! password change, password reset by e-mail, registration with activation, token login and
//! logout, with djoser 2.x's bodies, status codes and messages.
//!
//! Reset and activation links carry djoser's `uid` (the id in URL-safe base64) and Django's
//! reset token ([`reset_token`]), so links work across a Django project and restauth sharing a
//! `SECRET_KEY`. Mails are rendered from templates (overridable from `[session]
//! templates_dir`) and sent over SMTP (`[email]`) by a background task: a reset request answers
//! 204 after the same work whether or not the address is known.

mod mail;
#[cfg(feature = "openapi")]
pub mod openapi;
mod page;
pub mod reset_token;
mod routes;

pub use routes::router;

use std::sync::Arc;

use http::{HeaderMap, Uri, header};
use tokio::sync::mpsc;

use crate::core::clock::{now, now_ms};
use crate::core::error::{Error, ValidationErrors};
use crate::core::hmac::session_auth_hash;
use crate::core::settings::{AccountsSettings, Settings};
use crate::core::user::{AuthInfo, User};
use crate::pipeline::audit::{self, AuditEvent, Source};
use crate::session::csrf::Csrf;
use crate::session::{SessionService, Templates};
use crate::store::{KeptCredential, Revocation};
use crate::token::TokenService;
use crate::users::{Login, NewAccount, Users, leave_millisecond};

use self::mail::MailJob;

/// The `event.provider` of the account endpoints' audit events.
const PROVIDER: &str = "accounts";
/// djoser's messages (its `constants.Messages`).
pub(crate) const INVALID_TOKEN: &str = "Invalid token for given user.";
/// djoser's answer to a `uid` that names no user.
pub const INVALID_UID: &str = "Invalid user id or user doesn't exist.";
/// djoser's answer to an activation link used after the account is active.
pub const STALE_TOKEN: &str = "Stale token for given user.";
/// djoser's answer to a wrong `current_password`.
pub const INVALID_PASSWORD: &str = "Invalid password.";

/// The account endpoints' state: the login, token and session services, the settings of the
/// sections they read, the pages and mails, and the queue of mails to send. Cheap to clone.
#[derive(Clone)]
pub struct AccountsService {
    inner: Arc<Inner>,
}

struct Inner {
    login: Login,
    tokens: TokenService,
    sessions: SessionService,
    csrf: Csrf,
    /// `[accounts]`, `[email]`, `[user]` and the pages' sections: the endpoints span them.
    settings: Arc<Settings>,
    templates: Templates,
    queue: mpsc::Sender<MailJob>,
}

/// `[accounts] prefix` with one slash at each end (`/auth/`).
pub(crate) fn prefix(settings: &AccountsSettings) -> String {
    let inner = settings.prefix.trim_matches('/');
    if inner.is_empty() {
        "/".into()
    } else {
        format!("/{inner}/")
    }
}

/// The host (and port) a request names: as HTTP/1.1 says, the authority of an absolute-form
/// target wins over the `Host` header; `None` for neither, two `Host` headers, or a value
/// that is no host name.
fn request_host(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    if let Some(authority) = uri.authority() {
        return Some(authority.as_str().to_owned());
    }
    let mut values = headers.get_all(header::HOST).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let host = value.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| host.to_owned())
}

/// What a mailed link is for: each kind is refused in its own further cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkUse {
    Reset,
    Activation,
}

/// Where links point: djoser's `protocol`, `domain` and `site_name`.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub protocol: String,
    pub domain: String,
    pub site_name: String,
}

impl AccountsService {
    /// Loads the pages and mail templates (`[session] templates_dir` overrides them), opens
    /// the outbox of `[email]`, and starts the task that sends mail. Call it inside a tokio
    /// runtime. Errors name the setting at fault.
    pub fn new(
        login: Login,
        tokens: TokenService,
        sessions: SessionService,
        csrf: Csrf,
        settings: Arc<Settings>,
    ) -> Result<Self, String> {
        let templates = Templates::load(settings.session.templates_dir.as_deref(), mail::BUILT_IN)
            .map_err(|e| format!("session.templates_dir: {e}"))?;
        let outbox = crate::email::Outbox::new(&settings.email)?;
        if !outbox.is_configured() {
            tracing::info!(
                "[email] host is not set: password reset and activation mails will not be sent"
            );
        }
        let (queue, jobs) = mpsc::channel(mail::QUEUE_LENGTH);
        let service = AccountsService {
            inner: Arc::new(Inner {
                login,
                tokens,
                sessions,
                csrf,
                settings,
                templates,
                queue,
            }),
        };
        tokio::spawn(mail::run(service.clone(), outbox, jobs));
        Ok(service)
    }

    /// The API tokens the account endpoints issue and revoke (djoser's token login and logout).
    pub fn tokens(&self) -> &TokenService {
        &self.inner.tokens
    }

    /// The accounts the endpoints manage.
    pub fn users(&self) -> &Users {
        self.inner.login.users()
    }

    /// The throttled password check of the login and password endpoints.
    pub fn login(&self) -> &Login {
        &self.inner.login
    }

    /// Django's CSRF check of the reset page.
    pub fn csrf(&self) -> &Csrf {
        &self.inner.csrf
    }

    /// The settings the endpoints read.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The sessions of the account pages: the reset page reads its form and CSRF through them.
    pub fn sessions(&self) -> &SessionService {
        &self.inner.sessions
    }

    pub(crate) fn templates(&self) -> &Templates {
        &self.inner.templates
    }

    /// The protocol, domain and site name of links made for a request to `uri` with
    /// `headers`. Without `[accounts] domain`, the host (and port) is the one the server's
    /// `allowed_hosts` check looked at: the authority of an absolute-form request target,
    /// else the `Host` header (a request naming neither is refused as Django refuses an
    /// invalid host).
    pub(crate) fn site(&self, uri: &Uri, headers: &HeaderMap) -> Result<Site, Error> {
        let s = &self.settings().accounts;
        let protocol = s.protocol.clone().unwrap_or_else(|| {
            let secure = crate::core::request::is_secure(
                headers,
                self.settings().csrf.trust_forwarded_proto,
            );
            if secure { "https" } else { "http" }.to_owned()
        });
        let domain = match &s.domain {
            Some(d) => d.clone(),
            None => request_host(uri, headers)
                .ok_or_else(|| Error::Parse(crate::pipeline::hosts::INVALID_HOST.into()))?,
        };
        Ok(Site {
            protocol,
            domain,
            site_name: s.site_name.clone(),
        })
    }

    /// Queues a job for the mail task. A full queue is answered 503, to every client alike.
    fn enqueue(&self, job: MailJob) -> Result<(), Error> {
        self.inner.queue.try_send(job).map_err(|e| {
            tracing::warn!(error = %e, "the mail queue is full or closed");
            Error::Unavailable
        })
    }

    /// djoser's `reset_password`: queues the reset mail for the active accounts of `email`
    /// with a usable password. The lookup happens in the mail task, so the answer and its
    /// timing are the same whether or not such an account exists.
    pub(crate) fn request_reset(
        &self,
        email: String,
        site: Site,
        source: Source,
    ) -> Result<(), Error> {
        self.enqueue(MailJob::PasswordReset {
            email,
            site,
            source,
        })
    }

    /// djoser's `resend_activation`: queues the activation mail for the inactive accounts of
    /// `email` with a usable password that staff did not deactivate, looked up in the mail
    /// task as a reset request is.
    pub(crate) fn resend_activation(&self, email: String, site: Site) -> Result<(), Error> {
        self.enqueue(MailJob::ResendActivation { email, site })
    }

    /// Queues the activation mail of `user`.
    pub(crate) fn send_activation(&self, user: User, site: Site) -> Result<(), Error> {
        self.enqueue(MailJob::Activation { user, site })
    }

    /// The user a `uid` and `token` of a mailed link name, or djoser's field error.
    ///
    /// Beyond Django's check of the token (which a Django project with the same key makes
    /// alike), a link is refused when it was made before the user's revocation cut-off (a
    /// deactivation, a logout everywhere, a password change), a reset link when the account
    /// is inactive, and an activation link when staff or a command deactivated the account.
    pub(crate) async fn user_of_link(
        &self,
        uid: &str,
        token: &str,
        purpose: LinkUse,
    ) -> Result<User, Error> {
        let field = |name: &str, message: &str| {
            let mut e = ValidationErrors::new();
            e.add(name, message);
            Error::Validation(e)
        };
        let user = match reset_token::decode_uid(uid) {
            Some(id) => self.users().store().user_by_id(id).await?,
            None => None,
        };
        let Some(user) = user else {
            return Err(field("uid", INVALID_UID));
        };
        let timeout = self.settings().accounts.password_reset_timeout.as_i64();
        if !reset_token::check_token(&user, token, now(), timeout, self.users().secret_key()) {
            return Err(field("token", INVALID_TOKEN));
        }
        let refused = match purpose {
            LinkUse::Reset => !user.is_active,
            LinkUse::Activation => user.deactivated_by_admin,
        };
        if refused || !reset_token::made_after(token, user.valid_after) {
            tracing::info!(
                user_id = %user.id,
                ?purpose,
                "a revoked account link was refused"
            );
            return Err(field("token", INVALID_TOKEN));
        }
        Ok(user)
    }

    /// Django's password validators for `password` of `user` (or of no one), as djoser's
    /// `{"new_password": [...]}`.
    pub(crate) fn validate_new_password(
        &self,
        password: &str,
        user: Option<&User>,
    ) -> Result<(), Error> {
        let account = user.map_or_else(NewAccount::default, |u| NewAccount {
            username: u.username.clone(),
            email: u.email.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            ..NewAccount::default()
        });
        let mut errors = ValidationErrors::new();
        self.users()
            .check_password_rules(password, &account, &mut errors);
        // The rules report under `password`; djoser names the field `new_password`.
        let mut renamed = ValidationErrors::new();
        for (_, messages) in errors.as_json() {
            for m in messages.as_array().into_iter().flatten() {
                renamed.add("new_password", m.as_str().unwrap_or_default());
            }
        }
        renamed.into_result()
    }

    /// Sets a checked new password and ends every other credential of the user: every JWT,
    /// and every token and session but the one of `caller` (what authenticated the request),
    /// which is re-dated past the cut-off so it keeps working.
    pub(crate) async fn change_password(
        &self,
        user: &User,
        password: &str,
        caller: Option<&AuthInfo>,
        source: &Source,
    ) -> Result<(), Error> {
        let hash = self.users().hashing().hash(password.to_owned()).await?;
        let cut_off = now_ms();
        let created = cut_off + 1;
        let keep = match caller {
            Some(AuthInfo::Token { token_id }) => KeptCredential::Token {
                id: *token_id,
                created,
            },
            Some(AuthInfo::Session { session_id }) => KeptCredential::Session {
                digest: session_id.to_string(),
                auth_hash: session_auth_hash(&hash, self.users().secret_key()),
                created,
            },
            // A JWT names no login its refresh token could be found by; Basic carries the
            // old password itself.
            _ => KeptCredential::Nothing,
        };
        self.users()
            .passwords()
            .set_password(user.id, &hash, Some(&Revocation { cut_off, keep }))
            .await?;
        self.users()
            .audit()
            .record(
                AuditEvent::for_user(audit::PASSWORD_CHANGED, audit::SUCCESS, PROVIDER, user)
                    .source(source),
            )
            .await;
        leave_millisecond(created).await;
        self.users().invalidate().await
    }

    /// The `uid`, `token` and `new_password` of a reset confirmation, checked in djoser's order:
    /// the fields, the password rules, the uid, the token, then (beyond djoser) the rules that
    /// compare the password with the user's own attributes.
    pub(crate) async fn confirm_reset(
        &self,
        uid: &str,
        token: &str,
        new_password: &str,
        source: &Source,
    ) -> Result<(), Error> {
        self.validate_new_password(new_password, None)?;
        let user = self.user_of_link(uid, token, LinkUse::Reset).await?;
        self.validate_new_password(new_password, Some(&user))?;
        if !self.reset_password(&user, new_password, source).await? {
            // Used by a concurrent request since it was checked.
            let mut e = ValidationErrors::new();
            e.add("token", INVALID_TOKEN);
            return Err(Error::Validation(e));
        }
        Ok(())
    }

    /// Sets the password a reset link asked for, once: `false` when the link was used
    /// meanwhile (the stored hash is no longer the one the token was checked against).
    pub(crate) async fn reset_password(
        &self,
        user: &User,
        password: &str,
        source: &Source,
    ) -> Result<bool, Error> {
        let hash = self.users().hashing().hash(password.to_owned()).await?;
        let cut_off = now_ms();
        let done = self
            .users()
            .passwords()
            .reset_password(user.id, &user.password, &hash, cut_off, now())
            .await?;
        if done {
            self.users()
                .audit()
                .record(
                    AuditEvent::for_user(audit::PASSWORD_RESET, audit::SUCCESS, PROVIDER, user)
                        .source(source),
                )
                .await;
            leave_millisecond(cut_off).await;
            self.users().invalidate().await?;
        }
        Ok(done)
    }
}
