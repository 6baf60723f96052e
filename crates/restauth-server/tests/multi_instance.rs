//! Two server processes on one PostgreSQL schema behave as one server: a token issued by one
//! works on the other, and a revocation, deactivation or password change made through one
//! instance is refused by the other within one second, even after the other cached the token.
//!
//! Needs `RESTAUTH_TEST_DATABASE_URL`; skipped otherwise.

mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, Server, TestDb, command_in, postgres_url, stderr, stdout};

/// The instances share the key of sessions and JWTs, as a real deployment must.
const SECRET: &str = "secret_key = \"multi-instance-test-secret-key-0123456789abcdef\"";
/// The bound the issue sets for a change to reach every instance.
const BOUND: Duration = Duration::from_secs(1);

async fn pair() -> Option<(TestDb, Server, Server)> {
    let Some(url) = postgres_url() else {
        println!("skipped: RESTAUTH_TEST_DATABASE_URL not set");
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
