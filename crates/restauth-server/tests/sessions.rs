//! SessionAuthentication, Django's CSRF check, the login pages and session lifetimes over HTTP
//! (spec drf-wire §4, security.md rows 3.3.x, 3.5.x, 7.2.x–7.4.x).
//!
//! Cookies are sent by hand (no cookie jar) so that every test says exactly what the browser
//! would hold.

mod common;

use std::time::Duration;

use common::{
    Browser, PASSWORD, Reply, Server, csrf, login, plain, set_cookie_line, set_cookie_value,
    spa_login,
};
use reqwest::header::HeaderValue;
use serde_json::json;

const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const LOGIN_FAILED: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";
const GREETING: &str = r#"{"message":"Hello alice, welcome to your dashboard"}"#;

/// The attributes of a `Set-Cookie` line, as trimmed strings (`HttpOnly`, `Path=/`, …).
fn attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .collect()
}

async fn dashboard(s: &Server, cookie: &str) -> Reply {
    s.send(
        plain()
            .get(s.url("/api/dashboard/"))
            .header("Cookie", cookie),
    )
    .await
}

/// `POST /api/echo/` with `cookie` and, if given, `X-CSRFToken`.
async fn echo(s: &Server, cookie: &str, token: Option<&str>) -> Reply {
    let mut req = plain()
        .post(s.url("/api/echo/"))
        .header("Cookie", cookie)
        .json(&json!({"a": 1}));
    if let Some(t) = token {
        req = req.header("X-CSRFToken", t);
    }
    s.send(req).await
}

fn csrf_failed(reason: &str) -> String {
    format!(r#"{{"detail":"CSRF Failed: {reason}"}}"#)
}

/// The `value` of `<input type="hidden" name="csrfmiddlewaretoken" value="…">`.
fn form_token(html: &str) -> String {
    let marker = r#"<input type="hidden" name="csrfmiddlewaretoken" value=""#;
    let start = html.find(marker).expect("csrfmiddlewaretoken input") + marker.len();
    let end = html[start..].find('"').expect("end of value") + start;
    html[start..end].to_owned()
}

/// The login page: (its form token, the csrftoken cookie it set).
async fn login_page(s: &Server, query: &[(&str, &str)]) -> (Reply, String, String) {
    let url = reqwest::Url::parse_with_params(&s.url("/api-auth/login/"), query).expect("url");
    let r = s.send(plain().get(url)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = form_token(&r.body);
    let cookie = set_cookie_value(&r, "csrftoken").expect("csrftoken cookie");
    (r, token, cookie)
}

async fn html_login(s: &Server, username: &str, password: &str, next: &str) -> Reply {
    let (_, token, cookie) = login_page(s, &[]).await;
    s.send(
        plain()
            .post(s.url("/api-auth/login/"))
            .header("Cookie", format!("csrftoken={cookie}"))
            .form(&[
                ("username", username),
                ("password", password),
                ("next", next),
                ("csrfmiddlewaretoken", &token),
            ]),
    )
    .await
}

#[tokio::test]
async fn spa_login_dashboard_logout() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);

    let (token, cookie) = csrf(&s).await;
    assert_eq!(token.len(), 64);
    assert_eq!(cookie.len(), 32);

    // The login view checks CSRF for everyone (no login CSRF).
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/login/"))
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, csrf_failed("CSRF cookie not set.").as_str())
    );
    assert_eq!(set_cookie_line(&r, "sessionid"), None);

    let r = spa_login(&s, "alice", "wrong password!").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#
    );
    assert_eq!(set_cookie_line(&r, "sessionid"), None);

    let r = spa_login(&s, "alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = r.json();
    assert_eq!(user["username"], "alice");
    assert_eq!(user["email"], "alice@example.com");
    assert!(!r.body.contains("password"), "{}", r.body);
    let b = Browser {
        session: set_cookie_value(&r, "sessionid").expect("sessionid"),
        csrf: set_cookie_value(&r, "csrftoken").expect("csrftoken"),
    };
    assert_eq!(b.session.len(), 32);
    assert!(
        b.session
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );

    let d = dashboard(&s, &b.cookie()).await;
    assert_eq!((d.status, d.body.as_str()), (200, GREETING));
    let p = s
        .send(
            plain()
                .get(s.url("/api/public/"))
                .header("Cookie", b.cookie()),
        )
        .await;
    assert_eq!(p.body, r#"{"authenticated":true,"username":"alice"}"#);

    // Logout is CSRF-checked as well.
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout/"))
                .header("Cookie", b.cookie()),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, csrf_failed("CSRF token missing.").as_str())
    );
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);

    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", &b.csrf),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"detail":"Successfully logged out."}"#)
    );
    let removal = set_cookie_line(&r, "sessionid").expect("sessionid removal");
    assert!(removal.contains("Max-Age=0"), "{removal}");

    // The replayed cookie is anonymous everywhere.
    let d = dashboard(&s, &b.cookie()).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    let p = s
        .send(
            plain()
                .get(s.url("/api/public/"))
                .header("Cookie", b.cookie()),
        )
        .await;
    assert_eq!(p.body, r#"{"authenticated":false,"username":null}"#);
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", &b.csrf),
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
}

