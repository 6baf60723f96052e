//! Every device in view: `GET /api/auth/tokens/` and `/api/auth/sessions/` list the caller's
//! credentials with where they were issued (never a key nor its digest), `DELETE …/{id}/`
//! revokes one at once (someone else's or an unknown id is a plain 404), and
//! `POST /api/auth/logout-all/` ends every token, session and JWT of the caller (204). A
//! revocation through one instance reaches another sharing the database within the bound.

mod common;

use std::time::{Duration, Instant};

use common::{Browser, PASSWORD, Reply, Server, TestDb, login, plain, postgres_url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const NOT_FOUND: &str = r#"{"detail":"Not found."}"#;

/// `/api-token-auth/` with a `User-Agent`.
async fn token_from(s: &Server, username: &str, agent: &str) -> String {
    let r = s
        .send(
            plain()
                .post(s.url("/api-token-auth/"))
                .header("User-Agent", agent)
                .json(&json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().expect("token").to_owned()
}

async fn with_token(s: &Server, method: reqwest::Method, path: &str, key: &str) -> Reply {
    s.send(
        plain()
            .request(method, s.url(path))
            .header("Authorization", format!("Token {key}")),
    )
    .await
}

/// A request with the browser's cookies and, for unsafe methods, its CSRF token.
async fn with_session(s: &Server, method: reqwest::Method, path: &str, b: &Browser) -> Reply {
    s.send(
        plain()
            .request(method, s.url(path))
            .header("Cookie", b.cookie())
            .header("X-CSRFToken", &b.csrf)
            .header("Referer", s.url("/")),
    )
    .await
}

/// A SPA login with a `User-Agent`.
async fn login_from(s: &Server, username: &str, agent: &str) -> Browser {
    let (token, cookie) = common::csrf(s).await;
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/login/"))
                .header("Cookie", format!("csrftoken={cookie}"))
                .header("X-CSRFToken", token)
                .header("User-Agent", agent)
                .json(&json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    Browser {
        session: common::set_cookie_value(&r, "sessionid").expect("sessionid"),
        csrf: common::set_cookie_value(&r, "csrftoken").expect("csrftoken"),
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Profile of a token holder: 200, or the refusal.
async fn profile(s: &Server, key: &str) -> Reply {
    s.get("/api/profile/", Some(&format!("Token {key}"))).await
}

async fn dashboard(s: &Server, b: &Browser) -> u16 {
    with_session(s, reqwest::Method::GET, "/api/dashboard/", b)
        .await
        .status
}

#[tokio::test]
async fn tokens_are_listed_with_where_they_were_issued_and_never_the_key() {
    let s = Server::builder()
        .config("[rest_framework]\nnum_proxies = 1\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    let out = s.command(&["drf_create_token", "alice"], "");
    assert!(out.status.success());
    let cli_key = common::stdout(&out)
        .split_whitespace()
        .nth(2)
        .expect("key")
        .to_owned();
    let r = s
        .send(
            plain()
                .post(s.url("/api-token-auth/"))
                .header("User-Agent", "Phone/1.0 (test)")
                .header("X-Forwarded-For", "203.0.113.7")
                .json(&json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let phone = r.json()["token"].as_str().expect("token").to_owned();

    let r = with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &phone).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(!r.body.contains(&phone) && !r.body.contains(&cli_key));
    assert!(!r.body.contains(&sha256_hex(&phone)) && !r.body.contains(&sha256_hex(&cli_key)));
    let list = r.json();
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 2, "{list:?}");
    // Newest first: the phone's, marked as the one making the request.
    let newest = &list[0];
    let keys: Vec<&str> = newest
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "created",
            "last_used",
            "expiry",
            "user_agent",
            "address",
            "current"
        ]
    );
    assert_eq!(newest["user_agent"], "Phone/1.0 (test)");
    assert_eq!(newest["address"], "203.0.113.7");
    assert_eq!(newest["current"], true);
    assert_eq!(newest["expiry"], Value::Null);
    assert!(
        newest["created"]
            .as_str()
            .is_some_and(|t| t.len() == 24 && t.ends_with('Z')),
        "{newest}"
    );
    // The command line's token: no request, so nothing recorded.
    assert_eq!(list[1]["user_agent"], "");
    assert_eq!(list[1]["address"], "");
    assert_eq!(list[1]["current"], false);

    // With the other token, the other one is current.
    let r = with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &cli_key).await;
    let list = r.json();
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);
}

#[tokio::test]
async fn expired_tokens_are_left_out_of_the_list() {
    let s = Server::builder()
        .config("[token]\nttl = \"1h\"\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    let old = s.token("alice").await;
    s.advance_clock(Duration::from_secs(2 * 3600));
    assert_eq!(profile(&s, &old).await.status, 401);
    let fresh = s.token("alice").await;
    let r = with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &fresh).await;
    let list = r.json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["current"], true);
    assert!(
        list[0]["expiry"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{list}"
    );
}

#[tokio::test]
async fn revoking_a_token_ends_it_at_once_and_others_tokens_are_not_found() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    let a1 = token_from(&s, "alice", "laptop").await;
    let a2 = token_from(&s, "alice", "phone").await;
    let b1 = s.token("bob").await;
    // Cached as valid before the revocation.
    assert_eq!(profile(&s, &a1).await.status, 200);

    let ids = |r: Reply| -> Vec<i64> {
        r.json()
            .as_array()
            .expect("list")
            .iter()
            .map(|t| t["id"].as_i64().expect("id"))
            .collect()
    };
    let alice_ids = ids(with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &a2).await);
    let bob_ids = ids(with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &b1).await);
    assert_eq!(alice_ids.len(), 2);
    assert_eq!(bob_ids.len(), 1);

    // Someone else's token, an unknown id and ids that are no ids: the same 404.
    for path in [
        format!("/api/auth/tokens/{}/", bob_ids[0]),
        "/api/auth/tokens/999999/".to_owned(),
        "/api/auth/tokens/abc/".to_owned(),
        "/api/auth/tokens/-1/".to_owned(),
        "/api/auth/tokens/%00/".to_owned(),
    ] {
        let r = with_token(&s, reqwest::Method::DELETE, &path, &a2).await;
        assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND), "{path}");
    }
    assert_eq!(profile(&s, &b1).await.status, 200, "bob's token lives on");

    // Alice revokes her laptop's token (the older one) from her phone.
    let laptop = alice_ids[1];
    let r = with_token(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/auth/tokens/{laptop}/"),
        &a2,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = profile(&s, &a1).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    assert_eq!(profile(&s, &a2).await.status, 200);
    // Gone: a second revocation finds nothing.
    let r = with_token(
        &s,
        reqwest::Method::DELETE,
        &format!("/api/auth/tokens/{laptop}"),
        &a2,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND));
    assert_eq!(
        ids(with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &a2).await),
        vec![alice_ids[0]]
    );

    // Anonymous callers are refused before anything is looked up.
    let r = s.send(plain().get(s.url("/api/auth/tokens/"))).await;
    assert!(matches!(r.status, 401 | 403), "{}", r.body);
    assert_eq!(
        r.json()["detail"],
        "Authentication credentials were not provided."
    );
}

