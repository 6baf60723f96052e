//! The key each login endpoint reads the user's name from, as the stacks it copies read it:
//! DRF's `obtain_auth_token` and Django's login forms `username` whatever `USERNAME_FIELD` is,
//! simplejwt's `/api/token/` the key `USERNAME_FIELD` names, djoser's `token/login/`
//! `LOGIN_FIELD`; and `[user] login_methods`, a login by name or by e-mail.

mod common;

use common::{PASSWORD, Reply, Server, csrf, plain, set_cookie_value, spa_login};
use serde_json::{Value, json};

const UNABLE: &str = r#"{"non_field_errors":["Unable to log in with provided credentials."]}"#;
const NO_ACCOUNT: &str = r#"{"detail":"No active account found with the given credentials"}"#;

/// The login page's form, posted with `username` and the password.
async fn html_login(s: &Server, username: &str, password: &str) -> Reply {
    let page = s.send(plain().get(s.url("/api-auth/login/"))).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = r#"name="csrfmiddlewaretoken" value=""#;
    let start = page.body.find(marker).expect("csrf input") + marker.len();
    let token = &page.body[start..start + page.body[start..].find('"').expect("end")];
    let cookie = set_cookie_value(&page, "csrftoken").expect("csrftoken");
    s.send(
        plain()
            .post(s.url("/api-auth/login/"))
            .header("Cookie", format!("csrftoken={cookie}"))
            .form(&[
                ("username", username),
                ("password", password),
                ("next", "/done/"),
                ("csrfmiddlewaretoken", token),
            ]),
    )
    .await
}

/// The JSON session login with this body (and the CSRF token it needs).
async fn spa_login_body(s: &Server, body: &Value) -> Reply {
    let (token, cookie) = csrf(s).await;
    s.send(
        plain()
            .post(s.url("/api/auth/login/"))
            .header("Cookie", format!("csrftoken={cookie}"))
            .header("X-CSRFToken", token)
            .json(body),
    )
    .await
}

fn creds(key: &str, name: &str) -> Value {
    json!({ key: name, "password": PASSWORD })
}

/// Whether `name` logs in on every endpoint, each sent the body its clients send: `username`
/// to DRF's token view and the session logins, `jwt_key` to simplejwt's, `djoser_key` to
/// djoser's.
async fn logs_in_everywhere(s: &Server, name: &str, jwt_key: &str, djoser_key: &str) {
    let r = s
        .post_json("/api-token-auth/", &creds("username", name), None)
        .await;
    assert_eq!(r.status, 200, "api-token-auth {name}: {}", r.body);
    let r = s
        .post_json("/api/token/", &creds(jwt_key, name), None)
        .await;
    assert_eq!(r.status, 200, "api/token {name}: {}", r.body);
    let r = s
        .post_json("/auth/token/login/", &creds(djoser_key, name), None)
        .await;
    assert_eq!(r.status, 200, "token/login {name}: {}", r.body);
    assert!(r.json()["auth_token"].is_string(), "{}", r.body);
    let r = spa_login(s, name, PASSWORD).await;
    assert_eq!(r.status, 200, "api/auth/login {name}: {}", r.body);
    let r = html_login(s, name, PASSWORD).await;
    assert_eq!(r.status, 302, "api-auth/login {name}: {}", r.body);
}

/// Whether `name` is refused everywhere with each endpoint's generic failure.
async fn refused_everywhere(s: &Server, name: &str, jwt_key: &str, djoser_key: &str) {
    let r = s
        .post_json("/api-token-auth/", &creds("username", name), None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE), "{name}");
    let r = s
        .post_json("/api/token/", &creds(jwt_key, name), None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (401, NO_ACCOUNT), "{name}");
    let r = s
        .post_json("/auth/token/login/", &creds(djoser_key, name), None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE), "{name}");
    let r = spa_login(s, name, PASSWORD).await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE), "{name}");
    let r = html_login(s, name, PASSWORD).await;
    assert_eq!(r.status, 200, "the form again: {name}");
    assert!(
        r.body
            .contains("Please enter a correct username and password")
    );
}

#[tokio::test]
async fn each_endpoint_reads_its_key_with_usernames() {
    let s = Server::start().await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    logs_in_everywhere(&s, "alice", "username", "username").await;
    // An e-mail is no login unless login_methods says so.
    refused_everywhere(&s, "alice@example.com", "username", "username").await;
    // DRF's field errors name `username` (drf-wire §1.5, §5.4).
    let both = r#"{"username":["This field is required."],"password":["This field is required."]}"#;
    for path in ["/api-token-auth/", "/api/token/"] {
        let r = s.post_json(path, &json!({}), None).await;
        assert_eq!((r.status, r.body.as_str()), (400, both), "{path}");
        let r = s
            .post_json(path, &creds("email", "alice@example.com"), None)
            .await;
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.json()["username"][0], "This field is required.");
    }
}

