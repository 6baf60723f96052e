//! `[cors]`: cross-origin requests from browsers, with django-cors-headers' setting names.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use regex_automata::meta::Regex;
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{ConfigError, Seconds};

/// django-cors-headers' `CORS_*` settings. Nothing is allowed by default: without an origin
/// listed here a browser keeps other origins' pages from reading any answer.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed, exactly as browsers send them: `"https://app.example.com"`.
    pub allowed_origins: Vec<String>,
    /// Regular expressions an origin must match as a whole: `"https://\\w+\\.example\\.com"`.
    pub allowed_origin_regexes: Vec<String>,
    /// Let browsers send cookies (the session) and read the answer (`credentials: "include"`).
    pub allow_credentials: bool,
    /// Request headers a page may send.
    pub allow_headers: Vec<String>,
    /// Methods a page may use.
    pub allow_methods: Vec<String>,
    /// Response headers a page may read besides the CORS-safelisted ones.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub preflight_max_age: Seconds,
}

impl Default for CorsSettings {
    fn default() -> Self {
        CorsSettings {
            allowed_origins: Vec::new(),
            allowed_origin_regexes: Vec::new(),
            allow_credentials: false,
            // django-cors-headers' defaults.
            allow_headers: [
                "accept",
                "authorization",
                "content-type",
                "user-agent",
                "x-csrftoken",
                "x-requested-with",
            ]
            .map(String::from)
            .to_vec(),
            allow_methods: ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
                .map(String::from)
                .to_vec(),
            expose_headers: Vec::new(),
            preflight_max_age: Seconds(86_400),
        }
    }
}

impl CorsSettings {
    /// Whether any origin is allowed; without one no layer is needed.
    pub fn enabled(&self) -> bool {
        !self.allowed_origins.is_empty() || !self.allowed_origin_regexes.is_empty()
    }

    /// Checks every value; called by [`super::Settings::validate`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.layer().map(|_| ())
    }

    /// The layer answering preflights and adding CORS headers; `None` when no origin is allowed.
    /// The allowed origin is echoed back, never `*`, so credentials work only for the listed
    /// origins.
    pub fn layer(&self) -> Result<Option<CorsLayer>, ConfigError> {
        let mut exact = Vec::with_capacity(self.allowed_origins.len());
        for origin in &self.allowed_origins {
            exact.push(parse_origin(origin)?);
        }
        let mut patterns = Vec::with_capacity(self.allowed_origin_regexes.len());
        for pattern in &self.allowed_origin_regexes {
            // Anchored at both ends: a pattern for `https://example.com` must not also let
            // `https://example.com.attacker.net` in.
            let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                ConfigError(format!("cors.allowed_origin_regexes: {pattern:?}: {e}"))
            })?;
            patterns.push(regex);
        }
        if exact.is_empty() && patterns.is_empty() {
            return Ok(None);
        }
        let headers = names("cors.allow_headers", &self.allow_headers)?;
        let exposed = names("cors.expose_headers", &self.expose_headers)?;
        let mut methods = Vec::with_capacity(self.allow_methods.len());
        for m in &self.allow_methods {
            methods.push(Method::from_bytes(m.trim().as_bytes()).map_err(|_| {
                ConfigError(format!("cors.allow_methods: {m:?} is not an HTTP method"))
            })?);
        }
        let patterns = Arc::new(patterns);
        let origins = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            exact.iter().any(|o| o == origin)
                || origin
                    .to_str()
                    .is_ok_and(|o| patterns.iter().any(|p| p.is_match(o)))
        });
        Ok(Some(
            CorsLayer::new()
                .allow_origin(origins)
                .allow_credentials(self.allow_credentials)
                .allow_headers(headers)
                .allow_methods(methods)
                .expose_headers(exposed)
                .max_age(Duration::from_secs(self.preflight_max_age.0)),
        ))
    }
}

/// `scheme://host[:port]` as browsers send it in `Origin`; anything else could never match.
fn parse_origin(origin: &str) -> Result<HeaderValue, ConfigError> {
    let refuse = |why: &str| {
        Err(ConfigError(format!(
            "cors.allowed_origins: {origin:?} {why}; write origins as \
             \"https://app.example.com\" (scheme, host and port only)"
        )))
    };
    if origin == "*" {
        return refuse("would allow every site");
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return refuse("has no scheme");
    };
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#']) {
        return refuse("is not an origin");
    }
    if origin.chars().any(|c| c.is_ascii_uppercase()) {
        return refuse("has upper-case letters, which browsers never send");
    }
    HeaderValue::from_str(origin).or_else(|_| refuse("is not a valid header value"))
}

fn names(key: &str, values: &[String]) -> Result<Vec<HeaderName>, ConfigError> {
    values
        .iter()
        .map(|v| {
            HeaderName::from_bytes(v.trim().to_ascii_lowercase().as_bytes())
                .map_err(|_| ConfigError(format!("{key}: {v:?} is not a header name")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(origins: &[&str], regexes: &[&str]) -> CorsSettings {
        CorsSettings {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_origin_regexes: regexes.iter().map(|s| s.to_string()).collect(),
            ..CorsSettings::default()
        }
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(CorsSettings::default().layer().unwrap().is_none());
    }

    #[test]
    fn refuses_what_could_never_match_or_matches_everything() {
        for bad in [
            "*",
            "app.example.com",
            "https://app.example.com/",
            "https://App.example.com",
            "ftp://x",
        ] {
            let e = with(&[bad], &[]).validate().unwrap_err().0;
            assert!(e.starts_with("cors.allowed_origins:"), "{bad}: {e}");
        }
        let e = with(&[], &["(unclosed"]).validate().unwrap_err().0;
        assert!(e.starts_with("cors.allowed_origin_regexes:"), "{e}");
        let e = CorsSettings {
            allow_headers: vec!["bad header".into()],
            ..with(&["https://a.example"], &[])
        }
        .validate()
        .unwrap_err()
        .0;
        assert!(e.starts_with("cors.allow_headers:"), "{e}");
        assert!(
            with(&["http://localhost:3000"], &[r"https://\w+\.example\.com"])
                .validate()
                .is_ok()
        );
    }
}