#[tokio::test]
async fn sessions_are_listed_by_an_opaque_id_and_one_can_be_ended() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    let laptop = login_from(&s, "alice", "Laptop browser").await;
    let phone = login_from(&s, "alice", "Phone browser").await;
    let bob = login(&s, "bob").await;

    let r = with_session(&s, reqwest::Method::GET, "/api/auth/sessions/", &phone).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for key in [&laptop.session, &phone.session] {
        assert!(!r.body.contains(key.as_str()));
        assert!(!r.body.contains(&sha256_hex(key)));
    }
    let list = r.json();
    let list = list.as_array().expect("list").clone();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["user_agent"], "Phone browser");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[0]["address"], "127.0.0.1");
    assert_eq!(list[1]["user_agent"], "Laptop browser");
    assert_eq!(list[1]["current"], false);
    for s in &list {
        let id = s["id"].as_str().expect("id");
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        for field in ["created", "last_seen", "expiry"] {
            assert!(s[field].as_str().is_some_and(|t| t.ends_with('Z')), "{s}");
        }
    }
    let laptop_id = list[1]["id"].as_str().expect("id").to_owned();

    // Ending a session is an unsafe method: without the CSRF token, refused.
    let r = s
        .send(
            plain()
                .delete(s.url(&format!("/api/auth/sessions/{laptop_id}/")))
                .header("Cookie", phone.cookie()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF Failed"), "{}", r.body);
    assert_eq!(dashboard(&s, &laptop).await, 200);

    // Bob cannot end Alice's session, nor can anyone end an unknown one.
    for path in [
        format!("/api/auth/sessions/{laptop_id}/"),
        "/api/auth/sessions/0123456789abcdef0123456789abcdef/".to_owned(),
        "/api/auth/sessions/x/".to_owned(),
    ] {
        let r = with_session(&s, reqwest::Method::DELETE, &path, &bob).await;
        assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND), "{path}");
    }
    assert_eq!(dashboard(&s, &laptop).await, 200);

    let path = format!("/api/auth/sessions/{laptop_id}/");
    let r = with_session(&s, reqwest::Method::DELETE, &path, &phone).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(
        dashboard(&s, &laptop).await,
        403,
        "the laptop is logged out"
    );
    assert_eq!(dashboard(&s, &phone).await, 200);
    let r = with_session(&s, reqwest::Method::DELETE, &path, &phone).await;
    assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND));
    let r = with_session(&s, reqwest::Method::GET, "/api/auth/sessions/", &phone).await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));

    // A token holder sees the sessions too, none of them current.
    let key = s.token("alice").await;
    let r = with_token(&s, reqwest::Method::GET, "/api/auth/sessions/", &key).await;
    assert_eq!(r.json()[0]["current"], false);
}

