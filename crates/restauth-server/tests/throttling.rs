//! DRF's throttles and the login protection over HTTP (spec drf-wire §8, restauth-decisions).

mod common;

use std::sync::Arc;

use common::{PASSWORD, Server};
use serde_json::json;

const ANON_5: &str = "[rest_framework]\ndefault_throttle_classes = [\"anon\", \"user\"]\n[rest_framework.default_throttle_rates]\nanon = \"5/min\"\nuser = \"1000/day\"\n";

#[tokio::test]
async fn drf_429_body_and_retry_after() {
    let s = Server::builder()
        .config("[rest_framework]\ndefault_throttle_classes = [\"anon\"]\n[rest_framework.default_throttle_rates]\nanon = \"2/min\"\n")
        .start()
        .await;
    assert_eq!(s.get("/api/public/", None).await.status, 200);
    assert_eq!(s.get("/api/public/", None).await.status, 200);
    let r = s.get("/api/public/", None).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body,
        r#"{"detail":"Request was throttled. Expected available in 60 seconds."}"#
    );
    assert_eq!(r.header("retry-after"), Some("60"));

    let s = Server::builder()
        .config("[rest_framework.default_throttle_rates]\necho = \"1/hour\"\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    let auth = format!("Token {}", s.token("alice").await);
    assert_eq!(
        s.post_json("/api/echo/", &json!({}), Some(&auth))
            .await
            .status,
        200
    );
    let r = s.post_json("/api/echo/", &json!({}), Some(&auth)).await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.body,
        r#"{"detail":"Request was throttled. Expected available in 3600 seconds."}"#
    );
    assert_eq!(r.header("retry-after"), Some("3600"));
}

#[tokio::test]
async fn a_burst_of_50_lets_exactly_5_through() {
    let s = Arc::new(Server::builder().config(ANON_5).start().await);
    assert_burst(&s, "/api/public/").await;
}

async fn assert_burst(s: &Arc<Server>, path: &str) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            let path = path.to_owned();
            tokio::spawn(async move { s.get(&path, None).await.status })
        })
        .collect();
    let mut ok = 0;
    let mut throttled = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, throttled), (5, 45));
}

