//! The mail task: finds who a reset request concerns, renders the mails and sends them, off
//! the requests' path. Logs say what was sent or not, never the link.

use std::sync::Arc;

use minijinja::context;
use tokio::sync::{Semaphore, mpsc};

use super::{AccountsService, PROVIDER, Site, reset_token};
use crate::core::clock::now;
use crate::core::user::User;
use crate::email::{Mail, Outbox};
use crate::pipeline::audit::{self, AuditEvent, Source};

/// Jobs waiting at most; past that a request gets 503.
pub(super) const QUEUE_LENGTH: usize = 1024;
/// Mails in flight at once (each may wait for retries).
const SENDING_AT_ONCE: usize = 4;

pub const PASSWORD_RESET_SUBJECT: &str = "password_reset_subject.txt";
pub const PASSWORD_RESET_EMAIL: &str = "password_reset_email.txt";
pub const ACTIVATION_SUBJECT: &str = "activation_subject.txt";
pub const ACTIVATION_EMAIL: &str = "activation_email.txt";
pub const RESET_PAGE: &str = "password_reset_confirm.html";

/// The built-in mails and page; a file of the same name in `[session] templates_dir` wins.
pub(super) const BUILT_IN: &[(&str, &str)] = &[
    (
        PASSWORD_RESET_SUBJECT,
        include_str!("../../templates/password_reset_subject.txt"),
    ),
    (
        PASSWORD_RESET_EMAIL,
        include_str!("../../templates/password_reset_email.txt"),
    ),
    (
        ACTIVATION_SUBJECT,
        include_str!("../../templates/activation_subject.txt"),
    ),
    (
        ACTIVATION_EMAIL,
        include_str!("../../templates/activation_email.txt"),
    ),
    (
        RESET_PAGE,
        include_str!("../../templates/password_reset_confirm.html"),
    ),
];

pub(super) enum MailJob {
    PasswordReset {
        email: String,
        site: Site,
        source: Source,
    },
    Activation {
        user: User,
        site: Site,
    },
    ResendActivation {
        email: String,
        site: Site,
    },
}

pub(super) async fn run(
    service: AccountsService,
    outbox: Outbox,
    mut jobs: mpsc::Receiver<MailJob>,
) {
    let slots = Arc::new(Semaphore::new(SENDING_AT_ONCE));
    while let Some(job) = jobs.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let service = service.clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let _slot = slot;
            service.handle(job, &outbox).await;
        });
    }
}

impl AccountsService {
    async fn handle(&self, job: MailJob, outbox: &Outbox) {
        match job {
            MailJob::PasswordReset {
                email,
                site,
                source,
            } => {
                let users = match self.users().store().users_by_email(&email).await {
                    Ok(users) => users,
                    Err(e) => {
                        return tracing::warn!(error = %e, "password reset: could not look up users");
                    }
                };
                // djoser's `get_user`: active accounts that can log in with a password.
                for user in users
                    .into_iter()
                    .filter(|u| u.is_active && !u.password.starts_with('!'))
                {
                    self.users()
                        .audit()
                        .record(
                            AuditEvent::for_user(
                                audit::PASSWORD_RESET_REQUESTED,
                                audit::SUCCESS,
                                PROVIDER,
                                &user,
                            )
                            .source(&source),
                        )
                        .await;
                    let link = self.link(&user, &site, Link::Reset).await;
                    self.deliver(outbox, &user, &site, &link, Link::Reset).await;
                }
            }
            MailJob::ResendActivation { email, site } => {
                let users = match self.users().store().users_by_email(&email).await {
                    Ok(users) => users,
                    Err(e) => {
                        return tracing::warn!(error = %e, "activation: could not look up users");
                    }
                };
                // djoser's `get_user(is_active=False)`, less the accounts staff deactivated.
                for user in users.into_iter().filter(|u| {
                    !u.is_active && !u.deactivated_by_admin && !u.password.starts_with('!')
                }) {
                    let link = self.link(&user, &site, Link::Activation).await;
                    self.deliver(outbox, &user, &site, &link, Link::Activation)
                        .await;
                }
            }
            MailJob::Activation { user, site } => {
                let link = self.link(&user, &site, Link::Activation).await;
                self.deliver(outbox, &user, &site, &link, Link::Activation)
                    .await;
            }
        }
    }

    /// djoser's `url` (relative to the site) for `user`, with a fresh token, made after the
    /// second of the user's revocation cut-off: a token names its second only, so one of that
    /// second is refused (it may be older than the cut-off), and a link asked for then is
    /// made in the next second (the mail waits at most that long).
    async fn link(&self, user: &User, site: &Site, kind: Link) -> Links {
        let second = user.valid_after.div_euclid(1000);
        let patience = tokio::time::Instant::now() + std::time::Duration::from_millis(1100);
        while now() <= second && tokio::time::Instant::now() < patience {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let uid = reset_token::encode_uid(user.id);
        let token = reset_token::make_token(user, now(), self.users().secret_key());
        let accounts = &self.settings().accounts;
        let configured = match kind {
            Link::Reset => accounts.password_reset_confirm_url.as_deref(),
            Link::Activation => accounts.activation_url.as_deref(),
        };
        let url = match configured {
            Some(pattern) => pattern.replace("{uid}", &uid).replace("{token}", &token),
            // restauth's own page.
            None => format!(
                "{}password/reset/confirm/{uid}/{token}/",
                super::prefix(accounts).trim_start_matches('/')
            ),
        };
        let url = url.trim_start_matches('/').to_owned();
        Links {
            full: format!("{}://{}/{url}", site.protocol, site.domain),
            url,
            uid,
            token,
        }
    }

    async fn deliver(&self, outbox: &Outbox, user: &User, site: &Site, link: &Links, kind: Link) {
        let (subject, body, what) = match kind {
            Link::Reset => (
                PASSWORD_RESET_SUBJECT,
                PASSWORD_RESET_EMAIL,
                "password reset",
            ),
            Link::Activation => (ACTIVATION_SUBJECT, ACTIVATION_EMAIL, "activation"),
        };
        let timeout_days = self
            .settings()
            .accounts
            .password_reset_timeout
            .0
            .div_ceil(86_400);
        let ctx = context! {
            user => context! { username => user.username, email => user.email },
            uid => link.uid,
            token => link.token,
            url => link.url,
            link => link.full,
            protocol => site.protocol,
            domain => site.domain,
            site_name => site.site_name,
            timeout_days,
        };
        let rendered = self
            .templates()
            .render(subject, &ctx)
            .and_then(|s| Ok((s, self.templates().render(body, &ctx)?)));
        let (subject, body) = match rendered {
            Ok(r) => r,
            Err(e) => {
                return tracing::error!(what, error = %e, user_id = %user.id, "mail template failed");
            }
        };
        let mail = Mail {
            to: user.email.clone(),
            subject,
            body,
        };
        if !outbox.send(&mail, what).await {
            tracing::warn!(what, user_id = %user.id, "mail given up");
        }
    }
}

#[derive(Clone, Copy)]
enum Link {
    Reset,
    Activation,
}

struct Links {
    full: String,
    url: String,
    uid: String,
    token: String,
}
