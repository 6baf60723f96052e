//! The audit log through the real binary: security events caused over HTTP and by commands,
//! read back with `restauth audit`, in the file sink, and on the `restauth::audit` log target.

mod common;
mod jwt_support;

use std::time::{Duration, Instant};

use common::{PASSWORD, Server, stdout};
use serde_json::{Value, json};

/// The events `restauth audit --json <args>` prints.
fn events(server: &Server, args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["audit", "--json"];
    argv.extend_from_slice(args);
    let out = server.command(&argv, "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Waits for `n` stored events (they are written off the request's path).
fn wait_for(server: &Server, n: usize, args: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = events(server, args);
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The server's log without its colours.
fn plain_log(server: &Server) -> String {
    let log = server.log();
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: ESC [ … letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn summary(e: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    format!(
        "{} {} {} {}",
        s(&e["event"]["action"]),
        s(&e["event"]["outcome"]),
        s(&e["event"]["reason"]),
        s(&e["user"]["name"])
    )
}

#[tokio::test]
async fn security_events_are_stored_logged_and_printed() {
    let server = Server::builder()
        .config(
            "[audit]\nfile = \"audit.jsonl\"\n\
             [simple_jwt]\nrotate_refresh_tokens = true\nblacklist_after_rotation = true\n\
             [rest_framework.default_throttle_rates]\nlogin_user_ip = \"2/min\"\n",
        )
        .start()
        .await;
    server.create_user("alice", &[]);
    server.create_user("bob", &["--inactive"]);
    let ua = |req: reqwest::RequestBuilder| req.header("User-Agent", "audit-test/1.0");
    let login = |user: &str, password: &str| {
        ua(server.client.post(server.url("/api-token-auth/")))
            .json(&json!({"username": user, "password": password}))
    };
    assert_eq!(server.send(login("alice", PASSWORD)).await.status, 200);
    assert_eq!(server.send(login("bob", PASSWORD)).await.status, 400);
    let secret_guess = "hunter2-not-the-password";
    assert_eq!(
        server.send(login("mallory", secret_guess)).await.status,
        400
    );
    assert_eq!(
        server.send(login("mallory", secret_guess)).await.status,
        400
    );
    assert_eq!(
        server.send(login("mallory", secret_guess)).await.status,
        429
    );
    assert_eq!(
        server.send(login("mallory", secret_guess)).await.status,
        429
    );

    // JWT: a rotation, then a replay after the grace revokes the family.
    let (refresh, _) = jwt_support::obtain(&server, "alice").await;
    assert_eq!(jwt_support::refresh(&server, &refresh).await.status, 200);
    server.advance_clock(Duration::from_secs(10));
    let replay = ua(server.client.post(server.url("/api/token/refresh/")))
        .json(&json!({ "refresh": refresh }));
    assert_eq!(server.send(replay).await.status, 401);
    let (_, access) = jwt_support::obtain(&server, "alice").await;
    let bearer = format!("Bearer {access}");
    let logout = server
        .post_json("/api/token/logout-all/", &json!({}), Some(&bearer))
        .await;
    assert_eq!(logout.status, 200, "{}", logout.body);

    // Commands.
    let out = server.command(
        &["changepassword", "alice", "--password-stdin"],
        "a new long passphrase 42\n",
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        server
            .command(&["drf_create_token", "alice", "-r"], "")
            .status
            .success()
    );
    assert!(
        server
            .command(&["deactivateuser", "alice"], "")
            .status
            .success()
    );

    let expected = [
        "login success  alice",
        "token_created success  alice",
        "login failure inactive bob",
        "login failure bad_credentials mallory",
        "login failure bad_credentials mallory",
        "throttle_lockout failure login_user_ip mallory",
        "login failure throttled mallory",
        "login success  alice",
        "refresh_token_reuse failure login family revoked: 1 token(s) blacklisted alice",
        "login success  alice",
        "logout_all success  alice",
        "password_changed success  alice",
        "token_created success  alice",
        "token_revoked success 0 revoked by drf_create_token --reset alice",
        "user_deactivated success  alice",
    ];
    let all = wait_for(&server, expected.len(), &[]);
    let got: Vec<String> = all.iter().map(summary).collect();
    assert_eq!(got, expected, "{all:#?}");

    // ECS fields of a request's event: the client and its user agent; never a password.
    let first = &all[0];
    assert_eq!(first["event"]["provider"], "token");
    assert_eq!(first["event"]["category"][0], "authentication");
    assert_eq!(first["source"]["ip"], "127.0.0.1");
    assert_eq!(first["user_agent"]["original"], "audit-test/1.0");
    assert!(
        first["user"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        first["@timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(all[8]["user_agent"]["original"], "audit-test/1.0");
    assert_eq!(all[11]["event"]["provider"], "accounts");
    let text = stdout(&server.command(&["audit", "--json"], ""));
    for secret in [PASSWORD, secret_guess, "a new long passphrase 42"] {
        assert!(!text.contains(secret), "a password in the audit log");
        assert!(
            !server.log().contains(secret),
            "a password in the server log"
        );
    }

    // --user keeps one user's events.
    let bob = events(&server, &["--user", "bob"]);
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["event"]["reason"], "inactive");

    // The table: a header and one line an event.
    let table = stdout(&server.command(&["audit", "--user", "alice"], ""));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{table}");
    assert_eq!(lines.len(), 1 + 10, "{table}");
    assert!(
        lines[1].contains("login") && lines[1].contains("127.0.0.1"),
        "{table}"
    );

    // --since counts back from now: two days later, the last day holds only what is new.
    server.advance_clock(Duration::from_secs(2 * 86_400));
    assert_eq!(server.send(login("alice", "wrong")).await.status, 400);
    let recent = wait_for(&server, 1, &["--since", "1d"]);
    assert_eq!(recent.len(), 1, "{recent:#?}");
    // A wrong password of an inactive account is a wrong password.
    assert_eq!(summary(&recent[0]), "login failure bad_credentials alice");
    let out = server.command(&["audit", "--since", "1month"], "");
    assert!(!out.status.success());

    // The file sink has the same events, as JSON lines.
    let file = std::fs::read_to_string(server.path().join("audit.jsonl")).expect("audit file");
    let lines: Vec<Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let server_events = lines
        .iter()
        .filter(|e| e["event"]["provider"] != "cli" && e["event"]["provider"] != "accounts")
        .count();
    assert!(server_events >= 12, "{file}");
    assert!(!file.contains(PASSWORD));

    // The tracing target.
    let log = plain_log(&server);
    assert!(log.contains("restauth::audit"), "{log}");
    assert!(log.contains("event.action=login"), "{log}");
}

#[tokio::test]
async fn a_blacklisted_refresh_token_is_a_revocation_of_its_user() {
    let server = Server::start().await;
    server.create_user("alice", &[]);
    let (refresh, _) = jwt_support::obtain(&server, "alice").await;
    let r = jwt_support::blacklist(&server, &refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A second blacklisting fails and revokes nothing.
    let r = jwt_support::blacklist(&server, &refresh).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let found = wait_for(&server, 2, &[]);
    let summaries: Vec<_> = found.iter().map(summary).collect();
    assert_eq!(
        summaries,
        [
            "login success  alice",
            "token_revoked success refresh token blacklisted alice"
        ],
        "{found:#?}"
    );
    assert_eq!(found[1]["event"]["provider"], "jwt");
    assert!(
        !events(&server, &[])
            .iter()
            .any(|e| e.to_string().contains(&refresh))
    );
}

#[tokio::test]
async fn clearsessions_prunes_events_past_the_retention() {
    let server = Server::builder()
        .config("[audit]\nretention_days = 1\n")
        .start()
        .await;
    server.create_user("alice", &[]);
    server.token("alice").await;
    assert_eq!(wait_for(&server, 2, &[]).len(), 2);
    server.advance_clock(Duration::from_secs(2 * 86_400));
    let out = server.command(&["clearsessions"], "");
    assert!(
        stdout(&out).contains("Deleted 2 audit events"),
        "{}",
        stdout(&out)
    );
    assert!(events(&server, &[]).is_empty());
}

#[tokio::test]
async fn an_audit_file_that_cannot_be_opened_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/audit.jsonl");
    std::fs::write(
        dir.path().join("restauth.toml"),
        format!("[audit]\nfile = {:?}\n", missing.display().to_string()),
    )
    .unwrap();
    let out = common::command_in(dir.path(), &["migrate"], "");
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("audit.file"),
        "{}",
        common::stderr(&out)
    );
}

#[tokio::test]
async fn without_the_table_events_are_still_logged() {
    let server = Server::builder()
        .config("[audit]\nstore = false\n")
        .start()
        .await;
    server.create_user("alice", &[]);
    server.token("alice").await;
    assert!(events(&server, &[]).is_empty());
    assert!(plain_log(&server).contains("event.action=login"));
}

/// A flood of throttled logins is one event a throttle window (the first refusal at once, the
/// rest counted when the window ends), so it cannot push out the events that matter: every
/// success made during it is stored. Client text is stored cut, with a marker.
#[tokio::test]
async fn a_flood_of_throttled_logins_is_counted_not_stored_one_by_one() {
    let server = Server::builder().start().await;
    server.create_user("alice", &[]);
    let attempt = |user: &str, password: &str| {
        server
            .client
            .post(server.url("/api-token-auth/"))
            .json(&json!({"username": user, "password": password}))
    };
    const FLOOD: usize = 2000;
    const CLIENTS: usize = 16;
    let flood = async {
        let mut statuses = Vec::with_capacity(FLOOD);
        let per_client = FLOOD / CLIENTS;
        let clients = (0..CLIENTS).map(|_| async {
            let mut seen = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                seen.push(server.send(attempt("mallory", "not-it")).await.status);
            }
            seen
        });
        for seen in futures_util::future::join_all(clients).await {
            statuses.extend(seen);
        }
        statuses
    };
    let logins = async {
        let mut ok = 0;
        for _ in 0..5 {
            if server.send(attempt("alice", PASSWORD)).await.status == 200 {
                ok += 1;
            }
        }
        ok
    };
    let (statuses, ok) = tokio::join!(flood, logins);
    assert_eq!(ok, 5, "alice's logins during the flood");
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(refused > FLOOD / 2, "{refused} refusals");

    let long_name = "m".repeat(300);
    let long_agent = "a".repeat(2000);
    let cut = server
        .send(attempt(&long_name, "not-it").header("User-Agent", long_agent.as_str()))
        .await;
    assert_eq!(cut.status, 400);

    let successes = wait_for(&server, 5, &["--user", "alice"]);
    let logged_in = successes
        .iter()
        .filter(|e| summary(e) == "login success  alice")
        .count();
    assert_eq!(logged_in, 5, "{successes:#?}");

    // The window has not ended: one event stands for every refusal so far.
    let throttled = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["user"]["name"] == "mallory" && e["event"]["action"] == "login")
            .filter_map(|e| e["event"]["reason"].as_str())
            .filter(|r| r.starts_with("throttled"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(throttled(&events(&server, &[])), ["throttled"]);

    // When the window ends, the rest are one more event, with their count.
    server.advance_clock(Duration::from_secs(61));
    let counted = format!("throttled (and {} more within 60 s)", refused - 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reasons = throttled(&events(&server, &[]));
        if reasons == ["throttled".to_owned(), counted.clone()] {
            break;
        }
        assert!(Instant::now() < deadline, "{reasons:?}, expected {counted}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let all = events(&server, &[]);
    let long = all
        .iter()
        .find(|e| {
            e["user"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("mmm"))
        })
        .expect("the long name's event");
    assert_eq!(long["user"]["name"], format!("{}…[cut]", "m".repeat(150)));
    assert_eq!(
        long["user_agent"]["original"],
        format!("{}…[cut]", "a".repeat(512))
    );
}
