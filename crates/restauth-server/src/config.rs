//! The server's configuration: defaults, then `restauth.toml`, then `RESTAUTH_*` variables,
//! checked once into the library's typed settings, with a secret key that exists.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use restauth::core::settings::key_file::{check_sqlite_folder, ensure_secret_key};
use restauth::core::settings::{ConfigError, MIN_SECRET_KEY_LEN, Seconds, Settings};

/// Environment variables with the `RESTAUTH_` prefix that are not configuration keys.
const RESERVED_ENV: &[&str] = &["superuser_password", "log", "update_screenshots"];
const RESERVED_ENV_PREFIXES: &[&str] = &["test_"];

/// `[log]`: what only the `restauth` binary reads.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// `text` for a terminal, `json` (one object a line) for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The configuration's sources: defaults, the TOML file, `RESTAUTH_*` variables.
fn sources(file: PathBuf) -> Figment {
    let env = Env::prefixed("RESTAUTH_").split("__").filter(|key| {
        // Figment hands the key over in its original (upper) case.
        let key = key.as_str().to_ascii_lowercase();
        !RESERVED_ENV.contains(&key.as_str())
            && !RESERVED_ENV_PREFIXES.iter().any(|p| key.starts_with(p))
    });
    // The server's own defaults where they differ from the library's: its demo dashboard is
    // where a browser login lands.
    Figment::new()
        .merge(figment::providers::Serialized::default(
            "session.login_redirect_url",
            SERVER_LOGIN_REDIRECT_URL,
        ))
        .merge(Toml::file(file))
        .merge(env)
}

/// Where the server sends a browser after its login page (the library's default is `/`).
pub const SERVER_LOGIN_REDIRECT_URL: &str = "/dashboard/";

fn config_file(path: Option<&Path>) -> Result<PathBuf, ConfigError> {
    match path {
        Some(p) if !p.exists() => Err(ConfigError(format!(
            "configuration file {} does not exist",
            p.display()
        ))),
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(PathBuf::from("restauth.toml")),
    }
}

/// The `[log]` section alone, read before logging starts so that every line has the chosen
/// format. A configuration that does not load gives the defaults here; the full load then
/// reports what is wrong.
pub fn log_settings(path: Option<&Path>) -> LogSettings {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct LogFile {
        log: LogSettings,
    }
    config_file(path)
        .ok()
        .and_then(|file| sources(file).extract::<LogFile>().ok())
        .map(|f| f.log)
        .unwrap_or_default()
}

/// Loads defaults, then the TOML file (`path`, or `restauth.toml` in the working folder when
/// present), then `RESTAUTH_*` environment variables (nested keys joined by `__`).
fn read(path: Option<&Path>) -> Result<Config, ConfigError> {
    let file = config_file(path)?;
    let key_source = secret_key_source(&file);
    let figment = sources(file);
    refuse_unknown_keys(&figment)?;
    let mut settings: Settings = figment.extract().map_err(|e| ConfigError(describe(e)))?;
    for warning in settings.upgrade() {
        tracing::warn!("{warning}");
    }
    // The same sources, read for the server's own sections (errors keep their `server.`,
    // `log.`, `openapi.` or `metrics.` path).
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct ServerFile {
        server: ServerSettings,
        log: LogSettings,
        openapi: OpenApiSettings,
        metrics: MetricsSettings,
    }
    // `[log]` is only checked here: `log_settings` reads it before logging starts.
    let ServerFile {
        server,
        log: _,
        openapi,
        metrics,
    } = figment
        .extract::<ServerFile>()
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
    server.validate()?;
    metrics.validate(&server)?;
    Ok(Config {
        settings,
        server,
        openapi,
        metrics,
        email_section: figment.contains("email"),
    })
}

/// The server's own top-level sections, beside the library's (`Settings::keys`).
const SERVER_SECTIONS: &[&str] = &["server", "log", "openapi", "metrics"];

