//! DRF habits over HTTP: multipart bodies (`curl -F`), content negotiation (406), and the
//! deletion of a stale `sessionid` cookie, as Django's session middleware does.

mod common;

use std::time::Duration;

use common::{PASSWORD, Reply, Server, plain, set_cookie_value, set_cookies};
use serde_json::json;

const BOUNDARY: &str = "------------------------d74496d66958873e";
const NOT_ACCEPTABLE: &str = r#"{"detail":"Could not satisfy the request Accept header."}"#;
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// What Django's `delete_cookie` sends for the session cookie (default settings).
const SESSION_REMOVAL: &str =
    r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax"#;

/// A `multipart/form-data` body as curl's `-F name=value` writes it.
fn multipart(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body.into_bytes()
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

async fn post_multipart(s: &Server, path: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> Reply {
    let mut req = plain()
        .post(s.url(path))
        .header("Content-Type", content_type())
        .body(body);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    s.send(req).await
}

#[tokio::test]
async fn multipart_logins_work_like_drfs_multipart_parser() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let credentials = [("username", "alice"), ("password", PASSWORD)];

    let r = post_multipart(&s, "/api-token-auth/", multipart(&credentials), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 40);

    let r = post_multipart(&s, "/api/token/", multipart(&credentials), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["access"].is_string() && r.json()["refresh"].is_string());

    // Wrong password: DRF's validation answer, not a 415.
    let wrong = multipart(&[("username", "alice"), ("password", "nope")]);
    let r = post_multipart(&s, "/api-token-auth/", wrong, &[]).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#
        )
    );

    // The JSON login, with the CSRF token as a form field, as Django reads it.
    let r = s.send(plain().get(s.url("/api/auth/csrf/"))).await;
    let csrf_token = r.json()["csrfToken"].as_str().expect("token").to_owned();
    let csrf_cookie = set_cookie_value(&r, "csrftoken").expect("csrftoken");
    let body = multipart(&[
        ("username", "alice"),
        ("password", PASSWORD),
        ("csrfmiddlewaretoken", &csrf_token),
    ]);
    let cookie = format!("csrftoken={csrf_cookie}");
    let r = post_multipart(&s, "/api/auth/login/", body, &[("Cookie", &cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "alice");
    let session = set_cookie_value(&r, "sessionid").expect("sessionid");
    let new_csrf = set_cookie_value(&r, "csrftoken").expect("csrftoken");

    // A session user's multipart POST passes the CSRF check with the form field.
    let r = s
        .send(plain().get(s.url("/api/auth/csrf/")).header(
            "Cookie",
            format!("sessionid={session}; csrftoken={new_csrf}"),
        ))
        .await;
    let token = r.json()["csrfToken"].as_str().expect("token").to_owned();
    let cookie = format!("sessionid={session}; csrftoken={new_csrf}");
    let body = multipart(&[("note", "hello"), ("csrfmiddlewaretoken", &token)]);
    let r = post_multipart(&s, "/api/echo/", body, &[("Cookie", &cookie)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["received"]["note"], "hello");
    assert_eq!(r.json()["username"], "alice");
    let body = multipart(&[("note", "hello")]);
    let r = post_multipart(&s, "/api/echo/", body, &[("Cookie", &cookie)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test]
async fn malformed_or_oversized_multipart_is_a_clear_4xx() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let body = multipart(&[("username", "alice"), ("password", PASSWORD)]);
    let r = s
        .send(
            plain()
                .post(s.url("/api-token-auth/"))
                .header("Content-Type", "multipart/form-data")
                .body(body.clone()),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            r#"{"detail":"Multipart form parse error - Invalid boundary in multipart: None"}"#
        )
    );
    let truncated = body[..body.len() - 20].to_vec();
    let r = post_multipart(&s, "/api/token/", truncated, &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Multipart form parse error - ")),
        "{}",
        r.body
    );
    // Beyond max_body_bytes (64 KiB by default): 413, as for any other body.
    let big = "x".repeat(70 * 1024);
    let body = multipart(&[("username", "alice"), ("password", &big)]);
    let r = post_multipart(&s, "/api-token-auth/", body, &[]).await;
    assert_eq!(r.status, 413, "{}", r.body);
}

#[tokio::test]
async fn accept_headers_are_negotiated_before_authentication() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let token = format!("Token {}", s.token("alice").await);
    let get = |accept: Option<&'static str>, auth: Option<String>| {
        let mut req = plain().get(s.url("/api/profile/"));
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        s.send(req)
    };
    for accept in [
        "application/xml",
        "text/html",
        "application/json;q=0",
        "application/json;q=0, */*",
    ] {
        // 406 wins over the 401 of a request without credentials, as in DRF.
        let r = get(Some(accept), None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (406, NOT_ACCEPTABLE),
            "{accept}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
        let r = get(Some(accept), Some(token.clone())).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (406, NOT_ACCEPTABLE),
            "{accept}"
        );
    }
    for accept in [
        None,
        Some("*/*"),
        Some("application/*"),
        Some("application/json"),
        Some("application/json; charset=utf-8; q=0.5"),
        Some("application/xml, application/json;q=0.1"),
        Some(BROWSER_ACCEPT),
    ] {
        let r = get(accept, Some(token.clone())).await;
        assert_eq!(r.status, 200, "{accept:?}: {}", r.body);
        let r = get(accept, None).await;
        assert_eq!(r.status, 401, "{accept:?}: {}", r.body);
    }
    // The login endpoints negotiate too.
    let r = s
        .send(
            plain()
                .post(s.url("/api-token-auth/"))
                .header("Accept", "application/xml")
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (406, NOT_ACCEPTABLE));

    // The HTML pages negotiate text/html.
    let page = |accept: &'static str| {
        s.send(
            plain()
                .get(s.url("/api-auth/login/"))
                .header("Accept", accept),
        )
    };
    let r = page("application/json").await;
    assert_eq!((r.status, r.body.as_str()), (406, NOT_ACCEPTABLE));
    let r = s
        .send(
            plain()
                .get(s.url("/dashboard/"))
                .header("Accept", "application/json"),
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (406, NOT_ACCEPTABLE));
    for accept in [BROWSER_ACCEPT, "*/*", "text/*"] {
        let r = page(accept).await;
        assert_eq!(r.status, 200, "{accept}");
        assert!(r.body.contains("<form"), "{accept}");
    }
}