#[tokio::test]
async fn html_login_page_and_form() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("sleepy", &["--inactive"]);

    let (page, token, cookie) = login_page(&s, &[]).await;
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
    assert_eq!(cookie.len(), 32);
    for field in [
        r#"name="username""#,
        r#"name="password""#,
        r#"name="next""#,
        r#"method="post""#,
    ] {
        assert!(page.body.contains(field), "{field} missing");
    }
    // A fresh mask on every page, the same secret behind it.
    let (_, again, _) = login_page(&s, &[]).await;
    assert_ne!(again, token);

    // A successful login redirects to `next`, or to the dashboard.
    let r = html_login(&s, "alice", PASSWORD, "/api/public/?x=1").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api/public/?x=1"));
    let session = set_cookie_value(&r, "sessionid").expect("sessionid");
    let d = dashboard(&s, &format!("sessionid={session}")).await;
    assert_eq!((d.status, d.body.as_str()), (200, GREETING));

    let r = html_login(&s, "alice", PASSWORD, "").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/dashboard/"));
    let session = set_cookie_value(&r, "sessionid").expect("sessionid");

    // The HTML dashboard greets the user and offers a CSRF-protected logout form.
    let page = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Cookie", format!("sessionid={session}")),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Hello alice, welcome to your dashboard"));
    let logout_token = form_token(&page.body);
    let logout_cookie = set_cookie_value(&page, "csrftoken").expect("csrftoken");

    // Logout is POST only (Django 5 removed GET logout) …
    let r = s
        .send(
            plain()
                .get(s.url("/api-auth/logout/"))
                .header("Cookie", format!("sessionid={session}")),
        )
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body, r#"{"detail":"Method \"GET\" not allowed."}"#);
    assert_eq!(
        dashboard(&s, &format!("sessionid={session}")).await.status,
        200
    );
    // … and CSRF-checked.
    let r = s
        .send(
            plain()
                .post(s.url("/api-auth/logout/"))
                .header("Cookie", format!("sessionid={session}"))
                .form(&[("x", "y")]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF verification failed"), "{}", r.body);
    assert_eq!(
        dashboard(&s, &format!("sessionid={session}")).await.status,
        200
    );
    let r = s
        .send(
            plain()
                .post(s.url("/api-auth/logout/"))
                .header(
                    "Cookie",
                    format!("sessionid={session}; csrftoken={logout_cookie}"),
                )
                .form(&[("csrfmiddlewaretoken", logout_token.as_str())]),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api-auth/login/"));
    let d = dashboard(&s, &format!("sessionid={session}")).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    let page = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Cookie", format!("sessionid={session}")),
        )
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(
        page.header("location"),
        Some("/api-auth/login/?next=/dashboard/")
    );

    // One generic message for every failure; no session.
    let mut errors = Vec::new();
    for (username, password) in [
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
        ("sleepy", PASSWORD),
        ("alice", ""),
        ("", ""),
    ] {
        let r = html_login(&s, username, password, "/api/public/").await;
        assert_eq!(r.status, 200, "{username}: {}", r.body);
        assert!(r.body.contains(LOGIN_FAILED), "{username}: {}", r.body);
        assert_eq!(set_cookie_line(&r, "sessionid"), None);
        // The page is the same apart from the per-render mask of the token and the echoed
        // username.
        let token = form_token(&r.body);
        errors.push(
            r.body
                .replace(&token, "TOKEN")
                .replace(&format!("value=\"{username}\""), "value=\"USER\""),
        );
        // `next` survives the failed attempt.
        assert!(r.body.contains(r#"name="next" value="/api/public/""#));
    }
    assert!(errors.windows(2).all(|w| w[0] == w[1]));

    // The form without its token is refused before the password is looked at.
    let r = s
        .send(
            plain()
                .post(s.url("/api-auth/login/"))
                .form(&[("username", "alice"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("CSRF verification failed"), "{}", r.body);
    assert!(r.body.contains("CSRF cookie not set."), "{}", r.body);
    assert_eq!(set_cookie_line(&r, "sessionid"), None);
}

#[tokio::test]
async fn login_redirects_only_to_this_site() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    for next in [
        "//evil.example",
        "https://evil.example",
        "https://evil.example/dashboard/",
        "/\\evil.example",
        "\\\\evil.example",
        "///evil.example",
        "http:///evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
    ] {
        // The page carries `next` (escaped) into its form …
        let (page, _, _) = login_page(&s, &[("next", next)]).await;
        assert!(!page.body.contains("<script"), "{next}");
        // … but the redirect goes to the default instead.
        let r = html_login(&s, "alice", PASSWORD, next).await;
        assert_eq!(r.status, 302, "{next}: {}", r.body);
        assert_eq!(r.header("location"), Some("/dashboard/"), "{next}");
    }
    for next in ["/dashboard/", "/api/public/?a=b&c=d", "/"] {
        let r = html_login(&s, "alice", PASSWORD, next).await;
        assert_eq!(r.header("location"), Some(next), "{next}");
    }
    let (page, _, _) = login_page(&s, &[("next", "\"><script>alert(1)</script>")]).await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
}

#[tokio::test]
async fn login_redirect_has_no_character_a_browser_would_drop() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    // Each of these passes Django's check; a browser drops the tab or line break, or reads
    // `\` as `/`, and leaves the site.
    for next in [
        "/\t//evil.example/",
        "//\t/evil.example/",
        "/\\\t/evil.example/",
        "/\n//evil.example/",
        "/\r\n//evil.example/",
        "//\n/evil.example",
        "\\\t\\\\evil.example",
        "/%09//evil.example/",
        "/x\u{85}",
        "/a\\b",
        "http:evil.example",
        "//alice@testserver/",
    ] {
        let r = html_login(&s, "alice", PASSWORD, next).await;
        assert_eq!(r.status, 302, "{next:?}: {}", r.body);
        assert_eq!(r.header("location"), Some("/dashboard/"), "{next:?}");
    }
    // What is accepted goes out percent-encoded, like Django's redirects.
    let r = html_login(&s, "alice", PASSWORD, " /api/public/?q=a b&n=café ").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/api/public/?q=a%20b&n=caf%C3%A9")
    );
}

#[tokio::test]
async fn every_csrf_reason_of_django() {
    let s = Server::builder()
        .config("[csrf]\ntrust_forwarded_proto = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    let session = format!("sessionid={}", b.session);
    let other_secret = "abcdefghijklmnopqrstuvwxyzABCDEF";
    assert_ne!(other_secret, b.csrf);

    let cases: Vec<(String, Option<String>, &str)> = vec![
        (session.clone(), None, "CSRF cookie not set."),
        (b.cookie(), None, "CSRF token missing."),
        (
            b.cookie(),
            Some("abc".into()),
            "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length.",
        ),
        (
            b.cookie(),
            Some("-".repeat(32)),
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
        ),
        (
            b.cookie(),
            Some("%".repeat(64)),
            "CSRF token from the 'X-Csrftoken' HTTP header has invalid characters.",
        ),
        (
            b.cookie(),
            Some(other_secret.into()),
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        ),
        (
            format!("{session}; csrftoken=abc"),
            Some(b.csrf.clone()),
            "CSRF cookie has incorrect length.",
        ),
        (
            format!("{session}; csrftoken={}", "-".repeat(32)),
            Some(b.csrf.clone()),
            "CSRF cookie has invalid characters.",
        ),
    ];
    for (cookie, token, reason) in &cases {
        let r = echo(&s, cookie, token.as_deref()).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (403, csrf_failed(reason).as_str()),
            "{reason}"
        );
        assert_eq!(r.header("www-authenticate"), None);
        // A malformed cookie is replaced, as Django does; other failures leave it alone.
        let reissued = r.header("set-cookie").unwrap_or("");
        if reason.starts_with("CSRF cookie has") {
            let value = reissued
                .strip_prefix("csrftoken=")
                .and_then(|v| v.split(';').next())
                .unwrap_or_else(|| panic!("{reason}: no new cookie in {reissued:?}"));
            assert_eq!(value.len(), 32, "{reissued}");
            assert!(
                value.bytes().all(|c| c.is_ascii_alphanumeric()),
                "{reissued}"
            );
            assert!(
                reissued.contains("Max-Age=31449600; Path=/; SameSite=Lax"),
                "{reissued}"
            );
            assert!(!reissued.contains("HttpOnly"), "{reissued}");
        } else {
            assert_eq!(reissued, "", "{reason}");
        }
    }

    // From a form: the field wins over the header.
    let r = s
        .send(
            plain()
                .post(s.url("/api/echo/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", &b.csrf)
                .form(&[("csrfmiddlewaretoken", other_secret), ("a", "1")]),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, csrf_failed("CSRF token from POST incorrect.").as_str())
    );
    let r = s
        .send(
            plain()
                .post(s.url("/api/echo/"))
                .header("Cookie", b.cookie())
                .form(&[("csrfmiddlewaretoken", b.csrf.as_str()), ("a", "1")]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"received": {"csrfmiddlewaretoken": b.csrf, "a": "1"}, "username": "alice"})
    );

    // Origin, then (over HTTPS without an Origin) the strict Referer check.
    let with = |origin: Option<&str>, referer: Option<&str>, https: bool| {
        let mut req = plain()
            .post(s.url("/api/echo/"))
            .header("Cookie", b.cookie())
            .header("X-CSRFToken", &b.csrf)
            .json(&json!({}));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        if let Some(r) = referer {
            req = req.header("Referer", r);
        }
        if https {
            req = req.header("X-Forwarded-Proto", "https");
        }
        req
    };
    let host = s.base.trim_start_matches("http://").to_owned();
    let cases: Vec<(Option<String>, Option<String>, bool, &str)> = vec![
        (
            Some("https://evil.example".into()),
            None,
            false,
            "Origin checking failed - https://evil.example does not match any trusted origins.",
        ),
        (
            Some("https://evil.example".into()),
            Some(format!("https://{host}/")),
            true,
            "Origin checking failed - https://evil.example does not match any trusted origins.",
        ),
        // The scheme is part of the origin.
        (
            Some(format!("http://{host}")),
            None,
            true,
            "Origin checking failed - http://HOST does not match any trusted origins.",
        ),
        (None, None, true, "Referer checking failed - no Referer."),
        (
            None,
            Some("https://evil.example/x".into()),
            true,
            "Referer checking failed - https://evil.example/x does not match any trusted origins.",
        ),
        (
            None,
            Some(format!("http://{host}/")),
            true,
            "Referer checking failed - Referer is insecure while host is secure.",
        ),
        (
            None,
            Some("not a url".into()),
            true,
            "Referer checking failed - Referer is malformed.",
        ),
    ];
    for (origin, referer, https, reason) in &cases {
        let reason = reason.replace("HOST", &host);
        let r = s
            .send(with(origin.as_deref(), referer.as_deref(), *https))
            .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (403, csrf_failed(&reason).as_str()),
            "{origin:?} {referer:?}"
        );
    }
    // The good cases.
    for (origin, referer, https) in [
        (Some(s.base.clone()), None, false),
        (Some(format!("https://{host}")), None, true),
        (None, Some(format!("https://{host}/somewhere")), true),
        (None, None, false),
    ] {
        let r = s
            .send(with(origin.as_deref(), referer.as_deref(), https))
            .await;
        assert_eq!(r.status, 200, "{origin:?} {referer:?}: {}", r.body);
    }
    // Without trust in the proxy header, the request is plain HTTP: no Referer needed.
    let plain_server = Server::start().await;
    plain_server.create_user("alice", &[]);
    let b2 = login(&plain_server, "alice").await;
    let r = plain_server
        .send(
            plain()
                .post(plain_server.url("/api/echo/"))
                .header("Cookie", b2.cookie())
                .header("X-CSRFToken", &b2.csrf)
                .header("X-Forwarded-Proto", "https")
                .json(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn trusted_origins_are_accepted() {
    let s = Server::builder()
        .config("[csrf]\ntrusted_origins = [\"https://app.example.com\", \"https://*.example.org\"]\ntrust_forwarded_proto = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    let post = |origin: &str| {
        plain()
            .post(s.url("/api/echo/"))
            .header("Cookie", b.cookie())
            .header("X-CSRFToken", &b.csrf)
            .header("Origin", origin)
            .json(&json!({}))
    };
    for ok in [
        "https://app.example.com",
        "https://a.example.org",
        "https://b.c.example.org",
    ] {
        assert_eq!(s.send(post(ok)).await.status, 200, "{ok}");
    }
    for bad in [
        "http://app.example.com",
        "https://app.example.com.evil.example",
        "https://example.org.evil.example",
        "null",
    ] {
        let r = s.send(post(bad)).await;
        assert_eq!(
            r.body,
            csrf_failed(&format!(
                "Origin checking failed - {bad} does not match any trusted origins."
            )),
            "{bad}"
        );
    }
    let r = s
        .send(
            plain()
                .post(s.url("/api/echo/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", &b.csrf)
                .header("X-Forwarded-Proto", "https")
                .header("Referer", "https://app.example.com/page")
                .json(&json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn masked_and_unmasked_tokens_are_accepted() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    // Unmasked: the cookie's secret itself.
    let r = echo(&s, &b.cookie(), Some(&b.csrf)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"received":{"a":1},"username":"alice"}"#)
    );
    // Masked: what /api/auth/csrf/ and the pages hand out for this cookie, fresh each time.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let t = s
            .send(
                plain()
                    .get(s.url("/api/auth/csrf/"))
                    .header("Cookie", b.cookie()),
            )
            .await;
        // The cookie keeps its secret.
        assert_eq!(set_cookie_value(&t, "csrftoken").as_deref(), Some(&*b.csrf));
        let masked = t.json()["csrfToken"].as_str().unwrap().to_owned();
        assert_eq!(masked.len(), 64);
        assert!(!seen.contains(&masked));
        let r = echo(&s, &b.cookie(), Some(&masked)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.push(masked);
    }
    // A legacy 64-character cookie holding the masked form is read as its secret.
    let legacy = format!("sessionid={}; csrftoken={}", b.session, seen[0]);
    let r = echo(&s, &legacy, Some(&b.csrf)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = echo(&s, &legacy, Some(&seen[1])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A token of another secret, masked, is refused.
    let (foreign, _) = csrf(&s).await;
    let r = echo(&s, &b.cookie(), Some(&foreign)).await;
    assert_eq!(
        r.body,
        csrf_failed("CSRF token from the 'X-Csrftoken' HTTP header incorrect.")
    );
    // Safe methods are never checked.
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let r = s
            .send(
                plain()
                    .request(method.clone(), s.url("/api/dashboard/"))
                    .header("Cookie", format!("sessionid={}", b.session)),
            )
            .await;
        assert_eq!(r.status, 200, "{method}");
    }
}

#[tokio::test]
async fn csrf_applies_only_to_session_users() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    let key = s.token("alice").await;

    // IsAuthenticatedOrReadOnly route: a session user's POST is CSRF-checked …
    let post = |cookie: &str, token: Option<&str>, auth: Option<&str>| {
        let mut req = plain()
            .post(s.url("/api/readonly-or-auth/"))
            .header("Cookie", cookie.to_owned())
            .json(&json!({"x": true}));
        if let Some(t) = token {
            req = req.header("X-CSRFToken", t.to_owned());
        }
        if let Some(a) = auth {
            req = req.header("Authorization", a.to_owned());
        }
        req
    };
    let session_only = format!("sessionid={}", b.session);
    let r = s.send(post(&session_only, None, None)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, csrf_failed("CSRF cookie not set.").as_str())
    );
    let r = s.send(post(&b.cookie(), Some(&b.csrf), None)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"received":{"x":true},"username":"alice"}"#)
    );
    // … and a wrong token is refused.
    let r = s.send(post(&b.cookie(), Some("x"), None)).await;
    assert_eq!(r.status, 403);

    // A token-authenticated POST is never CSRF-checked, whatever cookies come along that do
    // not authenticate.
    let token = format!("Token {key}");
    for cookie in [
        String::new(),
        "csrftoken=abc".into(),
        format!("csrftoken={}", b.csrf),
        format!("sessionid={}", "a".repeat(32)),
    ] {
        let r = s.send(post(&cookie, None, Some(&token))).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"received":{"x":true},"username":"alice"}"#),
            "{cookie}"
        );
        let r = echo(&s, &cookie, None).await.status;
        assert_eq!(r, 403);
        let r = s
            .send(
                plain()
                    .post(s.url("/api/echo/"))
                    .header("Cookie", cookie.clone())
                    .header("Authorization", &token)
                    .json(&json!({})),
            )
            .await;
        assert_eq!(r.status, 200, "{cookie}: {}", r.body);
    }
    // But when the session authenticates first, its CSRF check applies (DRF's order).
    let r = s.send(post(&session_only, None, Some(&token))).await;
    assert_eq!(r.body, csrf_failed("CSRF cookie not set."));

    // After logout, the stale cookie is anonymous and no CSRF check is made.
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", &b.csrf),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = s.send(post(&session_only, None, None)).await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    let r = echo(&s, &session_only, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    let r = s.send(post(&session_only, None, Some(&token))).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn login_cycles_the_session_key_and_the_csrf_secret() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);

    // A planted cookie of the right shape is not adopted.
    let planted = "abcdefghijklmnopqrstuvwxyz012345";
    let (token, cookie) = csrf(&s).await;
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/login/"))
                .header("Cookie", format!("sessionid={planted}; csrftoken={cookie}"))
                .header("X-CSRFToken", &token)
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = set_cookie_value(&r, "sessionid").unwrap();
    assert_ne!(first, planted);
    let new_csrf = set_cookie_value(&r, "csrftoken").unwrap();
    assert_ne!(new_csrf, cookie, "the CSRF secret is rotated at login");
    let d = dashboard(&s, &format!("sessionid={planted}")).await;
    assert_eq!(d.status, 403);

    // Logging in again with a live session cookie: a new key, and the old one is dead.
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/login/"))
                .header("Cookie", format!("sessionid={first}; csrftoken={new_csrf}"))
                .header("X-CSRFToken", &new_csrf)
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = set_cookie_value(&r, "sessionid").unwrap();
    assert_ne!(second, first);
    assert_ne!(set_cookie_value(&r, "csrftoken").unwrap(), new_csrf);
    let d = dashboard(&s, &format!("sessionid={first}")).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    let d = dashboard(&s, &format!("sessionid={second}")).await;
    assert_eq!(d.status, 200);

    // The same through the HTML form, switching user: the previous user's session ends.
    let (_, form, csrf_cookie) = login_page(&s, &[]).await;
    let r = s
        .send(
            plain()
                .post(s.url("/api-auth/login/"))
                .header(
                    "Cookie",
                    format!("sessionid={second}; csrftoken={csrf_cookie}"),
                )
                .form(&[
                    ("username", "bob"),
                    ("password", PASSWORD),
                    ("csrfmiddlewaretoken", form.as_str()),
                ]),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    let third = set_cookie_value(&r, "sessionid").unwrap();
    assert!(third != second && third != first);
    assert_ne!(set_cookie_value(&r, "csrftoken").unwrap(), csrf_cookie);
    assert_eq!(
        dashboard(&s, &format!("sessionid={second}")).await.status,
        403
    );
    let d = dashboard(&s, &format!("sessionid={third}")).await;
    assert_eq!(
        d.body,
        r#"{"message":"Hello bob, welcome to your dashboard"}"#
    );
}

#[tokio::test]
async fn password_change_and_deactivation_end_sessions() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    let a1 = login(&s, "alice").await;
    let a2 = login(&s, "alice").await;
    let bob = login(&s, "bob").await;
    assert_ne!(a1.session, a2.session);
    for b in [&a1, &a2] {
        assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);
    }

    let new_password = "a brand new passphrase 42";
    let out = s.command(
        &["changepassword", "alice", "--password-stdin"],
        &format!("{new_password}\n"),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    for b in [&a1, &a2] {
        let d = dashboard(&s, &b.cookie()).await;
        assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
        // Anonymous now, so a POST without CSRF is refused for lack of credentials.
        let r = echo(&s, &b.cookie(), None).await;
        assert_eq!(r.body, NOT_PROVIDED);
    }
    // Other users keep their sessions.
    assert_eq!(dashboard(&s, &bob.cookie()).await.status, 200);
    // The old password no longer logs in; the new one does, and that session works.
    assert_eq!(spa_login(&s, "alice", PASSWORD).await.status, 400);
    let r = spa_login(&s, "alice", new_password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let fresh = set_cookie_value(&r, "sessionid").unwrap();
    let d = dashboard(&s, &format!("sessionid={fresh}")).await;
    assert_eq!((d.status, d.body.as_str()), (200, GREETING));

    // Deactivation ends the sessions too.
    let out = s.command(&["deactivateuser", "bob"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let d = dashboard(&s, &bob.cookie()).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    let r = echo(&s, &bob.cookie(), None).await;
    assert_eq!(r.body, NOT_PROVIDED);
    let page = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Cookie", bob.cookie()),
        )
        .await;
    assert_eq!(page.status, 302);
    assert_eq!(
        dashboard(&s, &format!("sessionid={fresh}")).await.status,
        200
    );
}

#[tokio::test]
async fn deactivation_ends_sessions_of_the_same_second_and_spares_later_ones() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    for _ in 0..3 {
        // No waiting between the login, the revocation and the next login.
        let before = login(&s, "alice").await;
        for cmd in ["deactivateuser", "activateuser"] {
            let out = s.command(&[cmd, "alice"], "");
            assert!(out.status.success(), "{}", common::stderr(&out));
        }
        let after = login(&s, "alice").await;
        let d = dashboard(&s, &before.cookie()).await;
        assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
        let d = dashboard(&s, &after.cookie()).await;
        assert_eq!((d.status, d.body.as_str()), (200, GREETING));
    }
}

#[tokio::test]
async fn sessions_expire() {
    let s = Server::builder()
        .config("[session]\ncookie_age = 2")
        .start()
        .await;
    s.create_user("alice", &[]);
    let r = spa_login(&s, "alice", PASSWORD).await;
    let line = set_cookie_line(&r, "sessionid").unwrap();
    assert!(
        attributes(&line).contains(&"Max-Age=2".to_owned()),
        "{line}"
    );
    let b = Browser {
        session: set_cookie_value(&r, "sessionid").unwrap(),
        csrf: set_cookie_value(&r, "csrftoken").unwrap(),
    };
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);
    s.advance_clock(Duration::from_millis(3100));
    let d = dashboard(&s, &b.cookie()).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    // Expired means anonymous: no CSRF check.
    assert_eq!(echo(&s, &b.cookie(), None).await.body, NOT_PROVIDED);

    // `clearsessions` removes it (and only expired ones).
    let live = login(&s, "alice").await;
    let out = s.command(&["clearsessions"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out).trim(), "Deleted 1 expired sessions.");
    let out = s.command(&["clearsessions"], "");
    assert_eq!(common::stdout(&out).trim(), "Deleted 0 expired sessions.");
    assert_eq!(dashboard(&s, &live.cookie()).await.status, 200);
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 403);
}

#[tokio::test]
async fn idle_sessions_end_and_used_ones_do_not() {
    let s = Server::builder()
        .config("[session]\nidle_timeout = 2")
        .start()
        .await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    // Used every half second for 4 s: longer than the idle limit, never idle that long.
    for i in 0..8 {
        s.advance_clock(Duration::from_millis(500));
        let d = dashboard(&s, &b.cookie()).await;
        assert_eq!((i, d.status), (i, 200), "{}", d.body);
    }
    s.advance_clock(Duration::from_millis(3100));
    let d = dashboard(&s, &b.cookie()).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));

    // `clearsessions` counts idle sessions as expired.
    let out = s.command(&["clearsessions"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(common::stdout(&out).trim(), "Deleted 1 expired sessions.");
}

#[tokio::test]
async fn concurrent_requests_on_one_session() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    let client = plain();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, url_get, url_post, b) = (
            client.clone(),
            s.url("/api/dashboard/"),
            s.url("/api/echo/"),
            b.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let req = if i % 2 == 0 {
                client.get(url_get).header("Cookie", b.cookie())
            } else {
                client
                    .post(url_post)
                    .header("Cookie", b.cookie())
                    .header("X-CSRFToken", &b.csrf)
                    .json(&json!({ "i": i }))
            };
            let r = req.send().await.expect("request");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.expect("task");
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);
}