/// A top-level key neither the library nor the server reads is a typo: it stops the server,
/// named with where it came from (the file, or the environment variable).
fn refuse_unknown_keys(figment: &Figment) -> Result<(), ConfigError> {
    // A file that does not parse is reported by the extraction that follows.
    let Ok(data) = figment::Provider::data(figment) else {
        return Ok(());
    };
    for dict in data.values() {
        for (key, value) in dict {
            if Settings::keys().contains(&key.as_str()) || SERVER_SECTIONS.contains(&key.as_str()) {
                continue;
            }
            // The file's path, or the variable's name (its leading part, for a section).
            let source = figment
                .get_metadata(value.tag())
                .map(|m| match &m.source {
                    Some(file) => format!(" (from {file})"),
                    // The other source is the environment, whose names carry the prefix.
                    None => format!(
                        " (from the environment variable RESTAUTH_{}…)",
                        key.to_ascii_uppercase()
                    ),
                })
                .unwrap_or_default();
            let mut expected: Vec<&str> = Settings::keys().to_vec();
            expected.extend_from_slice(SERVER_SECTIONS);
            return Err(ConfigError(format!(
                "unknown field `{key}`{source}, expected one of {}",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(())
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
            // The file, or the environment variable (the only source without a file).
            let source = match err.metadata.as_ref().map(|m| &m.source) {
                Some(Some(file)) => format!(" (from {file})"),
                Some(None) if !err.path.is_empty() => format!(
                    " (from the environment variable RESTAUTH_{})",
                    err.path.join("__").to_ascii_uppercase()
                ),
                _ => String::new(),
            };
            if path.is_empty() {
                format!("{}{source}", err.kind)
            } else {
                format!("{path}: {}{source}", err.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The library's settings and the server's own `[server]`, `[openapi]` and `[metrics]`
/// sections, read once
/// (`[log]` is read before logging starts, by [`log_settings`]).
pub struct Config {
    pub settings: Settings,
    pub server: ServerSettings,
    pub openapi: OpenApiSettings,
    pub metrics: MetricsSettings,
    /// Whether the file or the environment has an `[email]` section at all: without one, a
    /// server on a loopback address prints mails (the console backend) for development.
    pub email_section: bool,
}

/// The `[openapi]` section: the API description at `/api/schema/`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenApiSettings {
    /// Serve the OpenAPI document. Off by default: a published API description is a map for
    /// attackers too, so an operator turns it on where it is wanted.
    pub enabled: bool,
}

/// The `[metrics]` section: Prometheus metrics, off unless `bind` names their own listener.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of the listener that serves `GET /metrics` (e.g. `"127.0.0.1:9100"`). Never
    /// the public port: the API's own listener answers `/metrics` with 404.
    pub bind: Option<String>,
}

impl MetricsSettings {
    fn validate(&self, server: &ServerSettings) -> Result<(), ConfigError> {
        if let Some(bind) = &self.bind
            && bind == &server.bind
        {
            return Err(ConfigError(format!(
                "metrics.bind: {bind} is the API's own address ([server] bind); metrics need \
                 a listener of their own (another port), so the public port never serves them"
            )));
        }
        Ok(())
    }
}

/// The `[server]` section: what only the `restauth` binary reads.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub bind: String,
    /// Serve the demo views (`/api/dashboard/`, `/api/profile/`, …).
    pub demo_views: bool,
    /// Largest accepted request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// A request still unanswered after this long gets 408 (slow clients cannot hold a worker).
    pub request_timeout: Seconds,
    /// Host names this server answers (Django's `ALLOWED_HOSTS`: exact names, `.example.com`
    /// for a domain and its subdomains, `"*"` for any); other hosts get 400. Unset: the local
    /// names, accepted only when `bind` is a loopback address.
    pub allowed_hosts: Option<Vec<String>>,
    /// A client must send its request head within this long, or the connection is closed (an
    /// idle kept-alive connection too).
    pub header_read_timeout: Seconds,
    /// Connections served at once; more wait until one closes. Keep it below the descriptor
    /// limit (`ulimit -n`).
    pub max_connections: usize,
    /// On SIGTERM or Ctrl-C, requests in flight have this long to finish before the
    /// connections still open are closed and the database is closed.
    pub shutdown_timeout: Seconds,
    /// A request body must arrive whole within this long after the first wait for it, or the
    /// request gets 408 and the connection is closed (well under `request_timeout`, so clients
    /// trickling bodies cannot hold connections).
    pub body_read_timeout: Seconds,
    /// Connections one client address (an IPv6 /64) may hold at once; its next ones are
    /// closed. 0: no cap.
    pub max_connections_per_client: usize,
    /// Addresses of the proxies in front (`"10.0.0.5"`), which carry many clients'
    /// connections: the per-client cap does not apply to them.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8000".into(),
            demo_views: true,
            max_body_bytes: 64 * 1024,
            request_timeout: Seconds(30),
            allowed_hosts: None,
            header_read_timeout: Seconds(10),
            max_connections: 512,
            shutdown_timeout: Seconds(30),
            body_read_timeout: Seconds(10),
            max_connections_per_client: 128,
            trusted_proxies: Vec::new(),
        }
    }
}

impl ServerSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError(
                "server.max_connections: must be at least 1".into(),
            ));
        }
        for (key, value) in [
            ("server.header_read_timeout", self.header_read_timeout),
            ("server.request_timeout", self.request_timeout),
            ("server.body_read_timeout", self.body_read_timeout),
        ] {
            if value.0 == 0 {
                return Err(ConfigError(format!("{key}: must be at least 1 second")));
            }
        }
        Ok(())
    }
}

