//! What the library's integration tests share.

use restauth::Settings;
use restauth::core::settings::Secret;

/// The default settings on a fresh SQLite file in `dir`, with a secret key.
pub fn settings(dir: &tempfile::TempDir) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = format!("sqlite://{}", dir.path().join("t.db").display());
    settings.secret_key = Some(Secret("a test secret key of at least 32 characters".into()));
    settings
}
