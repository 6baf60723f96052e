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

/// Password checks the server has made so far: its test build logs each one.
fn password_checks(s: &Server) -> usize {
    s.log().matches("restauth::password_check").count()
}

/// A server that takes the client address from `X-Forwarded-For` (one trusted proxy), so a
/// test can log in from many addresses; `extra` adds lines to `restauth.toml`.
async fn behind_a_proxy(extra: &str) -> Server {
    // The test is the proxy: every client's connections come from its one address.
    Server::builder()
        .config(extra)
        .config("[rest_framework]\nnum_proxies = 1\n[server]\ntrusted_proxies = [\"127.0.0.1\"]\n")
        .start()
        .await
}

/// Logs in at `/api-token-auth/` as `username` from the client address `from`; the status.
async fn login_from(s: &Server, username: &str, password: &str, from: &str) -> u16 {
    s.send(
        s.client
            .post(s.url("/api-token-auth/"))
            .header("X-Forwarded-For", from)
            .json(&json!({"username": username, "password": password})),
    )
    .await
    .status
}

/// Fires `n` logins at once, `who(i)` naming the username of the i-th; counts the statuses
/// (400 refused after a check, 429 throttled before one).
async fn burst(
    s: &Arc<Server>,
    n: usize,
    from: &str,
    who: impl Fn(usize) -> String,
) -> (usize, usize) {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (s, barrier) = (s.clone(), barrier.clone());
            let (from, username) = (from.to_owned(), who(i));
            tokio::spawn(async move {
                barrier.wait().await;
                login_from(&s, &username, "wrong wrong wrong", &from).await
            })
        })
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            400 => refused += 1,
            429 => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    (refused, throttled)
}

/// A tag and a number no other run uses, for Redis keys that outlive the server.
fn unique() -> (String, u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = nanos ^ std::process::id().rotate_left(16);
    (format!("{}x{nanos}", std::process::id()), seed)
}

/// The test Redis for a throttle store, or `None` (said aloud) when it is not configured; CI
/// must have it.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var("RESTAUTH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(!ci, "{test}: RESTAUTH_TEST_REDIS_URL must be set in CI");
            eprintln!("{test}: skipped, RESTAUTH_TEST_REDIS_URL is not set");
            None
        }
    }
}

/// 60 parallel wrong passwords for one account from one address get exactly `login_user_ip`
/// (10) password checks, and 320 unknown usernames from one address exactly `login_ip` (30).
async fn assert_bursts_are_capped(s: Arc<Server>, tag: &str, seed: u32) {
    let alice = format!("alice{tag}");
    s.create_user(&alice, &[]);
    // IPv6 clients count per /64: the burst comes from one host, the next login from another
    // host of the same /64.
    let net = format!("2001:db8:{:x}:{:x}", seed >> 16, seed & 0xffff);
    let before = password_checks(&s);
    let (refused, throttled) = burst(&s, 60, &format!("{net}::1"), |_| alice.clone()).await;
    assert_eq!((refused, throttled), (10, 50));
    assert_eq!(password_checks(&s) - before, 10, "checks for one account");
    // The right password from another host of that /64 finds the pair locked, unchecked.
    let before = password_checks(&s);
    assert_eq!(
        login_from(&s, &alice, PASSWORD, &format!("{net}::2")).await,
        429
    );
    assert_eq!(password_checks(&s), before);

    let from = format!("3fff:{:x}:{:x}::7", seed & 0xfff, seed >> 16);
    let before = password_checks(&s);
    let (refused, throttled) = burst(&s, 320, &from, |i| format!("ghost{tag}n{i}")).await;
    assert_eq!((refused, throttled), (30, 290));
    assert_eq!(password_checks(&s) - before, 30, "checks for one address");
}

#[tokio::test]
async fn a_concurrent_burst_gets_no_more_password_checks_than_the_rate() {
    let s = Arc::new(behind_a_proxy("").await);
    assert_bursts_are_capped(s, "", 7).await;
}