/// Loads settings and, when no `secret_key` is configured, reads or creates the key file
/// beside the SQLite database (mode 0600); on PostgreSQL the key must be configured.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = read(path)?;
    // Before the key file, which lives in the same folder: the folder is what to fix.
    check_sqlite_folder(&config.settings.database.url)?;
    ensure_secret_key(&mut config.settings)?;
    Ok(config)
}

/// Loads and checks the settings without touching the key file or the database: for commands
/// that only describe the configuration (`restauth openapi`).
pub fn load_checked(path: Option<&Path>) -> Result<Config, ConfigError> {
    read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_start_with_the_key_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("restauth.toml");
        for (toml, key) in [
            (
                "[simple_jwt]\nalgorithm = \"none\"\n",
                "simple_jwt.algorithm",
            ),
            (
                "[rest_framework.default_throttle_rates]\nanon = \"2/month\"\n",
                "rest_framework.default_throttle_rates.anon",
            ),
            ("[server]\nrequest_timeout = -1\n", "server.request_timeout"),
            ("[server]\nrequest_timeout = 0\n", "server.request_timeout"),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[server]\nbindd = \"x\"\n", "server"),
            ("[log]\nformat = \"xml\"\n", "log.format"),
            ("[log]\nlevel = \"info\"\n", "log"),
            ("[openapi]\nenabled = \"yes\"\n", "openapi.enabled"),
            ("[openapi]\npath = \"/x/\"\n", "openapi"),
            ("[metrics]\nport = 9100\n", "metrics"),
            (
                "[server]\nbind = \"127.0.0.1:9000\"\n[metrics]\nbind = \"127.0.0.1:9000\"\n",
                "metrics.bind",
            ),
            // Accounts over HTTP
            ("[accounts]\nprefix = \"auth\"\n", "accounts.prefix"),
            (
                "[accounts]\nsend_activation_email = true\n",
                "accounts.activation_url",
            ),
            (
                "[accounts]\npassword_reset_confirm_url = \"#/reset/{uid}\"\n",
                "accounts.password_reset_confirm_url",
            ),
            ("[accounts]\nprotocol = \"ftp\"\n", "accounts.protocol"),
            ("[email]\ntls = \"ssl\"\n", "email.tls"),
            ("[email]\nhost_user = \"mailer\"\n", "email.host_user"),
            (
                "[email]\nhost_user = \"u\"\nhost_password = \"p\"\ntls = \"none\"\n",
                "email.tls",
            ),
            ("[email]\nfrom_email = \"nobody\"\n", "email.from_email"),
        ] {
            std::fs::write(&file, toml).unwrap();
            let Err(err) = read(Some(&file)) else {
                panic!("{toml}: accepted");
            };
            assert!(err.0.starts_with(key), "{toml}: {}", err.0);
        }
        // A configuration of both parts: each side reads its own.
        std::fs::write(
            &file,
            "[server]\nbind = \"127.0.0.1:9000\"\n[token]\nlimit_per_user = 3\n",
        )
        .unwrap();
        let config = read(Some(&file)).unwrap();
        assert_eq!(config.server.bind, "127.0.0.1:9000");
        assert_eq!(config.settings.token.limit_per_user, Some(3));
        assert!(
            !config.openapi.enabled,
            "the API description is off by default"
        );
        assert_eq!(config.metrics.bind, None);
    }
}