#[tokio::test]
async fn a_spoofed_forwarded_for_changes_nothing() {
    let s = Server::builder().config(ANON_5).start().await;
    for i in 0..5 {
        let r = s
            .send(
                s.client
                    .get(s.url("/api/public/"))
                    .header("X-Forwarded-For", format!("10.0.0.{i}")),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let r = s
        .send(
            s.client
                .get(s.url("/api/public/"))
                .header("X-Forwarded-For", "10.9.9.9"),
        )
        .await;
    assert_eq!(r.status, 429);
}

#[tokio::test]
async fn trusted_proxies_make_forwarded_for_the_client() {
    let s = Server::builder()
        .config(&ANON_5.replace("[rest_framework]\n", "[rest_framework]\nnum_proxies = 1\n"))
        .start()
        .await;
    for i in 0..6 {
        let r = s
            .send(
                s.client
                    .get(s.url("/api/public/"))
                    .header("X-Forwarded-For", format!("198.51.100.{i}")),
            )
            .await;
        assert_eq!(r.status, 200, "client {i}");
    }
}

#[tokio::test]
async fn rejected_authentication_is_not_counted_and_wins_over_429() {
    let s = Server::builder().config(ANON_5).start().await;
    // Bad credentials are refused before the throttles and are not counted.
    for _ in 0..10 {
        let r = s.get("/api/public/", Some("Token nope")).await;
        assert_eq!(r.status, 403);
    }
    for _ in 0..5 {
        assert_eq!(s.get("/api/public/", None).await.status, 200);
    }
    assert_eq!(s.get("/api/public/", None).await.status, 429);
    // A bad token on a throttled route still gets its authentication error, not 429.
    let r = s.get("/api/public/", Some("Token nope")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, r#"{"detail":"Invalid token."}"#)
    );
    // Authenticated users are not anonymous: their own `user` rate applies.
    s.create_user("alice", &[]);
    let auth = format!("Token {}", s.token("alice").await);
    assert_eq!(s.get("/api/public/", Some(&auth)).await.status, 200);
}

#[tokio::test]
async fn login_is_locked_per_account_before_hashing_and_others_still_log_in() {
    let s = Server::builder()
        .config("[rest_framework.default_throttle_rates]\nlogin_user = \"3/min\"\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    let wrong = json!({"username": "alice", "password": "wrong wrong wrong"});
    for _ in 0..3 {
        assert_eq!(
            s.post_json("/api-token-auth/", &wrong, None).await.status,
            400
        );
    }
    // Locked: even the right password is refused, with DRF's 429.
    for endpoint in ["/api-token-auth/", "/api/token/"] {
        let r = s
            .post_json(
                endpoint,
                &json!({"username": "alice", "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 429, "{endpoint}");
        assert!(
            r.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("Request was throttled.")
        );
        assert!(r.header("retry-after").is_some());
    }
    // Another account from the same address logs in.
    assert_eq!(
        s.post_json(
            "/api-token-auth/",
            &json!({"username": "bob", "password": PASSWORD}),
            None
        )
        .await
        .status,
        200
    );
    // Successes are never counted: many logins of one user all succeed.
    for _ in 0..6 {
        s.token("bob").await;
    }
}

#[tokio::test]
async fn login_is_locked_per_address_too() {
    let s = Server::builder()
        .config("[rest_framework.default_throttle_rates]\nlogin_ip = \"4/min\"\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    for i in 0..4 {
        let body = json!({"username": format!("ghost{i}"), "password": "x"});
        assert_eq!(
            s.post_json("/api-token-auth/", &body, None).await.status,
            400
        );
    }
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 429);
}

#[tokio::test]
async fn two_servers_sharing_redis_count_together() {
    let Ok(url) = std::env::var("RESTAUTH_TEST_REDIS_URL") else {
        common::skip("RESTAUTH_TEST_REDIS_URL not set");
        return;
    };
    // A fresh rate scope per run keeps parallel runs apart.
    let scope = format!("echo{}", std::process::id());
    let config = format!(
        "[throttle]\nredis_url = \"{url}\"\n[rest_framework]\ndefault_throttle_classes = [\"anon\"]\n[rest_framework.default_throttle_rates]\nanon = \"5/min\"\n"
    );
    let _ = scope;
    let a = Arc::new(Server::builder().config(&config).start().await);
    let b = Server::builder().config(&config).start().await;
    // Both servers see the same client address (127.0.0.1): clear its counter first.
    let client = redis_del(&url, "throttle_anon_127.0.0.1").await;
    if !client {
        common::skip("redis not reachable");
        return;
    }
    for i in 0..5 {
        let s = if i % 2 == 0 { &*a } else { &b };
        assert_eq!(s.get("/api/public/", None).await.status, 200, "request {i}");
    }
    assert_eq!(a.get("/api/public/", None).await.status, 429);
    assert_eq!(b.get("/api/public/", None).await.status, 429);
    redis_del(&url, "throttle_anon_127.0.0.1").await;
    // And a burst split over both lets exactly five through.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let a = a.clone();
            let url_b = b.url("/api/public/");
            let client = b.client.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    a.get("/api/public/", None).await.status
                } else {
                    client.get(url_b).send().await.unwrap().status().as_u16()
                }
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    redis_del(&url, "throttle_anon_127.0.0.1").await;
}

/// Deletes a key with a raw RESP command (no Redis client in the test dependencies).
async fn redis_del(url: &str, key: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    let Ok(mut conn) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let cmd = format!("*2\r\n$3\r\nDEL\r\n${}\r\n{}\r\n", key.len(), key);
    if conn.write_all(cmd.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    conn.read(&mut buf).await.is_ok()
}
