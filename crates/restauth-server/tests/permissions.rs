//! The 401-vs-403 rule (spec drf-wire §1.3) and the permission table (§3) over HTTP.

mod common;

use common::{PASSWORD, Server};
use serde_json::json;

const NOT_PROVIDED: &str = r#"{"detail":"Authentication credentials were not provided."}"#;
const NO_PERMISSION: &str = r#"{"detail":"You do not have permission to perform this action."}"#;

async fn anonymous_dashboard(classes: &str) -> (u16, String, Option<String>) {
    let s = Server::builder()
        .config(&format!(
            "[rest_framework]\ndefault_authentication_classes = {classes}\n"
        ))
        .start()
        .await;
    let r = s.get("/api/dashboard/", None).await;
    let challenge = r.header("www-authenticate").map(str::to_owned);
    (r.status, r.body, challenge)
}

#[tokio::test]
async fn first_authenticator_decides_401_or_403() {
    assert_eq!(
        anonymous_dashboard(r#"["session", "basic"]"#).await,
        (403, NOT_PROVIDED.into(), None)
    );
    assert_eq!(
        anonymous_dashboard(r#"["token", "session"]"#).await,
        (401, NOT_PROVIDED.into(), Some("Token".into()))
    );
    assert_eq!(
        anonymous_dashboard(r#"["session"]"#).await,
        (403, NOT_PROVIDED.into(), None)
    );
    assert_eq!(
        anonymous_dashboard("[]").await,
        (403, NO_PERMISSION.into(), None)
    );
    assert_eq!(
        anonymous_dashboard(r#"["basic", "token"]"#).await,
        (401, NOT_PROVIDED.into(), Some("Basic realm=\"api\"".into()))
    );
}

#[tokio::test]
async fn authentication_failure_ends_the_request_even_on_allow_any() {
    let s = Server::start().await;
    let r = s.get("/api/public/", Some("Token nope")).await;
    // Session is the first of the view's classes: no challenge, so 403.
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, r#"{"detail":"Invalid token."}"#)
    );
    let r = s.get("/api/public/", None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"authenticated":false,"username":null}"#)
    );
}

#[tokio::test]
async fn demo_views_permission_table() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("root", &["--staff"]);
    s.create_user("boss", &["--superuser"]);
    let alice = format!("Token {}", s.token("alice").await);
    let root = format!("Token {}", s.token("root").await);

    let r = s.get("/api/public/", Some(&alice)).await;
    assert_eq!(r.body, r#"{"authenticated":true,"username":"alice"}"#);

    // IsAdminUser: anonymous → not authenticated (Session first → 403), user → 403, staff → 200.
    let r = s.get("/api/admin-only/", None).await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    let r = s.get("/api/admin-only/", Some(&alice)).await;
    assert_eq!((r.status, r.body.as_str()), (403, NO_PERMISSION));
    let r = s.get("/api/admin-only/", Some(&root)).await;
    assert_eq!(r.status, 200);
    // --superuser implies staff in createuser, as Django's create_superuser.
    let boss = format!("Token {}", s.token("boss").await);
    assert_eq!(s.get("/api/admin-only/", Some(&boss)).await.status, 200);

    // IsAuthenticatedOrReadOnly.
    assert_eq!(s.get("/api/readonly-or-auth/", None).await.status, 200);
    let r = s
        .post_json("/api/readonly-or-auth/", &json!({"a": 1}), None)
        .await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    let r = s
        .post_json("/api/readonly-or-auth/", &json!({"a": 1}), Some(&alice))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("allow"), Some("GET, POST, HEAD, OPTIONS"));

    // Echo: IsAuthenticated with the default classes; token requests are not CSRF-checked.
    let r = s
        .post_json("/api/echo/", &json!({"x": [1, "y"]}), Some(&alice))
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, r#"{"received":{"x":[1,"y"]},"username":"alice"}"#)
    );
}

#[tokio::test]
async fn permission_checks_run_before_method_checks() {
    let s = Server::start().await;
    // DRF runs authentication and permissions before looking up the handler.
    let r = s.send(s.client.delete(s.url("/api/profile/"))).await;
    assert_eq!(r.status, 401);
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    let r = s
        .send(
            s.client
                .delete(s.url("/api/profile/"))
                .header("Authorization", format!("Token {key}")),
        )
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (405, r#"{"detail":"Method \"DELETE\" not allowed."}"#)
    );
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let r = s
        .send(
            s.client
                .request(reqwest::Method::OPTIONS, s.url("/api/profile/"))
                .header("Authorization", format!("Token {key}")),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "Profile");
    let r = s
        .send(
            s.client
                .request(reqwest::Method::TRACE, s.url("/api/public/")),
        )
        .await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn basic_credentials_work_on_every_route_that_lists_basic() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    use base64::Engine as _;
    let b = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"))
    );
    assert_eq!(s.get("/api/dashboard/", Some(&b)).await.status, 200);
    assert_eq!(
        s.get("/api/public/", Some(&b)).await.json()["username"],
        "alice"
    );
    // The profile view lists Token only: Basic is not its scheme.
    assert_eq!(s.get("/api/profile/", Some(&b)).await.status, 401);
}

