//! djoser's account endpoints under `/auth/`: the current user, password change (the calling
//! credential survives, every other ends), token login and logout, registration and activation,
//! and password reset by e-mail through a real SMTP server on loopback (Python's aiosmtpd, in a
//! virtualenv under the target folder): the mail arrives, its link resets the password once.

mod common;
mod smtp;

use std::time::{Duration, Instant};

use common::{PASSWORD, Server, plain};
use serde_json::{Value, json};
use smtp::{Smtp, uid_and_token};

const NEW_PASSWORD: &str = "a brand new passphrase 42";

fn auth(key: &str) -> String {
    format!("Token {key}")
}

async fn post(s: &Server, path: &str, body: Value, authorization: Option<&str>) -> common::Reply {
    s.post_json(path, &body, authorization).await
}

async fn send(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Value,
    key: &str,
) -> common::Reply {
    s.send(
        plain()
            .request(method, s.url(path))
            .header("Authorization", auth(key))
            .json(&body),
    )
    .await
}

/// Logs in at djoser's `token/login/`.
async fn djoser_token(s: &Server, username: &str, password: &str) -> String {
    let r = post(
        s,
        "/auth/token/login/",
        json!({"username": username, "password": password}),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["auth_token"]
        .as_str()
        .expect("auth_token")
        .to_owned()
}

async fn me(s: &Server, key: &str) -> u16 {
    s.get("/auth/users/me/", Some(&auth(key))).await.status
}

// ---------------------------------------------------------------------------------------------
// The current user
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_reads_updates_and_deletes_the_current_user() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let key = djoser_token(&s, "alice", PASSWORD).await;

    for path in ["/auth/users/me/", "/auth/users/me"] {
        let r = s.get(path, Some(&auth(&key))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body,
            r#"{"email":"alice@example.com","id":1,"username":"alice"}"#
        );
    }
    // Anonymous: the first default class is Session, so 403 as DRF answers it.
    let r = s.get("/auth/users/me/", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );

    // PATCH and PUT change the e-mail only: id and username are read-only.
    let r = send(
        &s,
        reqwest::Method::PATCH,
        "/auth/users/me/",
        json!({"email": " new@example.com ", "username": "mallory", "id": 7}),
        &key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"email": "new@example.com", "id": 1, "username": "alice"})
    );
    let r = send(&s, reqwest::Method::PUT, "/auth/users/me/", json!({}), &key).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "new@example.com");
    for (bad, message) in [
        (json!("not-an-address"), "Enter a valid email address."),
        (json!(null), "This field may not be null."),
        (json!(["a@b.co"]), "Not a valid string."),
        (
            json!(format!("{}@example.com", "a".repeat(250))),
            "Ensure this field has no more than 254 characters.",
        ),
    ] {
        let r = send(
            &s,
            reqwest::Method::PATCH,
            "/auth/users/me/",
            json!({"email": bad}),
            &key,
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.json(), json!({"email": [message]}), "{bad}");
    }
    let r = s.get("/auth/users/me/", Some(&auth(&key))).await;
    assert_eq!(
        r.json()["email"],
        "new@example.com",
        "a refused update changed nothing"
    );

    // DELETE needs the current password.
    let r = send(
        &s,
        reqwest::Method::DELETE,
        "/auth/users/me/",
        json!({}),
        &key,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"current_password": ["This field is required."]})
    );
    let r = send(
        &s,
        reqwest::Method::DELETE,
        "/auth/users/me/",
        json!({"current_password": "wrong"}),
        &key,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    assert_eq!(me(&s, &key).await, 200, "a refused delete changed nothing");
    let r = send(
        &s,
        reqwest::Method::DELETE,
        "/auth/users/me/",
        json!({"current_password": PASSWORD}),
        &key,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, "");
    assert_eq!(me(&s, &key).await, 403, "the deleted user's token is gone");
    let r = post(
        &s,
        "/auth/token/login/",
        json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

// ---------------------------------------------------------------------------------------------
// Password change
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_keeps_the_calling_token_and_ends_every_other_credential() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let caller = djoser_token(&s, "alice", PASSWORD).await;
    let other = s.token("alice").await;
    let browser = common::login(&s, "alice").await;
    let pair = post(
        &s,
        "/api/token/",
        json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .await
    .json();
    let access = pair["access"].as_str().expect("access").to_owned();
    let refresh = pair["refresh"].as_str().expect("refresh").to_owned();

    // Field errors first, in djoser's field order; nothing changes.
    let path = "/auth/users/set_password/";
    let r = post(&s, path, json!({}), Some(&auth(&caller))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"new_password":["This field is required."],"current_password":["This field is required."]}"#
    );
    let r = post(
        &s,
        path,
        json!({"new_password": NEW_PASSWORD, "current_password": "wrong"}),
        Some(&auth(&caller)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    let r = post(
        &s,
        path,
        json!({"new_password": "12345", "current_password": PASSWORD}),
        Some(&auth(&caller)),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"new_password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric."
        ]})
    );
    assert_eq!(me(&s, &other).await, 200, "refused changes end nothing");

    let r = post(
        &s,
        path,
        json!({"new_password": NEW_PASSWORD, "current_password": PASSWORD}),
        Some(&auth(&caller)),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The caller's token works on; every other credential ended.
    assert_eq!(me(&s, &caller).await, 200);
    assert_eq!(me(&s, &other).await, 403);
    let r = s
        .send(
            plain()
                .get(s.url("/api/dashboard/"))
                .header("Cookie", browser.cookie()),
        )
        .await;
    assert_eq!(r.status, 403, "the session ended: {}", r.body);
    let r = s
        .get("/api/jwt/profile/", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["code"], "password_changed");
    let r = post(&s, "/api/token/refresh/", json!({"refresh": refresh}), None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    // The new password logs in, the old one no longer.
    let r = post(
        &s,
        "/auth/token/login/",
        json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    djoser_token(&s, "alice", NEW_PASSWORD).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_keeps_the_calling_session_and_ends_the_calling_jwt() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let browser = common::login(&s, "alice").await;
    let token = djoser_token(&s, "alice", PASSWORD).await;
    // A session call is CSRF-checked as every unsafe session request.
    let csrf = common::csrf(&s).await;
    let r = s
        .send(
            plain()
                .post(s.url("/auth/users/set_password/"))
                .header(
                    "Cookie",
                    format!("sessionid={}; csrftoken={}", browser.session, csrf.1),
                )
                .header("X-CSRFToken", csrf.0.clone())
                .header("Referer", s.url("/"))
                .json(&json!({"new_password": NEW_PASSWORD, "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = s
        .send(
            plain()
                .get(s.url("/auth/users/me/"))
                .header("Cookie", browser.cookie()),
        )
        .await;
    assert_eq!(r.status, 200, "the calling session stays: {}", r.body);
    assert_eq!(me(&s, &token).await, 403, "other tokens end");

    // With a JWT the call ends every JWT, its own included: an access token names no refresh
    // token to keep (simplejwt's CHECK_REVOKE_TOKEN does the same).
    let pair = post(
        &s,
        "/api/token/",
        json!({"username": "alice", "password": NEW_PASSWORD}),
        None,
    )
    .await
    .json();
    let bearer = format!("Bearer {}", pair["access"].as_str().expect("access"));
    let r = post(
        &s,
        "/auth/users/set_password/",
        json!({"new_password": PASSWORD, "current_password": NEW_PASSWORD}),
        Some(&bearer),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // 403: the first default class (Session) has no challenge, as in DRF.
    let r = s.get("/auth/users/me/", Some(&bearer)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], "password_changed");
    let r = post(
        &s,
        "/api/token/refresh/",
        json!({"refresh": pair["refresh"]}),
        None,
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_go_through_the_login_throttles() {
    let s = Server::builder()
        .config("[rest_framework.default_throttle_rates]\nlogin_user_ip = \"3/min\"\n")
        .start()
        .await;
    s.create_user("alice", &[]);
    let key = djoser_token(&s, "alice", PASSWORD).await;
    for _ in 0..3 {
        let r = post(
            &s,
            "/auth/users/set_password/",
            json!({"new_password": NEW_PASSWORD, "current_password": "guess"}),
            Some(&auth(&key)),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/auth/users/set_password/",
            json!({"new_password": NEW_PASSWORD, "current_password": PASSWORD}),
        ),
        (
            reqwest::Method::DELETE,
            "/auth/users/me/",
            json!({"current_password": PASSWORD}),
        ),
    ] {
        let r = send(&s, method, path, body, &key).await;
        assert_eq!(r.status, 429, "{path}: {}", r.body);
        assert!(r.header("retry-after").is_some());
    }
    assert_eq!(me(&s, &key).await, 200, "nothing changed");
}

// ---------------------------------------------------------------------------------------------
// Token login and logout
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_login_and_logout_are_djosers() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &["--inactive"]);
    let first = djoser_token(&s, "alice", PASSWORD).await;
    assert_eq!(first.len(), 40);
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let second = djoser_token(&s, "alice", PASSWORD).await;
    assert_ne!(first, second, "one token per login (device)");
    let refused = json!({"non_field_errors": ["Unable to log in with provided credentials."]});
    for body in [
        json!({"username": "alice", "password": "wrong"}),
        json!({"username": "nobody", "password": PASSWORD}),
        json!({"username": "bob", "password": PASSWORD}),
        json!({"username": "alice"}),
        json!({}),
    ] {
        let r = post(&s, "/auth/token/login/", body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json(), refused, "{body}");
    }
    // A form body works as JSON does.
    let r = s
        .send(
            plain()
                .post(s.url("/auth/token/login"))
                .form(&[("username", "alice"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Logout deletes the user's DRF tokens, as djoser's `logout_user`; others' stay.
    s.create_user("carol", &[]);
    let carols = djoser_token(&s, "carol", PASSWORD).await;
    let r = post(&s, "/auth/token/logout/", json!({}), Some(&auth(&first))).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(me(&s, &first).await, 403);
    assert_eq!(me(&s, &second).await, 403);
    assert_eq!(me(&s, &carols).await, 200);
    // Anonymous: djoser's view keeps the default classes, the session class first: 403.
    let r = post(&s, "/auth/token/logout/", json!({}), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.header("www-authenticate"), None);
    assert_eq!(
        r.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    // A session may call it (with CSRF): the tokens go, the session stays.
    let browser = common::login(&s, "carol").await;
    let r = s
        .send(
            plain()
                .post(s.url("/auth/token/logout/"))
                .header("Cookie", browser.cookie())
                .header("X-CSRFToken", &browser.csrf)
                .header("Referer", s.url("/")),
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    assert_eq!(me(&s, &carols).await, 403);
    let r = s
        .send(
            plain()
                .get(s.url("/auth/users/me/"))
                .header("Cookie", browser.cookie()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&s, "/auth/token/logout/", json!({}), Some(&auth(&first))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json(), json!({"detail": "Invalid token."}));
    // Elsewhere the default classes decide: Session first, so a refused token is a 403.
    let r = s.get("/auth/users/me/", Some(&auth(&first))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json(), json!({"detail": "Invalid token."}));
}

// ---------------------------------------------------------------------------------------------
// Password reset
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_requests_answer_alike_whoever_they_name() {
    // An [email] section without a host: no mail leaves, and nothing is printed.
    let s = Server::builder()
        .config("[email]\nretries = 0\n")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    for email in [
        "alice@example.com",
        "ALICE@example.com",
        "nobody@example.com",
    ] {
        let r = post(
            &s,
            "/auth/users/reset_password/",
            json!({"email": email}),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{email}: {}", r.body);
        assert_eq!(r.body, "");
    }
    for (body, message) in [
        (json!({}), "This field is required."),
        (json!({"email": ""}), "This field may not be blank."),
        (json!({"email": "alice"}), "Enter a valid email address."),
    ] {
        let r = post(&s, "/auth/users/reset_password/", body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json(), json!({"email": [message]}), "{body}");
    }
    // Confirmations with a bad uid or token, in djoser's words; the password first.
    let path = "/auth/users/reset_password_confirm/";
    let r = post(&s, path, json!({}), None).await;
    assert_eq!(
        r.body,
        r#"{"uid":["This field is required."],"token":["This field is required."],"new_password":["This field is required."]}"#
    );
    for (body, expected) in [
        (
            json!({"uid": "MQ", "token": "x-y", "new_password": "short"}),
            json!({"new_password": ["This password is too short. It must contain at least 8 characters."]}),
        ),
        (
            json!({"uid": "Mg", "token": "x-y", "new_password": NEW_PASSWORD}),
            json!({"uid": ["Invalid user id or user doesn't exist."]}),
        ),
        (
            json!({"uid": "!!!", "token": "x-y", "new_password": NEW_PASSWORD}),
            json!({"uid": ["Invalid user id or user doesn't exist."]}),
        ),
        (
            json!({"uid": "MQ", "token": "diue00-dc9c2b59901ab67494e808e265d3b45a", "new_password": NEW_PASSWORD}),
            json!({"token": ["Invalid token for given user."]}),
        ),
    ] {
        let r = post(&s, path, body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json(), expected, "{body}");
    }
    // Without [email] host, nothing is sent, and the log says so without any link.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log().contains("mail not sent") {
        assert!(Instant::now() < deadline, "no log line:\n{}", s.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!s.log().contains("/reset/confirm/"), "{}", s.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_link_resets_the_password_once() {
    let Some(smtp) = Smtp::start() else { return };
    let s = Server::builder()
        .config(&format!(
            "[accounts]\nsite_name = \"Example\"\ndomain = \"app.example.com:8443\"\npassword_reset_confirm_url = \"#/password/reset/confirm/{{uid}}/{{token}}\"\n{}",
            smtp.config()
        ))
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    s.create_user("carol", &["--email", "carol@example.com", "--inactive"]);
    let old_token = djoser_token(&s, "alice", PASSWORD).await;
    // Nobody, then an inactive account: no mail; then alice.
    for email in [
        "nobody@example.com",
        "carol@example.com",
        "alice@example.com",
    ] {
        let r = post(
            &s,
            "/auth/users/reset_password/",
            json!({"email": email}),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let mail = smtp.mail(1).await;
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.subject(), "Password reset on Example");
    assert!(
        mail.headers.contains("From: accounts@example.com"),
        "{}",
        mail.headers
    );
    let link = mail.link();
    // With [email] host set, the link names [accounts] domain, never a request's host.
    assert!(
        link.starts_with("http://app.example.com:8443/#/password/reset/confirm/MQ/"),
        "{link}"
    );
    assert!(mail.body.contains("\"alice\""), "{}", mail.body);
    let (uid, token) = uid_and_token(&link);
    assert_eq!(uid, "MQ");

    let path = "/auth/users/reset_password_confirm/";
    let body = json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD});
    let r = post(&s, path, body.clone(), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Used once: the password hash it covered changed.
    let r = post(&s, path, body, None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"token": ["Invalid token for given user."]})
    );
    let r = post(
        &s,
        "/auth/token/login/",
        json!({"username": "alice", "password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(
        r.status, 400,
        "the old password stopped working: {}",
        r.body
    );
    assert_eq!(
        me(&s, &old_token).await,
        403,
        "a reset ends every credential"
    );
    djoser_token(&s, "alice", NEW_PASSWORD).await;

    // A link expires after [accounts] password_reset_timeout (3 days), read on the clock.
    let r = post(
        &s,
        "/auth/users/reset_password/",
        json!({"email": "alice@example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let (uid, token) = uid_and_token(&smtp.mail(2).await.link());
    s.advance_clock(Duration::from_secs(259_201));
    let r = post(
        &s,
        path,
        json!({"uid": uid, "token": token, "new_password": PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"token": ["Invalid token for given user."]})
    );
    assert_eq!(
        smtp.files().len(),
        2,
        "no mail for nobody, nor for an inactive account"
    );
    // The audit log has the requests (for existing accounts only) and the reset.
    let deadline = Instant::now() + Duration::from_secs(10);
    let actions = loop {
        let out = s.command(&["audit", "--json"], "");
        assert!(out.status.success(), "{}", common::stderr(&out));
        let actions: Vec<(String, String)> = common::stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON event"))
            .filter(|e| e["event"]["provider"] == "accounts")
            .map(|e| {
                (
                    e["event"]["action"].as_str().unwrap_or_default().to_owned(),
                    e["user"]["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        if actions.len() >= 3 || Instant::now() > deadline {
            break actions;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let alice = |a: &str| (a.to_owned(), "alice".to_owned());
    assert_eq!(
        actions,
        [
            alice("password_reset_requested"),
            alice("password_reset"),
            alice("password_reset_requested")
        ]
    );
    // The log names what was sent, never the link.
    let log = s.log();
    assert!(log.contains("mail sent"), "{log}");
    assert!(!log.contains(&token), "{log}");
}

/// The mails are templates: files of `[session] templates_dir` replace the built-in ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_templates_are_overridable() {
    let Some(smtp) = Smtp::start() else { return };
    let templates = tempfile::tempdir().expect("templates");
    std::fs::write(
        templates.path().join("password_reset_subject.txt"),
        "Reset for {{ user.username }} at {{ site_name }}",
    )
    .expect("subject");
    std::fs::write(
        templates.path().join("password_reset_email.txt"),
        "Hello {{ user.username }}: {{ link }} (uid {{ uid }}, {{ timeout_days }} days)\n",
    )
    .expect("body");
    let s = Server::builder()
        .config(&format!(
            "[session]\ntemplates_dir = \"{}\"\n[accounts]\nsite_name = \"Acme\"\npassword_reset_timeout = \"1d\"\ndomain = \"app.example.com\"\nprotocol = \"https\"\n{}",
            templates.path().display(),
            smtp.config()
        ))
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let r = post(
        &s,
        "/auth/users/reset_password/",
        json!({"email": "alice@example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mail = smtp.mail(1).await;
    assert_eq!(mail.subject(), "Reset for alice at Acme");
    assert!(
        mail.body
            .starts_with("Hello alice: https://app.example.com/auth/password/reset/confirm/MQ/"),
        "{}",
        mail.body
    );
    assert!(mail.body.contains("(uid MQ, 1 days)"), "{}", mail.body);
}

// ---------------------------------------------------------------------------------------------
// Registration and activation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_off_by_default() {
    let s = Server::start().await;
    let eve = json!({"username": "eve", "password": NEW_PASSWORD});
    // `users/` lists users and `users/activation/` is then a user's path (no id: 404 once
    // authenticated):
    // POST is allowed on neither, as on a djoser router without those actions.
    for path in ["/auth/users/", "/auth/users/activation/"] {
        let r = post(&s, path, eve.clone(), None).await;
        assert_eq!(r.status, 405, "{path}: {}", r.body);
        assert_eq!(r.json(), json!({"detail": "Method \"POST\" not allowed."}));
    }
    let r = s.get("/auth/users/activation/", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    s.create_user("eve", &[]);
    let key = djoser_token(&s, "eve", PASSWORD).await;
    let r = s.get("/auth/users/activation/", Some(&auth(&key))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    // The other endpoints are there.
    let r = s.get("/auth/users/set_password/", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_with_activation_by_mail() {
    let Some(smtp) = Smtp::start() else { return };
    let s = Server::builder()
        .config(&format!(
            "[accounts]\nregistration = true\nsend_activation_email = true\ndomain = \"app.example.com\"\nactivation_url = \"#/activate/{{uid}}/{{token}}\"\n{}",
            smtp.config()
        ))
        .start()
        .await;
    let r = post(
        &s,
        "/auth/users/",
        json!({"username": "dave", "email": "dave@example.com", "password": NEW_PASSWORD, "is_staff": true}),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body,
        r#"{"email":"dave@example.com","username":"dave","id":1}"#
    );
    // Inactive until activated.
    let r = post(
        &s,
        "/auth/token/login/",
        json!({"username": "dave", "password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    for (body, expected) in [
        (
            json!({"username": "dave", "password": NEW_PASSWORD}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({"username": "erin", "password": "zq7"}),
            json!({"password": ["This password is too short. It must contain at least 8 characters."]}),
        ),
        (
            json!({"username": "a b", "email": "x", "password": NEW_PASSWORD}),
            json!({
                "email": ["Enter a valid email address."],
                "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]
            }),
        ),
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
    ] {
        let r = post(&s, "/auth/users/", body.clone(), None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json(), expected, "{body}");
    }

    let mail = smtp.mail(1).await;
    assert_eq!(mail.to, "dave@example.com");
    let link = mail.link();
    assert!(link.contains("/#/activate/MQ/"), "{link}");
    let (uid, token) = uid_and_token(&link);
    let r = post(
        &s,
        "/auth/users/activation/",
        json!({"uid": uid, "token": "1-2"}),
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"token": ["Invalid token for given user."]})
    );
    let r = post(
        &s,
        "/auth/users/activation/",
        json!({"uid": uid, "token": token}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = post(
        &s,
        "/auth/users/activation/",
        json!({"uid": uid, "token": token}),
        None,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json(), json!({"detail": "Stale token for given user."}));
    let key = djoser_token(&s, "dave", NEW_PASSWORD).await;
    let r = s.get("/api/admin-only/", Some(&auth(&key))).await;
    assert_eq!(
        r.status, 403,
        "is_staff was not taken from the body: {}",
        r.body
    );

    // A new e-mail needs activating again, through a mail to the new address.
    let r = send(
        &s,
        reqwest::Method::PATCH,
        "/auth/users/me/",
        json!({"email": "dave@example.org"}),
        &key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        me(&s, &key).await,
        403,
        "inactive until the new address is confirmed"
    );
    let mail = smtp.mail(2).await;
    assert_eq!(mail.to, "dave@example.org");
    let (uid, token) = uid_and_token(&mail.link());
    let r = post(
        &s,
        "/auth/users/activation/",
        json!({"uid": uid, "token": token}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(me(&s, &key).await, 200);
}

// ---------------------------------------------------------------------------------------------
// djoser's documented responses
// ---------------------------------------------------------------------------------------------

/// Each endpoint's answer beside the response djoser's documentation shows for it
/// (djoser.readthedocs.io, "Base Endpoints" and "Token Endpoints").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_match_djosers_documented_responses() {
    let s = Server::builder()
        .config("[accounts]\nregistration = true\n")
        .start()
        .await;
    // User Create: HTTP_201_CREATED with {{ User.USERNAME_FIELD }}, {{ User._meta.pk.name }},
    // {{ User.REQUIRED_FIELDS }}; HTTP_400_BAD_REQUEST with field errors.
    let r = post(
        &s,
        "/auth/users/",
        json!({"username": "frank", "email": "frank@example.com", "password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 201);
    let created = r.json();
    let mut keys: Vec<&str> = created
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["email", "id", "username"]);
    // Token Create: HTTP_200_OK with auth_token; HTTP_400_BAD_REQUEST with non_field_errors.
    let key = djoser_token(&s, "frank", NEW_PASSWORD).await;
    let r = post(
        &s,
        "/auth/token/login/",
        json!({"username": "frank", "password": "x"}),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (
            400,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]})
        )
    );
    // User (me): HTTP_200_OK with the same fields; PUT/PATCH HTTP_200_OK.
    let r = s.get("/auth/users/me/", Some(&auth(&key))).await;
    assert_eq!((r.status, r.json()), (200, created.clone()));
    // Set password: HTTP_204_NO_CONTENT; HTTP_400_BAD_REQUEST with field errors.
    let r = post(
        &s,
        "/auth/users/set_password/",
        json!({"new_password": PASSWORD, "current_password": "x"}),
        Some(&auth(&key)),
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"current_password": ["Invalid password."]}))
    );
    // Reset password: HTTP_204_NO_CONTENT.
    let r = post(
        &s,
        "/auth/users/reset_password/",
        json!({"email": "frank@example.com"}),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    // Reset password confirmation and activation: HTTP_400_BAD_REQUEST with uid or token.
    for path in [
        "/auth/users/reset_password_confirm/",
        "/auth/users/activation/",
    ] {
        let r = post(
            &s,
            path,
            json!({"uid": "MQ", "token": "bad-token", "new_password": NEW_PASSWORD}),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.json()),
            (400, json!({"token": ["Invalid token for given user."]})),
            "{path}"
        );
        let r = post(
            &s,
            path,
            json!({"uid": "OTk", "token": "bad-token", "new_password": NEW_PASSWORD}),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.json()),
            (
                400,
                json!({"uid": ["Invalid user id or user doesn't exist."]})
            ),
            "{path}"
        );
    }
    // Token Destroy: HTTP_204_NO_CONTENT. User Delete: HTTP_204_NO_CONTENT.
    let r = post(&s, "/auth/token/logout/", json!({}), Some(&auth(&key))).await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let key = djoser_token(&s, "frank", NEW_PASSWORD).await;
    let r = send(
        &s,
        reqwest::Method::DELETE,
        "/auth/users/me/",
        json!({"current_password": NEW_PASSWORD}),
        &key,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
}

/// In development (a loopback address, no `[email]` section) the mail, link included, is
/// printed on standard output, as Django's console backend does, and announced once at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_email_section_a_local_server_prints_the_mail() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let r = post(
        &s,
        "/auth/users/reset_password/",
        json!({"email": "alice@example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.printed().contains("-------") {
        assert!(
            Instant::now() < deadline,
            "nothing printed:\n{}",
            s.printed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let printed = s.printed();
    assert!(printed.contains("To: alice@example.com"), "{printed}");
    assert!(printed.contains("/reset/confirm/"), "the link: {printed}");
    assert_eq!(s.log().matches("console backend").count(), 2, "{}", s.log());
    // The link is on standard output only, never in the log.
    assert!(!s.log().contains("/reset/confirm/"), "{}", s.log());
}

// ---------------------------------------------------------------------------------------------
// Revoked links, limits on mail and sign-up, the site links name
// ---------------------------------------------------------------------------------------------

/// Runs a management command that must succeed.
fn run(s: &Server, args: &[&str]) {
    let out = s.command(args, "");
    assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
}

/// `uid` and `token` of the `n`th mail.
async fn link_of(smtp: &Smtp, n: usize) -> (String, String) {
    uid_and_token(&smtp.mail(n).await.link())
}

/// No mail beyond the `n`th arrives: a reset for `sentinel` (an active account) is asked
/// for, and once its mail is there (number `n + 1`) nothing else has come, nor comes.
async fn no_mail_after(s: &Server, smtp: &Smtp, n: usize, sentinel: &str) {
    let r = post(
        s,
        "/auth/users/reset_password/",
        json!({ "email": sentinel }),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(smtp.mail(n + 1).await.to, sentinel);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.files().len(), n + 1, "an unexpected mail was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_user_stays_out() {
    let Some(smtp) = Smtp::start() else { return };
    let s = Server::builder()
        .config(&format!(
            "[accounts]\nregistration = true\nsend_activation_email = true\ndomain = \"app.example.com\"\nactivation_url = \"#/activate/{{uid}}/{{token}}\"\n{}",
            smtp.config()
        ))
        .start()
        .await;
    let activate = async |uid: &str, token: &str| {
        post(
            &s,
            "/auth/users/activation/",
            json!({"uid": uid, "token": token}),
            None,
        )
        .await
    };
    let invalid = json!({"token": ["Invalid token for given user."]});
    s.create_user("alice", &["--email", "alice@example.com"]);

    // A banned user re-posting the original activation link stays banned, days later too.
    let r = post(
        &s,
        "/auth/users/",
        json!({"username": "mallory", "email": "mallory@example.com", "password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (uid, token) = link_of(&smtp, 1).await;
    assert_eq!(activate(&uid, &token).await.status, 204);
    run(&s, &["deactivateuser", "mallory"]);
    for wait in [0, 2 * 86_400] {
        s.advance_clock(Duration::from_secs(wait));
        let r = activate(&uid, &token).await;
        assert_eq!(r.status, 400, "after {wait} s: {}", r.body);
        assert_eq!(r.json(), invalid);
    }
    // Nor does a new activation mail come for that account.
    let r = post(
        &s,
        "/auth/users/resend_activation/",
        json!({"email": "mallory@example.com"}),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    no_mail_after(&s, &smtp, 1, "alice@example.com").await;
    // Staff (here the command) may let the account back in.
    run(&s, &["activateuser", "mallory"]);
    djoser_token(&s, "mallory", NEW_PASSWORD).await;

    // An account that never used its link (not deactivated by staff) gets a new one.
    let r = post(
        &s,
        "/auth/users/",
        json!({"username": "erin", "email": "erin@example.com", "password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(smtp.mail(3).await.to, "erin@example.com");
    let r = post(
        &s,
        "/auth/users/resend_activation/",
        json!({"email": "ERIN@example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mail = smtp.mail(4).await;
    assert_eq!(mail.to, "erin@example.com");
    let (uid, token) = uid_and_token(&mail.link());
    assert_eq!(activate(&uid, &token).await.status, 204);

    // A reset link made before a deactivation is dead after it, and after a reactivation.
    let reset = async |uid: &str, token: &str| {
        post(
            &s,
            "/auth/users/reset_password_confirm/",
            json!({"uid": uid, "token": token, "new_password": NEW_PASSWORD}),
            None,
        )
        .await
    };
    let ask_reset = async || {
        let r = post(
            &s,
            "/auth/users/reset_password/",
            json!({"email": "alice@example.com"}),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    };
    // Mail 2 was alice's reset (the sentinel above).
    let (uid, before) = link_of(&smtp, 2).await;
    run(&s, &["deactivateuser", "alice"]);
    let r = reset(&uid, &before).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), invalid);
    run(&s, &["activateuser", "alice"]);
    let r = reset(&uid, &before).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), invalid);

    // A logout everywhere ends the links made before it as well. (The login comes first: it
    // sets last_login, which Django's token covers.)
    let key = djoser_token(&s, "alice", PASSWORD).await;
    ask_reset().await;
    let (uid, before) = link_of(&smtp, 5).await;
    let r = s
        .send(
            plain()
                .post(s.url("/api/auth/logout-all/"))
                .header("Authorization", auth(&key)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = reset(&uid, &before).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), invalid);
    // A link made after it works, made within the same second or not.
    ask_reset().await;
    let (uid, after) = link_of(&smtp, 6).await;
    assert_eq!(reset(&uid, &after).await.status, 204);
    djoser_token(&s, "alice", NEW_PASSWORD).await;

    // A deactivation through the staff API bans as the command does; its activate lifts it.
    s.create_user("root", &["--staff", "--superuser"]);
    s.create_user("bob", &["--email", "bob@example.com"]);
    let root = auth(&s.token("root").await);
    let staff = async |action: &str, id: &Value| {
        let path = format!("/api/admin/users/{id}/{action}/");
        let r = post(&s, &path, json!({}), Some(&root)).await;
        assert_eq!((r.status, r.body.as_str()), (204, ""), "{path}");
    };
    let r = post(
        &s,
        "/auth/users/",
        json!({"username": "trudy", "email": "trudy@example.com", "password": NEW_PASSWORD}),
        None,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].clone();
    let (uid, token) = link_of(&smtp, 7).await;
    assert_eq!(activate(&uid, &token).await.status, 204);
    staff("deactivate", &id).await;
    let r = activate(&uid, &token).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), invalid);
    let r = post(
        &s,
        "/auth/users/resend_activation/",
        json!({"email": "trudy@example.com"}),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    no_mail_after(&s, &smtp, 7, "bob@example.com").await;
    staff("activate", &id).await;
    djoser_token(&s, "trudy", NEW_PASSWORD).await;
}

/// The 429 of a throttled mail or sign-up request: DRF's, as the other scopes answer it,
/// with a wait of at most the hour (less by the time the test took since the first request).
fn assert_throttled(r: &common::Reply, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.body);
    let wait: u64 = r
        .header("retry-after")
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!((3500..=3600).contains(&wait), "{what}: {wait}");
    assert_eq!(
        r.body,
        format!(r#"{{"detail":"Request was throttled. Expected available in {wait} seconds."}}"#),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_and_sign_up_are_rate_limited() {
    let Some(smtp) = Smtp::start() else { return };
    let s = Server::builder()
        .config(&format!(
            "[accounts]\nregistration = true\nsend_activation_email = true\ndomain = \"app.example.com\"\nactivation_url = \"#/activate/{{uid}}/{{token}}\"\n{}",
            smtp.config()
        ))
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    s.create_user("carol", &["--email", "carol@example.com", "--inactive"]);
    let ask = async |path: &str, email: &str| {
        post(
            &s,
            &format!("/auth/users/{path}/"),
            json!({ "email": email }),
            None,
        )
        .await
    };
    // Per address: the 4th request within the hour is refused, the same for an address with
    // an account as for one without, so a 429 tells nothing about accounts. Case does not
    // make another address.
    for (path, known, unknown) in [
        ("reset_password", "alice@example.com", "nobody@example.com"),
        (
            "resend_activation",
            "carol@example.com",
            "nobody@example.com",
        ),
    ] {
        for email in [known, unknown] {
            for n in 1..=3 {
                let spelt = if n == 2 {
                    email.to_uppercase()
                } else {
                    email.to_owned()
                };
                let r = ask(path, &spelt).await;
                assert_eq!(
                    (r.status, r.body.as_str()),
                    (204, ""),
                    "{path} {email} #{n}"
                );
            }
            assert_throttled(&ask(path, email).await, &format!("{path} {email} #4"));
        }
    }
    // Three mails each for alice and carol, not one more.
    for n in 1..=6 {
        smtp.mail(n).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut to: Vec<String> = Vec::new();
    for n in 1..=smtp.files().len() {
        to.push(smtp.mail(n).await.to);
    }
    to.sort();
    assert_eq!(
        to,
        [
            "alice@example.com",
            "alice@example.com",
            "alice@example.com",
            "carol@example.com",
            "carol@example.com",
            "carol@example.com"
        ]
    );
    // Per client: ten reset requests an hour, whatever they name (eight were made above).
    for n in 9..=10 {
        let r = ask("reset_password", &format!("someone{n}@example.com")).await;
        assert_eq!(r.status, 204, "#{n}: {}", r.body);
    }
    assert_throttled(
        &ask("reset_password", "someone11@example.com").await,
        "reset_password from one client #11",
    );
    // Ten registrations an hour from one client, refused ones included.
    for n in 1..=10 {
        let password = if n % 2 == 0 { NEW_PASSWORD } else { "short" };
        let body = json!({
            "username": format!("user{n}"),
            "email": format!("user{n}@example.com"),
            "password": password,
        });
        let r = post(&s, "/auth/users/", body, None).await;
        assert!(matches!(r.status, 201 | 400), "#{n}: {}", r.body);
    }
    let user11 =
        json!({"username": "user11", "email": "user11@example.com", "password": NEW_PASSWORD});
    let r = post(&s, "/auth/users/", user11.clone(), None).await;
    assert_throttled(&r, "registration #11");
    // An hour later, each is open again.
    s.advance_clock(Duration::from_secs(3601));
    assert_eq!(ask("reset_password", "alice@example.com").await.status, 204);
    assert_eq!(
        ask("resend_activation", "carol@example.com").await.status,
        204
    );
    let r = post(&s, "/auth/users/", user11, None).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Sends `request` (a whole HTTP/1.1 request) on a new connection; the status code.
async fn raw_status(s: &Server, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_name_the_host_the_request_named() {
    // The console backend prints each mail: its link names the host, port included.
    let s = Server::builder()
        .config("[email]\nbackend = \"console\"\n")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let host = s.base.trim_start_matches("http://").to_owned();
    let port = host.rsplit_once(':').map(|(_, p)| p.to_owned()).unwrap();
    let body = r#"{"email":"alice@example.com"}"#;
    let request = |target: &str, host_header: &str| {
        format!(
            "POST {target} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let path = "/auth/users/reset_password/";
    // The Host header, another allowed name of this server and its port.
    let named = format!("localhost:{port}");
    assert_eq!(raw_status(&s, &request(path, &named)).await, 204);
    let link = common::printed_link_n(&s, 1).await;
    assert!(
        link.starts_with(&format!("http://{named}/auth/password/reset/confirm/MQ/")),
        "{link}"
    );
    // An absolute-form target names the host the server checked: a Host header beside it is
    // the client's own, never the link's.
    let target = format!("http://{host}{path}");
    assert_eq!(
        raw_status(&s, &request(&target, "evil.example.com")).await,
        204
    );
    let link = common::printed_link_n(&s, 2).await;
    assert!(
        link.starts_with(&format!("http://{host}/auth/password/reset/confirm/MQ/")),
        "{link}"
    );
    // A host outside allowed_hosts gets nothing.
    assert_eq!(
        raw_status(&s, &request(path, "evil.example.com")).await,
        400
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.printed_links().len(), 2, "{}", s.printed());
    assert!(!s.printed().contains("evil"), "{}", s.printed());
}

#[test]
fn a_mailing_server_needs_its_domain() {
    // Mail over SMTP: serve refuses to start without [accounts] domain, naming it.
    let dir = tempfile::tempdir().expect("dir");
    common::refuses_to_serve(
        dir.path(),
        &[("RESTAUTH_EMAIL__HOST", "smtp.example.com")],
        "accounts.domain",
    );
    // restauth check says the same as an error, and warns where links are made from requests.
    for (toml, ok, wanted) in [
        (
            "[email]\nhost = \"smtp.example.com\"\n",
            false,
            "(restauth.E001) accounts.domain",
        ),
        (
            "[email]\nbackend = \"console\"\n",
            true,
            "(restauth.W041) accounts.domain is unset",
        ),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("restauth.toml"), toml).expect("toml");
        let out = common::command_in(dir.path(), &["check"], "");
        let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
        assert_eq!(out.status.success(), ok, "{toml}: {text}");
        assert!(text.contains(wanted), "{toml}: {text}");
    }
    // With the domain, it starts (the check finds nothing about it).
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("restauth.toml"),
        "[accounts]\ndomain = \"app.example.com\"\n[email]\nhost = \"smtp.example.com\"\n",
    )
    .expect("toml");
    let out = common::command_in(dir.path(), &["check"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(!common::stdout(&out).contains("accounts.domain"));
}

/// djoser mounts `resend_activation/` with the rest of its user views; without
/// `SEND_ACTIVATION_EMAIL` a valid body gets an empty 400, and nothing is mailed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_activation_without_activation_mails_is_djosers_400() {
    let s = Server::builder()
        .config("[accounts]\nregistration = true\n")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com", "--inactive"]);
    let r = post(
        &s,
        "/auth/users/resend_activation/",
        json!({"email": "alice@example.com"}),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (400, ""));
    let r = post(&s, "/auth/users/resend_activation/", json!({}), None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), json!({"email": ["This field is required."]}));
    assert!(
        !s.printed().contains("alice@example.com"),
        "{}",
        s.printed()
    );
}

/// djoser's `GET users/` with `HIDE_USERS`: a plain list; a user sees only themself, staff who
/// may read users every user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_is_djosers_with_hidden_users() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    s.create_user("bob", &["--email", "bob@example.com"]);
    s.create_user("staff", &["--staff"]);
    s.create_user("root", &["--staff", "--superuser"]);
    let list = async |name: &str| {
        let key = djoser_token(&s, name, PASSWORD).await;
        let r = s.get("/auth/users/", Some(&auth(&key))).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        r.json()
            .as_array()
            .expect("a plain list")
            .iter()
            .map(|u| u["username"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list("alice").await, ["alice"]);
    assert_eq!(
        list("staff").await,
        ["staff"],
        "is_staff alone reads no one"
    );
    assert_eq!(list("root").await, ["alice", "bob", "staff", "root"]);
    let key = djoser_token(&s, "alice", PASSWORD).await;
    let r = s.get("/auth/users/", Some(&auth(&key))).await;
    assert_eq!(
        r.json(),
        json!([{"email": "alice@example.com", "id": r.json()[0]["id"], "username": "alice"}])
    );
    // Anonymous: the session class first, so 403; registration is off, so POST is 405.
    let r = s.get("/auth/users/", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"detail": "Authentication credentials were not provided."})
    );
    let r = post(&s, "/auth/users/", json!({}), None).await;
    assert_eq!(r.status, 405, "{}", r.body);
}

/// djoser's `users/{id}/`: oneself as `users/me/`; another user only for staff holding the
/// permission the method needs, and a superuser only for a superuser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_by_id_needs_the_permission_its_method_needs() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    s.create_user("bob", &["--email", "bob@example.com"]);
    s.create_user("staff", &["--staff"]);
    s.create_user("root", &["--staff", "--superuser"]);
    let id_of = async |name: &str| {
        let key = djoser_token(&s, name, PASSWORD).await;
        s.get("/auth/users/me/", Some(&auth(&key))).await.json()["id"]
            .as_i64()
            .expect("id")
    };
    let (alice, bob, root) = (
        id_of("alice").await,
        id_of("bob").await,
        id_of("root").await,
    );
    let alice_key = djoser_token(&s, "alice", PASSWORD).await;
    let staff_key = djoser_token(&s, "staff", PASSWORD).await;
    let denied = json!({"detail": "You do not have permission to perform this action."});

    // Oneself: as users/me/.
    let r = s
        .get(&format!("/auth/users/{alice}/"), Some(&auth(&alice_key)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "alice");
    let r = send(
        &s,
        reqwest::Method::PATCH,
        &format!("/auth/users/{alice}/"),
        json!({"email": "alice@example.org"}),
        &alice_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "alice@example.org");
    // Another user: 403 without the permission, 404 for an id nobody has.
    let r = s
        .get(&format!("/auth/users/{bob}/"), Some(&auth(&alice_key)))
        .await;
    assert_eq!((r.status, r.json()), (403, denied.clone()));
    let r = s.get("/auth/users/99999/", Some(&auth(&alice_key))).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = s
        .get(&format!("/auth/users/{bob}/"), Some(&auth(&staff_key)))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (403, denied.clone()),
        "is_staff alone"
    );
    run(&s, &["perms", "grant", "staff", "auth.view_user"]);
    let r = s
        .get(&format!("/auth/users/{bob}/"), Some(&auth(&staff_key)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "bob");
    // Reading is not changing, nor deleting; and a superuser is out of reach.
    let r = send(
        &s,
        reqwest::Method::PATCH,
        &format!("/auth/users/{bob}/"),
        json!({"email": "x@example.com"}),
        &staff_key,
    )
    .await;
    assert_eq!((r.status, r.json()), (403, denied.clone()));
    run(&s, &["perms", "grant", "staff", "auth.change_user"]);
    run(&s, &["perms", "grant", "staff", "auth.delete_user"]);
    let r = send(
        &s,
        reqwest::Method::PATCH,
        &format!("/auth/users/{bob}/"),
        json!({"email": "bob@example.org"}),
        &staff_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["email"], "bob@example.org");
    let r = s
        .get(&format!("/auth/users/{root}/"), Some(&auth(&staff_key)))
        .await;
    assert_eq!((r.status, r.json()), (403, denied.clone()), "a superuser");
    // Deleting another user takes the caller's own password.
    let r = send(
        &s,
        reqwest::Method::DELETE,
        &format!("/auth/users/{bob}/"),
        json!({"current_password": "wrong"}),
        &staff_key,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), json!({"current_password": ["Invalid password."]}));
    let r = send(
        &s,
        reqwest::Method::DELETE,
        &format!("/auth/users/{bob}/"),
        json!({"current_password": PASSWORD}),
        &staff_key,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = s
        .get(&format!("/auth/users/{bob}/"), Some(&auth(&staff_key)))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The superuser reaches everyone.
    let root_key = djoser_token(&s, "root", PASSWORD).await;
    let r = s
        .get(&format!("/auth/users/{alice}/"), Some(&auth(&root_key)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Anonymous: 403, the session class first.
    let r = s.get(&format!("/auth/users/{alice}/"), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
}