#[tokio::test]
async fn a_stale_sessionid_is_deleted_in_the_response() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let token = format!("Token {}", s.token("alice").await);
    let removal = |r: &Reply| {
        set_cookies(r)
            .into_iter()
            .find(|l| l.starts_with("sessionid="))
    };
    let get = |path: &'static str, cookie: String| {
        s.send(plain().get(s.url(path)).header("Cookie", cookie))
    };
    // Unknown and tampered keys, whatever the status of the answer.
    for cookie in [
        format!("sessionid={}", "a".repeat(32)),
        "sessionid=not-a-session-key!".to_owned(),
    ] {
        let r = get("/api/dashboard/", cookie.clone()).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(removal(&r).as_deref(), Some(SESSION_REMOVAL), "{cookie}");
        let r = get("/api/public/", cookie.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(removal(&r).as_deref(), Some(SESSION_REMOVAL), "{cookie}");
        let r = get("/dashboard/", cookie.clone()).await;
        assert_eq!(r.status, 302);
        assert_eq!(removal(&r).as_deref(), Some(SESSION_REMOVAL), "{cookie}");
    }

    // A live session keeps its cookie; once expired, the cookie is deleted.
    let r = s.send(plain().get(s.url("/api/auth/csrf/"))).await;
    let csrf_token = r.json()["csrfToken"].as_str().expect("token").to_owned();
    let csrf_cookie = set_cookie_value(&r, "csrftoken").expect("csrftoken");
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/login/"))
                .header("Cookie", format!("csrftoken={csrf_cookie}"))
                .header("X-CSRFToken", csrf_token)
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cookie = format!("sessionid={}", set_cookie_value(&r, "sessionid").unwrap());
    let r = get("/api/dashboard/", cookie.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(removal(&r), None);
    // A route authenticating by token alone never reads the session: nothing to delete.
    let r = s
        .send(
            plain()
                .get(s.url("/api/profile/"))
                .header("Authorization", &token)
                .header("Cookie", format!("sessionid={}", "b".repeat(32))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(removal(&r), None);

    // Two weeks (SESSION_COOKIE_AGE) later the session is over.
    s.advance_clock(Duration::from_secs(1_209_600 + 1));
    let r = get("/api/dashboard/", cookie.clone()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(removal(&r).as_deref(), Some(SESSION_REMOVAL));
}
