//! `[database] schema_flavor`: restauth's own tables, or a Django project's.

use serde::Deserialize;

use super::{ConfigError, Seconds};

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

/// Django's `PBKDF2PasswordHasher.iterations` in the Django version restauth is tested against
/// (5.2).
pub const DJANGO_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// Django's default authentication backend, written into the sessions restauth starts.
pub const DJANGO_MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

/// Checks the Django-schema keys of `[database]`.
pub(crate) fn validate(
    flavor: SchemaFlavor,
    user_table: &str,
    username_field: &str,
    reread_after: Seconds,
) -> Result<(), ConfigError> {
    if flavor != SchemaFlavor::Django {
        return Ok(());
    }
    for (key, name) in [
        ("database.django_user_table", user_table),
        ("database.django_username_field", username_field),
    ] {
        let mut chars = name.chars();
        let plain = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.len() <= 63;
        if !plain {
            return Err(ConfigError(format!(
                "{key}: {name:?} is not a plain lower-case table or column name ([a-z_][a-z0-9_]*)"
            )));
        }
    }
    if reread_after.0 == 0 {
        return Err(ConfigError(
            "database.django_reread_after: must be at least 1 second".into(),
        ));
    }
    Ok(())
}