#[tokio::test]
async fn a_concurrent_burst_gets_no_more_password_checks_than_the_rate_on_redis() {
    let Some(url) = redis_url("burst on redis") else {
        return;
    };
    // Fresh usernames and addresses per run: the counters live on in Redis.
    let (tag, seed) = unique();
    let s = behind_a_proxy(&format!("[throttle]\nredis_url = \"{url}\"\n")).await;
    assert_bursts_are_capped(Arc::new(s), &tag, seed).await;
}

#[tokio::test]
async fn failures_from_one_address_do_not_lock_the_user_out_elsewhere() {
    let s = behind_a_proxy("").await;
    s.create_user("bob", &[]);
    // 35 attempts: if the refused ones kept their slots in the other scopes, they would fill
    // bob's ceiling (30/hour) and the address's limit (30/min) too.
    for i in 0..35 {
        let expected = if i < 10 { 400 } else { 429 };
        let status = login_from(&s, "bob", "wrong wrong wrong", "203.0.113.1").await;
        assert_eq!(status, expected, "attempt {i}");
    }
    // The attacker's address is locked for bob, even with the right password...
    assert_eq!(login_from(&s, "bob", PASSWORD, "203.0.113.1").await, 429);
    // ...but bob logs in from anywhere else, and the attacker can still log in as others.
    assert_eq!(login_from(&s, "bob", PASSWORD, "203.0.113.2").await, 200);
    s.create_user("mallory", &[]);
    assert_eq!(
        login_from(&s, "mallory", PASSWORD, "203.0.113.1").await,
        200
    );
    // One IPv6 /64 is one client: its hosts share the pair's count.
    for i in 0..10 {
        let from = format!("2001:db8:7:7::{i:x}");
        assert_eq!(login_from(&s, "bob", "nope", &from).await, 400);
    }
    assert_eq!(
        login_from(&s, "bob", PASSWORD, "2001:db8:7:7::ff").await,
        429
    );
    assert_eq!(
        login_from(&s, "bob", PASSWORD, "2001:db8:7:8::1").await,
        200
    );
}

#[tokio::test]
async fn a_spread_attack_meets_the_per_username_ceiling_but_known_networks_pass() {
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let s = behind_a_proxy("").await;
    s.create_user("bob", &[]);
    // Bob logs in from home and from the office.
    let (home, office) = ("198.51.100.1", "198.51.100.2");
    assert_eq!(login_from(&s, "bob", PASSWORD, home).await, 200);
    assert_eq!(login_from(&s, "bob", PASSWORD, office).await, 200);
    s.advance_clock(29 * DAY);
    // One guess from each of 30 addresses fills bob's ceiling (login_user, 30/hour).
    for i in 1..=30 {
        let from = format!("192.0.2.{i}");
        assert_eq!(login_from(&s, "bob", "guess", &from).await, 400, "{from}");
    }
    let checks = password_checks(&s);
    assert_eq!(login_from(&s, "bob", PASSWORD, "192.0.2.31").await, 429);
    assert_eq!(
        password_checks(&s),
        checks,
        "a throttled login is not checked"
    );
    // Bob's known networks (successes in the last 30 days) are spared the ceiling.
    assert_eq!(login_from(&s, "bob", PASSWORD, home).await, 200);
    // Two days on, the office's success is 31 days old; home's is two days old.
    s.advance_clock(2 * DAY);
    for i in 41..=70 {
        let from = format!("192.0.2.{i}");
        assert_eq!(login_from(&s, "bob", "guess", &from).await, 400, "{from}");
    }
    assert_eq!(login_from(&s, "bob", PASSWORD, office).await, 429);
    assert_eq!(login_from(&s, "bob", PASSWORD, home).await, 200);
    // Remembered in the store: a restarted server (its counters start afresh) still knows
    // home once the ceiling is full again.
    let mut s = s;
    s.restart();
    for i in 101..=130 {
        let from = format!("192.0.2.{i}");
        assert_eq!(login_from(&s, "bob", "guess", &from).await, 400, "{from}");
    }
    assert_eq!(login_from(&s, "bob", PASSWORD, "192.0.2.131").await, 429);
    assert_eq!(login_from(&s, "bob", PASSWORD, home).await, 200);
}
