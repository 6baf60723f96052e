//! `restauth check`, as Django's `manage.py check --deploy`: loads the configuration as `serve`
//! does and reports, in Django's format, ERRORS (what `serve` would refuse to start with) and
//! WARNINGS (what it would serve, but should not in production).

use std::net::SocketAddr;
use std::path::Path;

use restauth::Restauth;
use restauth::core::settings::Settings;

use crate::config::{self, MetricsSettings, OpenApiSettings, ServerSettings};

/// One finding, printed as Django prints a `CheckMessage`.
struct Issue {
    /// What it is about (Django's `obj`); `?` for the configuration as a whole.
    obj: &'static str,
    id: &'static str,
    text: String,
    hint: Option<&'static str>,
}

impl Issue {
    fn new(id: &'static str, text: impl Into<String>) -> Self {
        Issue {
            obj: "?",
            id,
            text: text.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = Some(hint);
        self
    }
}

#[derive(Default)]
struct Report {
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

/// Runs every check. `Err` (non-zero exit) when an error was found, with the whole report as
/// its text; warnings alone print the report and succeed.
pub async fn run(path: Option<&Path>) -> Result<(), String> {
    let mut report = Report::default();
    match config::load(path) {
        Err(e) => report
            .errors
            .push(Issue::new("restauth.E001", e.0).hint("serve refuses to start with this.")),
        Ok(config) => {
            check_server(&config.server, &mut report);
            check_deployment(
                &config.settings,
                &config.server,
                &config.openapi,
                &config.metrics,
                &mut report,
            );
            match Restauth::open(config.settings).await {
                Err(e) => report
                    .errors
                    .push(Issue::new("restauth.E002", e.to_string())),
                Ok(restauth) => {
                    check_usernames(&restauth, &mut report).await?;
                    check_staff(&restauth, &mut report).await?;
                    if let Err(e) = restauth.store().checkpoint().await {
                        tracing::warn!(error = %e, "could not checkpoint the database");
                    }
                    restauth.store().close().await;
                }
            }
        }
    }
    let text = report.render();
    if report.errors.is_empty() {
        println!("{text}");
        Ok(())
    } else {
        Err(format!("SystemCheckError: {text}"))
    }
}

impl Report {
    fn render(&self) -> String {
        let count = self.errors.len() + self.warnings.len();
        if count == 0 {
            return "System check identified no issues (0 silenced).".into();
        }
        let mut out = String::from("System check identified some issues:\n");
        for (title, issues) in [("ERRORS", &self.errors), ("WARNINGS", &self.warnings)] {
            if issues.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{title}:\n"));
            for issue in issues.iter() {
                out.push_str(&format!("{}: ({}) {}\n", issue.obj, issue.id, issue.text));
                if let Some(hint) = issue.hint {
                    out.push_str(&format!("\tHINT: {hint}\n"));
                }
            }
        }
        out.push_str(&format!(
            "\nSystem check identified {count} issue{} (0 silenced).",
            if count == 1 { "" } else { "s" }
        ));
        out
    }
}

/// The `[server]` refusals that only show when binding: a public address needs its host names.
fn check_server(server: &ServerSettings, report: &mut Report) {
    if server.allowed_hosts.is_none()
        && let Ok(addr) = server.bind.parse::<SocketAddr>()
        && !addr.ip().is_loopback()
    {
        report.errors.push(Issue::new(
            "restauth.E003",
            format!(
                "server.allowed_hosts: unset while server.bind = {:?} is not a loopback address; \
                 serve refuses to start",
                server.bind
            ),
        ).hint("list the host names clients use, e.g. allowed_hosts = [\"api.example.com\"]."));
    }
}

/// Whether clients reach this server from elsewhere: a public bind address, or a proxy in
/// front (which, in production, terminates HTTPS).
fn deployed(settings: &Settings, server: &ServerSettings) -> bool {
    is_public(&server.bind)
        || settings.rest_framework.num_proxies.unwrap_or(0) > 0
        || settings.csrf.trust_forwarded_proto
}

fn check_deployment(
    settings: &Settings,
    server: &ServerSettings,
    openapi: &OpenApiSettings,
    metrics: &MetricsSettings,
    report: &mut Report,
) {
    if deployed(settings, server) {
        if !settings.session.cookie_secure {
            report.warnings.push(
                Issue::new(
                    "restauth.W010",
                    "session.cookie_secure is false while the server is reached through a \
                     proxy or a public address: the session cookie would also travel over \
                     plain HTTP.",
                )
                .hint("set [session] cookie_secure = true when clients use HTTPS."),
            );
        }
        if !settings.csrf.cookie_secure {
            report.warnings.push(
                Issue::new(
                    "restauth.W011",
                    "csrf.cookie_secure is false while the server is reached through a proxy \
                     or a public address.",
                )
                .hint("set [csrf] cookie_secure = true when clients use HTTPS."),
            );
        }
        if server.demo_views {
            report.warnings.push(
                Issue::new(
                    "restauth.W020",
                    "server.demo_views is on: /api/dashboard/, /api/profile/, /api/echo/ … are \
                     served.",
                )
                .hint("set [server] demo_views = false in production."),
            );
        }
    }
    // Metrics have a listener of their own; on a public address anyone may read them.
    let metrics_bind = metrics.bind.clone();
    if let Some(bind) = metrics_bind
        && is_public(&bind)
    {
        report.warnings.push(
            Issue::new(
                "restauth.W030",
                format!(
                    "the metrics are served on {bind:?}, not a loopback address: anyone who \
                     reaches it reads them."
                ),
            )
            .hint(
                "set [metrics] bind = \"127.0.0.1:9100\", or restrict the address with a firewall.",
            ),
        );
    }
    check_accounts(settings, server, report);
    if openapi.enabled && is_public(&server.bind) {
        report.warnings.push(
            Issue::new(
                "restauth.W031",
                format!(
                    "openapi.enabled on the public address {:?}: the schema describes every route.",
                    server.bind
                ),
            )
            .hint("turn it off in production, or serve it on a private address only."),
        );
    }
}

// Accounts over HTTP
/// Account mails that could not go out, and reset links whose host a client would choose.
fn check_accounts(settings: &Settings, server: &ServerSettings, report: &mut Report) {
    let accounts = &settings.accounts;
    if !settings.serves_accounts() {
        return;
    }
    let activation = accounts.registration && accounts.send_activation_email;
    let console = settings.email.backend == Some(restauth::core::settings::EmailBackend::Console);
    if settings.email.host.is_none() && !console && (activation || deployed(settings, server)) {
        report.warnings.push(
            Issue::new(
                "restauth.W040",
                "email.host is unset: password reset (and activation) mails are not sent, so \
                 users/reset_password/ answers 204 and nobody receives a link.",
            )
            .hint("set [email] host (and port, tls, from_email) to your SMTP server."),
        );
    }
    if console && deployed(settings, server) {
        report.warnings.push(
            Issue::new(
                "restauth.W042",
                "email.backend is \"console\": account mails, with their reset and activation \
                 links, are printed on standard output, where whoever reads the logs can use them.",
            )
            .hint("use the SMTP backend (set [email] host) outside development."),
        );
    }
    let any_host = server
        .allowed_hosts
        .as_ref()
        .is_some_and(|hosts| hosts.iter().any(|h| h == "*"));
    // With [email] host set, serve refuses to start without a domain (an error above).
    if accounts.domain.is_none() && (any_host || console || deployed(settings, server)) {
        let why = if any_host {
            "server.allowed_hosts accepts any host: the links in reset and activation mails \
             would point at whatever Host header a client sends"
        } else {
            "the links in reset and activation mails name the host each request names, one of \
             server.allowed_hosts, not necessarily the site users know"
        };
        report.warnings.push(
            Issue::new("restauth.W041", format!("accounts.domain is unset: {why}."))
                .hint("set [accounts] domain = \"app.example.com\" (and protocol = \"https\")."),
        );
    }
}

/// Not a loopback address; a host name counts as public (it cannot be checked here).
fn is_public(bind: &str) -> bool {
    bind.parse::<SocketAddr>()
        .map_or(true, |a| !a.ip().is_loopback())
}

/// Usernames stored before normalisation (NFKC) still log in, but may shadow another.
async fn check_usernames(restauth: &Restauth, report: &mut Report) -> Result<(), String> {
    let names = restauth
        .users()
        .unnormalized_usernames()
        .await
        .map_err(|e| e.to_string())?;
    for (name, normal) in &names {
        // Debug formatting escapes control characters a name could not hold anyway.
        report.warnings.push(Issue {
            obj: "auth.User",
            ..Issue::new(
                "restauth.W001",
                format!(
                    "The username {name:?} is not in Unicode NFKC form (normalised: \
                     {normal:?}). It still logs in, unless a user named {normal:?} exists; \
                     consider renaming it."
                ),
            )
        });
    }
    Ok(())
}

/// The permissions the staff API asks of staff who are no superusers.
const STAFF_PERMISSIONS: [&str; 3] = ["auth.view_user", "auth.change_user", "auth.add_user"];

/// Staff who relied on `is_staff` alone before the staff API asked for Django's permissions
/// on users: they can no longer use it.
async fn check_staff(restauth: &Restauth, report: &mut Report) -> Result<(), String> {
    let users = restauth.users();
    let staff = users
        .permissions()
        .staff_users()
        .await
        .map_err(|e| e.to_string())?;
    let mut bare = Vec::new();
    for (id, username) in staff {
        let held = users
            .permissions()
            .user_permissions(id)
            .await
            .map_err(|e| e.to_string())?;
        if !STAFF_PERMISSIONS.iter().any(|p| held.contains(p)) {
            bare.push(username);
        }
    }
    if !bare.is_empty() {
        let names: Vec<String> = bare.iter().map(|n| format!("{n:?}")).collect();
        report.warnings.push(Issue {
            obj: "auth.User",
            ..Issue::new(
                "restauth.W002",
                format!(
                    "Staff users without auth.view_user, auth.change_user or auth.add_user: \
                     {}. is_staff alone no longer opens the staff API.",
                    names.join(", ")
                ),
            )
            .hint(
                "Grant what each needs: restauth perms grant USER auth.view_user (or through \
                 a group: restauth groups add USER GROUP).",
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_django_does() {
        assert_eq!(
            Report::default().render(),
            "System check identified no issues (0 silenced)."
        );
        let report = Report {
            errors: vec![Issue::new("restauth.E001", "bad").hint("fix it")],
            warnings: vec![Issue::new("restauth.W010", "careful")],
        };
        assert_eq!(
            report.render(),
            "System check identified some issues:\n\nERRORS:\n?: (restauth.E001) bad\n\tHINT: fix it\n\n\
             WARNINGS:\n?: (restauth.W010) careful\n\nSystem check identified 2 issues (0 silenced)."
        );
    }

    #[test]
    fn metrics_and_openapi_on_a_public_address() {
        let public = ServerSettings {
            bind: "0.0.0.0:8000".into(),
            demo_views: false,
            ..ServerSettings::default()
        };
        let mut settings = Settings::default();
        settings.session.cookie_secure = true;
        settings.csrf.cookie_secure = true;
        settings.email.host = Some("smtp.example.com".into());
        settings.accounts.domain = Some("app.example.com".into());
        let ids = |openapi: bool, metrics: Option<&str>, server: &ServerSettings| {
            let mut report = Report::default();
            let openapi = OpenApiSettings { enabled: openapi };
            let metrics = MetricsSettings {
                bind: metrics.map(str::to_owned),
            };
            check_deployment(&settings, server, &openapi, &metrics, &mut report);
            report.warnings.iter().map(|i| i.id).collect::<Vec<_>>()
        };
        let local = ServerSettings::default();
        assert_eq!(ids(false, Some("0.0.0.0:9100"), &local), ["restauth.W030"]);
        assert!(ids(false, Some("127.0.0.1:9100"), &public).is_empty());
        assert_eq!(ids(true, None, &public), ["restauth.W031"]);
        assert!(ids(true, None, &local).is_empty());
        assert!(ids(false, None, &public).is_empty());
    }

    #[test]
    fn account_mails_and_their_links() {
        let ids = |settings: &Settings, server: &ServerSettings| {
            let mut report = Report::default();
            check_accounts(settings, server, &mut report);
            report.warnings.iter().map(|i| i.id).collect::<Vec<_>>()
        };
        let local = ServerSettings::default();
        let public = ServerSettings {
            bind: "0.0.0.0:8000".into(),
            allowed_hosts: Some(vec!["*".into()]),
            ..ServerSettings::default()
        };
        let mut settings = Settings::default();
        assert!(ids(&settings, &local).is_empty(), "nothing to say locally");
        assert_eq!(ids(&settings, &public), ["restauth.W040", "restauth.W041"]);
        settings.email.host = Some("smtp.example.com".into());
        settings.accounts.domain = Some("app.example.com".into());
        assert!(ids(&settings, &public).is_empty());
        settings.accounts.enabled = false;
        settings.email.host = None;
        assert!(ids(&settings, &public).is_empty());
        settings.accounts.enabled = true;
        settings.accounts.domain = Some("app.example.com".into());
        settings.email.backend = Some(restauth::core::settings::EmailBackend::Console);
        assert_eq!(ids(&settings, &public), ["restauth.W042"]);
        assert!(
            ids(&settings, &local).is_empty(),
            "the console is for development"
        );
        // Links made from each request's host: said, on the console too.
        settings.accounts.domain = None;
        assert_eq!(ids(&settings, &local), ["restauth.W041"]);
        settings.email.backend = None;
        let proxied = ServerSettings {
            bind: "0.0.0.0:8000".into(),
            allowed_hosts: Some(vec!["api.example.com".into()]),
            ..ServerSettings::default()
        };
        assert_eq!(ids(&settings, &proxied), ["restauth.W040", "restauth.W041"]);
    }

    #[test]
    fn public_addresses() {
        assert!(!is_public("127.0.0.1:9100"));
        assert!(!is_public("[::1]:9100"));
        assert!(is_public("0.0.0.0:9100"));
        assert!(is_public("10.0.0.5:9100"));
        assert!(is_public("metrics.internal:9100"));
    }
}