#[tokio::test]
async fn each_endpoint_reads_its_key_with_username_field_email() {
    let s = Server::builder()
        .config("[user]\nusername_field = \"email\"")
        .start()
        .await;
    // With USERNAME_FIELD = "email", the username is the e-mail.
    s.create_user("jane@example.com", &["--email", "jane@example.com"]);
    // DRF's obtain_auth_token reads `username` (matched against the e-mail), simplejwt
    // `email`, djoser's LOGIN_FIELD (USERNAME_FIELD: `email`), the session logins `username`.
    logs_in_everywhere(&s, "jane@example.com", "email", "email").await;

    // simplejwt: the field is `email`.
    let r = s
        .post_json("/api/token/", &creds("username", "jane@example.com"), None)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body, r#"{"email":["This field is required."]}"#);
    // DRF's token view: `username`, and for this release `email` too (what it read before).
    let r = s.post_json("/api-token-auth/", &json!({}), None).await;
    assert_eq!(
        r.body,
        r#"{"username":["This field is required."],"password":["This field is required."]}"#
    );
    let r = s
        .post_json(
            "/api-token-auth/",
            &creds("email", "jane@example.com"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        s.log()
            .contains("the old key is accepted for this release only")
    );
    // `username` wins when both are sent.
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "nobody@example.com", "email": "jane@example.com",
                    "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE));
    // The JSON session login: the same.
    let r = spa_login_body(&s, &creds("email", "jane@example.com")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // djoser: `username` names nothing here.
    let r = s
        .post_json(
            "/auth/token/login/",
            &creds("username", "jane@example.com"),
            None,
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE));
}

#[tokio::test]
async fn login_methods_username_and_email() {
    let s = Server::builder()
        .config("[user]\nlogin_methods = [\"username\", \"email\"]")
        .start()
        .await;
    s.create_user("alice", &["--email", "Alice@Example.com"]);
    s.create_user("sleepy", &["--email", "sleepy@example.com", "--inactive"]);
    // Two accounts on one e-mail (its case aside): it names neither.
    s.create_user("bob", &["--email", "shared@example.com"]);
    s.create_user("carol", &["--email", "SHARED@example.com"]);
    // A username that looks like an e-mail still logs in by name.
    s.create_user("dave@home", &["--email", "dave@example.com"]);

    for name in ["alice", "alice@example.com", "ALICE@EXAMPLE.COM"] {
        logs_in_everywhere(&s, name, "username", "username").await;
    }
    for name in ["bob", "carol", "dave@home", "dave@example.com"] {
        let r = s
            .post_json("/api-token-auth/", &creds("username", name), None)
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
    }
    // No enumeration: several accounts, an inactive one and none answer alike.
    for name in [
        "shared@example.com",
        "sleepy@example.com",
        "nobody@example.com",
    ] {
        refused_everywhere(&s, name, "username", "username").await;
    }
    // The wrong password by e-mail: the same failure.
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "alice@example.com", "password": "wrong"}),
            None,
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE));
    // Basic authentication goes through the same login.
    let r = s
        .send(
            plain()
                .get(s.url("/api/dashboard/"))
                .basic_auth("alice@example.com", Some(PASSWORD)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn login_methods_email_alone() {
    let s = Server::builder()
        .config("[user]\nlogin_methods = [\"email\"]")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    logs_in_everywhere(&s, "alice@example.com", "username", "username").await;
    refused_everywhere(&s, "alice", "username", "username").await;
}

#[tokio::test]
async fn djoser_login_field_email() {
    let s = Server::builder()
        .config("[accounts]\nlogin_field = \"email\"")
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    let r = s
        .post_json(
            "/auth/token/login/",
            &creds("email", "Alice@example.com"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post_json("/auth/token/login/", &creds("username", "alice"), None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (400, UNABLE));
    // The other endpoints keep theirs.
    let r = s
        .post_json("/api-token-auth/", &creds("username", "alice"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Alternating a user's name and e-mail gains nothing: the throttle keys name the user.
#[tokio::test]
async fn throttles_key_on_the_user_a_login_names() {
    let s = Server::builder()
        .config(
            "[user]\nlogin_methods = [\"username\", \"email\"]\n\
             [rest_framework.default_throttle_rates]\nlogin_user_ip = \"4/min\"\n\
             login_user = \"off\"\nlogin_ip = \"off\"\n",
        )
        .start()
        .await;
    s.create_user("alice", &["--email", "alice@example.com"]);
    s.create_user("bob", &["--email", "bob@example.com"]);
    for name in ["alice", "ALICE@example.com", "alice@example.com", "alice"] {
        let r = s
            .post_json(
                "/api-token-auth/",
                &json!({"username": name, "password": "wrong"}),
                None,
            )
            .await;
        assert_eq!((r.status, r.body.as_str()), (400, UNABLE), "{name}");
    }
    // The fifth attempt, by either name and on any endpoint, is refused before its check.
    for (path, name) in [
        ("/api-token-auth/", "alice@example.com"),
        ("/api-token-auth/", "alice"),
        ("/api/token/", "Alice@Example.com"),
    ] {
        let r = s.post_json(path, &creds("username", name), None).await;
        assert_eq!(r.status, 429, "{path} {name}: {}", r.body);
    }
    // Another user from the same address is not touched.
    let r = s
        .post_json(
            "/api-token-auth/",
            &creds("username", "bob@example.com"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn check_refuses_an_unknown_login_method() {
    for (toml, wanted) in [
        (
            "[user]\nlogin_methods = [\"username\", \"phone\"]\n",
            "user.login_methods: \"phone\" is not a login method",
        ),
        (
            "[user]\nusername_field = \"email\"\nlogin_methods = [\"username\"]\n",
            "user.login_methods: \"username\" is not a login method",
        ),
        ("[user]\nlogin_methods = []\n", "user.login_methods: empty"),
        (
            "[accounts]\nlogin_field = \"phone\"\n",
            "accounts.login_field: \"phone\"",
        ),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("restauth.toml"), toml).expect("toml");
        let out = common::command_in(dir.path(), &["check"], "");
        let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
        assert!(!out.status.success(), "{toml}: {text}");
        assert!(text.contains(wanted), "{toml}: {text}");
    }
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("restauth.toml"),
        "[user]\nlogin_methods = [\"email\", \"username\"]\n[accounts]\nlogin_field = \"email\"\n",
    )
    .expect("toml");
    let out = common::command_in(dir.path(), &["check"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
}
