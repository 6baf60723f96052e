//! `[cors]`: preflights and cross-origin answers, as django-cors-headers gives them.

mod common;

use common::Server;
use reqwest::Method;

const APP: &str = "https://app.example.com";

async fn cors_server(extra: &str) -> Server {
    Server::builder()
        .config(&format!(
            "[cors]\nallowed_origins = [\"{APP}\"]\n\
             allowed_origin_regexes = ['https://[a-z]+\\.preview\\.example\\.com']\n\
             expose_headers = [\"x-request-id\"]\npreflight_max_age = 600\n{extra}"
        ))
        .start()
        .await
}

fn preflight(s: &Server, path: &str, origin: &str) -> reqwest::RequestBuilder {
    s.client
        .request(Method::OPTIONS, s.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
}

#[tokio::test]
async fn nothing_is_allowed_by_default() {
    let s = Server::start().await;
    let r = s.send(preflight(&s, "/api/profile/", APP)).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = s
        .send(s.client.get(s.url("/api/profile/")).header("Origin", APP))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn preflights_are_answered_before_authentication() {
    let s = cors_server("").await;
    // The profile needs authentication; the preflight carries none and still passes.
    let r = s.send(preflight(&s, "/api/profile/", APP)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    let allowed = r.header("access-control-allow-headers").unwrap_or("");
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(allowed.contains("x-csrftoken"), "{allowed}");
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    // Without allow_credentials the browser is not told it may send cookies.
    assert_eq!(r.header("access-control-allow-credentials"), None);
    // A regex matches the whole origin only.
    let r = s
        .send(preflight(
            &s,
            "/api/profile/",
            "https://pr.preview.example.com",
        ))
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://pr.preview.example.com")
    );
    for other in [
        "https://evil.example",
        "https://pr.preview.example.com.evil.example",
        "http://app.example.com",
    ] {
        let r = s.send(preflight(&s, "/api/profile/", other)).await;
        assert_eq!(r.header("access-control-allow-origin"), None, "{other}");
    }
}

#[tokio::test]
async fn actual_responses_carry_the_origin_and_exposed_headers() {
    let s = cors_server("").await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    let r = s
        .send(
            s.client
                .get(s.url("/api/profile/"))
                .header("Origin", APP)
                .header("Authorization", format!("Token {token}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("x-request-id"))
    );
    assert!(r.header("vary").is_some_and(|v| v.contains("origin")));
    // Refusals too, so that the page can read the 401.
    let r = s
        .send(s.client.get(s.url("/api/profile/")).header("Origin", APP))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
}

#[tokio::test]
async fn credentials_echo_the_listed_origin_never_a_star() {
    let s = cors_server("allow_credentials = true\n").await;
    let r = s.send(preflight(&s, "/api/profile/", APP)).await;
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = s
        .send(preflight(&s, "/api/profile/", "https://evil.example"))
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_star_or_a_malformed_origin_stops_the_server_naming_the_key() {
    for (toml, key) in [
        (
            "[cors]\nallowed_origins = [\"*\"]\n",
            "cors.allowed_origins",
        ),
        (
            "[cors]\nallowed_origins = [\"https://app.example.com/\"]\n",
            "cors.allowed_origins",
        ),
        (
            "[cors]\nallowed_origin_regexes = [\"(\"]\n",
            "cors.allowed_origin_regexes",
        ),
        (
            "[cors]\nallow_origins = [\"https://a.example\"]\n",
            "allow_origins",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("restauth.toml"), toml).unwrap();
        common::refuses_to_serve(dir.path(), &[], key);
    }
}
