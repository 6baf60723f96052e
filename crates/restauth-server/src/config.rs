//! Settings for the server: the library's, plus a secret key that exists.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use restauth::core::settings::{ConfigError, Secret, Settings, check_hmac_key};

/// Loads settings and, when no `secret_key` is configured, reads or creates the key file
/// beside the SQLite database (mode 0600).
pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
    let mut settings = Settings::load(path)?;
    // Before the key file, which lives in the same folder: the folder is what to fix.
    if let Some(dir) = sqlite_folder(&settings.database.url)
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
    if settings.secret_key.is_none() {
        let file = key_file(&settings.database.url);
        let key = read_or_create_key(&file)?;
        // The file's key passes the same checks as a configured one, and the message says
        // which file holds it.
        check_hmac_key("secret_key", &key)
            .map_err(|e| ConfigError(format!("{} (from {})", e.0, file.display())))?;
        settings.secret_key = Some(Secret(key));
    }
    Ok(settings)
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
        Ok(key) if key.trim().len() >= 32 => return Ok(key.trim().to_owned()),
        Ok(_) => {
            return Err(ConfigError(format!(
                "secret_key: {} holds fewer than 32 characters",
                file.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ConfigError(format!("secret_key: {}: {e}", file.display()))),
    }
    let key = restauth::core::random::hex::<32>();
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
        assert_eq!(
            key_file("postgres://db/x"),
            PathBuf::from("restauth.secret_key")
        );
    }
}
