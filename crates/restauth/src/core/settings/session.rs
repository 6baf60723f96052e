//! Django's `SESSION_*` and `CSRF_*` settings.

use serde::Deserialize;

use super::{SameSite, Seconds};

/// Django's `SESSION_*` settings, plus idle timeout and the login pages.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// `session.cookie_name`: Django's `SESSION_COOKIE_NAME`. Default `"sessionid"`, so a Django
    /// project's browsers keep their sessions.
    pub cookie_name: String,
    /// Absolute lifetime of a session (Django's SESSION_COOKIE_AGE).
    pub cookie_age: Seconds,
    /// `session.cookie_secure`: Django's `SESSION_COOKIE_SECURE`, the cookie's `Secure` flag.
    /// Default false; set it behind HTTPS.
    pub cookie_secure: bool,
    /// `session.cookie_samesite`: Django's `SESSION_COOKIE_SAMESITE`. Default `"Lax"`.
    pub cookie_samesite: SameSite,
    /// `session.cookie_domain`: Django's `SESSION_COOKIE_DOMAIN`. Default unset: the host that
    /// set it only.
    pub cookie_domain: Option<String>,
    /// `session.cookie_path`: Django's `SESSION_COOKIE_PATH`. Default `"/"`.
    pub cookie_path: String,
    /// `session.expire_at_browser_close`: Django's `SESSION_EXPIRE_AT_BROWSER_CLOSE`, a cookie
    /// without `Max-Age` (the server still ends it after `cookie_age`). Default false.
    pub expire_at_browser_close: bool,
    /// Re-send the cookie (sliding its Max-Age) on every authenticated request.
    pub save_every_request: bool,
    /// A session unused this long is over; none disables the idle limit.
    pub idle_timeout: Option<Seconds>,
    /// Where the HTML login page is served and its form posts to.
    pub login_url: String,
    /// Where the HTML login sends a browser without a `next` (Django's `LOGIN_REDIRECT_URL`):
    /// `/` by default (the `restauth` server's default is its demo `/dashboard/`).
    pub login_redirect_url: String,
    /// Where the HTML logout form posts to (the dashboard's "Log out").
    pub logout_url: String,
    /// `session.logout_redirect_url`: where a browser goes after the HTML logout (Django's
    /// `LOGOUT_REDIRECT_URL`). Default `"/api-auth/login/"`.
    pub logout_redirect_url: String,
    /// Answer unauthenticated session-first routes with 401 and `WWW-Authenticate: Session`
    /// instead of DRF's 403.
    pub www_authenticate: bool,
    /// Folder with `login.html` / `dashboard.html` overriding the built-in pages.
    pub templates_dir: Option<std::path::PathBuf>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            cookie_name: "sessionid".into(),
            cookie_age: Seconds(1_209_600),
            cookie_secure: false,
            cookie_samesite: SameSite::Lax,
            cookie_domain: None,
            cookie_path: "/".into(),
            expire_at_browser_close: false,
            save_every_request: false,
            idle_timeout: Some(Seconds(86_400)),
            login_url: "/api-auth/login/".into(),
            login_redirect_url: "/".into(),
            logout_url: "/api-auth/logout/".into(),
            logout_redirect_url: "/api-auth/login/".into(),
            www_authenticate: false,
            templates_dir: None,
        }
    }
}

/// Django's `CSRF_*` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfSettings {
    /// `csrf.cookie_name`: Django's `CSRF_COOKIE_NAME`. Default `"csrftoken"`.
    pub cookie_name: String,
    /// `csrf.cookie_age`: Django's `CSRF_COOKIE_AGE`. Default a year (31,449,600 s).
    pub cookie_age: Seconds,
    /// `csrf.cookie_secure`: Django's `CSRF_COOKIE_SECURE`. Default false; set it behind HTTPS.
    pub cookie_secure: bool,
    /// `csrf.cookie_samesite`: Django's `CSRF_COOKIE_SAMESITE`. Default `"Lax"`.
    pub cookie_samesite: SameSite,
    /// `csrf.cookie_domain`: Django's `CSRF_COOKIE_DOMAIN`. Default unset: the host that set it
    /// only.
    pub cookie_domain: Option<String>,
    /// `csrf.cookie_path`: Django's `CSRF_COOKIE_PATH`. Default `"/"`.
    pub cookie_path: String,
    /// Origins allowed to post, e.g. `"https://app.example.com"` or `"https://*.example.com"`.
    pub trusted_origins: Vec<String>,
    /// Believe `X-Forwarded-Proto: https` (Django's SECURE_PROXY_SSL_HEADER). Only behind a
    /// proxy that sets it.
    pub trust_forwarded_proto: bool,
}

impl Default for CsrfSettings {
    fn default() -> Self {
        CsrfSettings {
            cookie_name: "csrftoken".into(),
            cookie_age: Seconds(31_449_600),
            cookie_secure: false,
            cookie_samesite: SameSite::Lax,
            cookie_domain: None,
            cookie_path: "/".into(),
            trusted_origins: Vec::new(),
            trust_forwarded_proto: false,
        }
    }
}
