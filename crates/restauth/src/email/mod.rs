//! Mail over SMTP (Django's `EMAIL_*` settings, `[email]`), with `lettre` on tokio and rustls.
//!
//! [`Outbox::send`] makes a few attempts with a growing pause between them and logs each
//! failure without the mail's text (it carries reset links). Callers send from a background
//! task, never on a request's path.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::core::settings::{EmailBackend, EmailSettings, SmtpTls};

/// One plain-text mail.
#[derive(Clone)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl std::fmt::Debug for Mail {
    // The body carries links that act as passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Where mail goes: an SMTP server, standard output (the console backend), or nowhere when
/// neither is configured.
#[derive(Clone)]
pub struct Outbox {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    console: bool,
    from: Mailbox,
    retries: u32,
    /// The pause before the first retry; doubled for each next one.
    pause: Duration,
}

impl Outbox {
    /// An outbox for `[email]`. Errors name the setting at fault.
    pub fn new(settings: &EmailSettings) -> Result<Outbox, String> {
        let from: Mailbox = settings
            .from_email
            .parse()
            .map_err(|e| format!("email.from_email: {e}"))?;
        let console = settings.backend == Some(EmailBackend::Console);
        let transport = match &settings.host {
            _ if console => None,
            None => None,
            Some(host) => {
                let tls = |host: &str| {
                    TlsParameters::new(host.to_owned()).map_err(|e| format!("email.tls: {e}"))
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(settings.port())
                    .timeout(Some(Duration::from_secs(settings.timeout.0)));
                builder = match settings.tls {
                    SmtpTls::None => builder.tls(Tls::None),
                    SmtpTls::Starttls => builder.tls(Tls::Required(tls(host)?)),
                    SmtpTls::Tls => builder.tls(Tls::Wrapper(tls(host)?)),
                };
                if let (Some(user), Some(password)) = (&settings.host_user, &settings.host_password)
                {
                    builder =
                        builder.credentials(Credentials::new(user.0.clone(), password.0.clone()));
                }
                Some(builder.build())
            }
        };
        Ok(Outbox {
            transport,
            console,
            from,
            retries: settings.retries,
            pause: Duration::from_millis(500),
        })
    }

    /// Whether mail leaves this process at all (the console counts).
    pub fn is_configured(&self) -> bool {
        self.transport.is_some() || self.console
    }

    /// Django's console backend: the whole message, then a line of dashes, in one write.
    fn print(&self, mail: &Mail) {
        use std::io::Write;
        let text = format!(
            "Content-Type: text/plain; charset=\"utf-8\"\nSubject: {}\nFrom: {}\nTo: {}\n\n{}\n{}\n",
            mail.subject.trim().replace(['\r', '\n'], " "),
            self.from,
            mail.to,
            mail.body.trim_end(),
            "-".repeat(79)
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// Sends `mail`, retrying; `false` when every attempt failed (each failure is logged).
    pub async fn send(&self, mail: &Mail, what: &'static str) -> bool {
        if self.console {
            self.print(mail);
            tracing::info!(what, "mail printed on standard output (console backend)");
            return true;
        }
        let Some(transport) = &self.transport else {
            tracing::warn!(what, "mail not sent: no [email] host is configured");
            return false;
        };
        let to: Mailbox = match mail.to.parse() {
            Ok(to) => to,
            Err(_) => {
                tracing::warn!(what, "mail not sent: the recipient's address is not valid");
                return false;
            }
        };
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.trim().replace(['\r', '\n'], " "))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone());
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(what, error = %e, "mail not sent: it could not be built");
                return false;
            }
        };
        let mut pause = self.pause;
        for attempt in 0..=self.retries {
            match transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::info!(what, "mail sent");
                    return true;
                }
                Err(e) => {
                    tracing::warn!(what, attempt = attempt + 1, error = %e, "mail not sent");
                    if attempt < self.retries {
                        tokio::time::sleep(pause).await;
                        pause = pause.saturating_mul(2);
                    }
                }
            }
        }
        false
    }
}
