//! Two server processes on one PostgreSQL schema behave as one server: a token issued by one
//! works on the other, and a revocation, deactivation or password change made through one
//! instance is refused by the other within one second, even after the other cached the token.
//!
//! Needs `RESTAUTH_TEST_DATABASE_URL`; skipped otherwise.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{PASSWORD, Reply, Server, TestDb, command_in, postgres_url, stderr, stdout};
use serde_json::Value;

/// The instances share the key of sessions and JWTs, as a real deployment must.
const SECRET: &str = "secret_key = \"multi-instance-test-secret-key-0123456789abcdef\"";
/// The documented bound for a change to reach every instance.
const BOUND: Duration = Duration::from_secs(1);

async fn pair() -> Option<(TestDb, Server, Server)> {
    let Some(url) = postgres_url() else {
        common::skip("RESTAUTH_TEST_DATABASE_URL not set");
        return None;
    };
    let db = TestDb::new(&url);
    let a = Server::builder().config(SECRET).on(&db).start().await;
    let b = Server::builder().config(SECRET).on(&db).start().await;
    Some((db, a, b))
}

/// Polls `server` with `key` until it answers `status`; fails past `BOUND` after `since`.
async fn refused_within_bound(server: &Server, key: &str, since: Instant, body: &str) {
    let auth = format!("Token {key}");
    loop {
        let r = server.get("/api/profile/", Some(&auth)).await;
        if r.status == 401 {
            assert_eq!(r.body, body);
            return;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            since.elapsed() < BOUND,
            "still accepted {:?} after the change",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn accepted(server: &Server, key: &str) {
    let r = server
        .get("/api/profile/", Some(&format!("Token {key}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_token_from_one_instance_works_on_the_other_and_a_reset_reaches_it() {
    let Some((_db, a, b)) = pair().await else {
        return;
    };
    a.create_user("alice", &[]);
    let key = a.token("alice").await;
    accepted(&b, &key).await;
    // Now both hold it in their caches.
    accepted(&a, &key).await;
    accepted(&b, &key).await;

    // `drf_create_token -r` from B's folder (without the helper's wait: the bound is what is
    // measured): a new key, every other one revoked.
    let out = command_in(b.path(), &["drf_create_token", "-r", "alice"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let since = Instant::now();
    let fresh = stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("key in output")
        .to_owned();
    refused_within_bound(&a, &key, since, r#"{"detail":"Invalid token."}"#).await;
    refused_within_bound(&b, &key, since, r#"{"detail":"Invalid token."}"#).await;
    accepted(&a, &fresh).await;
    accepted(&b, &fresh).await;
}

#[tokio::test]
async fn deactivation_through_one_instance_reaches_the_other() {
    let Some((_db, a, b)) = pair().await else {
        return;
    };
    b.create_user("bob", &[]);
    let key = b.token("bob").await;
    accepted(&a, &key).await;
    accepted(&a, &key).await;
    let out = command_in(b.path(), &["deactivateuser", "bob"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let since = Instant::now();
    let inactive = r#"{"detail":"User inactive or deleted."}"#;
    refused_within_bound(&a, &key, since, inactive).await;
    refused_within_bound(&b, &key, since, inactive).await;
}

#[tokio::test]
async fn a_password_change_through_one_instance_reaches_the_other() {
    let Some((_db, a, b)) = pair().await else {
        return;
    };
    a.create_user("carol", &[]);
    let key = a.token("carol").await;
    accepted(&b, &key).await;
    accepted(&a, &key).await;
    // Straight from B's folder, without the helper's wait: the bound is what is measured.
    let out = command_in(
        b.path(),
        &["changepassword", "carol", "--password-stdin"],
        "another correct horse battery\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let since = Instant::now();
    refused_within_bound(&a, &key, since, r#"{"detail":"Invalid token."}"#).await;
    // The old password no longer logs in anywhere.
    let r = a
        .post_json(
            "/api-token-auth/",
            &serde_json::json!({"username": "carol", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

/// A session cookie made on one instance, used on the other (explicit Cookie headers: each
/// server's client keeps its own jar).
#[tokio::test]
async fn a_session_works_whichever_instance_answers() {
    let Some((_db, a, b)) = pair().await else {
        return;
    };
    a.create_user("alice", &[]);
    let csrf = a.get("/api/auth/csrf/", None).await;
    let token = csrf.json()["csrfToken"].as_str().unwrap().to_owned();
    let login = a
        .send(
            a.client
                .post(a.url("/api/auth/login/"))
                .header("X-CSRFToken", &token)
                .json(&serde_json::json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    let cookie = |name: &str| -> String {
        login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };
    let cookies = format!("{}; {}", cookie("sessionid"), cookie("csrftoken"));
    let plain = reqwest::Client::new();
    for server in [&a, &b, &a, &b] {
        let r = server
            .send(
                plain
                    .get(server.url("/api/dashboard/"))
                    .header("Cookie", &cookies),
            )
            .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                200,
                r#"{"message":"Hello alice, welcome to your dashboard"}"#
            )
        );
    }
    // Logout on B; A refuses the cookie within the bound.
    let secret = cookie("csrftoken");
    let secret = secret.trim_start_matches("csrftoken=");
    let out = b
        .send(
            plain
                .post(b.url("/api/auth/logout/"))
                .header("Cookie", &cookies)
                .header("X-CSRFToken", secret),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    let since = Instant::now();
    loop {
        let r = a
            .send(
                plain
                    .get(a.url("/api/dashboard/"))
                    .header("Cookie", &cookies),
            )
            .await;
        if r.status == 403 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            since.elapsed() < BOUND,
            "session still live on A after logout on B"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two instances on one fresh schema with rotation and blacklisting on (plus `extra` lines of
/// `[simple_jwt]`), and alice's pair obtained from the first; `None` when PostgreSQL is absent.
async fn rotating_pair(extra: &str) -> Option<(TestDb, Arc<Server>, Arc<Server>, Value)> {
    let Some(url) = postgres_url() else {
        common::skip("RESTAUTH_TEST_DATABASE_URL not set");
        return None;
    };
    let db = TestDb::new(&url);
    let config = format!(
        "{SECRET}\n[simple_jwt]\nrotate_refresh_tokens = true\nblacklist_after_rotation = true\n{extra}\n"
    );
    let a = Arc::new(Server::builder().config(&config).on(&db).start().await);
    let b = Arc::new(Server::builder().config(&config).on(&db).start().await);
    a.create_user("alice", &[]);
    let pair = a
        .post_json(
            "/api/token/",
            &serde_json::json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(pair.status, 200, "{}", pair.body);
    Some((db, a, b, pair.json()))
}

/// Sends `n` refreshes of `refresh` at once, alternating between the two instances.
async fn refresh_on_both(a: &Arc<Server>, b: &Arc<Server>, refresh: &str, n: usize) -> Vec<Reply> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let server = if i % 2 == 0 { a.clone() } else { b.clone() };
            let refresh = refresh.to_owned();
            tokio::spawn(async move {
                server
                    .post_json(
                        "/api/token/refresh/",
                        &serde_json::json!({ "refresh": refresh }),
                        None,
                    )
                    .await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for t in tasks {
        replies.push(t.await.expect("refresh task"));
    }
    replies
}

/// JWT refresh works on either instance, and concurrent refreshes of one refresh token spread
/// over both instances have exactly one winner.
#[tokio::test]
async fn jwt_refresh_across_instances_has_exactly_one_winner() {
    // No grace: every refresh but the first is a replay.
    let Some((_db, a, b, pair)) = rotating_pair("rotation_grace_seconds = 0").await else {
        return;
    };
    let access = pair["access"].as_str().unwrap().to_owned();
    let refresh = pair["refresh"].as_str().unwrap().to_owned();
    // An access token from A is accepted by B.
    let r = b
        .get("/api/jwt/profile/", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut ok = 0;
    for r in refresh_on_both(&a, &b, &refresh, 20).await {
        match r.status {
            200 => ok += 1,
            401 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1, "exactly one refresh may win");
}

/// With the default grace, concurrent refreshes of one token spread over both instances all
/// receive the one successor the store recorded, byte for byte.
#[tokio::test]
async fn jwt_refreshes_across_instances_within_the_grace_share_one_successor() {
    let Some((_db, a, b, pair)) = rotating_pair("").await else {
        return;
    };
    let refresh = pair["refresh"].as_str().unwrap().to_owned();
    let mut successors = std::collections::HashSet::new();
    for r in refresh_on_both(&a, &b, &refresh, 10).await {
        assert_eq!(r.status, 200, "{}", r.body);
        successors.insert(r.json()["refresh"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        successors.len(),
        1,
        "one token, one successor: {successors:?}"
    );
}
