//! Reading the `Cookie` header and writing `Set-Cookie` the way Django does.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, header};

use crate::core::settings::{CsrfSettings, SameSite, SessionSettings};

/// Longest cookie value looked at; anything longer is ignored as forged.
const MAX_VALUE: usize = 4096;

/// The value of cookie `name`. When the name appears more than once with different values the
/// cookie is treated as absent: a duplicate is a sign of a planted cookie.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found: Option<&str> = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            // ASCII trims: `to_str` let through visible ASCII and tabs only, and a Unicode trim
            // decodes every char.
            if k.trim_ascii() != name {
                continue;
            }
            let v = v.trim_ascii().trim_matches('"');
            match found {
                Some(prev) if prev != v => return None,
                _ => found = Some(v),
            }
        }
    }
    found.filter(|v| !v.is_empty() && v.len() <= MAX_VALUE)
}

/// A `Set-Cookie` value.
pub struct SetCookie<'a> {
    /// The cookie's name.
    pub name: &'a str,
    /// The cookie's value.
    pub value: &'a str,
    /// `None`: a browser-session cookie (no Max-Age/expires).
    pub max_age: Option<u64>,
    /// `Path`.
    pub path: &'a str,
    /// `Domain`; `None` leaves it to the host that set it.
    pub domain: Option<&'a str>,
    /// `Secure`: sent over HTTPS only.
    pub secure: bool,
    /// `HttpOnly`: out of reach of scripts (the session cookie; not Django's CSRF cookie,
    /// which a page's script reads).
    pub http_only: bool,
    /// `SameSite`.
    pub same_site: SameSite,
}

impl SetCookie<'_> {
    /// Django's attribute order: `expires`, `HttpOnly`, `Max-Age`, `Path`, `SameSite`, `Secure`.
    pub fn header_value(&self) -> HeaderValue {
        let mut s = format!("{}={}", self.name, self.value);
        if let Some(domain) = self.domain {
            s.push_str("; Domain=");
            s.push_str(domain);
        }
        if let Some(age) = self.max_age {
            let expires = SystemTime::now() + Duration::from_secs(age);
            s.push_str("; expires=");
            s.push_str(&httpdate::fmt_http_date(expires));
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        if let Some(age) = self.max_age {
            s.push_str(&format!("; Max-Age={age}"));
        }
        s.push_str("; Path=");
        s.push_str(self.path);
        s.push_str("; SameSite=");
        s.push_str(self.same_site.as_str());
        if self.secure {
            s.push_str("; Secure");
        }
        HeaderValue::from_str(&s)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }

    /// The value that makes a browser drop the cookie.
    pub fn removal(&self) -> HeaderValue {
        let mut s = format!(
            "{}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path={}; SameSite={}",
            self.name,
            self.path,
            self.same_site.as_str()
        );
        if let Some(domain) = self.domain {
            s.push_str("; Domain=");
            s.push_str(domain);
        }
        HeaderValue::from_str(&s)
            .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

/// The `csrftoken` cookie carrying `secret`. Not HttpOnly: JavaScript reads it to send
/// `X-CSRFToken`.
pub fn csrf_cookie(settings: &CsrfSettings, secret: &str) -> HeaderValue {
    SetCookie {
        name: &settings.cookie_name,
        value: secret,
        max_age: Some(settings.cookie_age.0),
        path: &settings.cookie_path,
        domain: settings.cookie_domain.as_deref(),
        secure: settings.cookie_secure,
        http_only: false,
        same_site: settings.cookie_samesite,
    }
    .header_value()
}

/// The `Set-Cookie` that deletes the session cookie, as Django's `delete_cookie` writes it.
pub(crate) fn session_removal(settings: &SessionSettings) -> HeaderValue {
    SetCookie {
        name: &settings.cookie_name,
        value: "",
        max_age: None,
        path: &settings.cookie_path,
        domain: settings.cookie_domain.as_deref(),
        secure: settings.cookie_secure,
        http_only: true,
        same_site: settings.cookie_samesite,
    }
    .removal()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_cookies() {
        let h = headers(&["a=1; sessionid=abc ; csrftoken=x"]);
        assert_eq!(get(&h, "sessionid"), Some("abc"));
        assert_eq!(get(&h, "csrftoken"), Some("x"));
        assert_eq!(get(&h, "nope"), None);
    }

    #[test]
    fn conflicting_duplicates_are_ignored() {
        assert_eq!(
            get(&headers(&["sessionid=a; sessionid=b"]), "sessionid"),
            None
        );
        assert_eq!(
            get(&headers(&["sessionid=a", "sessionid=b"]), "sessionid"),
            None
        );
        assert_eq!(
            get(&headers(&["sessionid=a; sessionid=a"]), "sessionid"),
            Some("a")
        );
    }

    #[test]
    fn names_values_and_quotes() {
        let h = headers(&["\tsessionid = \"abc\" ;sessionidx=1; xsessionid=2;other=\"\""]);
        assert_eq!(get(&h, "sessionid"), Some("abc"));
        assert_eq!(get(&h, "sessionidx"), Some("1"));
        assert_eq!(get(&h, "other"), None, "empty once unquoted");
        assert_eq!(get(&headers(&["sessionid"]), "sessionid"), None);
        assert_eq!(get(&headers(&["sessionid x=1"]), "sessionid"), None);
        assert_eq!(get(&headers(&["sessionid=a=b"]), "sessionid"), Some("a=b"));
    }

    #[test]
    fn oversized_values_are_ignored() {
        let big = format!("sessionid={}", "a".repeat(5000));
        assert_eq!(get(&headers(&[&big]), "sessionid"), None);
    }

    #[test]
    fn set_cookie_has_djangos_attributes() {
        let c = SetCookie {
            name: "sessionid",
            value: "k",
            max_age: Some(1_209_600),
            path: "/",
            domain: None,
            secure: false,
            http_only: true,
            same_site: SameSite::Lax,
        };
        let v = c.header_value();
        let v = v.to_str().unwrap();
        assert!(v.starts_with("sessionid=k; expires="), "{v}");
        assert!(
            v.ends_with("; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"),
            "{v}"
        );
    }
}