#[tokio::test]
async fn logout_all_ends_every_token_session_and_jwt_of_the_caller() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    let t1 = s.token("alice").await;
    let t2 = s.token("alice").await;
    let browser = login(&s, "alice").await;
    let r = s
        .post_json(
            "/api/token/",
            &json!({"username": "alice", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let access = r.json()["access"].as_str().expect("access").to_owned();
    let refresh = r.json()["refresh"].as_str().expect("refresh").to_owned();
    let bob_key = s.token("bob").await;
    let bob_browser = login(&s, "bob").await;

    // With a session, logging out everywhere needs the CSRF token.
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout-all/"))
                .header("Cookie", browser.cookie()),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(profile(&s, &t1).await.status, 200);

    let r = with_token(&s, reqwest::Method::POST, "/api/auth/logout-all/", &t1).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    for key in [&t1, &t2] {
        let r = profile(&s, key).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    assert_eq!(dashboard(&s, &browser).await, 403);
    let r = s
        .get("/api/jwt/profile/", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    let r = s
        .post_json("/api/token/refresh/", &json!({ "refresh": refresh }), None)
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    // Bob is untouched.
    assert_eq!(profile(&s, &bob_key).await.status, 200);
    assert_eq!(dashboard(&s, &bob_browser).await, 200);

    // A new login starts from an empty list.
    let fresh = s.token("alice").await;
    let r = with_token(&s, reqwest::Method::GET, "/api/auth/tokens/", &fresh).await;
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    let r = with_token(&s, reqwest::Method::GET, "/api/auth/sessions/", &fresh).await;
    assert_eq!(r.json(), json!([]));

    // From a browser with its CSRF token.
    let browser = login(&s, "alice").await;
    let r = with_session(&s, reqwest::Method::POST, "/api/auth/logout-all/", &browser).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(dashboard(&s, &browser).await, 403);
    assert_eq!(profile(&s, &fresh).await.status, 401);

    // The audit log names the revocations.
    let out = s.command(&["audit", "--user", "alice"], "");
    let log = common::stdout(&out);
    assert!(log.contains("logout_all"), "{log}");
}

#[tokio::test]
async fn a_revocation_through_one_instance_reaches_the_other() {
    let Some(url) = postgres_url() else {
        common::skip("RESTAUTH_TEST_DATABASE_URL not set");
        return;
    };
    let secret = "secret_key = \"devices-test-secret-key-0123456789abcdef0123\"";
    let db = TestDb::new(&url);
    let a = Server::builder().config(secret).on(&db).start().await;
    let b = Server::builder().config(secret).on(&db).start().await;
    a.create_user("alice", &[]);
    let keep = a.token("alice").await;
    let gone = a.token("alice").await;
    let browser_a = login(&a, "alice").await;
    let browser_b = login(&b, "alice").await;
    // B has both credentials in its cache.
    assert_eq!(profile(&b, &gone).await.status, 200);
    assert_eq!(dashboard(&b, &browser_b).await, 200);

    let list = with_token(&a, reqwest::Method::GET, "/api/auth/tokens/", &keep)
        .await
        .json();
    let gone_id = list[0]["id"].as_i64().expect("id");
    let r = with_token(
        &a,
        reqwest::Method::DELETE,
        &format!("/api/auth/tokens/{gone_id}/"),
        &keep,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let since = Instant::now();
    common::within_bound(since, "token", || async {
        profile(&b, &gone).await.status == 401
    })
    .await;
    assert_eq!(profile(&b, &keep).await.status, 200);

    // The session started on B, ended through A.
    let sessions = with_session(&a, reqwest::Method::GET, "/api/auth/sessions/", &browser_a)
        .await
        .json();
    let on_b = sessions
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["current"] == false)
        .expect("B's session")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = with_session(
        &a,
        reqwest::Method::DELETE,
        &format!("/api/auth/sessions/{on_b}/"),
        &browser_a,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let since = Instant::now();
    common::within_bound(since, "session", || async {
        dashboard(&b, &browser_b).await == 403
    })
    .await;
    drop(db);
}

#[tokio::test]
async fn the_account_page_is_behind_the_login_and_its_forms_behind_csrf() {
    let templates = tempfile::tempdir().expect("templates");
    std::fs::write(
        templates.path().join("account.html"),
        "<p id=\"who\">{{ username }}: {{ tokens | length }} tokens, {{ sessions | length }} \
         sessions</p>{% for t in tokens %}<form action=\"{{ t.revoke_url }}\"></form>{% endfor %}",
    )
    .expect("template");
    let s = Server::builder()
        .config(&format!(
            "[session]\ntemplates_dir = {:?}\n",
            templates.path().display().to_string()
        ))
        .start()
        .await;
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    let browser = login(&s, "alice").await;
    let page = |cookie: Option<String>| {
        let mut req = plain()
            .get(s.url("/account/"))
            .header("Accept", "text/html");
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        s.send(req)
    };

    let r = page(None).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some("/api-auth/login/?next=/account/")
    );
    let r = page(Some(browser.cookie())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .starts_with("<p id=\"who\">alice: 1 tokens, 1 sessions</p>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains(&key) && !r.body.contains(&browser.session));
    let revoke = r
        .body
        .split("action=\"")
        .nth(1)
        .and_then(|a| a.split('"').next())
        .expect("a revoke form")
        .to_owned();

    // Without the form's token: Django's CSRF page, and the token lives on.
    let r = s
        .send(
            plain()
                .post(s.url(&revoke))
                .header("Accept", "text/html")
                .header("Cookie", browser.cookie())
                .form(&[("x", "1")]),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF verification failed"), "{}", r.body);
    assert_eq!(profile(&s, &key).await.status, 200);

    // With it: back to the page, the token gone.
    let post = |path: String| {
        s.send(
            plain()
                .post(s.url(&path))
                .header("Accept", "text/html")
                .header("Cookie", browser.cookie())
                .form(&[("csrfmiddlewaretoken", browser.csrf.as_str())]),
        )
    };
    let r = post(revoke.clone()).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/account/"));
    assert_eq!(profile(&s, &key).await.status, 401);
    let r = post(revoke).await;
    assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND));
    let r = post("/account/tokens/abc/revoke/".into()).await;
    assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND));

    // Log out everywhere: the cookie is cleared and the browser sent to log in again.
    let r = post("/account/logout-all/".into()).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api-auth/login/"));
    assert!(
        common::set_cookie_line(&r, "sessionid").is_some_and(|l| l.contains("Max-Age=0")),
        "{:?}",
        common::set_cookies(&r)
    );
    assert_eq!(page(Some(browser.cookie())).await.status, 302);
}
