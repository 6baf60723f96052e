//! DRF's TokenAuthentication and `obtain_auth_token` over HTTP (spec drf-wire §2.2–§2.4).

mod common;

use common::{PASSWORD, Server, folder_bytes, stderr, stdout};
use serde_json::json;

#[tokio::test]
async fn obtain_token_with_json_and_form() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let key = r.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 40);
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(r.body, format!(r#"{{"token":"{key}"}}"#));

    let form = s
        .send(
            s.client
                .post(s.url("/api-token-auth"))
                .form(&[("username", " alice "), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    // Several tokens per user: a new key on every login, and both work.
    let other = form.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(other, key);
    for k in [&key, &other] {
        let p = s.get("/api/profile/", Some(&format!("Token {k}"))).await;
        assert_eq!(p.status, 200);
        assert_eq!(
            p.body,
            r#"{"username":"alice","email":"alice@example.com"}"#
        );
    }
}

#[tokio::test]
async fn obtain_token_errors_are_drfs() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("sleepy", &["--inactive"]);
    let unable = r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#;
    for body in [
        json!({"username": "alice", "password": "wrong password!"}),
        json!({"username": "nobody", "password": PASSWORD}),
        json!({"username": "sleepy", "password": PASSWORD}),
        // The password keeps its white space.
        json!({"username": "alice", "password": format!(" {PASSWORD}")}),
    ] {
        let r = s.post_json("/api-token-auth/", &body, None).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body, unable);
    }
    let r = s.post_json("/api-token-auth/", &json!({}), None).await;
    assert_eq!(
        r.body,
        r#"{"username":["This field is required."],"password":["This field is required."]}"#
    );
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "", "password": ""}),
            None,
        )
        .await;
    assert_eq!(
        r.body,
        r#"{"username":["This field may not be blank."],"password":["This field may not be blank."]}"#
    );
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": null, "password": "x"}),
            None,
        )
        .await;
    assert_eq!(r.body, r#"{"username":["This field may not be null."]}"#);
    let r = s.get("/api-token-auth/", None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.body, r#"{"detail":"Method \"GET\" not allowed."}"#);
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn token_header_rows() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"Token".to_vec(),
            401,
            r#"{"detail":"Invalid token header. No credentials provided."}"#,
        ),
        (
            b"Token ".to_vec(),
            401,
            r#"{"detail":"Invalid token header. No credentials provided."}"#,
        ),
        (
            b"Token a b".to_vec(),
            401,
            r#"{"detail":"Invalid token header. Token string should not contain spaces."}"#,
        ),
        (
            b"Token \xff\xfe".to_vec(),
            401,
            r#"{"detail":"Invalid token header. Token string should not contain invalid characters."}"#,
        ),
        (
            b"Token 0123456789abcdef0123456789abcdef01234567".to_vec(),
            401,
            r#"{"detail":"Invalid token."}"#,
        ),
        (
            b"Bearer xyz".to_vec(),
            401,
            r#"{"detail":"Authentication credentials were not provided."}"#,
        ),
        (
            format!("token {key}").into_bytes(),
            200,
            r#"{"username":"alice","email":""}"#,
        ),
        (
            format!("TOKEN   {key}  ").into_bytes(),
            200,
            r#"{"username":"alice","email":""}"#,
        ),
        // Keys are case-sensitive.
        (
            format!("Token {}", key.to_uppercase()).into_bytes(),
            401,
            r#"{"detail":"Invalid token."}"#,
        ),
    ];
    for (header, status, body) in cases {
        let r = s
            .send(s.client.get(s.url("/api/profile/")).header(
                "Authorization",
                reqwest::header::HeaderValue::from_bytes(&header).unwrap(),
            ))
            .await;
        assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&header));
        assert_eq!(r.body, body, "{}", String::from_utf8_lossy(&header));
        if status == 401 {
            assert_eq!(r.header("www-authenticate"), Some("Token"));
        }
    }
    let r = s.get("/api/profile", None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Token"));
}

