//! `[accounts]` (djoser's endpoints and settings) and `[email]` (Django's `EMAIL_*`).

use serde::Deserialize;

use super::{ConfigError, Seconds, Secret};

/// `[accounts]`: djoser's user endpoints under `prefix`, and its settings in lower case.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSettings {
    /// Serve the endpoints at all.
    pub enabled: bool,
    /// Where they are mounted, djoser's `path("auth/", include(...))`: `users/`, `token/login/`…
    pub prefix: String,
    /// `POST users/` creates accounts (off: the route is absent, as in a djoser project
    /// without the `create` action).
    pub registration: bool,
    /// djoser's `SEND_ACTIVATION_EMAIL`: new accounts (and accounts whose e-mail changes) are
    /// inactive until `users/activation/` receives the mailed `uid` and `token`.
    pub send_activation_email: bool,
    /// Django's `PASSWORD_RESET_TIMEOUT`: how long a reset or activation link works (3 days).
    pub password_reset_timeout: Seconds,
    /// djoser's `PASSWORD_RESET_CONFIRM_URL` (`"#/password/reset/confirm/{uid}/{token}"`),
    /// joined to `protocol://domain/`. Unset: restauth's own page asks for the new password.
    pub password_reset_confirm_url: Option<String>,
    /// djoser's `ACTIVATION_URL` (`"#/activate/{uid}/{token}"`), joined the same way. Unset:
    /// the link names the activation endpoint's `uid` and `token` for a client to post.
    pub activation_url: Option<String>,
    /// djoser's `DOMAIN`: the host the links point at. Unset: the request's `Host` (checked
    /// against `[server] allowed_hosts`).
    pub domain: Option<String>,
    /// djoser's `PROTOCOL`: `"https"` or `"http"`. Unset: the request's own.
    pub protocol: Option<String>,
    /// djoser's `SITE_NAME`, shown in the mails.
    pub site_name: String,
    /// djoser's `LOGIN_FIELD`: the key `token/login/` reads the user's name from. Unset:
    /// `[user] username_field`, matched as every login is (`[user] login_methods`);
    /// `"email"` (with another `username_field`): the e-mail, matched ignoring case.
    pub login_field: Option<String>,
}

impl Default for AccountsSettings {
    fn default() -> Self {
        AccountsSettings {
            enabled: true,
            prefix: "/auth/".into(),
            registration: false,
            send_activation_email: false,
            password_reset_timeout: Seconds(259_200),
            password_reset_confirm_url: None,
            activation_url: None,
            domain: None,
            protocol: None,
            site_name: "restauth".into(),
            login_field: None,
        }
    }
}

impl AccountsSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        super::check_route_path("accounts.prefix", &self.prefix)?;
        if self.password_reset_timeout.0 == 0 {
            return Err(ConfigError(
                "accounts.password_reset_timeout: must be at least 1 second".into(),
            ));
        }
        for (key, url) in [
            (
                "accounts.password_reset_confirm_url",
                &self.password_reset_confirm_url,
            ),
            ("accounts.activation_url", &self.activation_url),
        ] {
            if let Some(url) = url
                && !(url.contains("{uid}") && url.contains("{token}"))
            {
                return Err(ConfigError(format!(
                    "{key}: {url:?} must hold {{uid}} and {{token}}, e.g. \
                     \"#/password/reset/confirm/{{uid}}/{{token}}\""
                )));
            }
        }
        if self.send_activation_email && self.activation_url.is_none() {
            return Err(ConfigError(
                "accounts.activation_url: needed with send_activation_email (djoser's \
                 ACTIVATION_URL), e.g. \"#/activate/{uid}/{token}\": the page of your app that \
                 posts them to users/activation/"
                    .into(),
            ));
        }
        if let Some(p) = &self.protocol
            && p != "https"
            && p != "http"
        {
            return Err(ConfigError(format!(
                "accounts.protocol: {p:?} must be \"https\" or \"http\""
            )));
        }
        if let Some(d) = &self.domain
            && (d.is_empty() || d.contains(['/', '?', '#', '@']) || d.contains(char::is_whitespace))
        {
            return Err(ConfigError(format!(
                "accounts.domain: {d:?} must be a host name (and port), such as \"app.example.com\""
            )));
        }
        Ok(())
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host); Django's default.
    None,
    /// `STARTTLS` after connecting, required (Django's `EMAIL_USE_TLS`); port 587 by default.
    #[default]
    Starttls,
    /// TLS from the first byte (Django's `EMAIL_USE_SSL`); port 465 by default.
    Tls,
}