#[tokio::test]
async fn cookie_attributes() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let r = spa_login(&s, "alice", PASSWORD).await;
    let session = attributes(&set_cookie_line(&r, "sessionid").unwrap());
    for a in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(session.contains(&a.to_owned()), "{a}: {session:?}");
    }
    assert!(!session.contains(&"Secure".to_owned()));
    assert!(session.iter().any(|a| a.starts_with("expires=")));
    let csrf = attributes(&set_cookie_line(&r, "csrftoken").unwrap());
    for a in ["SameSite=Lax", "Path=/", "Max-Age=31449600"] {
        assert!(csrf.contains(&a.to_owned()), "{a}: {csrf:?}");
    }
    assert!(!csrf.contains(&"HttpOnly".to_owned()), "{csrf:?}");
    assert!(!csrf.contains(&"Secure".to_owned()));
    // The responses that set cookies are not cached by shared caches.
    assert!(
        r.header("cache-control")
            .is_some_and(|c| c.contains("no-store"))
    );
    assert!(
        r.header("vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("cookie"))
    );

    let s = Server::builder()
        .config("[session]\ncookie_secure = true\n[csrf]\ncookie_secure = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let r = spa_login(&s, "alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for name in ["sessionid", "csrftoken"] {
        let a = attributes(&set_cookie_line(&r, name).unwrap());
        assert!(a.contains(&"Secure".to_owned()), "{name}: {a:?}");
    }
}

#[tokio::test]
async fn www_authenticate_session_is_opt_in() {
    let s = Server::builder()
        .config("[session]\nwww_authenticate = true")
        .start()
        .await;
    s.create_user("alice", &[]);
    let r = s.get("/api/dashboard/", None).await;
    assert_eq!((r.status, r.body.as_str()), (401, NOT_PROVIDED));
    assert_eq!(r.header("www-authenticate"), Some("Session"));
    let r = s.get("/api/admin-only/", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Session"));
    // A CSRF failure stays a 403 without a challenge.
    let b = login(&s, "alice").await;
    let r = echo(&s, &format!("sessionid={}", b.session), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, csrf_failed("CSRF cookie not set.").as_str())
    );
    assert_eq!(r.header("www-authenticate"), None);
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);

    // With Token first, Token's challenge wins.
    let s = Server::builder()
        .config("[session]\nwww_authenticate = true\n[rest_framework]\ndefault_authentication_classes = [\"token\", \"session\"]")
        .start()
        .await;
    let r = s.get("/api/dashboard/", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn bad_cookies_are_anonymous_never_5xx() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let b = login(&s, "alice").await;
    let real = b.session.clone();

    // The last character changed: to 'x', unless it already is one (then the "altered" key
    // would be the real one, 1 time in 36).
    let altered = if real.ends_with('x') { 'y' } else { 'x' };
    let raw: Vec<Vec<u8>> = vec![
        // Forged, of the right shape.
        b"sessionid=abcdefghijklmnopqrstuvwxyz012345".to_vec(),
        // Truncated, extended, altered.
        format!("sessionid={}", &real[..31]).into_bytes(),
        format!("sessionid={real}0").into_bytes(),
        format!("sessionid={}", real.to_ascii_uppercase()).into_bytes(),
        format!("sessionid={}{altered}", &real[..31]).into_bytes(),
        // Oversized.
        format!("sessionid={}", "a".repeat(5000)).into_bytes(),
        format!("sessionid={}", "a".repeat(3000)).into_bytes(),
        // Non-ASCII and odd bytes.
        format!("sessionid={}é", &real[..30]).into_bytes(),
        [b"sessionid=".as_slice(), &[0xff, 0xfe], real.as_bytes()].concat(),
        format!("sessionid=\"{real}\\\"\"").into_bytes(),
        b"sessionid=".to_vec(),
        b"sessionid".to_vec(),
        b";;;=;sessionid==;".to_vec(),
        format!("sessionid={real}%00").into_bytes(),
        // The real key next to another one: a planted duplicate.
        format!("sessionid={real}; sessionid=abcdefghijklmnopqrstuvwxyz012345").into_bytes(),
        format!("sessionid=abcdefghijklmnopqrstuvwxyz012345; sessionid={real}").into_bytes(),
    ];
    for cookie in &raw {
        let header = HeaderValue::from_bytes(cookie).expect("header");
        for path in [
            "/api/dashboard/",
            "/api/public/",
            "/dashboard/",
            "/api/auth/csrf/",
        ] {
            let r = s
                .send(plain().get(s.url(path)).header("Cookie", header.clone()))
                .await;
            let shown = String::from_utf8_lossy(cookie);
            assert!(r.status < 500, "{path} {shown}: {} {}", r.status, r.body);
            if path == "/api/dashboard/" {
                assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED), "{shown}");
            }
            // Never a new session; at most the deletion of a cookie naming no session.
            if let Some(line) = set_cookie_line(&r, "sessionid") {
                assert!(
                    line.starts_with(r#"sessionid=""; expires=Thu, 01 Jan 1970"#),
                    "{path} {shown}: {line}"
                );
            }
            if path == "/api/public/" {
                assert_eq!(
                    r.body, r#"{"authenticated":false,"username":null}"#,
                    "{shown}"
                );
            }
        }
        let r = s
            .send(
                plain()
                    .post(s.url("/api/echo/"))
                    .header("Cookie", header.clone())
                    .json(&json!({})),
            )
            .await;
        assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    }
    // Two Cookie headers with different keys are as ambiguous as one with both.
    let r = s
        .send(
            plain()
                .get(s.url("/api/public/"))
                .header("Cookie", format!("sessionid={real}"))
                .header("Cookie", "sessionid=abcdefghijklmnopqrstuvwxyz012345"),
        )
        .await;
    assert_eq!(r.body, r#"{"authenticated":false,"username":null}"#);
    // The same key twice is still that key.
    let r = s
        .send(
            plain()
                .get(s.url("/api/public/"))
                .header("Cookie", format!("sessionid={real}; sessionid={real}")),
        )
        .await;
    assert_eq!(r.body, r#"{"authenticated":true,"username":"alice"}"#);

    // Bad CSRF cookies with a live session: a 403, never a 5xx, and the session is unchanged.
    let session = format!("sessionid={real}");
    let csrf_cookies: Vec<Vec<u8>> = vec![
        format!("{session}; csrftoken={}", "a".repeat(5000)).into_bytes(),
        format!("{session}; csrftoken={}", "a".repeat(100)).into_bytes(),
        [
            format!("{session}; csrftoken=").as_bytes(),
            &[0xc3, 0xa9].repeat(16),
        ]
        .concat(),
        format!(
            "{session}; csrftoken={}; csrftoken={}",
            b.csrf,
            "b".repeat(32)
        )
        .into_bytes(),
        format!("{session}; csrftoken=").into_bytes(),
    ];
    for cookie in &csrf_cookies {
        let header = HeaderValue::from_bytes(cookie).expect("header");
        let shown = String::from_utf8_lossy(cookie);
        for token in [b.csrf.as_str(), "é"] {
            let r = s
                .send(
                    plain()
                        .post(s.url("/api/echo/"))
                        .header("Cookie", header.clone())
                        .header(
                            "X-CSRFToken",
                            HeaderValue::from_bytes(token.as_bytes()).unwrap(),
                        )
                        .json(&json!({})),
                )
                .await;
            assert_eq!(r.status, 403, "{shown}: {}", r.body);
            assert!(
                r.body.starts_with(r#"{"detail":"CSRF Failed: "#) || r.body == NOT_PROVIDED,
                "{shown}: {}",
                r.body
            );
            assert_eq!(set_cookie_line(&r, "sessionid"), None);
        }
        // The SPA endpoints cope as well.
        let r = s
            .send(
                plain()
                    .get(s.url("/api/auth/csrf/"))
                    .header("Cookie", header.clone()),
            )
            .await;
        assert_eq!(r.status, 200, "{shown}");
        let fresh = set_cookie_value(&r, "csrftoken").unwrap();
        assert_eq!(fresh.len(), 32, "{shown}: a malformed cookie is replaced");
        let r = s
            .send(
                plain()
                    .post(s.url("/api/auth/login/"))
                    .header("Cookie", header.clone())
                    .json(&json!({"username": "alice", "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, 403, "{shown}: {}", r.body);
        assert_eq!(set_cookie_line(&r, "sessionid"), None);
    }
    // A non-ASCII token header next to a good cookie.
    let r = s
        .send(
            plain()
                .post(s.url("/api/echo/"))
                .header("Cookie", b.cookie())
                .header("X-CSRFToken", HeaderValue::from_bytes(&[0xe9; 32]).unwrap())
                .json(&json!({})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(dashboard(&s, &b.cookie()).await.status, 200);
}

/// The `action` of the page's first form.
fn form_action(html: &str) -> String {
    let marker = r#"<form method="post" action=""#;
    let start = html.find(marker).expect("a form") + marker.len();
    let end = html[start..].find('"').expect("end of action") + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn moved_login_and_logout_urls_serve_the_forms_that_post_to_them() {
    let s = Server::builder()
        .config(
            "[session]\nlogin_url = \"/accounts/login/\"\nlogout_url = \"/accounts/logout/\"\n\
             logout_redirect_url = \"/accounts/login/\"",
        )
        .start()
        .await;
    s.create_user("alice", &[]);
    assert_eq!(s.get("/api-auth/login/", None).await.status, 404);

    let page = s.send(plain().get(s.url("/accounts/login/"))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let action = form_action(&page.body);
    assert_eq!(action, "/accounts/login/");
    let cookie = set_cookie_value(&page, "csrftoken").expect("csrftoken");
    let r = s
        .send(
            plain()
                .post(s.url(&action))
                .header("Cookie", format!("csrftoken={cookie}"))
                .form(&[
                    ("username", "alice"),
                    ("password", PASSWORD),
                    ("next", "/dashboard/"),
                    ("csrfmiddlewaretoken", &form_token(&page.body)),
                ]),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/dashboard/"));
    let session = set_cookie_value(&r, "sessionid").expect("sessionid");

    let page = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Cookie", format!("sessionid={session}")),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let action = form_action(&page.body);
    assert_eq!(action, "/accounts/logout/");
    let cookie = set_cookie_value(&page, "csrftoken").expect("csrftoken");
    let r = s
        .send(
            plain()
                .post(s.url(&action))
                .header("Cookie", format!("sessionid={session}; csrftoken={cookie}"))
                .form(&[("csrfmiddlewaretoken", form_token(&page.body).as_str())]),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/accounts/login/"));
    let d = dashboard(&s, &format!("sessionid={session}")).await;
    assert_eq!((d.status, d.body.as_str()), (403, NOT_PROVIDED));
    // Logged out, the dashboard sends the browser to the moved login page.
    let page = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Cookie", format!("sessionid={session}")),
        )
        .await;
    assert_eq!(
        page.header("location"),
        Some("/accounts/login/?next=/dashboard/")
    );
}

#[tokio::test]
async fn the_login_page_shows_an_alert_only_after_a_failure() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let (page, _, _) = login_page(&s, &[]).await;
    assert!(!page.body.contains("role=\"alert\""), "{}", page.body);
    let r = html_login(&s, "alice", "wrong password!", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let alert = format!(
        r#"<p class="error" role="alert">{}</p>"#,
        LOGIN_FAILED.replace('\'', "&#x27;")
    );
    assert!(r.body.contains(&alert), "{}", r.body);
}