#[tokio::test]
async fn token_of_inactive_user_and_commands_take_effect_at_once() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    s.create_user("carol", &[]);
    let a = s.token("alice").await;
    let b = s.token("bob").await;
    let c = s.token("carol").await;
    for k in [&a, &b, &c] {
        // Twice: the second answer comes from the cache.
        for _ in 0..2 {
            assert_eq!(
                s.get("/api/profile/", Some(&format!("Token {k}")))
                    .await
                    .status,
                200
            );
        }
    }
    // No waiting: the cut-off moved by deactivation is exact.
    assert!(s.command(&["deactivateuser", "alice"], "").status.success());
    let r = s.get("/api/profile/", Some(&format!("Token {a}"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"User inactive or deleted."}"#)
    );
    // Reactivation does not bring the old token back; a new login works.
    assert!(s.command(&["activateuser", "alice"], "").status.success());
    let r = s.get("/api/profile/", Some(&format!("Token {a}"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    let fresh = s.token("alice").await;
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {fresh}")))
            .await
            .status,
        200
    );

    assert!(s.command(&["deleteuser", "bob"], "").status.success());
    let r = s.get("/api/profile/", Some(&format!("Token {b}"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );

    let out = s.command(
        &["changepassword", "carol", "--password-stdin"],
        "another fine passphrase\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let r = s.get("/api/profile/", Some(&format!("Token {c}"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    // The old password no longer logs in; the new one does.
    let old = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "carol", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(old.status, 400);
    let new = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "carol", "password": "another fine passphrase"}),
            None,
        )
        .await;
    assert_eq!(new.status, 200);
}

#[tokio::test]
async fn deactivation_ends_tokens_of_the_same_second_and_spares_later_ones() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    for _ in 0..3 {
        // No waiting between the login, the revocation and the next login.
        let before = s.token("alice").await;
        for cmd in ["deactivateuser", "activateuser"] {
            let out = s.command(&[cmd, "alice"], "");
            assert!(out.status.success(), "{}", stderr(&out));
        }
        let after = s.token("alice").await;
        let r = s
            .get("/api/profile/", Some(&format!("Token {before}")))
            .await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, r#"{"detail":"Invalid token."}"#)
        );
        let r = s
            .get("/api/profile/", Some(&format!("Token {after}")))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn drf_create_token_command() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let login_key = s.token("alice").await;
    let out = s.command(&["drf_create_token", "alice"], "");
    assert!(out.status.success());
    let line = stdout(&out);
    let key = line
        .trim()
        .strip_prefix("Generated token ")
        .and_then(|r| r.strip_suffix(" for user alice"))
        .unwrap_or_else(|| panic!("unexpected output {line:?}"))
        .to_owned();
    assert_eq!(key.len(), 40);
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {key}")))
            .await
            .status,
        200
    );
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {login_key}")))
            .await
            .status,
        200
    );

    let out = s.command(&["drf_create_token", "-r", "alice"], "");
    assert!(out.status.success());
    let reset_key = stdout(&out).split_whitespace().nth(2).unwrap().to_owned();
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {reset_key}")))
            .await
            .status,
        200
    );
    for old in [&key, &login_key] {
        assert_eq!(
            s.get("/api/profile/", Some(&format!("Token {old}")))
                .await
                .status,
            401
        );
    }

    let out = s.command(&["drf_create_token", "ghost"], "");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Cannot create the Token: user ghost does not exist"));
}

#[tokio::test]
async fn no_key_is_readable_in_the_database_files() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(s.token("alice").await);
    }
    let out = s.command(&["drf_create_token", "alice"], "");
    keys.push(stdout(&out).split_whitespace().nth(2).unwrap().to_owned());
    for (path, bytes) in folder_bytes(s.path()) {
        let text = String::from_utf8_lossy(&bytes);
        for k in &keys {
            assert!(
                !text.contains(k.as_str()),
                "key found in {}",
                path.display()
            );
        }
        assert!(
            !text.contains(PASSWORD),
            "password found in {}",
            path.display()
        );
    }
}

#[tokio::test]
async fn concurrent_logins_of_one_user_all_get_distinct_working_keys() {
    let s = std::sync::Arc::new(Server::start().await);
    s.create_user("alice", &[]);
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.token("alice").await }));
    }
    let mut keys = std::collections::HashSet::new();
    for t in tasks {
        keys.insert(t.await.unwrap());
    }
    assert_eq!(keys.len(), 24);
    for k in &keys {
        assert_eq!(
            s.get("/api/profile/", Some(&format!("Token {k}")))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn token_limit_and_expiry_settings() {
    let s = Server::builder()
        .config("[token]\nlimit_per_user = 2\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    let k1 = s.token("alice").await;
    let k2 = s.token("alice").await;
    let k3 = s.token("alice").await;
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {k1}")))
            .await
            .status,
        401
    );
    for k in [&k2, &k3] {
        assert_eq!(
            s.get("/api/profile/", Some(&format!("Token {k}")))
                .await
                .status,
            200
        );
    }

    let s = Server::builder().config("[token]\nttl = 1\n").start().await;
    s.create_user("alice", &[]);
    let k = s.token("alice").await;
    assert_eq!(
        s.get("/api/profile/", Some(&format!("Token {k}")))
            .await
            .status,
        200
    );
    s.advance_clock(std::time::Duration::from_millis(2100));
    let r = s.get("/api/profile/", Some(&format!("Token {k}"))).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
}

/// Without any `[token]` setting a user holds at most 50 tokens: the 51st login evicts the
/// oldest, and only that one.
#[tokio::test]
async fn the_51st_login_evicts_the_oldest_token_by_default() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let mut keys = Vec::new();
    for _ in 0..50 {
        keys.push(s.token("alice").await);
    }
    let s = &s;
    let status = |k: &str| {
        let auth = format!("Token {k}");
        async move { s.get("/api/profile/", Some(&auth)).await.status }
    };
    // Fifty tokens: nothing evicted yet.
    assert_eq!(status(&keys[0]).await, 200);
    keys.push(s.token("alice").await);
    assert_eq!(status(&keys[0]).await, 401);
    for k in [&keys[1], &keys[49], &keys[50]] {
        assert_eq!(status(k).await, 200);
    }
}
