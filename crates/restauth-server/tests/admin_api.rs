//! The staff API under `/api/admin/` (`IsAdminUser`): DRF's page-number pagination and search
//! over users, creation with Django's validators, one user, and deactivate / activate /
//! revoke (204), each recorded in the audit log with the staff member who acted. Bad ids,
//! pages and bodies get DRF's 4xx.

mod common;

use std::time::{Duration, Instant};

use common::{PASSWORD, Reply, Server, plain, stderr, stdout};
use serde_json::{Value, json};

const NOT_FOUND: &str = r#"{"detail":"Not found."}"#;
const INVALID_PAGE: &str = r#"{"detail":"Invalid page."}"#;

struct Staff {
    s: Server,
    key: String,
}

/// Runs a management command that must succeed; its output.
fn run(s: &Server, args: &[&str]) -> String {
    let out = s.command(args, "");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// Runs a management command that must fail; its error.
fn refused(s: &Server, args: &[&str]) -> String {
    let out = s.command(args, "");
    assert!(
        !out.status.success(),
        "{args:?} succeeded: {}",
        stdout(&out)
    );
    stderr(&out)
}

impl Staff {
    /// Staff whose `root` may view, add and change users.
    async fn start(config: &str) -> Staff {
        let staff = Staff::start_as(config, &["--staff"]).await;
        for perm in ["auth.view_user", "auth.add_user", "auth.change_user"] {
            run(&staff.s, &["perms", "grant", "root", perm]);
        }
        staff
    }

    /// Staff whose `root` has `flags` (`--superuser` to grant staff and superuser status)
    /// and no permissions.
    async fn start_as(config: &str, flags: &[&str]) -> Staff {
        let s = Server::builder().config(config).start().await;
        s.create_user("root", flags);
        let key = s.token("root").await;
        Staff { s, key }
    }

    async fn get(&self, path: &str) -> Reply {
        self.s.get(path, Some(&format!("Token {}", self.key))).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.s
            .post_json(path, body, Some(&format!("Token {}", self.key)))
            .await
    }

    async fn user_id(&self, username: &str) -> i64 {
        let r = self
            .get(&format!("/api/admin/users/?search={username}"))
            .await;
        r.json()["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|u| u["username"] == username)
            .and_then(|u| u["id"].as_i64())
            .unwrap_or_else(|| panic!("no user {username}: {}", r.body))
    }
}

fn usernames(r: &Reply) -> Vec<String> {
    r.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|u| u["username"].as_str().expect("username").to_owned())
        .collect()
}

#[tokio::test]
async fn only_staff_may_call_it() {
    let s = Server::start().await;
    s.create_user("alice", &[]);
    let key = s.token("alice").await;
    for path in ["/api/admin/users/", "/api/admin/users/1/"] {
        let r = s.get(path, Some(&format!("Token {key}"))).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                403,
                r#"{"detail":"You do not have permission to perform this action."}"#
            ),
            "{path}"
        );
        let r = s.send(plain().get(s.url(path))).await;
        assert!(matches!(r.status, 401 | 403), "{}", r.body);
        assert_eq!(
            r.json()["detail"],
            "Authentication credentials were not provided."
        );
    }
    let r = s
        .post_json(
            "/api/admin/users/1/deactivate/",
            &json!({}),
            Some(&format!("Token {key}")),
        )
        .await;
    assert_eq!(r.status, 403);
    // Nothing changed: alice still works.
    let r = s.get("/api/profile/", Some(&format!("Token {key}"))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn users_are_paginated_as_drf_paginates_them() {
    let staff = Staff::start("[rest_framework]\npage_size = 2\n").await;
    for name in ["alice", "bob", "Alicia", "carol"] {
        staff.s.create_user(name, &[]);
    }
    let base = staff.s.url("/api/admin/users/");

    let r = staff.get("/api/admin/users/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["count", "next", "previous", "results"]);
    assert_eq!(body["count"], 5);
    assert_eq!(body["next"], format!("{base}?page=2"));
    assert_eq!(body["previous"], Value::Null);
    assert_eq!(usernames(&r), ["root", "alice"]);
    let root = &body["results"][0];
    assert_eq!(root["is_staff"], true);
    assert!(root.get("password").is_none());
    assert!(!r.body.contains("argon2"));

    let r = staff.get("/api/admin/users/?page=2").await;
    assert_eq!(usernames(&r), ["bob", "Alicia"]);
    assert_eq!(r.json()["next"], format!("{base}?page=3"));
    // Back to the first page: DRF drops the parameter.
    assert_eq!(r.json()["previous"], base);

    let r = staff.get("/api/admin/users/?page=3").await;
    assert_eq!(usernames(&r), ["carol"]);
    assert_eq!(r.json()["next"], Value::Null);
    assert_eq!(r.json()["previous"], format!("{base}?page=2"));
    let r = staff.get("/api/admin/users/?page=last").await;
    assert_eq!(usernames(&r), ["carol"]);

    for page in [
        "4",
        "0",
        "-1",
        "abc",
        "1.5",
        "99999999999999999999999",
        "%00",
    ] {
        let r = staff.get(&format!("/api/admin/users/?page={page}")).await;
        assert_eq!((r.status, r.body.as_str()), (404, INVALID_PAGE), "{page}");
    }

    // Search: case-insensitive, in usernames and e-mail addresses, every term must match;
    // links keep the search, parameters sorted as DRF sorts them.
    let r = staff.get("/api/admin/users/?search=ALI").await;
    assert_eq!(usernames(&r), ["alice", "Alicia"]);
    assert_eq!(r.json()["count"], 2);
    assert_eq!(r.json()["next"], Value::Null);
    let r = staff.get("/api/admin/users/?search=o&page=2").await;
    assert_eq!(r.json()["count"], 3, "{}", r.body);
    assert_eq!(usernames(&r), ["carol"]);
    assert_eq!(r.json()["previous"], format!("{base}?search=o"));
    let r = staff.get("/api/admin/users/?search=al,ic").await;
    assert_eq!(usernames(&r), ["alice", "Alicia"]);
    let r = staff.get("/api/admin/users/?search=al%20zz").await;
    assert_eq!(r.json()["count"], 0);
    assert_eq!(usernames(&r), Vec::<String>::new());
    // LIKE's wildcards are plain characters here.
    let r = staff.get("/api/admin/users/?search=%25").await;
    assert_eq!(r.json()["count"], 0, "{}", r.body);
    let r = staff.get("/api/admin/users/?search=_").await;
    assert_eq!(r.json()["count"], 0, "{}", r.body);

    // E-mail addresses are searched too.
    let r = staff
        .post(
            "/api/admin/users/",
            &json!({"username": "dave", "password": PASSWORD, "email": "Dave@Example.org"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = staff.get("/api/admin/users/?search=example.ORG").await;
    assert_eq!(usernames(&r), ["dave"]);
}

#[tokio::test]
async fn the_page_size_defaults_to_100() {
    let staff = Staff::start("").await;
    let r = staff.get("/api/admin/users/?page=1").await;
    assert_eq!(r.json()["count"], 1);
    assert_eq!(r.json()["next"], Value::Null);
    assert_eq!(r.json()["previous"], Value::Null);
    let r = staff.get("/api/admin/users/?page=2").await;
    assert_eq!((r.status, r.body.as_str()), (404, INVALID_PAGE));
}

#[tokio::test]
async fn staff_create_users_with_djangos_validation() {
    // A superuser: only one may create staff.
    let staff = Staff::start_as("", &["--staff", "--superuser"]).await;
    let r = staff
        .post(
            "/api/admin/users/",
            &json!({
                "username": "erin",
                "password": PASSWORD,
                "email": "erin@example.com",
                "first_name": "Erin",
                "is_staff": "true",
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let user = r.json();
    assert_eq!(user["username"], "erin");
    assert_eq!(user["email"], "erin@example.com");
    assert_eq!(user["first_name"], "Erin");
    assert_eq!(user["is_staff"], true);
    assert_eq!(user["is_superuser"], false);
    assert_eq!(user["is_active"], true);
    assert_eq!(user["last_login"], Value::Null);
    assert!(user.get("password").is_none());
    // The new user logs in with that password.
    staff.s.token("erin").await;

    let cases = [
        (
            json!({"username": "erin", "password": PASSWORD}),
            json!({"username": ["A user with that username already exists."]}),
        ),
        (
            json!({}),
            json!({"username": ["This field is required."], "password": ["This field is required."]}),
        ),
        (
            json!({"username": "frank", "password": "x7#Kq2"}),
            json!({"password": ["This password is too short. It must contain at least 8 characters."]}),
        ),
        (
            json!({"username": "frank", "password": "password"}),
            json!({"password": ["This password is too common."]}),
        ),
        (
            json!({"username": "frank", "password": PASSWORD, "email": "not an address"}),
            json!({"email": ["Enter a valid email address."]}),
        ),
        (
            json!({"username": "frank", "password": PASSWORD, "is_staff": "maybe"}),
            json!({"is_staff": ["Must be a valid boolean."]}),
        ),
        (
            json!({"username": "bad name!", "password": PASSWORD}),
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}),
        ),
    ];
    for (body, expected) in cases {
        let r = staff.post("/api/admin/users/", &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.json(), expected, "{body}");
    }
    // A body that does not parse, and one that is not an object.
    let r = staff
        .s
        .send(
            plain()
                .post(staff.s.url("/api/admin/users/"))
                .header("Authorization", format!("Token {}", staff.key))
                .header("Content-Type", "application/json")
                .body("{\"username\":"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.json()["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("JSON parse error")),
        "{}",
        r.body
    );
    let r = staff.post("/api/admin/users/", &json!([1, 2])).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // None of them made a user.
    assert_eq!(staff.get("/api/admin/users/").await.json()["count"], 2);
}

#[tokio::test]
async fn one_user_and_bad_ids() {
    let staff = Staff::start("").await;
    staff.s.create_user("alice", &[]);
    let id = staff.user_id("alice").await;
    let r = staff.get(&format!("/api/admin/users/{id}/")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["username"], "alice");
    assert_eq!(r.json()["id"], id);
    for path in ["999999", "abc", "-1", "1.0", "%20"] {
        let r = staff.get(&format!("/api/admin/users/{path}/")).await;
        assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND), "{path}");
        let r = staff
            .post(&format!("/api/admin/users/{path}/deactivate/"), &json!({}))
            .await;
        assert_eq!((r.status, r.body.as_str()), (404, NOT_FOUND), "{path}");
    }
}

/// The stored audit events of `username` (written off the request's path: polled briefly).
async fn audit_events(s: &Server, username: &str, action: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = s.command(&["audit", "--json", "--user", username], "");
        let events: Vec<Value> = common::stdout(&out)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|e: &Value| e["event"]["action"] == action)
            .collect();
        if !events.is_empty() || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn deactivate_activate_and_revoke_as_the_commands_do() {
    let staff = Staff::start("").await;
    staff.s.create_user("alice", &[]);
    let id = staff.user_id("alice").await;
    let alice = staff.s.token("alice").await;
    let profile = |key: String| {
        let s = &staff.s;
        async move { s.get("/api/profile/", Some(&format!("Token {key}"))).await }
    };
    assert_eq!(profile(alice.clone()).await.status, 200);

    let r = staff
        .post(&format!("/api/admin/users/{id}/deactivate/"), &json!({}))
        .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = profile(alice.clone()).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"User inactive or deleted."}"#)
    );
    assert_eq!(
        staff.get(&format!("/api/admin/users/{id}/")).await.json()["is_active"],
        false
    );

    let r = staff
        .post(&format!("/api/admin/users/{id}/activate/"), &json!({}))
        .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    // The old token stays ended; a new login works.
    assert_eq!(profile(alice.clone()).await.status, 401);
    let fresh = staff.s.token("alice").await;
    assert_eq!(profile(fresh.clone()).await.status, 200);

    let r = staff
        .post(&format!("/api/admin/users/{id}/revoke/"), &json!({}))
        .await;
    assert_eq!((r.status, r.body.as_str()), (204, ""));
    let r = profile(fresh).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    // The staff member's own token is untouched.
    assert_eq!(staff.get("/api/admin/users/").await.status, 200);

    for action in ["user_deactivated", "user_activated", "logout_all"] {
        let events = audit_events(&staff.s, "alice", action).await;
        let event = events
            .iter()
            .find(|e| e["event"]["provider"] == "admin")
            .unwrap_or_else(|| panic!("no {action} event: {events:?}"));
        let reason = event["event"]["reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("by root (id "), "{event}");
        assert_eq!(event["source"]["ip"], "127.0.0.1", "{event}");
    }
}

#[test]
fn a_page_size_of_zero_stops_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("restauth.toml"),
        "[rest_framework]\npage_size = 0\n",
    )
    .expect("config");
    common::refuses_to_serve(dir.path(), &[], "rest_framework.page_size");
}

/// Django's rule: `is_staff` opens the staff API, but only an active superuser grants or
/// clears `is_staff` or `is_superuser`, or acts on a superuser. A staff member who tries gets
/// DRF's 403 and nothing changes.
#[tokio::test]
async fn staff_are_not_superusers() {
    const DENIED: &str = r#"{"detail":"You do not have permission to perform this action."}"#;
    let staff = Staff::start("").await;
    staff.s.create_user("boss", &["--superuser"]);
    let boss_key = staff.s.token("boss").await;
    let boss = staff.user_id("boss").await;

    for (name, flags) in [
        ("mallory", json!({"is_superuser": true})),
        ("mallory", json!({"is_staff": true})),
        ("mallory", json!({"is_staff": "yes", "is_superuser": false})),
    ] {
        let mut body = json!({"username": name, "password": "a fine long password 1"});
        body.as_object_mut()
            .expect("object")
            .extend(flags.as_object().expect("object").clone());
        let r = staff.post("/api/admin/users/", &body).await;
        assert_eq!((r.status, r.body.as_str()), (403, DENIED), "{body}");
    }
    let r = staff.get("/api/admin/users/?search=mallory").await;
    assert_eq!(r.json()["count"], 0, "{}", r.body);
    // A plain user is still theirs to create.
    let r = staff
        .post(
            "/api/admin/users/",
            &json!({"username": "plain", "password": "a fine long password 1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    for action in ["deactivate", "activate", "revoke"] {
        let r = staff
            .post(&format!("/api/admin/users/{boss}/{action}/"), &json!({}))
            .await;
        assert_eq!((r.status, r.body.as_str()), (403, DENIED), "{action}");
    }
    // The superuser's credentials still work, and the account is active.
    let r = staff
        .s
        .get("/api/profile/", Some(&format!("Token {boss_key}")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = staff.get(&format!("/api/admin/users/{boss}/")).await;
    assert_eq!(r.json()["is_active"], true);

    // The superuser may do all of it.
    let as_boss = |path: &str, body: Value| {
        let key = boss_key.clone();
        let s = &staff.s;
        let path = path.to_owned();
        async move {
            s.post_json(&path, &body, Some(&format!("Token {key}")))
                .await
        }
    };
    let r = as_boss(
        "/api/admin/users/",
        json!({"username": "second", "password": "a fine long password 1", "is_superuser": true, "is_staff": true}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["is_superuser"], true);
    let second = r.json()["id"].as_i64().expect("id");
    let r = as_boss(&format!("/api/admin/users/{second}/deactivate/"), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.body);
}

/// Django's authorization model: `is_staff` opens the staff API, and each view needs
/// Django's permissions on users, held directly or through a group. A change made by a
/// command counts at the next request.
#[tokio::test]
async fn staff_need_djangos_permissions_on_users() {
    const DENIED: &str = r#"{"detail":"You do not have permission to perform this action."}"#;
    let staff = Staff::start_as("", &["--staff"]).await;
    let s = &staff.s;
    s.create_user("alice", &[]);
    let new_user = |name: &str| json!({"username": name, "password": "a fine long password 1"});

    // is_staff alone: every view refuses, and nothing changes.
    let r = staff.get("/api/admin/users/").await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));
    let r = staff.get("/api/admin/users/1/").await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));
    let r = staff.post("/api/admin/users/", &new_user("eve")).await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));
    let r = staff
        .post("/api/admin/users/1/deactivate/", &json!({}))
        .await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));
    let check = run(s, &["check"]);
    assert!(check.contains("restauth.W002"), "{check}");
    assert!(check.contains("\"root\""), "{check}");

    // View: reading, nothing more.
    run(s, &["perms", "grant", "root", "auth.view_user"]);
    common::settles("view_user granted", 200, || async {
        staff.get("/api/admin/users/").await.status
    })
    .await;
    let alice = staff.user_id("alice").await;
    assert_eq!(
        staff
            .get(&format!("/api/admin/users/{alice}/"))
            .await
            .status,
        200
    );
    let r = staff.post("/api/admin/users/", &new_user("eve")).await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));
    for action in ["deactivate", "activate", "revoke"] {
        let r = staff
            .post(&format!("/api/admin/users/{alice}/{action}/"), &json!({}))
            .await;
        assert_eq!((r.status, r.body.as_str()), (403, DENIED), "{action}");
    }
    let check = run(s, &["check"]);
    assert!(!check.contains("restauth.W002"), "{check}");

    // Change, through a group: the actions.
    run(s, &["groups", "create", "managers"]);
    run(
        s,
        &["perms", "grant", "--group", "managers", "auth.change_user"],
    );
    let r = staff
        .post(&format!("/api/admin/users/{alice}/deactivate/"), &json!({}))
        .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, DENIED),
        "not a member yet"
    );
    run(s, &["groups", "add", "root", "managers"]);
    // Refused attempts change nothing: it is done once allowed.
    common::settles("change_user through a group", 204, || async {
        staff
            .post(&format!("/api/admin/users/{alice}/deactivate/"), &json!({}))
            .await
            .status
    })
    .await;
    let r = staff.post("/api/admin/users/", &new_user("eve")).await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));

    // Add: creating.
    run(s, &["perms", "grant", "root", "auth.add_user"]);
    common::settles("add_user granted", 201, || async {
        staff
            .post("/api/admin/users/", &new_user("eve"))
            .await
            .status
    })
    .await;

    // The detail shows groups and permissions.
    let root = staff.user_id("root").await;
    let r = staff.get(&format!("/api/admin/users/{root}/")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["groups"], json!(["managers"]));
    assert_eq!(
        r.json()["user_permissions"],
        json!(["auth.add_user", "auth.view_user"])
    );
    assert_eq!(
        r.json()["permissions"],
        json!(["auth.add_user", "auth.change_user", "auth.view_user"])
    );

    // Revoked, and out of the group: reading through change_user goes with the group.
    run(s, &["perms", "revoke", "root", "auth.view_user"]);
    assert_eq!(staff.get("/api/admin/users/").await.status, 200);
    run(s, &["groups", "remove", "root", "managers"]);
    common::settles("out of the group", 403, || async {
        staff.get("/api/admin/users/").await.status
    })
    .await;
    let r = staff.get("/api/admin/users/").await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));

    // A permission without is_staff opens nothing.
    run(s, &["perms", "grant", "alice", "auth.view_user"]);
    run(s, &["activateuser", "alice"]);
    let alice_key = s.token("alice").await;
    let r = s
        .get("/api/admin/users/", Some(&format!("Token {alice_key}")))
        .await;
    assert_eq!((r.status, r.body.as_str()), (403, DENIED));

    // Each change that did something is an audit event.
    let events = run(s, &["audit", "--json"]);
    for expected in [
        r#""action":"permission_granted""#,
        r#""action":"permission_revoked""#,
        r#""action":"group_joined""#,
        r#""action":"group_left""#,
        "group managers: auth.change_user",
    ] {
        assert!(events.contains(expected), "{expected}: {events}");
    }

    // Unknown names are refused in words.
    let e = refused(s, &["perms", "grant", "nobody", "auth.view_user"]);
    assert!(e.contains("user 'nobody' does not exist"), "{e}");
    let e = refused(s, &["perms", "grant", "root", "auth.nope"]);
    assert!(e.contains("permission 'auth.nope' does not exist"), "{e}");
    let e = refused(
        s,
        &["perms", "revoke", "--group", "ghosts", "auth.view_user"],
    );
    assert!(e.contains("group 'ghosts' does not exist"), "{e}");
    let e = refused(s, &["groups", "add", "root", "ghosts"]);
    assert!(e.contains("group 'ghosts' does not exist"), "{e}");
    let e = refused(s, &["groups", "remove", "nobody", "managers"]);
    assert!(e.contains("user 'nobody' does not exist"), "{e}");
    let e = refused(s, &["perms", "create", "no_dot", "Name"]);
    assert!(e.contains("not a permission name"), "{e}");
    let e = refused(
        s,
        &[
            "perms",
            "grant",
            "--group",
            "managers",
            "root",
            "auth.view_user",
        ],
    );
    assert!(e.contains("with --group"), "{e}");
}
