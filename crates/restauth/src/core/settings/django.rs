//! `[database] schema_flavor`: restauth's own tables, or a Django project's; and `[django]`,
//! what restauth must know of that project.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ConfigError, Seconds, Secret};

/// Whose tables the store reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaFlavor {
    /// restauth's own schema (token and session digests, `valid_after`, …).
    #[default]
    Restauth,
    /// A live Django project's tables (`auth_user`, `authtoken_token`, `django_session`,
    /// simplejwt's blacklist), shared with Django; restauth's extra state sits beside them in
    /// `restauth_*` tables.
    Django,
}

/// Django's default authentication backend, written into the sessions restauth starts.
pub const DJANGO_MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

/// `[django]`: what restauth must know of a Django project's user model and sessions to work
/// on its tables (`[database] schema_flavor = "django"`) and to import them
/// (`restauth import-django`). restauth reads the user table's real columns from the
/// database when it opens it; these settings name what the columns cannot say.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DjangoSettings {
    /// The user model's table: `auth_user`, or a custom model's (`users_user`, …).
    pub user_table: String,
    /// The model's `USERNAME_FIELD`: a unique column (`username`, `email`, …).
    pub username_field: String,
    /// The model's `EMAIL_FIELD` (default `email`); when the table has no such column users
    /// have no e-mail.
    pub email_field: String,
    /// Values for the table's other NOT NULL columns without a database default, given to
    /// each user restauth creates: `{ name = "" }`. Strings, integers, floats and booleans.
    pub user_defaults: BTreeMap<String, serde_json::Value>,
    /// Further columns of the table read into each user ([`User::extra`](crate::User::extra)),
    /// for an app's own handlers: `["name"]`.
    pub user_extra_columns: Vec<String>,
    /// A cached user, token or session is read again from Django's tables once it is this
    /// old, so a change Django makes is honoured within it (default 1 s).
    pub reread_after: Seconds,
    /// Django's `AUTHENTICATION_BACKENDS`; the first is written as `_auth_user_backend` into
    /// the sessions restauth starts.
    pub authentication_backends: Vec<String>,
    /// Django's `SECRET_KEY_FALLBACKS`: older keys whose session signatures and session auth
    /// hashes are still accepted (new ones use `secret_key`).
    pub secret_key_fallbacks: Vec<Secret>,
    /// Django's `PASSWORD_HASHERS` (dotted paths): the first hashes new passwords in its
    /// format, the others verify; a stored hash is rewritten exactly when Django's
    /// `verify_password` would. Default: Django's own list, PBKDF2 first.
    pub password_hashers: Vec<String>,
    /// The Django release whose hasher parameters restauth uses (`"4.2"` to `"6.0"`; PBKDF2's
    /// iterations change between releases). Default `"5.2"`.
    pub version: String,
}

/// Django's default `PASSWORD_HASHERS`.
pub const DJANGO_PASSWORD_HASHERS: [&str; 5] = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
];

impl Default for DjangoSettings {
    fn default() -> Self {
        DjangoSettings {
            user_table: "auth_user".into(),
            username_field: "username".into(),
            email_field: "email".into(),
            user_defaults: BTreeMap::new(),
            user_extra_columns: Vec::new(),
            reread_after: Seconds(1),
            authentication_backends: vec![DJANGO_MODEL_BACKEND.into()],
            secret_key_fallbacks: Vec::new(),
            password_hashers: DJANGO_PASSWORD_HASHERS.map(String::from).to_vec(),
            version: "5.2".into(),
        }
    }
}

/// Whether `name` is a plain lower-case identifier that SQL can name without quoting.
pub(crate) fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

impl DjangoSettings {
    /// The backend written into the sessions restauth starts.
    pub fn session_backend(&self) -> &str {
        self.authentication_backends
            .first()
            .map_or(DJANGO_MODEL_BACKEND, String::as_str)
    }

    /// `SECRET_KEY_FALLBACKS`, as the signing and hashing code takes keys.
    pub fn fallback_keys(&self) -> Vec<String> {
        self.secret_key_fallbacks
            .iter()
            .map(|k| k.0.clone())
            .collect()
    }

    /// Checks the keys, for a server on Django's tables.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let names = [
            ("django.user_table", &self.user_table),
            ("django.username_field", &self.username_field),
            ("django.email_field", &self.email_field),
        ];
        let defaults = self
            .user_defaults
            .keys()
            .map(|k| ("django.user_defaults", k));
        let extras = self
            .user_extra_columns
            .iter()
            .map(|k| ("django.user_extra_columns", k));
        for (key, name) in names.into_iter().chain(defaults).chain(extras) {
            if !plain_name(name) {
                return Err(ConfigError(format!(
                    "{key}: {name:?} is not a plain lower-case table or column name \
                     ([a-z_][a-z0-9_]*)"
                )));
            }
        }
        for (column, value) in &self.user_defaults {
            if !matches!(
                value,
                serde_json::Value::String(_)
                    | serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)
            ) {
                return Err(ConfigError(format!(
                    "django.user_defaults.{column}: must be a string, a number or a boolean"
                )));
            }
        }
        if self.reread_after.0 == 0 {
            return Err(ConfigError(
                "django.reread_after: must be at least 1 second".into(),
            ));
        }
        if self.authentication_backends.is_empty() {
            return Err(ConfigError(
                "django.authentication_backends: name at least one backend (Django's default \
                 is [\"django.contrib.auth.backends.ModelBackend\"])"
                    .into(),
            ));
        }
        Ok(())
    }
}
