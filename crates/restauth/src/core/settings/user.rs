//! `[user]`: what Django's user model says of itself in restauth's own schema, and how a login
//! may name its user.

use serde::Deserialize;

use super::ConfigError;

/// `[user]`: the user model's `USERNAME_FIELD`, and how a login may name its user.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSettings {
    /// Django's `USERNAME_FIELD`: the field a login is matched against, and the key simplejwt's
    /// `/api/token/` reads (DRF's `/api-token-auth/` and the session logins always read
    /// `username`). `"email"` for a project that logs users in by e-mail (whose restauth
    /// username is then the e-mail, as `import-django --username-field email` makes it).
    /// Default `"username"`.
    pub username_field: String,
    /// How a login may name its user, as django-allauth's `ACCOUNT_LOGIN_METHODS`:
    /// `username_field`'s value (matched exactly, as Django's `ModelBackend`) and/or
    /// `"email"` (matched ignoring case; an e-mail several accounts share names nobody).
    /// Unset: `[username_field]` only.
    pub login_methods: Option<Vec<String>>,
}

impl Default for UserSettings {
    fn default() -> Self {
        UserSettings {
            username_field: "username".into(),
            login_methods: None,
        }
    }
}

impl UserSettings {
    /// The ways `login_methods` allows (an entry it does not know is ignored here; the
    /// settings' validation refuses it).
    pub fn login_methods(&self) -> LoginMethods {
        match &self.login_methods {
            None => LoginMethods::USERNAME_FIELD,
            Some(entries) => LoginMethods {
                username_field: entries.contains(&self.username_field),
                email: self.username_field != "email" && entries.iter().any(|e| e == "email"),
            },
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let Some(entries) = &self.login_methods else {
            return Ok(());
        };
        let known = if self.username_field == "email" {
            "\"email\"".to_owned()
        } else {
            format!("{:?} and \"email\"", self.username_field)
        };
        if entries.is_empty() {
            return Err(ConfigError(format!(
                "user.login_methods: empty; list at least one of {known} (or leave it unset \
                 for username_field alone)"
            )));
        }
        for entry in entries {
            if *entry != self.username_field && entry != "email" {
                return Err(ConfigError(format!(
                    "user.login_methods: {entry:?} is not a login method; those are {known} \
                     (username_field's value, and e-mail)"
                )));
            }
        }
        Ok(())
    }
}

/// The ways a login may name its user ([`UserSettings::login_methods`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginMethods {
    /// By the value of `USERNAME_FIELD`, matched exactly (Django's `ModelBackend`).
    pub username_field: bool,
    /// By e-mail, ignoring case, when `USERNAME_FIELD` is not the e-mail already; an e-mail
    /// that several users share names none of them.
    pub email: bool,
}

impl LoginMethods {
    /// Django's own: `USERNAME_FIELD` alone.
    pub const USERNAME_FIELD: LoginMethods = LoginMethods {
        username_field: true,
        email: false,
    };
    /// djoser's `token/login/` with `LOGIN_FIELD = "email"`: the e-mail alone.
    pub const EMAIL: LoginMethods = LoginMethods {
        username_field: false,
        email: true,
    };
}
