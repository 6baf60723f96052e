//! Bad input gets a clear 4xx in DRF's shape, never a 5xx, and changes nothing stored.

mod common;

use common::{PASSWORD, Server};
use serde_json::json;

async fn post_raw(s: &Server, path: &str, content_type: &str, body: Vec<u8>) -> common::Reply {
    s.send(
        s.client
            .post(s.url(path))
            .header("Content-Type", content_type)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn bad_bodies_on_the_login_endpoint() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let key = s.token("alice").await;

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            b"[1,2]".to_vec(),
            400,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#,
        ),
        (
            "application/json",
            b"42".to_vec(),
            400,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got int."]}"#,
        ),
        (
            "application/json",
            b"\"x\"".to_vec(),
            400,
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got str."]}"#,
        ),
        (
            "application/json",
            br#"{"username":1.5,"password":true}"#.to_vec(),
            400,
            r#"{"password":["Not a valid string."]}"#,
        ),
        (
            "application/json",
            br#"{"username":["a"],"password":{"a":1}}"#.to_vec(),
            400,
            r#"{"username":["Not a valid string."],"password":["Not a valid string."]}"#,
        ),
        (
            "application/json",
            b"{\"username\":\"al\\u0000ice\",\"password\":\"x\"}".to_vec(),
            400,
            r#"{"username":["Null characters are not allowed."]}"#,
        ),
        (
            "text/plain",
            b"username=alice".to_vec(),
            415,
            r#"{"detail":"Unsupported media type \"text/plain\" in request."}"#,
        ),
        (
            "application/xml",
            b"<a/>".to_vec(),
            415,
            r#"{"detail":"Unsupported media type \"application/xml\" in request."}"#,
        ),
    ];
    for (ct, body, status, expected) in cases {
        let r = post_raw(&s, "/api-token-auth/", ct, body.clone()).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (status, expected),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }

    // Malformed JSON and invalid UTF-8: DRF's parse error prefix.
    for body in [
        b"{\"username\":".to_vec(),
        b"{\"username\":\"\xff\xfe\",\"password\":\"x\"}".to_vec(),
    ] {
        let r = post_raw(&s, "/api-token-auth/", "application/json", body).await;
        assert_eq!(r.status, 400);
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - "),
            "{}",
            r.body
        );
    }
    let r = post_raw(
        &s,
        "/api-token-auth/",
        "application/x-www-form-urlencoded",
        b"username=%ff%fe&password=x".to_vec(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Too large: 413 with a JSON detail, decided from Content-Length before the body is read
    // (sent raw: a client still writing the body may see the connection close under it).
    let big = raw(
        &s,
        "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{",
    )
    .await;
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
    assert!(
        big.ends_with(r#"{"detail":"Request body is too large."}"#),
        "{big}"
    );

    // A 10,000-character username and password: the generic failure, nothing else.
    let long = "a".repeat(10_000);
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": long, "password": long}),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#
    );

    // Nothing stored changed: the old key still works, the password still logs in.
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {key}")))
            .await
            .status,
        200
    );
    s.token("alice").await;
    assert!(!s.log().contains("panicked"));
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let s = Server::start().await;
    let r = s.get("/nope", None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, r#"{"detail":"Not found."}"#)
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = s.get("/api/public", None).await;
    assert_eq!(r.status, 200);
    let r = s.get("/healthz/", None).await;
    assert_eq!(r.body, r#"{"status":"ok"}"#);
    assert!(r.header("server").is_none());
}

#[tokio::test]
async fn hostile_headers_never_cause_5xx() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let long = format!("Token {}", "f".repeat(8000));
    let headers: Vec<Vec<u8>> = vec![
        b"Token \x00abc".to_vec(),
        long.into_bytes(),
        b"Basic \xff\xff\xff".to_vec(),
        b"Basic YWxpY2U6".to_vec(),
        b"Token ../../etc/passwd".to_vec(),
        b"Token ' OR 1=1 --".to_vec(),
    ];
    for h in headers {
        if let Ok(v) = reqwest::header::HeaderValue::from_bytes(&h) {
            let r = s
                .send(
                    s.client
                        .get(s.url("/api/public/"))
                        .header("Authorization", v),
                )
                .await;
            assert!(
                r.status < 500 && r.status >= 400,
                "{} for {:?}",
                r.status,
                String::from_utf8_lossy(&h)
            );
            assert!(r.json()["detail"].is_string());
        }
    }
    // Two Authorization headers do not smuggle a second credential.
    let key = s.token("alice").await;
    let r = s
        .send(
            s.client
                .get(s.url("/api/profile/"))
                .header("Authorization", format!("Token {key}"))
                .header("Authorization", "Token other"),
        )
        .await;
    assert_eq!(r.status, 401);
    let _ = PASSWORD;
}

/// Sends raw bytes and returns the response as text.
async fn raw(s: &Server, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
        .await
        .expect("server answered")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn request_smuggling_framing_is_refused() {
    let s = Server::start().await;
    let both = "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert!(raw(&s, both).await.starts_with("HTTP/1.1 400"), "CL + TE");
    let twice = "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}";
    assert!(
        raw(&s, twice).await.starts_with("HTTP/1.1 400"),
        "duplicate CL"
    );
}

#[tokio::test]
async fn no_cors_grant_and_no_token_in_urls() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    let r = s
        .send(
            s.client
                .get(s.url("/api/public/"))
                .header("Origin", "https://evil.example")
                .header("Authorization", format!("Token {key}")),
        )
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.header("access-control-allow-credentials").is_none());
    // A key in the query string is not a credential.
    let r = s.get(&format!("/api/profile/?token={key}"), None).await;
    assert_eq!(r.status, 401);
    let r = s
        .get(&format!("/api/profile/?auth_token={key}"), None)
        .await;
    assert_eq!(r.status, 401);
}

/// A body without `Content-Length` is counted as it streams in: past the limit it is answered
/// 413, with the request id and the JSON detail of every other answer.
#[tokio::test]
async fn a_streamed_body_past_the_limit_is_answered_413() {
    let s = Server::builder()
        .config("[server]\nmax_body_bytes = 1024\n")
        .start()
        .await;
    let chunk = "a".repeat(1500);
    let request = format!(
        "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let reply = raw(&s, &request).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("\r\nx-request-id: "),
        "{reply}"
    );
    assert!(
        reply.ends_with(r#"{"detail":"Request body is too large."}"#),
        "{reply}"
    );
    // Within the limit the same stream is read, and refused for what it says.
    let fits = "a".repeat(1000);
    let request = format!(
        "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{fits}\r\n0\r\n\r\n",
        fits.len()
    );
    assert!(raw(&s, &request).await.starts_with("HTTP/1.1 400"));
}

/// A limit above axum's own default for its extractors (2 MiB) is the one that applies.
#[tokio::test]
async fn a_body_limit_above_two_mebibytes_is_honoured() {
    let s = Server::builder()
        .config("[server]\nmax_body_bytes = 4194304\n")
        .start()
        .await;
    let big = "a".repeat(3 * 1024 * 1024);
    let r = post_raw(
        &s,
        "/api-token-auth/",
        "application/x-www-form-urlencoded",
        format!("username=alice&password={big}").into_bytes(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Above it, still 413 (sent raw: a client still writing 6 MiB sees the connection close).
    let over = raw(
        &s,
        "POST /api-token-auth/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 6291456\r\n\r\n{",
    )
    .await;
    assert!(over.starts_with("HTTP/1.1 413"), "{over}");
}
