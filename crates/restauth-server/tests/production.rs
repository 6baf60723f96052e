//! Running the server in production: a graceful stop on SIGTERM, JSON logs, and
//! `restauth check` on configurations.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{PASSWORD, Server, command_in, plain, stderr, stdout};
use serde_json::{Value, json};

fn send_sigterm(s: &Server) {
    signal(s, "-TERM");
}

fn signal(s: &Server, which: &str) {
    let status = std::process::Command::new("kill")
        .args([which, &s.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// `host:port` of a server's base URL.
fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// Waits until connecting to `addr` is refused: the listener is closed.
fn wait_refused(addr: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Logs each request as it enters the server's layers ("started processing request").
const REQUEST_LOG: &str = "info,restauth::layers=debug";
const REQUEST_STARTED: &str = "started processing request";

/// Waits until the server has logged one more request start than `before`: the request's
/// head has been read, so it is in flight.
fn wait_in_flight(s: &Server, before: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.log().matches(REQUEST_STARTED).count() <= before {
        assert!(
            Instant::now() < deadline,
            "the request never started:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A login whose body is sent in two parts: the request is in flight between them.
fn start_login(addr: &str, body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api-token-auth/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body.as_bytes()[..10]).unwrap();
    stream.flush().unwrap();
    stream
}

#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_then_exits_with_a_complete_database() {
    // SQLite, whatever backend the suite runs on: the write-ahead log is what is checked.
    let mut s = Server::builder()
        .own_database()
        .env("RUST_LOG", REQUEST_LOG)
        .start()
        .await;
    s.create_user("alice", &[]);
    // Written by the server, so in its write-ahead log until the checkpoint.
    let token = s.token("alice").await;
    let wal = s.path().join("restauth.db-wal");
    assert!(wal.metadata().is_ok_and(|m| m.len() > 0));

    let addr = addr(&s);
    let body = json!({"username": "alice", "password": PASSWORD}).to_string();
    let before = s.log().matches(REQUEST_STARTED).count();
    let mut stream = start_login(&addr, &body);
    // The request must be in flight when the signal comes (a connection whose request has
    // not begun is simply closed).
    wait_in_flight(&s, before);
    send_sigterm(&s);
    assert!(wait_refused(&addr), "new connections are still accepted");
    assert!(
        s.wait_exit(Duration::from_millis(300)).is_none(),
        "exited mid-request"
    );

    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let json_body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let issued: Value = serde_json::from_str(json_body).expect(json_body);
    assert_eq!(issued["token"].as_str().map(str::len), Some(40));

    let status = s.wait_exit(Duration::from_secs(10)).expect("did not exit");
    assert!(status.success(), "{status:?}\n{}", s.log());
    // Checkpointed and closed: the database file alone holds everything.
    assert!(
        wal.metadata().map_or(true, |m| m.len() == 0),
        "{} bytes left in the write-ahead log",
        wal.metadata().map(|m| m.len()).unwrap_or(0)
    );
    let log = s.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(&token), "{log}");
}

#[tokio::test]
async fn a_request_that_never_finishes_holds_the_stop_only_for_shutdown_timeout() {
    let mut s = Server::builder()
        .own_database()
        .config("[server]\nshutdown_timeout = 1\n")
        .env("RUST_LOG", REQUEST_LOG)
        .start()
        .await;
    let addr = addr(&s);
    // A body announced and never sent.
    let before = s.log().matches(REQUEST_STARTED).count();
    let _stalled = start_login(&addr, &" ".repeat(100));
    wait_in_flight(&s, before);
    let started = Instant::now();
    // Ctrl-C stops the server as SIGTERM does.
    signal(&s, "-INT");
    let status = s.wait_exit(Duration::from_secs(10)).expect("did not exit");
    assert!(status.success(), "{status:?}\n{}", s.log());
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(s.log().contains("shutdown timeout reached"), "{}", s.log());
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_without_secrets() {
    let secret_key = "Jq8vX2mLr5Tn0cWz7HbK4sYe1PdFg9Ua-json-logs";
    let mut s = Server::builder()
        .config(&format!(
            "secret_key = {secret_key:?}\n[log]\nformat = \"json\"\n"
        ))
        .start()
        .await;
    s.create_user("alice", &[]);
    let token = s.token("alice").await;
    let wrong = "not-the-password-4f1c";
    let r = s
        .post_json(
            "/api-token-auth/",
            &json!({"username": "alice", "password": wrong}),
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .send(
            plain()
                .get(s.url("/api/profile/"))
                .header("Authorization", format!("Token {token}x")),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(s.terminate());
    let log = s.log();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{log}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    assert!(lines.iter().any(|l| l.contains("token issued")), "{log}");
    for secret in [PASSWORD, wrong, token.as_str(), secret_key] {
        assert!(!log.contains(secret), "a secret is in the log:\n{log}");
    }
}

/// A username that holds a newline, an escape sequence, a C1 control and a bidi override
/// cannot forge a log line or hide text, in either format; the name is still there, escaped.
#[tokio::test]
async fn logged_values_cannot_forge_lines_or_hide_text() {
    let forged =
        "mallory\n2026-12-07T10:00:00.000000Z  INFO restauth: forged\u{1b}[2K\u{9b}\u{202e}";
    for format in ["text", "json"] {
        let mut s = Server::builder()
            .config(&format!("[log]\nformat = \"{format}\"\n"))
            .start()
            .await;
        let r = s
            .post_json(
                "/api-token-auth/",
                &json!({"username": forged, "password": "whatever it is"}),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(s.terminate());
        let log = s.log();
        for line in log.lines() {
            assert!(
                !line.contains("INFO restauth: forged") || line.contains("mallory\\n"),
                "{format}: a forged line:\n{log}"
            );
        }
        for raw in ['\u{1b}', '\u{9b}', '\u{202e}', '\r'] {
            assert!(!log.contains(raw), "{format}: {raw:?} written raw:\n{log}");
        }
        assert!(
            log.contains("mallory"),
            "{format}: the name is not logged:\n{log}"
        );
        if format == "json" {
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if v["user.name"].is_string() {
                    // A collector reads the name back as it was sent.
                    assert_eq!(v["user.name"], forged, "{line}");
                }
            }
        } else {
            assert!(!log.contains("\u{1b}["), "colours in a file:\n{log}");
        }
    }
}

/// `restauth check` in a folder holding `toml` as restauth.toml.
fn check(toml: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("restauth.toml"), toml).unwrap();
    let out = command_in(dir.path(), &["check"], "");
    (out.status.success(), stdout(&out), stderr(&out))
}

#[test]
fn check_reports_what_serve_refuses_as_errors() {
    for (toml, wanted) in [
        (
            "[password.argon2]\nmemory_kib = 1024\niterations = 1\n",
            "(restauth.E001) password.argon2",
        ),
        (
            "secret_key = \"django-insecure-)x9!k2#v@8q$w7e%r6t^y5u&i4o*p3a(s2d)f1g\"\n",
            "(restauth.E001) secret_key: refused",
        ),
        (
            "[server]\nbind = \"0.0.0.0:8000\"\n",
            "(restauth.E003) server.allowed_hosts",
        ),
        (
            "[rest_framework]\ndefault_authentication_classes = [\"tokn\"]\n",
            "(restauth.E002) rest_framework.default_authentication_classes",
        ),
    ] {
        let (ok, out, err) = check(toml);
        assert!(!ok, "{toml}: exit 0\n{out}");
        assert!(
            err.starts_with("SystemCheckError: System check identified some issues:\n\nERRORS:\n"),
            "{toml}: {err}"
        );
        assert!(err.contains(wanted), "{toml}: {err}");
        assert!(err.contains("(0 silenced)."), "{err}");
        assert!(!err.contains("CommandError"), "{err}");
        // The weak key itself is never shown.
        assert!(!err.contains("x9!k2#v@8q"), "{err}");
    }
}

#[test]
fn check_warns_of_what_production_should_not_serve() {
    let deployed = "[server]\nbind = \"0.0.0.0:8000\"\nallowed_hosts = [\"api.example.com\"]\n";
    let (ok, out, err) = check(deployed);
    assert!(ok, "{out}{err}");
    // W040: the account endpoints are on, and no [email] host sends their mails; W041: their
    // links would name whichever allowed host a request names.
    for id in [
        "restauth.W010",
        "restauth.W011",
        "restauth.W020",
        "restauth.W040",
        "restauth.W041",
    ] {
        assert!(out.contains(id), "{id}: {out}");
    }
    assert!(
        out.contains("WARNINGS:") && !out.contains("ERRORS:"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("System check identified 5 issues (0 silenced)."),
        "{out}"
    );
    // Behind a proxy on loopback: the cookies still travel to browsers over the network.
    let (ok, out, _) = check("[rest_framework]\nnum_proxies = 1\n");
    assert!(ok);
    assert!(
        out.contains("restauth.W010") && out.contains("restauth.W020"),
        "{out}"
    );
    // Fixed: no issues.
    let (ok, out, err) = check(&format!(
        "{deployed}demo_views = false\n[session]\ncookie_secure = true\n[csrf]\ncookie_secure = true\n\
         [accounts]\ndomain = \"api.example.com\"\n[email]\nhost = \"smtp.example.com\"\n"
    ));
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "System check identified no issues (0 silenced)."
    );
}