/// Where mail goes: Django's `EMAIL_BACKEND`, the SMTP one or the console one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackend {
    /// Over SMTP to `[email] host`.
    Smtp,
    /// Printed whole, link included, on standard output, as Django's console backend does:
    /// for development, never where the links are secrets.
    Console,
}

/// `[email]`: Django's `EMAIL_*` settings. Mail is sent over SMTP, off the request's path.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailSettings {
    /// `"smtp"` or `"console"`. Unset: SMTP when `host` is set, else no mail is sent (the
    /// `restauth` server picks the console on a loopback address without an `[email]`
    /// section).
    pub backend: Option<EmailBackend>,
    /// The SMTP server (`EMAIL_HOST`). Unset: no mail is sent, and each mail that would have
    /// been is logged (without its link) as not sent.
    pub host: Option<String>,
    /// `EMAIL_PORT`; by default 25, 587 or 465 after `tls`.
    pub port: Option<u16>,
    /// `email.tls`: how the connection is secured (`"starttls"` by default, Django's
    /// `EMAIL_USE_TLS`; `"tls"` for `EMAIL_USE_SSL`; `"none"`, refused with a password, for a
    /// relay on the same host).
    pub tls: SmtpTls,
    /// `EMAIL_HOST_USER`; set it through `RESTAUTH_EMAIL__HOST_USER`.
    pub host_user: Option<Secret>,
    /// `EMAIL_HOST_PASSWORD`; set it through `RESTAUTH_EMAIL__HOST_PASSWORD`.
    pub host_password: Option<Secret>,
    /// `DEFAULT_FROM_EMAIL`.
    pub from_email: String,
    /// `EMAIL_TIMEOUT`: one SMTP conversation's bound.
    pub timeout: Seconds,
    /// Further attempts after a failed send (with a growing pause between them).
    pub retries: u32,
}

impl Default for EmailSettings {
    fn default() -> Self {
        EmailSettings {
            backend: None,
            host: None,
            port: None,
            tls: SmtpTls::default(),
            host_user: None,
            host_password: None,
            from_email: "webmaster@localhost".into(),
            timeout: Seconds(10),
            retries: 3,
        }
    }
}

impl EmailSettings {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.backend == Some(EmailBackend::Smtp) && self.host.is_none() {
            return Err(ConfigError(
                "email.backend: \"smtp\" needs email.host, the SMTP server".into(),
            ));
        }
        if self.host_user.is_some() != self.host_password.is_some() {
            return Err(ConfigError(
                "email.host_user: set both host_user and host_password (RESTAUTH_EMAIL__HOST_USER \
                 and RESTAUTH_EMAIL__HOST_PASSWORD), or neither"
                    .into(),
            ));
        }
        if self.host_user.is_some() && self.tls == SmtpTls::None {
            return Err(ConfigError(
                "email.tls: \"none\" would send the SMTP password in clear; use \"starttls\" or \
                 \"tls\""
                    .into(),
            ));
        }
        if self.timeout.0 == 0 {
            return Err(ConfigError(
                "email.timeout: must be at least 1 second".into(),
            ));
        }
        if !is_plain_address(&self.from_email) {
            return Err(ConfigError(format!(
                "email.from_email: {:?} is not an e-mail address",
                self.from_email
            )));
        }
        Ok(())
    }
}

/// Django's `EmailValidator` in short: one `@`, a non-empty local part, a domain with no
/// spaces; what the `email` fields of the endpoints accept.
pub(crate) fn is_plain_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let domain_ok = !domain.is_empty()
        && (domain == "localhost" || domain.contains('.'))
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    local_ok && domain_ok && s.len() <= 254
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in ["a@b.co", "first.last+tag@example.com", "root@localhost"] {
            assert!(is_plain_address(ok), "{ok}");
        }
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a b@c.de", "a@b..c", "a@.b.c", "a\n@b.c",
        ] {
            assert!(!is_plain_address(bad), "{bad}");
        }
    }
}
