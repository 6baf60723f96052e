//! The secret key when none is configured: read from, or created in, `restauth.secret_key`
//! beside the SQLite database (mode 0600), so that a restart keeps everyone logged in. Never an
//! in-memory key: a restart would end every session and JWT. On PostgreSQL there is no such
//! file to share between instances, so the key must be configured.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{ConfigError, MIN_SECRET_KEY_LEN, Secret, Settings, check_hmac_key};

/// Fills `settings.secret_key` from the key file when it is unset; refuses on PostgreSQL.
pub fn ensure_secret_key(settings: &mut Settings) -> Result<(), ConfigError> {
    if settings.secret_key.is_some() {
        return Ok(());
    }
    let url = &settings.database.url;
    if !url.starts_with("sqlite:") {
        return Err(ConfigError(
            "secret_key: must be set when the database is not a local SQLite file, so that every \
             instance signs sessions and JWTs with the same key: set secret_key in the settings \
             (the server reads it from restauth.toml or RESTAUTH_SECRET_KEY; generate one with \
             `openssl rand -hex 32`)"
                .into(),
        ));
    }
    check_sqlite_folder(url)?;
    let file = key_file(url);
    let key = read_or_create_key(&file)?;
    // The file's key passes the same checks as a configured one, and the message names it.
    check_hmac_key("secret_key", &key)
        .map_err(|e| ConfigError(format!("{} (from {})", e.0, file.display())))?;
    settings.secret_key = Some(Secret(key));
    Ok(())
}

/// An SQLite database in a folder that does not exist names the folder, before anything
/// (the key file included) tries to create a file there.
pub fn check_sqlite_folder(database_url: &str) -> Result<(), ConfigError> {
    if let Some(dir) = sqlite_folder(database_url)
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        return Err(ConfigError(format!(
            "database.url: the folder {} does not exist; create it (mkdir -p {}) or point \
             database.url at an existing folder",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// The folder of an SQLite database file; `None` for other databases and in-memory SQLite.
fn sqlite_folder(database_url: &str) -> Option<PathBuf> {
    sqlite_path(database_url).map(|p| Path::new(p).parent().unwrap_or(Path::new("")).to_owned())
}

fn sqlite_path(database_url: &str) -> Option<&str> {
    database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.contains(":memory:"))
}

fn key_file(database_url: &str) -> PathBuf {
    match sqlite_folder(database_url) {
        Some(dir) => dir.join("restauth.secret_key"),
        None => PathBuf::from("restauth.secret_key"),
    }
}

fn read_or_create_key(file: &Path) -> Result<String, ConfigError> {
    match std::fs::read_to_string(file) {
        Ok(key) if key.trim().len() >= MIN_SECRET_KEY_LEN => return Ok(key.trim().to_owned()),
        Ok(_) => {
            return Err(ConfigError(format!(
                "secret_key: {} holds fewer than {MIN_SECRET_KEY_LEN} characters",
                file.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError(format!("secret_key: {}: {e}", file.display()))),
    }
    let key = crate::core::random::hex::<32>();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| ConfigError(format!("secret_key: cannot create {}: {e}", file.display())))?;
    f.write_all(key.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| ConfigError(format!("secret_key: {}: {e}", file.display())))?;
    tracing::info!(path = %file.display(), "generated a new secret key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_sits_beside_the_database() {
        assert_eq!(
            key_file("sqlite:///tmp/x/restauth.db"),
            PathBuf::from("/tmp/x/restauth.secret_key")
        );
        assert_eq!(
            key_file("sqlite://restauth.db?mode=rwc"),
            PathBuf::from("restauth.secret_key")
        );
    }

    #[test]
    fn created_once_then_read_back_and_refused_on_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("a.db").display());
        let mut first = Settings::default();
        first.database.url = url.clone();
        ensure_secret_key(&mut first).unwrap();
        let mut second = Settings::default();
        second.database.url = url;
        ensure_secret_key(&mut second).unwrap();
        assert_eq!(first.secret_key.unwrap().0, second.secret_key.unwrap().0);
        let mode = std::fs::metadata(dir.path().join("restauth.secret_key"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap();
        assert_eq!(mode, 0o600);

        let mut pg = Settings::default();
        pg.database.url = "postgres://db/app".into();
        let err = ensure_secret_key(&mut pg).unwrap_err().0;
        assert!(err.starts_with("secret_key: must be set"), "{err}");
        assert!(err.contains("RESTAUTH_SECRET_KEY"), "{err}");
    }
}
