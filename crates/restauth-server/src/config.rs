//! The server's configuration: defaults, then `restauth.toml`, then `RESTAUTH_*` variables,
//! checked once into the library's typed settings, with a secret key that exists.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use restauth::core::settings::key_file::{check_sqlite_folder, ensure_secret_key};
use restauth::core::settings::{ConfigError, MIN_SECRET_KEY_LEN, Settings};

/// Environment variables with the `RESTAUTH_` prefix that are not configuration keys.
const RESERVED_ENV: &[&str] = &["superuser_password", "log", "update_screenshots"];
const RESERVED_ENV_PREFIXES: &[&str] = &["test_"];

/// Loads defaults, then the TOML file (`path`, or `restauth.toml` in the working folder when
/// present), then `RESTAUTH_*` environment variables (nested keys joined by `__`).
fn read(path: Option<&Path>) -> Result<Settings, ConfigError> {
    let file: PathBuf = match path {
        Some(p) if !p.exists() => {
            return Err(ConfigError(format!(
                "configuration file {} does not exist",
                p.display()
            )));
        }
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("restauth.toml"),
    };
    let key_source = secret_key_source(&file);
    let env = Env::prefixed("RESTAUTH_").split("__").filter(|key| {
        // Figment hands the key over in its original (upper) case.
        let key = key.as_str().to_ascii_lowercase();
        !RESERVED_ENV.contains(&key.as_str())
            && !RESERVED_ENV_PREFIXES.iter().any(|p| key.starts_with(p))
    });
    let settings: Settings = Figment::new()
        .merge(Toml::file(file))
        .merge(env)
        .extract()
        .map_err(|e| ConfigError(describe(e)))?;
    if let Some(key) = &settings.secret_key
        && key.0.len() < MIN_SECRET_KEY_LEN
    {
        return Err(ConfigError(format!(
            "secret_key: {} characters (from {key_source}), at least {MIN_SECRET_KEY_LEN} \
             needed; generate one, e.g. `openssl rand -hex 32`",
            key.0.len()
        )));
    }
    settings.validate()?;
    Ok(settings)
}

/// Where a configured `secret_key` comes from, for messages: the environment wins over the file.
fn secret_key_source(file: &Path) -> String {
    if std::env::var_os("RESTAUTH_SECRET_KEY").is_some() {
        "the environment variable RESTAUTH_SECRET_KEY".to_owned()
    } else {
        file.display().to_string()
    }
}

fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|err| {
            let path = err.path.join(".");
            let source = err
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .map(|s| format!(" (from {s})"))
                .unwrap_or_default();
            if path.is_empty() {
                format!("{}{source}", err.kind)
            } else {
                format!("{path}: {}{source}", err.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Loads settings and, when no `secret_key` is configured, reads or creates the key file
/// beside the SQLite database (mode 0600); on PostgreSQL the key must be configured.
pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut settings = read(path)?;
    // Before the key file, which lives in the same folder: the folder is what to fix.
    check_sqlite_folder(&settings.database.url)?;
    ensure_secret_key(&mut settings)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_start_with_the_key_to_fix() {
        for (toml, key) in [
            (
                "[simple_jwt]\nalgorithm = \"none\"\n",
                "simple_jwt.algorithm",
            ),
            (
                "[rest_framework.default_throttle_rates]\nanon = \"2/month\"\n",
                "rest_framework.default_throttle_rates.anon",
            ),
        ] {
            let err = Figment::new()
                .merge(Toml::string(toml))
                .extract::<Settings>()
                .unwrap_err();
            let text = describe(err);
            assert!(text.starts_with(key), "{text}");
        }
    }
}