#[tokio::test]
async fn routes_reading_the_session_vary_on_cookie() {
    let s = Server::start().await;
    // Default classes start with Session: the answer depends on the cookie, as in Django.
    let r = s.get("/api/dashboard/", None).await;
    assert_eq!(r.header("vary"), Some("Cookie"));
    let r = s.get("/api/public/", None).await;
    assert_eq!(r.header("vary"), Some("Cookie"));
    // Token only: no cookie involved.
    let r = s.get("/api/profile/", None).await;
    assert_eq!(r.header("vary"), None);
}

fn run(s: &Server, args: &[&str]) {
    let out = s.command(args, "");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// DRF's `DjangoModelPermissions` (`perms_map`), its `…OrAnonReadOnly` variant and
/// `HasPerms`, over HTTP, with permissions granted by the commands to a user and to a group.
#[tokio::test]
async fn django_model_permissions_over_http() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    s.create_user("bob", &[]);
    s.create_user("boss", &["--superuser"]);
    let (alice, bob, boss) = (
        format!("Token {}", s.token("alice").await),
        format!("Token {}", s.token("bob").await),
        format!("Token {}", s.token("boss").await),
    );
    let post = |path: &'static str, who: Option<String>| {
        let s = &s;
        async move { s.post_json(path, &json!({"x": 1}), who.as_deref()).await }
    };

    // Anonymous: reading needs a user, except in the read-only variant.
    let r = s.get("/api/notes/", None).await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));
    assert_eq!(s.get("/api/notes/public/", None).await.status, 200);
    let r = post("/api/notes/public/", None).await;
    assert_eq!((r.status, r.body.as_str()), (403, NOT_PROVIDED));

    // A user without permissions reads, and may not add.
    assert_eq!(s.get("/api/notes/", Some(&alice)).await.status, 200);
    for path in ["/api/notes/", "/api/notes/public/", "/api/notes/publish/"] {
        let r = post(path, Some(alice.clone())).await;
        assert_eq!((r.status, r.body.as_str()), (403, NO_PERMISSION), "{path}");
    }

    // Granted to alice directly, to bob through a group.
    run(&s, &["perms", "create", "notes.add_note", "Can add note"]);
    run(
        &s,
        &["perms", "create", "notes.publish_note", "Can publish note"],
    );
    run(&s, &["perms", "grant", "alice", "notes.add_note"]);
    run(&s, &["groups", "create", "editors"]);
    run(
        &s,
        &["perms", "grant", "--group", "editors", "notes.add_note"],
    );
    run(
        &s,
        &["perms", "grant", "--group", "editors", "notes.publish_note"],
    );
    run(&s, &["groups", "add", "bob", "editors"]);
    common::settles("bob joined editors", 200, || async {
        post("/api/notes/publish/", Some(bob.clone())).await.status
    })
    .await;
    for path in ["/api/notes/", "/api/notes/public/"] {
        assert_eq!(post(path, Some(alice.clone())).await.status, 200, "{path}");
        assert_eq!(post(path, Some(bob.clone())).await.status, 200, "{path}");
    }
    // HasPerms needs both.
    assert_eq!(
        post("/api/notes/publish/", Some(alice.clone()))
            .await
            .status,
        403
    );
    assert_eq!(
        post("/api/notes/publish/", Some(bob.clone())).await.status,
        200
    );
    // A superuser holds every permission.
    for path in ["/api/notes/", "/api/notes/publish/"] {
        assert_eq!(post(path, Some(boss.clone())).await.status, 200, "{path}");
    }

    // Revoked: seen within the bound of a change another process made.
    run(&s, &["perms", "revoke", "alice", "notes.add_note"]);
    common::settles("alice's grant revoked", 403, || async {
        post("/api/notes/", Some(alice.clone())).await.status
    })
    .await;
    run(&s, &["groups", "remove", "bob", "editors"]);
    common::settles("bob left editors", 403, || async {
        post("/api/notes/publish/", Some(bob.clone())).await.status
    })
    .await;
    assert_eq!(post("/api/notes/", Some(bob.clone())).await.status, 403);
}
